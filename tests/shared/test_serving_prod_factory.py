"""The factory composes the wrappers in the documented order and shares instances per configuration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import shared.serving as serving
from shared.serving import factory
from shared.serving.accounting import AccountingChatModel, track_usage
from shared.serving.base import ChatModel, ServingError
from shared.serving.cache import ExactCacheChatModel, SemanticCacheChatModel
from shared.serving.resilience import FallbackChatModel, ResilientChatModel
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk, Usage
from shared.settings import ServingSettings, Settings


class Backend(ChatModel):
    def __init__(self, name: str, failing: bool) -> None:
        self.backend = name
        self.model = f"{name}-model"
        self.failing = failing
        self.calls = 0

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        if self.failing:
            raise ServingError(f"{self.backend} is down")
        return ChatResult(
            text=f"from {self.backend}",
            model=self.model,
            backend=self.backend,
            usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        result = self.chat(request)
        yield StreamChunk(delta=result.text, finish_reason="stop", usage=result.usage)


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch) -> dict[str, Backend]:
    """Replace only the raw backends; every wrapper above them is the real one."""
    made: dict[str, Backend] = {}

    def build(name: str, settings: Settings) -> Backend:
        made[name] = Backend(name, failing=name == "local")
        return made[name]

    monkeypatch.setattr(factory, "build_backend", build)
    factory.reset_serving_singletons()
    yield made
    factory.reset_serving_singletons()


def settings(**serving) -> Settings:
    base = {"backend": "local", "fallback_backends": ["openai"], "max_retries": 1, "retry_backoff_s": 0.0}
    return Settings(serving=ServingSettings(**{**base, **serving}))


def layers(model: ChatModel) -> list[type]:
    out = []
    while model is not None:
        out.append(type(model))
        model = model.inner if hasattr(model, "inner") else (model.models[0] if hasattr(model, "models") else None)
    return out


def test_stack_order_and_fallback_through_the_real_wrappers(backends: dict[str, Backend]) -> None:
    model = serving.get_chat_model(settings(response_cache_enabled=True))
    assert layers(model)[:4] == [AccountingChatModel, ExactCacheChatModel, FallbackChatModel, ResilientChatModel]
    request = ChatRequest(messages=[ChatMessage.user("hi")])
    with track_usage() as t:
        first = model.chat(request)
        second = model.chat(request)
    assert first.backend == "openai" and not first.cached
    assert second.cached and second.text == "from openai"
    assert backends["local"].calls == 2  # one retry, then fell back; the cache hit called nobody
    assert backends["openai"].calls == 1
    assert t.calls == 2 and t.cached_calls == 1


def test_single_backend_without_caches(backends: dict[str, Backend]) -> None:
    model = serving.get_chat_model(settings(backend="openai", fallback_backends=[], response_cache_enabled=False))
    assert layers(model) == [AccountingChatModel, ResilientChatModel, Backend]
    assert "".join(c.delta for c in model.stream(ChatRequest(messages=[ChatMessage.user("x")]))) == "from openai"


def test_breaker_settings_reach_each_backend(backends: dict[str, Backend]) -> None:
    model = serving.get_chat_model(settings(breaker_fail_max=3, breaker_reset_s=12.0, max_retries=0))
    chain = model.inner.inner
    assert isinstance(chain, FallbackChatModel)
    names = {m.breaker.name for m in chain.models}
    assert names == {"local:local-model", "openai:openai-model"}
    assert all(m.breaker.fail_max == 3 and m.breaker.reset_timeout == 12.0 for m in chain.models)
    request = ChatRequest(messages=[ChatMessage.user("again")], temperature=0.5)
    for _ in range(4):
        model.chat(request)
    assert backends["local"].calls == 3  # the fourth request skipped the open local breaker
    assert chain.models[0].breaker.current_state == "open"


def test_instances_are_shared_per_configuration(backends: dict[str, Backend]) -> None:
    s = settings()
    model = serving.get_chat_model(s)
    assert serving.get_chat_model(settings()) is model  # equal settings, same instance
    assert serving.get_chat_model(settings(max_retries=0)) is not model
    serving.reset_serving_singletons()
    assert serving.get_chat_model(s) is not model


def test_semantic_cache_layer_against_the_database(backends: dict[str, Backend], database_url: str) -> None:
    s = settings(semantic_cache_enabled=True, response_cache_enabled=True)
    s.database_url = database_url
    model = serving.get_chat_model(s)
    assert layers(model)[:3] == [AccountingChatModel, ExactCacheChatModel, SemanticCacheChatModel]
    model.chat(ChatRequest(messages=[ChatMessage.user("How do I reset my password?")]))
    hit = model.chat(ChatRequest(messages=[ChatMessage.user("how can I reset my password")]))
    assert hit.cached and backends["openai"].calls == 1


def test_embedder_and_reranker_singletons() -> None:
    factory.reset_serving_singletons()
    embedder = serving.get_embedder(Settings())
    assert serving.get_embedder(Settings()) is embedder and embedder.dim == 384
    assert serving.get_reranker(Settings()) is None  # no cross-encoder configured (offline default)


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown serving backend"):
        factory.build_backend("llamafile", Settings())
