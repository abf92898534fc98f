"""Semantic cache on the real embedded PostgreSQL + pgvector with the real local embedder."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import psycopg
import pytest
from prometheus_client import REGISTRY

from shared.serving.base import ChatModel
from shared.serving.cache import SemanticCache, SemanticCacheChatModel, semantic_cache_ddl
from shared.serving.embeddings import LocalEmbedder
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk, Usage
from shared.settings import REPO_ROOT

pytestmark = pytest.mark.db


class Counting(ChatModel):
    backend = "fake"
    model = "fake-model"

    def __init__(self) -> None:
        self.calls = 0

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        return ChatResult(
            text=f"answer #{self.calls}", model=self.model, backend=self.backend, usage=Usage(prompt_tokens=7)
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        result = self.chat(request)
        yield StreamChunk(delta=result.text, finish_reason="stop", usage=result.usage)


def ask(question: str, system: str | None = "You are a helpful support agent.", history=(), **kw) -> ChatRequest:
    return ChatRequest(system=system, messages=[*history, ChatMessage.user(question)], **kw)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def cache(database_url: str, embedder: LocalEmbedder) -> SemanticCache:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(semantic_cache_ddl(embedder.dim))
    return SemanticCache(embedder, database_url, threshold=0.95, ttl_s=3600)


def sample(result: str) -> float:
    return REGISTRY.get_sample_value("cache_lookups_total", {"cache": "semantic", "result": result}) or 0.0


def test_paraphrase_hits_and_unrelated_question_misses(cache: SemanticCache) -> None:
    inner = Counting()
    model = SemanticCacheChatModel(inner, cache)
    hits, misses = sample("hit"), sample("miss")

    first = model.chat(ask("How do I reset my password?"))
    paraphrase = model.chat(ask("how can I reset my password"))
    assert inner.calls == 1
    assert paraphrase.cached and paraphrase.text == first.text == "answer #1"

    unrelated = model.chat(ask("How do I change my email address?"))
    assert not unrelated.cached and unrelated.text == "answer #2"
    assert sample("hit") == hits + 1 and sample("miss") == misses + 2

    streamed = list(model.stream(ask("How do I reset my password")))
    assert "".join(c.delta for c in streamed) == "answer #1" and inner.calls == 2


def test_other_context_never_shares_answers(cache: SemanticCache) -> None:
    inner = Counting()
    model = SemanticCacheChatModel(inner, cache)
    model.chat(ask("How do I reset my password?"))
    assert not model.chat(ask("How do I reset my password?", system="Answer only in French.")).cached
    history = [ChatMessage.user("I use the mobile app."), ChatMessage.assistant("Noted.")]
    assert not model.chat(ask("How do I reset my password?", history=history)).cached
    assert not model.chat(ask("How do I reset my password?", response_schema={"type": "object"})).cached
    other_model = Counting()
    other_model.model = "another-model"
    assert not SemanticCacheChatModel(other_model, cache).chat(ask("How do I reset my password?")).cached
    assert inner.calls == 4
    # and each context now has its own entry
    assert model.chat(ask("how can I reset my password", system="Answer only in French.")).text == "answer #2"


def test_sampled_requests_bypass_the_cache(cache: SemanticCache) -> None:
    inner = Counting()
    model = SemanticCacheChatModel(inner, cache)
    model.chat(ask("How do I reset my password?", temperature=0.8))
    model.chat(ask("How do I reset my password?", temperature=0.8))
    assert inner.calls == 2
    assert cache.clear() == 0  # nothing was stored


def test_expired_entries_are_ignored_and_purged(cache: SemanticCache, database_url: str) -> None:
    inner = Counting()
    model = SemanticCacheChatModel(inner, cache)
    model.chat(ask("What are your opening hours?"))
    with psycopg.connect(database_url) as conn:
        ttl = conn.execute("SELECT extract(epoch FROM expires_at - created_at) FROM semantic_cache").fetchone()[0]
    assert float(ttl) == pytest.approx(3600, abs=1)
    assert model.chat(ask("What are your opening hours?")).cached

    with psycopg.connect(database_url) as conn:  # the TTL passes
        conn.execute("UPDATE semantic_cache SET expires_at = now() - interval '1 second'")
    assert not model.chat(ask("What are your opening hours?")).cached
    assert inner.calls == 2
    assert cache.purge_expired() == 1  # the expired row; the fresh answer stays
    assert model.chat(ask("What are your opening hours?")).text == "answer #2"


def test_a_broken_cache_never_breaks_serving(database_url: str, embedder: LocalEmbedder) -> None:
    inner = Counting()
    model = SemanticCacheChatModel(inner, SemanticCache(embedder, database_url))  # table never created
    errors = sample("error")
    assert model.chat(ask("Anything?")).text == "answer #1"
    assert sample("error") == errors + 1


def test_ddl_builds_a_cosine_hnsw_index(cache: SemanticCache, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        (index,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'semantic_cache' AND indexdef ILIKE '%hnsw%'"
        ).fetchone()
    assert "vector_cosine_ops" in index


def test_alembic_revision_creates_and_drops_the_table(database_url: str) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import create_engine, text

    path = REPO_ROOT / "shared/retrieval/migrations/versions/0002_semantic_cache.py"
    spec = importlib.util.spec_from_file_location("rev_0002", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.revision, module.down_revision) == ("0002_semantic_cache", "0001_base")

    # the fixture's URL is a libpq conninfo string, which SQLAlchemy cannot parse: hand it a connection
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(database_url))
    try:
        with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            module.upgrade()
        with engine.connect() as conn:
            dim = conn.execute(
                text(
                    "SELECT atttypmod FROM pg_attribute"
                    " WHERE attrelid = 'semantic_cache'::regclass AND attname = 'embedding'"
                )
            ).scalar_one()
            assert dim == 384
        with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            module.downgrade()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('semantic_cache')")).scalar_one() is None
    finally:
        engine.dispose()
