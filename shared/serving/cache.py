"""Response caches: exact (in-process LRU) and semantic (PostgreSQL + pgvector).

Both serve only deterministic requests (``temperature == 0``): a caller who asks for sampling
wants a fresh sample, and only a greedy answer is *the* answer to a request. Hits come back
with ``cached=True``; a cached stream replays the stored text as chunks.

The semantic cache answers a paraphrase of an earlier question. It embeds only the last user
message, and scopes every entry by model and by a hash of everything else that shapes the
answer (system prompt, earlier turns, tools, schema, decoding limits), so a question asked in
another conversation or under another system prompt never receives this one's answer.
A cache failure (e.g. the database is down) is logged and counted, never raised: the model
still answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from shared.observability.metrics import CACHE_LOOKUPS
from shared.serving.base import ChatModel, Embedder
from shared.serving.types import ChatRequest, ChatResult, StreamChunk, Usage

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


class CachedStreamChunk(StreamChunk):
    """A chunk replayed from a cache; accounting reads ``cached`` to bill it as free."""

    cached: bool = True


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def exact_key(backend: str, model: str, request: ChatRequest) -> str:
    """sha256 of the canonical JSON of (backend, model, request): equal requests, equal keys."""
    return sha256_json({"backend": backend, "model": model, "request": request.model_dump(mode="json")})


def cacheable(request: ChatRequest) -> bool:
    return request.temperature == 0


def replay(result: ChatResult) -> Iterator[StreamChunk]:
    """Stream a stored answer as word-sized deltas, the last chunk with finish_reason and usage."""
    pieces = re.findall(r"\S+\s*|\s+", result.text) or [""]
    for piece in pieces[:-1]:
        yield CachedStreamChunk(delta=piece)
    yield CachedStreamChunk(delta=pieces[-1], finish_reason=result.finish_reason, usage=result.usage)


def collect(chunks: Iterator[StreamChunk], backend: str, model: str, on_complete: Any) -> Iterator[StreamChunk]:
    """Pass ``chunks`` through; when the stream ends normally, hand the assembled result to ``on_complete``."""
    parts: list[str] = []
    finish = None
    usage: Usage | None = None
    for chunk in chunks:
        parts.append(chunk.delta)
        finish = chunk.finish_reason or finish
        usage = chunk.usage or usage
        yield chunk
    if finish is not None:
        on_complete(
            ChatResult(text="".join(parts), finish_reason=finish, usage=usage or Usage(), model=model, backend=backend)
        )


def _hit(result: ChatResult) -> ChatResult:
    return result.model_copy(update={"cached": True, "latency_s": 0.0})


class ExactCacheChatModel(ChatModel):
    """In-process LRU keyed by :func:`exact_key`; thread-safe."""

    def __init__(self, inner: ChatModel, max_size: int = 1024) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.model = inner.model
        self.max_size = max_size
        self._entries: OrderedDict[str, ChatResult] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, key: str) -> ChatResult | None:
        with self._lock:
            result = self._entries.get(key)
            if result is not None:
                self._entries.move_to_end(key)
        CACHE_LOOKUPS.labels("exact", "hit" if result is not None else "miss").inc()
        return result

    def _put(self, key: str, result: ChatResult) -> None:
        if self.max_size <= 0:
            return
        with self._lock:
            self._entries[key] = result.model_copy(update={"cached": False})
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    @property
    def size(self) -> int:
        # not __len__: an empty cache must not make the model falsy
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def chat(self, request: ChatRequest) -> ChatResult:
        if not cacheable(request):
            return self.inner.chat(request)
        key = exact_key(self.backend, self.model, request)
        hit = self._get(key)
        if hit is not None:
            return _hit(hit)
        result = self.inner.chat(request)
        if not result.cached:
            self._put(key, result)
        return result

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        if not cacheable(request):
            yield from self.inner.stream(request)
            return
        key = exact_key(self.backend, self.model, request)
        hit = self._get(key)
        if hit is not None:
            yield from replay(hit)
            return
        # A streamed answer carries no tool calls, so it must not answer a later chat() with tools.
        store = (lambda r: None) if request.tools else (lambda r: self._put(key, r))
        yield from collect(self.inner.stream(request), self.backend, self.model, store)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


# --- semantic cache -------------------------------------------------------------------------

SEMANTIC_CACHE_TABLE = "semantic_cache"

# ``{dim}`` is the embedder's dimension (settings.embeddings.dim); see semantic_cache_ddl().
SEMANTIC_CACHE_DDL = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS semantic_cache (
    id          bigserial PRIMARY KEY,
    model       text        NOT NULL,
    scope       text        NOT NULL,
    prompt      text        NOT NULL,
    embedding   vector({dim}) NOT NULL,
    response    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS semantic_cache_embedding_hnsw
    ON semantic_cache USING hnsw (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS semantic_cache_scope_idx ON semantic_cache (model, scope, expires_at);
CREATE INDEX IF NOT EXISTS semantic_cache_expires_idx ON semantic_cache (expires_at);
"""

SEMANTIC_CACHE_DROP = "DROP TABLE IF EXISTS semantic_cache;"


def semantic_cache_ddl(dim: int = 384) -> str:
    return SEMANTIC_CACHE_DDL.replace("{dim}", str(int(dim)))


def semantic_scope(request: ChatRequest) -> str | None:
    """Hash of everything but the last user message; None when the request cannot be cached semantically."""
    if request.is_completion:  # no question to compare: a raw prompt is cached exactly or not at all
        return None
    messages = request.all_messages()
    if not messages or messages[-1].role != "user" or not messages[-1].content:
        return None
    context = {
        # call ids are random per conversation; what was called and answered is what matters
        "messages": [
            m.model_dump(mode="json", exclude={"tool_call_id": True, "tool_calls": {"__all__": {"id"}}})
            for m in messages[:-1]
        ],
        "tools": [t.model_dump(mode="json") for t in request.tools or []],
        "tool_choice": request.tool_choice,
        "schema": request.response_schema,
        "max_tokens": request.max_tokens,
        "stop": request.stop,
    }
    return sha256_json(context)


class SemanticCache:
    """Entries in PostgreSQL: (model, scope, embedding of the question) -> stored ChatResult."""

    def __init__(
        self,
        embedder: Embedder,
        url: str | None = None,
        *,
        threshold: float = 0.95,
        ttl_s: int = 3600,
        ef_search: int = 100,
    ) -> None:
        self.embedder = embedder
        self.url = url
        self.threshold = threshold
        self.ttl_s = ttl_s
        self.ef_search = ef_search

    def _connection(self) -> AbstractContextManager[psycopg.Connection]:
        from shared.db import connection

        return connection(self.url)

    def ensure_schema(self) -> None:
        """Create the table if missing (Alembic revision 0002_semantic_cache runs the same DDL)."""
        with self._connection() as conn:
            conn.execute(semantic_cache_ddl(self.embedder.dim))

    def lookup(self, model: str, request: ChatRequest) -> tuple[ChatResult, float] | None:
        """The closest live entry in this scope, if its cosine similarity reaches the threshold."""
        scope = semantic_scope(request)
        if scope is None:
            return None
        vector = self.embedder.embed_query(request.all_messages()[-1].content or "")
        with self._connection() as conn:
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            conn.execute(f"SET LOCAL hnsw.ef_search = {int(self.ef_search)}")
            row = conn.execute(
                """
                SELECT response, 1 - (embedding <=> %(v)s) AS similarity
                FROM semantic_cache
                WHERE model = %(model)s AND scope = %(scope)s AND expires_at > now()
                ORDER BY embedding <=> %(v)s
                LIMIT 1
                """,
                {"v": vector, "model": model, "scope": scope},
            ).fetchone()
        if row is None or row[1] < self.threshold:
            return None
        return ChatResult.model_validate(row[0]), float(row[1])

    def store(self, model: str, request: ChatRequest, result: ChatResult, ttl_s: int | None = None) -> bool:
        scope = semantic_scope(request)
        if scope is None:
            return False
        prompt = request.all_messages()[-1].content or ""
        vector = self.embedder.embed_query(prompt)
        payload = result.model_dump(mode="json", exclude={"cached", "latency_s"})
        with self._connection() as conn:
            conn.execute(
                """
                INSERT INTO semantic_cache (model, scope, prompt, embedding, response, expires_at)
                VALUES (%s, %s, %s, %s, %s::jsonb, now() + make_interval(secs => %s))
                """,
                (model, scope, prompt, vector, json.dumps(payload), ttl_s if ttl_s is not None else self.ttl_s),
            )
        return True

    def purge_expired(self) -> int:
        """Delete expired rows (lookups already ignore them); run it from a periodic job."""
        with self._connection() as conn:
            return conn.execute("DELETE FROM semantic_cache WHERE expires_at <= now()").rowcount

    def clear(self, model: str | None = None) -> int:
        with self._connection() as conn:
            if model is None:
                return conn.execute("DELETE FROM semantic_cache").rowcount
            return conn.execute("DELETE FROM semantic_cache WHERE model = %s", (model,)).rowcount


class SemanticCacheChatModel(ChatModel):
    """Answer from :class:`SemanticCache` when a similar question was answered in the same scope."""

    def __init__(self, inner: ChatModel, cache: SemanticCache) -> None:
        self.inner = inner
        self.cache = cache
        self.backend = inner.backend
        self.model = inner.model

    def _lookup(self, request: ChatRequest) -> ChatResult | None:
        if not cacheable(request):
            return None
        try:
            found = self.cache.lookup(self.model, request)
        except Exception as exc:
            log.warning("semantic cache lookup failed: %r", exc)
            CACHE_LOOKUPS.labels("semantic", "error").inc()
            return None
        CACHE_LOOKUPS.labels("semantic", "hit" if found else "miss").inc()
        return _hit(found[0]) if found else None

    def _store(self, request: ChatRequest, result: ChatResult) -> None:
        if not cacheable(request) or result.cached:
            return
        try:
            self.cache.store(self.model, request, result)
        except Exception as exc:
            log.warning("semantic cache store failed: %r", exc)

    def chat(self, request: ChatRequest) -> ChatResult:
        hit = self._lookup(request)
        if hit is not None:
            return hit
        result = self.inner.chat(request)
        self._store(request, result)
        return result

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        hit = self._lookup(request)
        if hit is not None:
            yield from replay(hit)
            return
        if request.tools:  # a streamed answer carries no tool calls: never store it for tool requests
            yield from self.inner.stream(request)
            return
        yield from collect(self.inner.stream(request), self.backend, self.model, lambda r: self._store(request, r))

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
