"""Multimodal search benchmark: indexing images/s, and query p50/p95 at 10k and 100k images.

    python scripts/bench/multimodal_search.py --out var/bench/multimodal_search.json [--sizes 10000 100000]

1. **Indexing**: the generated demo library (48 images) through the real service and job — validation,
   thumbnail, pHash, EfficientNet-Lite0, MiniLM description vectors, vector writes — with OCR and without,
   against the image model alone (its forward pass is the floor of what indexing can reach).
2. **Queries at scale**: the library is grown to N images by writing rows the way the service does
   (``mms_images`` + one document per space, binary COPY), with vectors that are the real demo vectors plus
   noise (so they cluster like a photo library, not like uniform noise) and the real index texts; then the
   HNSW indexes are built and the service's own search runs: text hybrid (MiniLM query embedding +
   HNSW + full text + RRF + the join to image rows), text vector-only, "more like this" (image space,
   1280-d) and a filtered text search; the exact scan (no index) is the baseline at the same N.
   HNSW index sizes are read from PostgreSQL to estimate memory at 1M.

Uses ``DATABASE_URL`` when set (a scratch database is created there), otherwise its own embedded server.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from scripts.bench.retrieval import close_database, open_database, pct  # noqa: E402
from shared.db import with_dbname  # noqa: E402

TENANT = "bench"
QUERIES = [
    "sunset over the sea", "a red sign", "menu with prices", "snowy mountains", "city at night",
    "a flower", "platform", "forest", "beach", "temple roof", "poster", "receipt", "stars in the sky",
    "a chat screenshot", "orange sky", "trains", "sale", "coffee", "skyline", "design palette",
]  # fmt: skip


def timed(fn, repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_indexing(url: str, library: Path) -> tuple[dict, object]:
    from projects.multimodal_search.service import MultimodalService
    from projects.multimodal_search.settings import get_multimodal_settings
    from shared.retrieval.models import Principal
    from shared.vision.images import SUPPORTED_EXTENSIONS, load_image

    files = sorted(p for p in library.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    payload = [(p.name, p.read_bytes()) for p in files]
    results: dict = {"images": len(payload)}
    service = None
    for ocr in (False, True):
        media = Path(tempfile.mkdtemp(prefix="mms-bench-"))
        settings = get_multimodal_settings().model_copy(update={"media_dir": media, "inline_worker": False, "ocr": ocr})
        service = MultimodalService(url, settings)
        user = Principal(user_id="bench", tenant_id=f"{TENANT}-ocr" if ocr else TENANT)
        t = time.perf_counter()
        service.upload(user, payload, source="bench")
        service.drain()
        seconds = time.perf_counter() - t
        results["with_ocr" if ocr else "without_ocr"] = {
            "seconds": round(seconds, 2), "images_per_s": round(len(payload) / seconds, 2)
        }  # fmt: skip
    images = [load_image(data, name).image for name, data in payload]
    model = service.models.image  # type: ignore[union-attr]
    model.analyze(images[:2])  # warm
    t = time.perf_counter()
    model.analyze(images)
    seconds = time.perf_counter() - t
    results["model_only"] = {"seconds": round(seconds, 2), "images_per_s": round(len(images) / seconds, 2)}
    results["ratio_pipeline_to_model"] = round(
        results["without_ocr"]["images_per_s"] / results["model_only"]["images_per_s"], 2
    )
    return results, service


def grow(service, n: int, rng: np.random.Generator) -> dict:
    """Write synthetic images up to ``n`` for the bench tenant: rows, text-space and image-space documents."""
    from shared.retrieval.models import Chunk, Document

    profile = service.profile
    with psycopg.connect(service.url) as conn:
        seeds = conn.execute(
            "SELECT id::text, orientation, width, height, source, tags, thumbnail FROM mms_images WHERE tenant_id = %s",
            (TENANT,),
        ).fetchall()
        have = conn.execute("SELECT count(*) FROM mms_images WHERE tenant_id = %s", (TENANT,)).fetchone()[0]
    seed_ids = [s[0] for s in seeds]
    text_vecs = service.vectors(profile.text, seed_ids)
    image_vecs = service.vectors(profile.image, seed_ids)
    with psycopg.connect(service.url) as conn:
        texts = dict(
            conn.execute(
                "SELECT d.source_uri, c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.collection = %s AND d.source_uri = ANY(%s)",
                (profile.text.collection, seed_ids),
            ).fetchall()
        )
    add = n - have
    if add <= 0:
        return {"added": 0}
    t0 = time.perf_counter()
    picks = rng.integers(0, len(seeds), size=add)
    ids = [str(uuid.uuid4()) for _ in range(add)]
    with (
        psycopg.connect(service.url) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY mms_images (id, tenant_id, created_by, sha256, storage_path, filename, source, tags, media_type, "
            "size_bytes, width, height, orientation, phash, thumbnail, status, indexed_model, taken_at) FROM STDIN"
        ) as copy,
    ):
        for image_id, k in zip(ids, picks, strict=True):
            s = seeds[k]
            taken = f"20{rng.integers(15, 26)}-{rng.integers(1, 13):02d}-{rng.integers(1, 28):02d}"
            copy.write_row(
                (image_id, TENANT, "bench", uuid.uuid4().hex, "/dev/null", f"{image_id}.jpg", s[4], s[5],
                 "image/jpeg", 100_000, s[2], s[3], s[1], int(rng.integers(-(2**62), 2**62)), s[6], "indexed",
                 profile.signature, taken)
            )  # fmt: skip
    store = service.store
    for space, base in ((profile.text, text_vecs), (profile.image, image_vecs)):
        store.drop_vector_index(space.dim)
        batch = []
        for image_id, k in zip(ids, picks, strict=True):
            s = seeds[k]
            vec = base[s[0]] + rng.normal(0, 0.35 / np.sqrt(space.dim), space.dim).astype(np.float32)
            vec /= np.linalg.norm(vec)
            meta = {"source": s[4], "tags": s[5], "orientation": s[1], "width": s[2], "height": s[3],
                    "group": image_id, "has_text": False}  # fmt: skip
            doc = Document(collection=space.collection, source_uri=image_id, text=texts[s[0]], doc_type="image",
                           tenant_id=TENANT, metadata=meta)  # fmt: skip
            batch.append((doc, [Chunk(document_id=doc.id, ordinal=0, text=texts[s[0]])], vec[None, :]))
            if len(batch) == 5000:
                store.bulk_load(batch)
                batch = []
        if batch:
            store.bulk_load(batch)
    load_s = time.perf_counter() - t0
    build = {}
    for space in (profile.text, profile.image):
        t = time.perf_counter()
        store.build_vector_index(space.dim)
        build[space.dim] = round(time.perf_counter() - t, 1)
    return {"added": add, "load_s": round(load_s, 1), "hnsw_build_s": build}


def index_sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c WHERE c.relname LIKE 'chunks_embedding_hnsw_%'"
        ).fetchall()
    return {name: int(size) for name, size in rows}


def bench_queries(service, repeat: int) -> dict:
    from projects.multimodal_search.models import ImageFilters, ImageSearchOptions, SearchQuery
    from shared.retrieval.models import Principal

    user = Principal(user_id="bench", tenant_id=TENANT)
    with psycopg.connect(service.url) as conn:
        some = [r[0] for r in conn.execute(
            "SELECT id::text FROM mms_images WHERE tenant_id = %s ORDER BY random() LIMIT 50", (TENANT,)
        ).fetchall()]  # fmt: skip
    service.search(user, SearchQuery(query=QUERIES[0]))  # warm (query embedder, plans)
    cases = {
        "text_hybrid": lambda i: service.search(user, SearchQuery(query=QUERIES[i % len(QUERIES)])),
        "text_vector": lambda i: service.search(user, SearchQuery(query=QUERIES[i % len(QUERIES)], mode="vector")),
        "text_hybrid_filtered": lambda i: service.search(
            user, SearchQuery(query=QUERIES[i % len(QUERIES)], filters=ImageFilters(orientation="portrait"))
        ),
        "more_like_this": lambda i: service.similar(user, some[i % len(some)], ImageSearchOptions()),
    }
    out = {}
    for name, fn in cases.items():
        ms = timed(fn, repeat)
        out[name] = {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95)}
    # baseline: the text-space top-100 in SQL through the index against a sequential scan
    out["sql_top100"] = sql_top_k_ms(service, repeat)
    return out


def sql_top_k_ms(service, repeat: int) -> dict:
    """The text-space top-100 as one SQL statement with precomputed query vectors, through the HNSW index and by
    a sequential scan (index scans off): the index's speed-up, without the model or the service around it."""
    from pgvector.psycopg import register_vector

    space = service.profile.text
    vecs = service.text_searcher.embedder.embed(QUERIES)
    sql = (
        f"SELECT c.document_id FROM chunks c WHERE c.dim = {space.dim} AND c.collection = %s AND c.tenant_id = %s "
        f"ORDER BY c.embedding::vector({space.dim}) <=> %s::vector({space.dim}) LIMIT 100"
    )
    out = {}
    with psycopg.connect(service.url) as conn:
        register_vector(conn)
        conn.execute("SET hnsw.ef_search = 100")
        for name, index_scans in (("hnsw", "on"), ("exact_scan", "off")):
            conn.execute(f"SET enable_indexscan = {index_scans}")
            ms = []
            for i in range(repeat):
                t = time.perf_counter()
                conn.execute(sql, (space.collection, TENANT, vecs[i % len(vecs)]), prepare=False).fetchall()
                ms.append((time.perf_counter() - t) * 1000)
            out[name] = {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95)}
    out["hnsw_speedup_p50"] = round(out["exact_scan"]["p50_ms"] / max(out["hnsw"]["p50_ms"], 1e-6), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=60, help="queries per case and size")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from projects.multimodal_search.demo_data import generate_demo_library

    admin, dbname, _ = open_database(args.keep)
    url = with_dbname(admin, dbname)
    library = Path(tempfile.mkdtemp(prefix="mms-bench-lib-"))
    generate_demo_library(library, n=48)
    result: dict = {"machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}}
    try:
        indexing, service = bench_indexing(url, library)
        result["indexing"] = indexing
        result["model"] = service.model
        print(json.dumps({"indexing": indexing}), flush=True)
        rng = np.random.default_rng(0)
        result["scale"] = {}
        for n in sorted(args.sizes):
            grown = grow(service, n, rng)
            queries = bench_queries(service, args.repeat)
            sizes = index_sizes(url)
            result["scale"][str(n)] = {"images": n, **grown, "queries": queries, "hnsw_index_bytes": sizes}
            print(json.dumps({str(n): result["scale"][str(n)]}), flush=True)
        biggest = result["scale"][str(max(args.sizes))]
        per_image = sum(biggest["hnsw_index_bytes"].values()) / max(args.sizes)
        result["estimate_1m"] = {
            "hnsw_index_gb": round(per_image * 1_000_000 / 1e9, 2),
            "note": "HNSW size grows linearly with images (vectors + m=16 graph links); latency grows ~log(n)",
        }
        service.queue.close()
    finally:
        close_database(admin, dbname, keep=args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["estimate_1m"]))


if __name__ == "__main__":
    main()
