"""Process-wide chat model, embedder and reranker, composed from settings.

The chat model is the stack every project calls, outermost first::

    accounting -> exact cache -> semantic cache -> fallback chain -> [retry + breaker -> backend] per backend

so a cache hit is still accounted (as free), a fallback answer is cached like any other, and
each backend has its own breaker (one slow remote server never opens the local one's).
Instances are built once per distinct configuration and shared by every thread.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from shared.serving.base import ChatModel, Embedder, Reranker
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from shared.serving.vision import ImageEmbedder

_lock = threading.RLock()
_chat_models: dict[str, ChatModel] = {}
_embedders: dict[str, Embedder] = {}
_rerankers: dict[str, Reranker | None] = {}
_image_embedders: dict[str, ImageEmbedder] = {}


def build_backend(name: str, settings: Settings) -> ChatModel:
    """One raw backend by name; imported lazily so the OpenAI client is not needed for local use."""
    s = settings.serving
    if name == "local":
        from shared.serving.local import LocalChatModel

        return LocalChatModel(s.local_model, s, cache_dir=settings.cache_dir)
    if name == "openai":
        from shared.serving.openai_backend import OpenAIChatModel

        return OpenAIChatModel(
            s.openai_base_url, s.openai_model, s.openai_api_key.get_secret_value(), timeout_s=s.request_timeout_s
        )
    raise ValueError(f"unknown serving backend {name!r}")


def compose_chat_model(settings: Settings, backends: list[ChatModel] | None = None) -> ChatModel:
    """Wrap backends (built from settings unless given) in the production patterns the settings enable."""
    from shared.serving.accounting import AccountingChatModel
    from shared.serving.cache import ExactCacheChatModel, SemanticCache, SemanticCacheChatModel
    from shared.serving.resilience import FallbackChatModel, ResilientChatModel, make_breaker

    s = settings.serving
    if backends is None:
        names = list(dict.fromkeys([s.backend, *s.fallback_backends]))
        backends = [build_backend(name, settings) for name in names]
    guarded: list[ChatModel] = [
        ResilientChatModel(
            b,
            timeout_s=s.request_timeout_s,
            max_retries=s.max_retries,
            backoff_s=s.retry_backoff_s,
            breaker=make_breaker(f"{b.backend}:{b.model}", s.breaker_fail_max, s.breaker_reset_s),
        )
        for b in backends
    ]
    model: ChatModel = guarded[0] if len(guarded) == 1 else FallbackChatModel(guarded)
    if s.semantic_cache_enabled:
        cache = SemanticCache(
            get_embedder(settings),
            settings.effective_database_url(),
            threshold=s.semantic_cache_threshold,
            ttl_s=s.semantic_cache_ttl_s,
            ef_search=settings.database.hnsw_ef_search,
        )
        cache.ensure_schema()
        model = SemanticCacheChatModel(model, cache)
    if s.response_cache_enabled:
        model = ExactCacheChatModel(model, max_size=s.response_cache_size)
    return AccountingChatModel(model, s)


def _key(settings: Settings, *sections: str) -> str:
    data: dict[str, Any] = {name: getattr(settings, name).model_dump(mode="json") for name in sections}
    data["cache_dir"] = str(settings.cache_dir)
    data["database_url"] = settings.effective_database_url()
    # SecretStr dumps masked; include the real key so two endpoints with different keys differ
    data["openai_key"] = settings.serving.openai_api_key.get_secret_value()
    return json.dumps(data, sort_keys=True, default=str)


def get_chat_model(settings: Settings | None = None) -> ChatModel:
    """The shared, fully wrapped chat model for these settings (default: the process settings)."""
    settings = settings or get_settings()
    key = _key(settings, "serving", "embeddings", "database")
    with _lock:
        if key not in _chat_models:
            _chat_models[key] = compose_chat_model(settings)
        return _chat_models[key]


def get_batch_chat_model(min_timeout_s: float = 1800.0, settings: Settings | None = None) -> ChatModel:
    """The chat model with a request timeout fit for a batch job (evals): at least ``min_timeout_s``.

    The serving timeout (300 s) is sized for interactive requests; in an eval, 8 requests decode as one static
    batch that lasts as long as its longest answer, and on a shared 2-core machine that can pass 300 s. A timed-out
    local request keeps decoding while its retry queues behind it, and five in a row open the circuit breaker:
    the rest of the run would then fail without trying.
    """
    settings = settings or get_settings()
    timeout = max(settings.serving.request_timeout_s, min_timeout_s)
    serving = settings.serving.model_copy(update={"request_timeout_s": timeout})
    return get_chat_model(settings.model_copy(update={"serving": serving}))


def get_embedder(settings: Settings | None = None) -> Embedder:
    settings = settings or get_settings()
    from shared.serving.embeddings import build_embedder

    key = settings.embeddings.model_dump_json() + settings.embeddings.openai_api_key.get_secret_value()
    with _lock:
        if key not in _embedders:
            _embedders[key] = build_embedder(settings.embeddings)
        return _embedders[key]


def get_reranker(settings: Settings | None = None) -> Reranker | None:
    """The configured cross-encoder, or None (offline default: no cross-encoder ships)."""
    settings = settings or get_settings()
    from shared.serving.rerank import build_reranker

    key = settings.rerank.model_dump_json()
    with _lock:
        if key not in _rerankers:
            _rerankers[key] = build_reranker(settings)
        return _rerankers[key]


def get_image_embedder(settings: Settings | None = None) -> ImageEmbedder:
    """The shared image embedder for these vision settings (torch/open_clip are imported only here, on first use)."""
    settings = settings or get_settings()
    from shared.serving.vision import build_image_embedder

    v = settings.vision
    key = json.dumps(
        [v.model_dump(mode="json"), v.openai_api_key.get_secret_value(), str(settings.cache_dir)], default=str
    )
    with _lock:
        if key not in _image_embedders:
            _image_embedders[key] = build_image_embedder(v, settings.cache_dir)
        return _image_embedders[key]


def reset_serving_singletons() -> None:
    """Forget every shared instance (tests; a settings reload). Loaded model weights stay cached by their classes."""
    with _lock:
        _chat_models.clear()
        _embedders.clear()
        _rerankers.clear()
        _image_embedders.clear()
