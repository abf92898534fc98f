"""Search on the real embedded PostgreSQL with the real local embedder: hybrid/RRF, filters, MMR, rerank."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from prometheus_client import REGISTRY

from shared.retrieval import (
    Document,
    Indexer,
    PgVectorStore,
    Principal,
    Searcher,
    SearchFilters,
    SearchRequest,
    mmr_select,
    upgrade,
)
from shared.serving.base import Reranker
from shared.serving.embeddings import LocalEmbedder

USER = Principal(user_id="u1", tenant_id="acme")
CORPUS = {
    "refunds.md": ("Customers may return purchases within 30 days for full reimbursement to the original card.", "md"),
    "errors.txt": ("If the console shows E-4471 the license server rejected the activation request.", "txt"),
    "shipping.txt": ("Orders ship from our warehouse within two business days.", "txt"),
    "security.md": ("Enable two-factor authentication to protect your account from intruders.", "md"),
    "pricing.html": ("The enterprise plan costs more but includes priority support and SSO.", "html"),
    "hiring.txt": ("We are hiring engineers for the platform team in Berlin.", "txt"),
    "license.txt": ("Activation of the desktop license requires an internet connection once.", "txt"),
}


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def searcher(database_url: str, embedder: LocalEmbedder) -> Searcher:
    upgrade(database_url)
    store = PgVectorStore(database_url)
    store.create_collection("kb", embedding_model=embedder.model, embedding_dim=embedder.dim)
    indexer = Indexer(store, embedder)
    for i, (uri, (text, doc_type)) in enumerate(CORPUS.items()):
        indexer.index(
            Document(
                collection="kb",
                source_uri=uri,
                text=text,
                doc_type=doc_type,
                tenant_id="acme",
                source_date=datetime(2026, 1 + i, 1, tzinfo=UTC),
                metadata={"tags": ["support"] if i % 2 == 0 else ["sales"], "lang": "en"},
            )
        )
    return Searcher(store, embedder)


def search(searcher: Searcher, query: str, **kw) -> list:
    return searcher.search(SearchRequest(collection="kb", query=query, principal=USER, **kw))


def test_hybrid_finds_exact_keyword_and_paraphrase_targets(searcher: Searcher) -> None:
    keyword = search(searcher, "E-4471", mode="hybrid", k=3)
    assert keyword[0].source_uri == "errors.txt"
    assert keyword[0].fulltext_rank == 1
    paraphrase = search(searcher, "how do I get my money back", mode="hybrid", k=3)
    assert paraphrase[0].source_uri == "refunds.md"
    assert paraphrase[0].dense_rank == 1 and paraphrase[0].fulltext_rank is None  # no shared words: dense carries it
    assert search(searcher, "how do I get my money back", mode="fulltext") == []
    assert search(searcher, "E-4471", mode="fulltext")[0].source_uri == "errors.txt"


def test_rrf_scores_fuse_both_ranks(searcher: Searcher) -> None:
    hits = search(searcher, "license activation", mode="hybrid", k=7)
    both = [h for h in hits if h.dense_rank and h.fulltext_rank]
    assert both, "a query sharing words with documents must appear in both candidate lists"
    for h in hits:
        expected = sum(1.0 / (60 + r) for r in (h.dense_rank, h.fulltext_rank) if r is not None)
        assert h.score == pytest.approx(expected)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # a document found by both signals outranks one found by a single signal at the same rank
    assert {hits[0].source_uri, hits[1].source_uri} == {"license.txt", "errors.txt"}


def test_dense_scores_are_cosine_similarities(searcher: Searcher, embedder: LocalEmbedder) -> None:
    hits = search(searcher, "protect my account", mode="dense", k=3)
    assert hits[0].source_uri == "security.md" and [h.dense_rank for h in hits] == [1, 2, 3]
    q = embedder.embed_query("protect my account")
    assert hits[0].score == pytest.approx(float(q @ embedder.embed([hits[0].text])[0]), abs=1e-4)


def test_metadata_filters_apply_in_sql(searcher: Searcher) -> None:
    def uris(**filters) -> set[str]:
        hits = search(searcher, "support", mode="dense", k=20, filters=SearchFilters(**filters))
        return {h.source_uri for h in hits}

    assert uris(doc_types=["md"]) == {"refunds.md", "security.md"}
    assert uris(source_uris=["hiring.txt", "pricing.html"]) == {"hiring.txt", "pricing.html"}
    assert uris(tags_any=["sales"]) == {"errors.txt", "security.md", "hiring.txt"}
    assert uris(date_from=datetime(2026, 3, 1, tzinfo=UTC), date_to=datetime(2026, 5, 1, tzinfo=UTC)) == {
        "shipping.txt",
        "security.md",
    }
    assert uris(metadata={"lang": "en"}) == set(CORPUS)
    assert uris(metadata={"lang": "de"}) == set()
    hybrid = search(searcher, "license", mode="hybrid", k=10, filters=SearchFilters(doc_types=["md"]))
    assert {h.source_uri for h in hybrid} <= {"refunds.md", "security.md"}


def test_mmr_prefers_diverse_results(database_url: str, embedder: LocalEmbedder) -> None:
    upgrade(database_url)
    store = PgVectorStore(database_url)
    store.create_collection("kb", embedding_model=embedder.model, embedding_dim=embedder.dim)
    indexer = Indexer(store, embedder)
    texts = {
        "dup1": "Reset your password from the account settings page.",
        "dup2": "Reset your password from the account settings page!",
        "dup3": "You can reset your password from the settings page of your account.",
        "other": "Forgot your password? Contact the help desk to unlock your login.",
    }
    for uri, text in texts.items():
        indexer.index(Document(collection="kb", source_uri=uri, text=text, tenant_id="acme"))
    searcher = Searcher(store, embedder)
    plain = search(searcher, "reset password", mode="dense", k=2)
    assert {h.source_uri for h in plain} <= {"dup1", "dup2", "dup3"}
    diverse = search(searcher, "reset password", mode="dense", k=2, mmr=True, mmr_lambda=0.3)
    assert diverse[0].source_uri == plain[0].source_uri
    assert diverse[1].source_uri == "other"


def test_mmr_select_unit() -> None:
    q = np.array([1.0, 0.0])
    cands = np.array([[1.0, 0.0], [0.999, 0.0447], [0.8, -0.6]])
    assert mmr_select(q, cands, 2, lam=1.0) == [0, 1]
    assert mmr_select(q, cands, 2, lam=0.3) == [0, 2]
    assert mmr_select(q, np.zeros((0, 2)), 2, 0.5) == []


class ReverseAlphabetReranker(Reranker):
    """Test double: orchestration only (the real cross-encoder is configured in production)."""

    model = "reverse-alpha"

    def score(self, query, documents):
        return [float(-ord(d[0])) for d in documents]


def test_rerank_reorders_candidates_and_metrics_are_recorded(searcher: Searcher) -> None:
    before = REGISTRY.get_sample_value("retrieval_duration_seconds_count", {"mode": "hybrid"}) or 0.0
    searcher.reranker = ReverseAlphabetReranker()
    hits = search(searcher, "license activation support", mode="hybrid", k=3, rerank=True, candidates=20)
    assert [h.rerank_score for h in hits] == sorted((h.rerank_score for h in hits), reverse=True)
    # dense candidates cover the whole corpus here, so the reranker's favourite ('A...') must come first
    assert hits[0].source_uri == "license.txt"
    assert [h.text[0] for h in hits] == sorted(h.text[0] for h in hits)
    after = REGISTRY.get_sample_value("retrieval_duration_seconds_count", {"mode": "hybrid"})
    assert after == before + 1
    assert REGISTRY.get_sample_value("retrieval_duration_seconds_count", {"mode": "rerank"}) >= 1
    searcher.reranker = None
    with pytest.raises(ValueError, match="reranker"):
        search(searcher, "x", rerank=True)


def test_metadata_in_and_ranges_filter_in_sql(database_url: str, embedder: LocalEmbedder) -> None:
    upgrade(database_url)
    store = PgVectorStore(database_url)
    store.create_collection("photos", embedding_model=embedder.model, embedding_dim=embedder.dim)
    indexer = Indexer(store, embedder)
    rows = [("a", "travel", 4000), ("b", "home", 800), ("c", "travel", 640), ("d", "work", "wide")]
    for uri, source, width in rows:
        indexer.index(
            Document(collection="photos", source_uri=uri, text=f"photo {uri} of a beach", doc_type="image",
                     tenant_id="acme", metadata={"source": source, "width": width})
        )  # fmt: skip
    searcher = Searcher(store, embedder)

    def uris(filters: SearchFilters) -> set[str]:
        hits = searcher.search(SearchRequest(collection="photos", query="beach", principal=USER, filters=filters))
        return {h.source_uri for h in hits}

    assert uris(SearchFilters(metadata_in={"source": ["travel", "work"]})) == {"a", "c", "d"}
    assert uris(SearchFilters(metadata_ranges={"width": {"min": 700}})) == {"a", "b"}  # "wide" is not a number
    assert uris(SearchFilters(metadata_ranges={"width": {"min": 700, "max": 1000}})) == {"b"}
    assert uris(SearchFilters(metadata_in={"source": ["travel"]}, metadata_ranges={"width": {"max": 1000}})) == {"c"}
    with pytest.raises(ValueError):
        SearchFilters(metadata_in={"source; DROP TABLE chunks": ["x"]})


def test_search_by_query_vector_and_dense_scores_in_hybrid(searcher: Searcher, embedder: LocalEmbedder) -> None:
    vector = embedder.embed_query("how do I get my money back")
    dense = searcher.search(
        SearchRequest(collection="kb", principal=USER, mode="dense", k=2),
        query_vector=vector,
        vector_model=embedder.model,
    )
    assert dense[0].source_uri == "refunds.md"
    assert dense[0].dense_score == pytest.approx(dense[0].score)
    hybrid = search(searcher, "license activation", mode="hybrid", k=7)
    for hit in hybrid:
        assert (hit.dense_score is None) == (hit.dense_rank is None)
    ranked = sorted((h for h in hybrid if h.dense_rank), key=lambda h: h.dense_rank)
    assert [h.dense_score for h in ranked] == sorted((h.dense_score for h in ranked), reverse=True)
    with pytest.raises(ValueError, match="empty query"):
        searcher.search(SearchRequest(collection="kb", principal=USER, mode="hybrid"), query_vector=vector,
                        vector_model=embedder.model)  # fmt: skip
    from shared.retrieval.store import CollectionConflictError

    with pytest.raises(CollectionConflictError):
        searcher.search(
            SearchRequest(collection="kb", principal=USER, mode="dense"), query_vector=vector, vector_model="other"
        )
