"""Text→image and zero-shot evaluation on a labelled image folder, against a metadata-only baseline.

    python -m projects.multimodal_search.eval --images DIR --labels LABELS.json --out OUT

``LABELS.json`` is ``[{"file", "wnid", "label"}]`` (ImageNet style) or ``[{"file", "caption"}]`` (free text,
e.g. the scikit-image captions). Every image is uploaded through the service under an *opaque* name with
file-name indexing off (the dev files are named after their labels), indexed by the real job, and then:

- each label becomes the query ``"a photo of a <label>"`` (a caption is used as is) and runs through the
  service's hybrid search: ``text_to_image_recall@k`` = the labelled image is among the top k;
- ``image_top1``/``image_top5``: zero-shot labelling — each image's text-space vector against every label
  query's vector; the right label is the first / among the first five;
- the **metadata baseline** indexes only what a library knows without looking at pixels semantically
  (orientation, size, format, camera, dominant colours) in its own collection, and answers the same queries
  with the same hybrid search and the same zero-shot rule.

Writes ``summary.json`` and ``results.jsonl`` (one row per image) into ``--out``. It runs in a scratch
database on the configured server and drops it afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from shared.eval.harness import git_commit
from shared.eval.metrics import mean_reciprocal_rank, percentile, recall_at_k

log = logging.getLogger("projects.multimodal_search.eval")

MAKE_EVAL_ARGS = [
    "--images",
    "../shared/data/multimodal/imagenet-sample",
    "--labels",
    "../shared/data/multimodal/imagenet-sample/labels.json",
    "--out",
    "var/eval/multimodal_search_imagenet",
    "--require-beats-metadata",
]
QUERY_TEMPLATE = "a photo of a {}"
TENANT = "eval"


def load_labels(path: Path) -> list[dict[str, str]]:
    """Entries with ``file`` and the query text they answer (``label`` → templated, ``caption`` → as is)."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for e in entries:
        if "label" in e:
            out.append({"file": e["file"], "label": e["label"], "query": QUERY_TEMPLATE.format(e["label"])})
        elif "caption" in e:
            out.append({"file": e["file"], "label": e["caption"], "query": e["caption"]})
        else:
            raise SystemExit(f"{path}: entry without 'label' or 'caption': {e}")
    return out


def rank_metrics(runs: list[tuple[list[str], str]], zero_shot_ranks: list[int]) -> dict[str, float]:
    """``runs``: per query, the retrieved image ids and the one image it should find."""
    n = len(runs)

    def recall(k: int) -> float:
        return round(float(np.mean([recall_at_k(ids, {target}, k) for ids, target in runs])), 4)

    return {
        "text_to_image_recall@1": recall(1),
        "text_to_image_recall@5": recall(5),
        "text_to_image_recall@10": recall(10),
        "mrr@10": round(mean_reciprocal_rank([(ids, {target}) for ids, target in runs], k=10), 4),
        "image_top1": round(sum(1 for r in zero_shot_ranks if r == 1) / n, 4),
        "image_top5": round(sum(1 for r in zero_shot_ranks if r <= 5) / n, 4),
    }


def zero_shot_ranks(image_vectors: np.ndarray, query_vectors: np.ndarray) -> list[int]:
    """Rank (1-based) of image i's own query among all queries, by cosine similarity."""
    sims = image_vectors @ query_vectors.T
    own = sims[np.arange(len(sims)), np.arange(len(sims))][:, None]
    return [int(r) for r in (sims > own).sum(axis=1) + 1]


def run(args: argparse.Namespace, url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from projects.multimodal_search.models import SearchQuery
    from projects.multimodal_search.service import MultimodalService
    from projects.multimodal_search.settings import get_multimodal_settings
    from shared.retrieval.models import Principal

    entries = load_labels(args.labels)
    if args.limit:
        entries = entries[: args.limit]
    media = Path(tempfile.mkdtemp(prefix="mms-eval-media-"))
    settings = get_multimodal_settings().model_copy(
        update={"media_dir": media, "inline_worker": False, "ocr": not args.no_ocr, "min_similarity": None}
    )
    service = MultimodalService(url, settings)
    user = Principal(user_id="eval", tenant_id=TENANT)
    files = []
    for e in entries:
        data = (args.images / e["file"]).read_bytes()
        e["opaque"] = hashlib.sha256(data).hexdigest()[:16] + Path(e["file"]).suffix.lower()
        files.append((e["opaque"], data))
    try:
        t0 = time.perf_counter()
        out = service.upload(user, files, source="eval", index_filename=False)
        service.drain()
        index_s = time.perf_counter() - t0
        if out["skipped"]:
            raise SystemExit(f"images refused by validation: {out['skipped']}")
        by_opaque = {i["filename"]: i for i in service.list_images(user, limit=len(entries) + 10)}
        for e in entries:
            e["image_id"] = by_opaque[e["opaque"]]["id"]
            e["status"] = by_opaque[e["opaque"]]["status"]
            e["predicted_labels"] = by_opaque[e["opaque"]]["labels"][:5]
        failed = [e["file"] for e in entries if e["status"] != "indexed"]
        if failed:
            raise SystemExit(f"images not indexed: {failed}")

        service.search(user, SearchQuery(query=entries[0]["query"]))  # warm-up: first-call costs stay out
        runs, ranks, latencies = [], [], []
        for e in entries:
            t = time.perf_counter()
            page = service.search(
                user, SearchQuery(query=e["query"], page_size=10, collapse_duplicates=False, mode=args.mode)
            )
            latencies.append((time.perf_counter() - t) * 1000)
            ids = [h["image"]["id"] for h in page["hits"]]
            e["top10"] = ids
            runs.append((ids, e["image_id"]))
            ranks.append(ids.index(e["image_id"]) + 1 if e["image_id"] in ids else None)
        text_space = service.profile.text
        vectors = service.vectors(text_space, [e["image_id"] for e in entries])
        image_matrix = np.stack([vectors[e["image_id"]] for e in entries])
        query_matrix = service.text_searcher.embedder.embed([e["query"] for e in entries])  # type: ignore[union-attr]
        zs = zero_shot_ranks(image_matrix, query_matrix)
        summary = {
            **rank_metrics(runs, zs),
            "n": len(entries),
            "index_images_per_s": round(len(entries) / index_s, 2),
            "index_seconds": round(index_s, 2),
            "query_p50_ms": percentile(latencies, 50),
            "query_p95_ms": percentile(latencies, 95),
            "embedder": service.model,
            "text_space": text_space.collection,
            "text_embedder": text_space.model,
            "mode": args.mode,
            "ocr": not args.no_ocr,
        }
        rows = [
            {"file": e["file"], "opaque": e["opaque"], "label": e["label"], "query": e["query"],
             "rank": r, "zero_shot_rank": z, "predicted_labels": e["predicted_labels"], "top10": e["top10"]}
            for e, r, z in zip(entries, ranks, zs, strict=True)
        ]  # fmt: skip
        summary["baselines"] = {"metadata": metadata_baseline(service, user, entries)}
    finally:
        shutil.rmtree(media, ignore_errors=True)
        service.queue.close()
    return summary, rows


def metadata_baseline(service: Any, user: Any, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The same queries over a collection that knows only EXIF, size, format and colour: what search gives
    without understanding the pixels (and without the label-bearing file names)."""
    from projects.multimodal_search.describe import ImageFacts, camera_name, metadata_text
    from shared.retrieval.models import Chunk, Document
    from shared.retrieval.search import Searcher, SearchRequest

    embedder = service.models.text
    collection = f"mms-eval-metadata-{uuid.uuid4().hex[:8]}"
    service.store.create_collection(collection, embedding_model=embedder.model, embedding_dim=embedder.dim)
    images = {i["id"]: i for i in service.list_images(user, limit=len(entries) + 10)}
    texts = []
    for e in entries:
        img = images[e["image_id"]]
        camera = camera_name(img["camera_make"], img["camera_model"])
        facts = ImageFacts(filename=e["opaque"], camera=camera, colours=img["colours"], orientation=img["orientation"])
        texts.append(metadata_text(facts, img["width"], img["height"], img["media_type"]))
    t0 = time.perf_counter()
    vectors = embedder.embed(texts)
    for e, text, vec in zip(entries, texts, vectors, strict=True):
        doc = Document(collection=collection, source_uri=e["image_id"], text=text, doc_type="image", tenant_id=TENANT)
        service.store.upsert_document(doc, [Chunk(document_id=doc.id, ordinal=0, text=text)], vec[None, :])
    index_s = time.perf_counter() - t0
    searcher = Searcher(service.store, embedder)
    runs, latencies = [], []
    for e in entries:
        t = time.perf_counter()
        hits = searcher.search(
            SearchRequest(collection=collection, query=e["query"], principal=user, k=10, lexical="any")
        )
        latencies.append((time.perf_counter() - t) * 1000)
        runs.append(([h.source_uri for h in hits], e["image_id"]))
    query_vectors = embedder.embed([e["query"] for e in entries])
    zs = zero_shot_ranks(np.asarray(vectors), query_vectors)
    service.store.delete_collection(collection)
    return {
        **rank_metrics(runs, zs),
        "n": len(entries),
        "index_images_per_s": round(len(entries) / max(index_s, 1e-9), 2),
        "query_p50_ms": percentile(latencies, 50),
        "query_p95_ms": percentile(latencies, 95),
        "embedder": f"metadata text + {embedder.model}",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m projects.multimodal_search.eval", description=__doc__.split("\n")[0])
    p.add_argument("--images", type=Path, required=True, help="folder with the images")
    p.add_argument("--labels", type=Path, required=True, help='[{"file","wnid","label"}] or [{"file","caption"}]')
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--mode", choices=["hybrid", "vector", "text"], default="hybrid")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--no-ocr", action="store_true", help="index without OCR (faster; loses text in images)")
    p.add_argument("--database-url", default=None, help="server to create the scratch database on")
    p.add_argument("--require-beats-metadata", action="store_true", help="exit 1 unless we beat the metadata baseline")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from shared.db import close_pools, database_url, with_dbname

    admin = args.database_url or database_url()
    scratch = f"mms_eval_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    t0 = time.perf_counter()
    try:
        summary, rows = run(args, with_dbname(admin, scratch))
    finally:
        close_pools()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["dataset"] = str(args.labels)
    summary["commit"] = git_commit()
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    keys = ("text_to_image_recall@1", "text_to_image_recall@5", "text_to_image_recall@10", "image_top1", "image_top5")
    print(json.dumps({k: summary[k] for k in (*keys, "n", "index_images_per_s", "query_p50_ms", "query_p95_ms")}))
    print(json.dumps({"metadata": {k: summary["baselines"]["metadata"][k] for k in keys}}))
    if args.require_beats_metadata:
        # beats = a better top hit and no worse top 5 (on a handful of images @5 is 1.0 for anything)
        ours, base = summary, summary["baselines"]["metadata"]
        at1, at5 = "text_to_image_recall@1", "text_to_image_recall@5"
        if not (ours[at1] > base[at1] and ours[at5] >= base[at5]):
            print(f"FAIL: recall@1/@5 {ours[at1]}/{ours[at5]} do not beat the metadata baseline's "
                  f"{base[at1]}/{base[at5]}", file=sys.stderr)  # fmt: skip
            return 1
        print(f"recall@1/@5 {ours[at1]}/{ours[at5]} beat the metadata baseline's {base[at1]}/{base[at5]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
