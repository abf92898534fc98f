"""Enterprise RAG dev evaluation: doc-level retrieval quality of the hybrid pipeline beside its baselines.

    python -m projects.enterprise_rag.eval --corpus CORPUS.jsonl --questions QUESTIONS.jsonl --out DIR \
        [--k 10] [--generate [--limit N]] [--baseline FILE]

Corpus lines ``{"doc_id","title","text"}``; question lines ``{"id","question","relevant_doc_ids":[...]}`` plus
optional ``answer``/``answers``. The corpus is chunked with the platform chunker into a fresh collection
(the document's ``source_uri`` is its ``doc_id``, so every chunk maps back to a judged document), then each
question is retrieved three ways on the same items:

- ``hybrid``: the pipeline's retrieval (dense HNSW + PostgreSQL full-text, Reciprocal Rank Fusion in SQL);
- ``bm25``: Okapi BM25 (``bm25s``, k1=1.5, b=0.75) over the *same chunks*, in process. PostgreSQL's
  ``ts_rank_cd`` is a cover-density rank without IDF or length normalisation, so it is not BM25 and is
  not reported as such;
- ``dense``: the same embeddings and HNSW index, dense only.

Metrics are document-level: ranked chunks are collapsed to documents in rank order (first chunk wins), and a
hit is a relevant document. ``summary.json`` has ``recall@5``, ``recall@10``, ``mrr@10``, ``ndcg@10``, ``n``,
``retrieval_p50_ms``/``retrieval_p95_ms`` (hybrid, query embedding included) and ``baselines.{bm25,dense}``
with the same keys; ``--generate`` adds answer metrics from ``RagPipeline.answer``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from projects.enterprise_rag.settings import RagSettings
from shared.eval.harness import load_jsonl, run_eval
from shared.eval.metrics import groundedness, ndcg_at_k, recall_at_k, reciprocal_rank, token_f1

log = logging.getLogger("projects.enterprise_rag.eval")

MAKE_EVAL_ARGS = [
    "--corpus",
    "../shared/data/rag/pubmedqa_corpus.jsonl",
    "--questions",
    "../shared/data/rag/pubmedqa_dev_questions.jsonl",
    "--out",
    "var/eval/enterprise_rag_pubmedqa",
    "--baseline",
    "projects/enterprise_rag/baselines/pubmedqa.json",
]  # not --require-hybrid-best: on PubMedQA hybrid vs dense is +0.002 nDCG@10 with a 95% CI spanning 0, so
# that check would flip between runs (the HNSW build is not deterministic); the baseline gate has tolerances.

TENANT = "eval"
METRIC_KEYS = ("recall@5", "recall@10", "mrr@10", "ndcg@10")


# --------------------------------------------------------------------------- metrics


def dedupe_docs(ranked_doc_ids: Sequence[str]) -> list[str]:
    """Chunks ranked -> documents ranked: each document keeps the rank of its best chunk."""
    return list(dict.fromkeys(ranked_doc_ids))


def doc_metrics(ranked_docs: Sequence[str], relevant: Sequence[str]) -> dict[str, float]:
    """recall@5/10, reciprocal rank within 10 (its mean is MRR@10) and nDCG@10 with binary gains."""
    rel = set(relevant)
    return {
        "recall@5": recall_at_k(ranked_docs, rel, 5),
        "recall@10": recall_at_k(ranked_docs, rel, 10),
        "mrr@10": reciprocal_rank(ranked_docs, rel, 10),
        "ndcg@10": ndcg_at_k(ranked_docs, rel, 10),
    }


def aggregate(rows: list[dict], mode: str) -> dict[str, Any]:
    """Means of one mode's metrics and its latency percentiles over the rows that did not fail."""
    ok = [r for r in rows if r.get("error") is None and mode in (r.get("output") or {}).get("modes", {})]
    out: dict[str, Any] = {}
    for key in METRIC_KEYS:
        out[key] = float(np.mean([r["output"]["modes"][mode]["metrics"][key] for r in ok])) if ok else 0.0
    ms = [r["output"]["modes"][mode]["ms"] for r in ok]
    out["retrieval_p50_ms"] = round(float(np.percentile(ms, 50)), 2) if ms else None
    out["retrieval_p95_ms"] = round(float(np.percentile(ms, 95)), 2) if ms else None
    out["n"] = len(ok)
    return out


# --------------------------------------------------------------------------- ingestion


def paired_delta(rows: list[dict], mode: str, key: str = "ndcg@10", seed: int = 0) -> dict[str, Any]:
    """Hybrid minus ``mode`` on the same questions: mean, a paired bootstrap 95% interval (2,000 resamples),
    and per-question wins/ties/losses, so a small mean gain is not mistaken for a reliable one."""
    ok = [r for r in rows if r.get("error") is None]
    d = np.array(
        [r["output"]["modes"]["hybrid"]["metrics"][key] - r["output"]["modes"][mode]["metrics"][key] for r in ok]
    )
    if not len(d):
        return {}
    boots = np.random.default_rng(seed).choice(d, size=(2000, len(d)), replace=True).mean(axis=1)
    return {
        f"{key}_delta": round(float(d.mean()), 4),
        "ci95": [round(float(np.percentile(boots, 2.5)), 4), round(float(np.percentile(boots, 97.5)), 4)],
        "wins": int((d > 1e-9).sum()),
        "ties": int((abs(d) <= 1e-9).sum()),
        "losses": int((d < -1e-9).sum()),
    }


def read_corpus(path: Path, *, fix_duplicates: bool = False) -> list[dict]:
    """Corpus lines; a repeated ``doc_id`` is an error (relevance could not tell the documents apart) unless
    ``fix_duplicates`` renames the repeats ``<doc_id>@<line>`` for :func:`relevance_from_answers`."""
    docs = load_jsonl(path)
    counts: dict[str, int] = {}
    for i, d in enumerate(docs, start=1):
        if not d.get("doc_id") or not isinstance(d.get("text"), str):
            raise ValueError(f"{path}: line {i} needs 'doc_id' and 'text'")
        counts[d["doc_id"]] = counts.get(d["doc_id"], 0) + 1
    duplicated = {k for k, n in counts.items() if n > 1}
    if duplicated and not fix_duplicates:
        raise ValueError(
            f"{path}: {len(duplicated)} doc_id(s) repeat (e.g. {sorted(duplicated)[0]!r}); "
            "pass --fix-duplicate-doc-ids to derive relevance from the answers instead"
        )
    for i, d in enumerate(docs, start=1):
        if d["doc_id"] in duplicated:
            d["original_doc_id"], d["doc_id"] = d["doc_id"], f"{d['doc_id']}@{i}"
    return docs


def _squash(text: str) -> str:
    return " ".join(text.split())


def relevance_from_answers(corpus: list[dict], questions: list[dict]) -> tuple[list[dict], dict[str, int]]:
    """For questions whose relevant ids name a duplicated doc_id: the relevant documents become those of
    that id whose text contains one of the question's gold answers (whitespace-insensitive). COVID-QA's
    export gives all 98 articles the id ``doc-0``; its answers are extractive spans, so this recovers the
    source article. Questions matching no document are dropped and counted, never guessed."""
    by_original: dict[str, list[dict]] = {}
    for d in corpus:
        if "original_doc_id" in d:
            by_original.setdefault(d["original_doc_id"], []).append(d)
    squashed = {d["doc_id"]: _squash(d["text"]) for docs in by_original.values() for d in docs}
    kept, stats = [], {"remapped": 0, "unchanged": 0, "dropped_no_match": 0, "multi_match": 0}
    for q in questions:
        if not any(r in by_original for r in q["relevant_doc_ids"]):
            kept.append(q)
            stats["unchanged"] += 1
            continue
        answers = [_squash(a) for a in (q.get("answers") or [q.get("answer") or ""]) if a and a.strip()]
        relevant = [r for r in q["relevant_doc_ids"] if r not in by_original]
        for r in q["relevant_doc_ids"]:
            relevant += [
                d["doc_id"] for d in by_original.get(r, []) if any(a in squashed[d["doc_id"]] for a in answers)
            ]
        if len(relevant) == 0:
            stats["dropped_no_match"] += 1
            continue
        stats["remapped"] += 1
        stats["multi_match"] += len(relevant) > 1
        kept.append({**q, "relevant_doc_ids": relevant})
    return kept, stats


def ingest(store, embedder, collection: str, corpus: list[dict], batch: int = 512) -> dict[str, Any]:
    """Corpus lines become documents (source URI = doc_id, so relevance maps back), bulk-indexed with the
    collection's chunking config; returns the shared Indexer's timing breakdown."""
    from shared.retrieval import Document, Indexer

    documents = [
        Document(
            collection=collection,
            source_uri=d["doc_id"],
            text=d["text"],
            title=d.get("title") or None,
            tenant_id=TENANT,
            metadata={"doc_id": d["doc_id"]},
        )
        for d in corpus
    ]
    return Indexer(store, embedder).bulk_index(documents, batch=batch)


class Bm25Index:
    """Okapi BM25 over the collection's chunks (the same texts the database holds), English stop words removed."""

    def __init__(self, chunk_texts: list[str], chunk_docs: list[str]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.chunk_docs = chunk_docs
        self.index = bm25s.BM25()  # Lucene variant, k1=1.5, b=0.75
        self.index.index(bm25s.tokenize(chunk_texts, stopwords="en", show_progress=False), show_progress=False)

    def search(self, query: str, k: int) -> list[str]:
        tokens = self._bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        k = min(k, len(self.chunk_docs))
        ids, scores = self.index.retrieve(tokens, k=k, show_progress=False)
        return [self.chunk_docs[int(i)] for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


def load_chunks(store, collection: str) -> tuple[list[str], list[str]]:
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT c.text, d.source_uri FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.collection = %s ORDER BY c.id",
            (collection,),
        ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m projects.enterprise_rag.eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--k", type=int, default=10, help="documents per question that metrics see (>= 10)")
    p.add_argument("--generate", action="store_true", help="also answer with RagPipeline and score the answers")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N questions")
    p.add_argument("--database-url", default=None, help="default: settings' database (embedded PostgreSQL)")
    p.add_argument("--collection", default=None, help="default: eval_<hash of corpus and config>, recreated")
    p.add_argument("--chunk-strategy", default="recursive", choices=["recursive", "fixed_tokens", "semantic"])
    p.add_argument("--max-chars", type=int, default=1200, help="recursive/semantic chunk size cap")
    p.add_argument("--overlap-chars", type=int, default=0)
    p.add_argument("--chunk-tokens", type=int, default=256, help="fixed_tokens window")
    p.add_argument("--overlap-tokens", type=int, default=32)
    rag = RagSettings()  # the pipeline's own retrieval configuration is what "hybrid" evaluates
    p.add_argument("--candidates", type=int, default=rag.candidates, help="per-signal candidate depth for fusion")
    p.add_argument("--rrf-k", type=int, default=60)
    p.add_argument("--lexical", default=rag.lexical, choices=["any", "websearch"], help="full-text query semantics")
    p.add_argument("--fusion", default=rag.fusion, choices=["convex", "rrf"], help="hybrid fusion function")
    p.add_argument("--dense-weight", type=float, default=rag.dense_weight, help="convex fusion: dense score weight")
    p.add_argument(
        "--fix-duplicate-doc-ids",
        action="store_true",
        help="corpus repeats doc_ids (COVID-QA export): rename repeats and take relevance from answer spans",
    )
    p.add_argument(
        "--reuse-collection",
        action="store_true",
        help="keep an existing collection with the same corpus+config fingerprint instead of re-ingesting",
    )
    p.add_argument("--embed-batch", type=int, default=512)
    p.add_argument("--baseline", type=Path, default=None, help="gate summary.json against this baseline")
    p.add_argument(
        "--require-hybrid-best", action="store_true", help="exit 1 unless hybrid nDCG@10 beats both baselines"
    )
    args = p.parse_args(argv)
    if args.k < 10:
        p.error("--k must be at least 10 (the metrics include @10)")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from shared.db import close_pools, database_url
    from shared.retrieval import ChunkingConfig, PgVectorStore, Principal, Searcher, SearchRequest, upgrade
    from shared.serving.embeddings import LocalEmbedder

    corpus = read_corpus(args.corpus, fix_duplicates=args.fix_duplicate_doc_ids)
    questions = load_jsonl(args.questions)
    for q in questions:
        if not q.get("question") or not isinstance(q.get("relevant_doc_ids"), list):
            raise SystemExit(f"question {q.get('id')!r} needs 'question' and a 'relevant_doc_ids' list")
    relevance_fix = None
    if args.fix_duplicate_doc_ids:
        questions, relevance_fix = relevance_from_answers(corpus, questions)
        log.info("relevance from answers: %s", relevance_fix)
    if args.limit is not None:
        questions = questions[: args.limit]

    chunking = ChunkingConfig(
        strategy=args.chunk_strategy,
        max_chars=args.max_chars,
        overlap_chars=args.overlap_chars,
        chunk_tokens=args.chunk_tokens,
        overlap_tokens=args.overlap_tokens,
    )
    url = args.database_url or database_url()
    upgrade(url)
    store = PgVectorStore(url)
    embedder = LocalEmbedder()
    fingerprint = hashlib.sha256(
        args.corpus.read_bytes() + chunking.model_dump_json().encode() + embedder.model.encode()
    ).hexdigest()[:10]
    collection = args.collection or f"eval_{fingerprint}"
    if args.reuse_collection and collection in {c.name for c in store.list_collections()}:
        ingestion: dict[str, Any] = {"reused_collection": collection}
    else:
        store.delete_collection(collection)  # a fresh collection every run: no stale chunks from older configs
        store.create_collection(
            collection, embedding_model=embedder.model, embedding_dim=embedder.dim, chunking=chunking
        )
        ingestion = ingest(store, embedder, collection, corpus, batch=args.embed_batch)
    log.info("ingested %s", ingestion)

    chunk_texts, chunk_docs = load_chunks(store, collection)
    bm25 = Bm25Index(chunk_texts, chunk_docs)
    searcher = Searcher(store, embedder)
    principal = Principal(user_id="eval", tenant_id=TENANT)
    depth = min(200, max(3 * args.k, args.candidates))  # chunks fetched, so >= k distinct documents survive

    def search_db(question: str, mode: str) -> list[str]:
        request = SearchRequest(
            collection=collection,
            query=question,
            principal=principal,
            mode=mode,
            k=depth,
            candidates=max(args.candidates, depth),
            rrf_k=args.rrf_k,
            lexical=args.lexical,
            fusion=args.fusion,
            dense_weight=args.dense_weight,
        )
        return [r.source_uri for r in searcher.search(request)]

    retrievers = {
        "hybrid": lambda q: search_db(q, "hybrid"),
        "bm25": lambda q: bm25.search(q, depth),
        "dense": lambda q: search_db(q, "dense"),
        "fulltext": lambda q: search_db(q, "fulltext"),
    }
    for q in questions[:3]:  # warm-up: model, connections, index pages; keeps the first items' timings honest
        for fn in retrievers.values():
            fn(q["question"])

    pipeline = _pipeline(store, embedder) if args.generate else None

    def system(item: dict) -> dict:
        modes = {}
        for mode, fn in retrievers.items():
            t0 = time.perf_counter()
            docs = dedupe_docs(fn(item["question"]))[: args.k]
            ms = (time.perf_counter() - t0) * 1000
            modes[mode] = {"docs": docs, "ms": round(ms, 2), "metrics": doc_metrics(docs, item["relevant_doc_ids"])}
        out: dict[str, Any] = {"modes": modes}
        if pipeline is not None:
            out["generation"] = _generate(pipeline, embedder, item, collection, principal)
        return out

    scorers = {key: (lambda _i, o, key=key: o["modes"]["hybrid"]["metrics"][key]) for key in METRIC_KEYS}
    for mode in ("bm25", "dense", "fulltext"):
        for key in METRIC_KEYS:
            scorers[f"{mode}.{key}"] = lambda _i, o, key=key, mode=mode: o["modes"][mode]["metrics"][key]
    if args.generate:
        scorers["gen"] = lambda _i, o: _gen_scores(o)

    try:
        harness = run_eval(questions, system, scorers, args.out, name="enterprise_rag", primary_metric="ndcg@10")
        rows = [json.loads(line) for line in (args.out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
        summary = build_summary(rows, harness, ingestion, args, collection)
        if relevance_fix is not None:
            summary["relevance_from_answers"] = relevance_fix
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: v for k, v in summary.items() if k not in ("metrics", "config")}, indent=2))
    finally:
        close_pools()
    return _gate(summary, args)


def build_summary(rows: list[dict], harness: dict, ingestion: dict, args, collection: str) -> dict:
    """The issue's flat keys first; the harness summary (``metrics``: per-scorer means) kept for the gate."""
    hybrid = aggregate(rows, "hybrid")
    summary: dict[str, Any] = {key: round(hybrid[key], 4) for key in METRIC_KEYS}
    summary |= {
        "n": hybrid["n"],
        "retrieval_p50_ms": hybrid["retrieval_p50_ms"],
        "retrieval_p95_ms": hybrid["retrieval_p95_ms"],
        "baselines": {
            "bm25": _rounded(aggregate(rows, "bm25"), "Okapi BM25 (bm25s, k1=1.5, b=0.75) over the same chunks"),
            "dense": _rounded(aggregate(rows, "dense"), "dense only: same embeddings and HNSW index"),
        },
        "hybrid_vs_baselines": {m: paired_delta(rows, m) for m in ("bm25", "dense")},
        "diagnostics": {
            "fulltext": _rounded(
                aggregate(rows, "fulltext"), f"PostgreSQL full-text only, the hybrid's lexical side ({args.lexical})"
            )
        },
    }
    if args.generate:
        gen = [r["output"]["generation"] for r in rows if r.get("error") is None and "generation" in r["output"]]
        ok = [g for g in gen if "error" not in g]
        for key in ("answer_token_f1", "groundedness", "citation_precision"):
            values = [g[key] for g in ok if g.get(key) is not None]
            summary[key] = round(float(np.mean(values)), 4) if values else None
        summary["abstention_rate"] = round(float(np.mean([g["abstained"] for g in ok])), 4) if ok else None
        summary["generation_errors"] = len(gen) - len(ok)
        latencies = [g["ms"] for g in ok]
        summary["answer_p50_ms"] = round(float(np.percentile(latencies, 50)), 1) if latencies else None
        summary["answer_p95_ms"] = round(float(np.percentile(latencies, 95)), 1) if latencies else None
    summary |= {
        "n_errors": harness["n_errors"],
        "error_rate": harness["error_rate"],
        "timing": {"ingestion": ingestion, "eval_wall_s": harness["wall_time_s"]},
        "config": {
            "corpus": str(args.corpus),
            "questions": str(args.questions),
            "collection": collection,
            "k": args.k,
            "chunking": {
                "strategy": args.chunk_strategy,
                "max_chars": args.max_chars,
                "overlap_chars": args.overlap_chars,
                "chunk_tokens": args.chunk_tokens,
                "overlap_tokens": args.overlap_tokens,
            },
            "hybrid": {
                "candidates": args.candidates,
                "lexical": args.lexical,
                "fusion": args.fusion,
                "dense_weight": args.dense_weight if args.fusion == "convex" else None,
                "rrf_k": args.rrf_k if args.fusion == "rrf" else None,
            },
        },
        "name": harness["name"],
        "timestamp": harness["timestamp"],
        "git_commit": harness["git_commit"],
        "metrics": harness["metrics"],
    }
    return summary


def _rounded(agg: dict, method: str) -> dict:
    return {**{k: (round(v, 4) if k in METRIC_KEYS else v) for k, v in agg.items()}, "method": method}


def _gate(summary: dict, args) -> int:
    rc = 0
    if args.require_hybrid_best:
        ndcg = summary["ndcg@10"]
        beaten = {m: b["ndcg@10"] for m, b in summary["baselines"].items() if b["ndcg@10"] >= ndcg}
        if beaten:
            print(f"FAIL: hybrid nDCG@10 {ndcg:.4f} does not beat {beaten}", file=sys.stderr)
            rc = 1
        else:
            print(f"hybrid nDCG@10 {ndcg:.4f} beats " + ", ".join(
                f"{m} {b['ndcg@10']:.4f}" for m, b in summary["baselines"].items()
            ))  # fmt: skip
    if args.baseline is not None:
        from shared.eval.gate import compare, format_table

        rows = compare(summary, json.loads(args.baseline.read_text(encoding="utf-8")))
        print(format_table(rows))
        if any(r.status in ("REGRESSED", "MISSING") for r in rows):
            rc = 1
    return rc


# --------------------------------------------------------------------------- generation (--generate)


def _pipeline(store, embedder):
    """Imported lazily: retrieval-only runs must not load the chat model."""
    from projects.enterprise_rag.pipeline import RagPipeline

    return RagPipeline(store, embedder)


def _generate(pipeline, embedder, item: dict, collection: str, principal) -> dict:
    """One answer with its scores; a failure is recorded on the item instead of failing the retrieval row."""
    from shared.retrieval.models import document_id

    t0 = time.perf_counter()
    try:
        answer = pipeline.answer(item["question"], principal, collection)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    ms = (time.perf_counter() - t0) * 1000
    relevant = {document_id(collection, d) for d in item["relevant_doc_ids"]}
    refs = item.get("answers") or ([item["answer"]] if item.get("answer") else [])
    contexts = [getattr(r, "text", "") for r in (answer.retrieved or [])]
    cited = [c.document_id for c in answer.citations]
    result: dict[str, Any] = {
        "text": answer.text,
        "abstained": bool(answer.abstained),
        "citations": cited,
        "ms": round(ms, 1),
        "answer_token_f1": token_f1(answer.text, refs) if refs and not answer.abstained else (0.0 if refs else None),
        "groundedness": None if answer.abstained else groundedness(answer.text, contexts, embedder).score,
        "citation_precision": (sum(c in relevant for c in cited) / len(cited)) if cited else None,
    }
    return result


def _gen_scores(output: dict) -> dict[str, float]:
    """The numeric answer scores of an item (undefined ones, e.g. groundedness of an abstention, left out)."""
    gen = output.get("generation") or {}
    keys = ("answer_token_f1", "groundedness", "citation_precision", "abstained")
    return {k: float(gen[k]) for k in keys if gen.get(k) is not None}


if __name__ == "__main__":
    sys.exit(main())
