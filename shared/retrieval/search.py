"""Dense, full-text and hybrid (RRF in one SQL statement) search, with optional rerank and MMR.

Every query is scoped by :func:`shared.retrieval.filters.where_clause` inside each candidate
subquery, so ACL and metadata filters shape the candidate lists themselves. Dense search uses the
collection dimension's partial HNSW index (``embedding::vector(N)`` with ``dim = N``) with
``hnsw.ef_search`` and iterative scans set per transaction, so selective filters still return k rows.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from shared.observability.metrics import RETRIEVAL_LATENCY
from shared.observability.tracing import span
from shared.retrieval.filters import where_clause
from shared.retrieval.models import Principal, SearchFilters, SearchResult
from shared.retrieval.store import CollectionConflictError, CollectionNotFoundError, PgVectorStore
from shared.serving.base import Embedder, Reranker
from shared.settings import get_settings

Mode = Literal["dense", "fulltext", "hybrid"]
LexicalQuery = Literal["websearch", "any"]
Fusion = Literal["rrf", "convex"]

_RESULT_COLUMNS = sql.SQL("c.id AS chunk_id, c.document_id, c.text, c.source_uri, c.page, c.section, c.metadata")


class SearchRequest(BaseModel):
    collection: str
    query: str = Field(
        default="", description="the text query; may be empty only for a dense search by a given query vector"
    )
    principal: Principal
    mode: Mode = "hybrid"
    k: int = Field(default=10, ge=1, le=200)
    candidates: int = Field(default=50, ge=1, le=1000, description="per-signal candidate list size (and MMR pool)")
    filters: SearchFilters | None = None
    rerank: bool = False
    mmr: bool = False
    mmr_lambda: float = Field(default=0.5, ge=0, le=1, description="1 = relevance only, 0 = diversity only")
    rrf_k: int = Field(default=60, ge=1)
    lexical: LexicalQuery = Field(
        default="websearch",
        description="full-text query semantics: 'websearch' = websearch_to_tsquery (AND of terms, quoted phrases, "
        "-negation; ranked by ts_rank_cd) for keyword queries; 'any' = OR of the query's stemmed lexemes ranked by "
        "ts_rank with length normalisation, for natural-language questions (an AND of every word matches ~nothing)",
    )
    fusion: Fusion = Field(
        default="rrf",
        description="hybrid fusion: 'rrf' = Σ 1/(rrf_k + rank); 'convex' = dense_weight·dense' + (1-dense_weight)·"
        "lexical', each score min-max normalised over its candidate list",
    )
    dense_weight: float = Field(default=0.7, ge=0, le=1, description="convex fusion: weight of the dense score")


def tsquery_sql(lexical: LexicalQuery = "websearch") -> sql.SQL:
    """The FROM item that yields the text query ``q`` for ``%(qtext)s``.

    'any' takes ``plainto_tsquery`` (stemmed lexemes, stop words dropped, each lexeme quoted in its text
    form) and turns its ANDs into ORs. A question of only stop words gives an empty query, which matches
    nothing, as with 'websearch'.
    """
    if lexical == "websearch":
        return sql.SQL("websearch_to_tsquery('english', %(qtext)s) q")
    return sql.SQL("CAST(replace(CAST(plainto_tsquery('english', %(qtext)s) AS text), ' & ', ' | ') AS tsquery) q")


def lexical_rank_sql(lexical: LexicalQuery = "websearch") -> sql.SQL:
    """Cover density (``ts_rank_cd``) rewards all terms close together, right for a few AND-ed keywords; for
    an OR of a question's terms it mostly rewards long chunks that repeat a common word, so 'any' uses
    ``ts_rank`` (term frequency) divided by 1 + log(length) (normalisation 1). On the PubMedQA dev set the
    'any' full-text list scores nDCG@10 0.73 this way against 0.50 with ``ts_rank_cd``."""
    return sql.SQL("ts_rank_cd(c.tsv, q)" if lexical == "websearch" else "ts_rank(c.tsv, q, 1)")


def dense_sql(dim: int, where: sql.Composable, with_embedding: bool = False) -> sql.Composed:
    """Top-``limit`` by cosine distance. Ranks are numbered *outside* the LIMITed subquery: a window
    function inside it would force the planner to rank every row instead of walking the HNSW index."""
    emb = (
        sql.SQL(", c.embedding::vector({d}) AS embedding").format(d=sql.Literal(dim)) if with_embedding else sql.SQL("")
    )
    return sql.SQL(
        "SELECT *, 1 - dist AS score, 1 - dist AS dense_score, row_number() OVER (ORDER BY dist) AS dense_rank FROM ("
        "SELECT {cols}{emb}, c.embedding::vector({d}) <=> %(qvec)s::vector({d}) AS dist "
        "FROM chunks c WHERE c.dim = {d} AND {where} "
        "ORDER BY c.embedding::vector({d}) <=> %(qvec)s::vector({d}) LIMIT %(limit)s) s ORDER BY dist"
    ).format(cols=_RESULT_COLUMNS, emb=emb, d=sql.Literal(dim), where=where)


def fulltext_sql(
    where: sql.Composable, with_embedding: bool = False, lexical: LexicalQuery = "websearch"
) -> sql.Composed:
    emb = sql.SQL(", c.embedding") if with_embedding else sql.SQL("")
    return sql.SQL(
        "SELECT *, row_number() OVER (ORDER BY score DESC, chunk_id) AS fulltext_rank FROM ("
        "SELECT {cols}{emb}, {rank} AS score "
        "FROM chunks c, {tsq} WHERE c.tsv @@ q AND {where} "
        "ORDER BY {rank} DESC, c.id LIMIT %(limit)s) s ORDER BY score DESC, chunk_id"
    ).format(cols=_RESULT_COLUMNS, emb=emb, where=where, tsq=tsquery_sql(lexical), rank=lexical_rank_sql(lexical))


_FUSED_SCORE = {
    "rrf": sql.SQL("COALESCE(1.0 / (%(rrf_k)s + dense.r), 0) + COALESCE(1.0 / (%(rrf_k)s + sparse.r), 0)"),
    # Convex combination of min-max normalised scores (Bruch et al. 2023, "An Analysis of Fusion Functions for
    # Hybrid Retrieval"): unlike RRF it keeps how far apart candidates are, so a weak signal cannot promote a
    # document that the strong one ranks high but barely above the rest.
    "convex": sql.SQL("%(dense_weight)s * COALESCE(dense.n, 0) + (1 - %(dense_weight)s) * COALESCE(sparse.n, 0)"),
}


def hybrid_sql(
    dim: int,
    where: sql.Composable,
    with_embedding: bool = False,
    lexical: LexicalQuery = "websearch",
    fusion: Fusion = "rrf",
) -> sql.Composed:
    """Both candidate lists and their fusion (RRF or convex, see ``SearchRequest.fusion``), one statement."""
    emb = (
        sql.SQL(", c.embedding::vector({d}) AS embedding").format(d=sql.Literal(dim)) if with_embedding else sql.SQL("")
    )
    return sql.SQL(
        """
        WITH dense AS (
            SELECT id, row_number() OVER (ORDER BY dist) AS r, 1 - dist AS sim,
                   COALESCE((max(dist) OVER () - dist) / NULLIF(max(dist) OVER () - min(dist) OVER (), 0), 1) AS n
            FROM (
                SELECT c.id, c.embedding::vector({d}) <=> %(qvec)s::vector({d}) AS dist
                FROM chunks c WHERE c.dim = {d} AND {where}
                ORDER BY c.embedding::vector({d}) <=> %(qvec)s::vector({d}) LIMIT %(cand)s) d
        ), sparse AS (
            SELECT id, rank() OVER (ORDER BY rank DESC) AS r,  -- equal text scores share a rank: RRF must not
                   -- split a tie by row id (a lexical tie then decides nothing; the dense list does)
                   COALESCE((rank - min(rank) OVER ()) / NULLIF(max(rank) OVER () - min(rank) OVER (), 0), 1) AS n
            FROM (
                SELECT c.id, {rank} AS rank
                FROM chunks c, {tsq} WHERE c.tsv @@ q AND {where}
                ORDER BY {rank} DESC, c.id LIMIT %(cand)s) s
        ), fused AS (
            SELECT COALESCE(dense.id, sparse.id) AS id, dense.r AS dense_rank, sparse.r AS fulltext_rank,
                   dense.sim AS dense_score, {score} AS score
            FROM dense FULL OUTER JOIN sparse ON dense.id = sparse.id
        )
        SELECT {cols}{emb}, f.score, f.dense_rank, f.fulltext_rank, f.dense_score
        FROM fused f JOIN chunks c ON c.id = f.id
        ORDER BY f.score DESC, f.id LIMIT %(limit)s
        """
    ).format(
        cols=_RESULT_COLUMNS,
        emb=emb,
        d=sql.Literal(dim),
        where=where,
        tsq=tsquery_sql(lexical),
        rank=lexical_rank_sql(lexical),
        score=_FUSED_SCORE[fusion],
    )


def _as_array(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def mmr_select(query: np.ndarray, candidates: np.ndarray, k: int, lam: float) -> list[int]:
    """Maximal Marginal Relevance over unit vectors: pick argmax lam*sim(q,d) - (1-lam)*max sim(d, picked)."""
    if len(candidates) == 0:
        return []
    relevance = candidates @ query
    pairwise = candidates @ candidates.T
    picked: list[int] = [int(np.argmax(relevance))]
    while len(picked) < min(k, len(candidates)):
        redundancy = pairwise[:, picked].max(axis=1)
        scores = lam * relevance - (1 - lam) * redundancy
        scores[picked] = -np.inf
        picked.append(int(np.argmax(scores)))
    return picked


class Searcher:
    """Runs :class:`SearchRequest` s against a :class:`PgVectorStore` with one embedder (and an optional reranker)."""

    def __init__(self, store: PgVectorStore, embedder: Embedder | None, reranker: Reranker | None = None) -> None:
        """``embedder=None``: a searcher for vector queries only (a space with no text encoder, e.g. image features)."""
        self.store = store
        self.embedder = embedder
        self.reranker = reranker

    def search(
        self, request: SearchRequest, *, query_vector: np.ndarray | None = None, vector_model: str | None = None
    ) -> list[SearchResult]:
        """Run ``request``. ``query_vector`` (made by ``vector_model``, checked against the collection's model)
        replaces embedding the text: image→image and "more like this" search with a stored vector."""
        if query_vector is not None and vector_model is None:
            raise ValueError("a query_vector needs the vector_model that produced it")
        if not request.query.strip() and (query_vector is None or request.mode != "dense"):
            raise ValueError("an empty query is only allowed for a dense search by query_vector")
        started = time.perf_counter()
        with span("retrieval.search", mode=request.mode, collection=request.collection, k=request.k) as s:
            rows, qvec = self._candidates(request, query_vector, vector_model)
            if request.rerank:
                rows = self._rerank(request, rows)
            if request.mmr and rows:
                matrix = np.asarray([_as_array(r["embedding"]) for r in rows], dtype=np.float32)
                matrix /= np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
                rows = [rows[i] for i in mmr_select(qvec, matrix, request.k, request.mmr_lambda)]
            results = [self._result(r) for r in rows[: request.k]]
            s.set_attribute("results", len(results))
        RETRIEVAL_LATENCY.labels(request.mode).observe(time.perf_counter() - started)
        return results

    def _candidates(
        self, request: SearchRequest, query_vector: np.ndarray | None = None, vector_model: str | None = None
    ) -> tuple[list[dict[str, Any]], np.ndarray | None]:
        need_vectors = request.mmr
        qvec: np.ndarray | None = None
        if query_vector is not None:
            qvec = np.asarray(query_vector, dtype=np.float32)
        elif request.mode != "fulltext" or need_vectors:
            if self.embedder is None:
                raise ValueError("this searcher has no text embedder; pass a query_vector")
            qvec = self.embedder.embed_query(request.query)
        model = vector_model if query_vector is not None else (self.embedder.model if self.embedder else None)
        where, params = where_clause(request.collection, request.principal, request.filters)
        pool = request.candidates if (request.rerank or request.mmr) else request.k
        params |= {
            "qtext": request.query,
            "limit": pool,
            "cand": request.candidates,
            "rrf_k": request.rrf_k,
            "dense_weight": request.dense_weight,
        }
        if qvec is not None:
            params["qvec"] = qvec
        ef = max(get_settings().database.hnsw_ef_search, request.candidates)
        with self.store.connect() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            # One round trip: the collection's model/dimension, plus SET LOCAL equivalents for this transaction.
            # force_custom_plan: psycopg prepares statements after 5 runs, and a *generic* plan cannot see
            # the LIMIT value, so it may pick a sequential scan + sort over the HNSW index (40 ms vs 1 ms).
            collection = cur.execute(
                "SELECT embedding_model, embedding_dim, set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'strict_order', true), "
                "set_config('plan_cache_mode', 'force_custom_plan', true) FROM collections WHERE name = %s",
                (str(int(ef)), request.collection),
            ).fetchone()
            if collection is None:
                raise CollectionNotFoundError(f"no collection named {request.collection!r}")
            if request.mode != "fulltext" and collection["embedding_model"] != model:
                raise CollectionConflictError(
                    f"collection {request.collection!r} is embedded with {collection['embedding_model']}, "
                    f"the query vector comes from {model}"
                )
            dim = int(collection["embedding_dim"])
            if request.mode == "dense":
                query = dense_sql(dim, where, need_vectors)
            elif request.mode == "fulltext":
                query = fulltext_sql(where, need_vectors, request.lexical)
            else:
                query = hybrid_sql(dim, where, need_vectors, request.lexical, request.fusion)
            rows = cur.execute(query, params).fetchall()
        return rows, qvec

    def _rerank(self, request: SearchRequest, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.reranker is None:
            raise ValueError("rerank requested but this searcher has no reranker")
        with span("retrieval.rerank", model=self.reranker.model, n=len(rows)):
            started = time.perf_counter()
            scores = self.reranker.score(request.query, [r["text"] for r in rows])
            RETRIEVAL_LATENCY.labels("rerank").observe(time.perf_counter() - started)
        for row, score in zip(rows, scores, strict=True):
            row["rerank_score"] = float(score)
        return sorted(rows, key=lambda r: r["rerank_score"], reverse=True)

    @staticmethod
    def _result(row: dict[str, Any]) -> SearchResult:
        return SearchResult(
            chunk_id=row["chunk_id"],
            document_id=row["document_id"],
            text=row["text"],
            score=float(row["score"]),
            dense_rank=row.get("dense_rank"),
            dense_score=float(row["dense_score"]) if row.get("dense_score") is not None else None,
            fulltext_rank=row.get("fulltext_rank"),
            rerank_score=row.get("rerank_score"),
            source_uri=row["source_uri"],
            page=row["page"],
            section=row["section"],
            metadata=row["metadata"] or {},
        )
