"""Token/cost accounting, metrics, spans, per-request usage tracking, and the exact response cache."""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from shared.serving.accounting import AccountingChatModel, price, track_usage
from shared.serving.base import ChatModel, ServingError
from shared.serving.cache import ExactCacheChatModel, exact_key
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk, ToolSpec, Usage
from shared.settings import ServingSettings


class Counting(ChatModel):
    """Answers with fixed usage (10 prompt + 5 completion tokens) and counts calls."""

    def __init__(self, model: str | None = None, fail: bool = False) -> None:
        self.backend = "fake"
        self.model = model or f"m-{uuid.uuid4().hex[:8]}"  # fresh metric labels per test
        self.calls = 0
        self.fail = fail

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        if self.fail:
            raise ServingError("down")
        return ChatResult(
            text=f"answer to {request.messages[-1].content}",
            model=self.model,
            backend=self.backend,
            usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        self.calls += 1
        words = ["streamed", "answer", "here"]
        for i, w in enumerate(words):
            last = i == len(words) - 1
            yield StreamChunk(
                delta=w + ("" if last else " "),
                finish_reason="stop" if last else None,
                usage=Usage(prompt_tokens=10, completion_tokens=3, total_tokens=13) if last else None,
            )

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def ask(text: str, **kw) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage.user(text)], **kw)


PRICED = ServingSettings(cost_per_1k_prompt_tokens=0.5, cost_per_1k_completion_tokens=1.5)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Collect finished spans, whether or not another test installed a tracer provider first."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[union-attr]
    yield exporter
    exporter.shutdown()


def test_price_fills_cost_from_per_1k_rates() -> None:
    u = price(Usage(prompt_tokens=1000, completion_tokens=2000), 0.5, 1.5)
    assert u.cost_usd == pytest.approx(0.5 + 3.0)
    assert u.total_tokens == 3000
    assert price(Usage(prompt_tokens=10, cost_usd=0.25), 0.5, 1.5).cost_usd == 0.25  # backend's own price wins


def test_chat_is_priced_and_recorded_in_metrics_and_a_span(spans: InMemorySpanExporter) -> None:
    inner = Counting()
    model = AccountingChatModel(inner, PRICED)
    result = model.chat(ask("hello"))
    assert result.usage.cost_usd == pytest.approx(10 / 1000 * 0.5 + 5 / 1000 * 1.5)
    labels = {"backend": "fake", "model": inner.model}
    assert sample("llm_requests_total", **labels, outcome="ok") == 1
    assert sample("llm_tokens_total", **labels, kind="prompt") == 10
    assert sample("llm_tokens_total", **labels, kind="completion") == 5
    assert sample("llm_cost_usd_total", **labels) == pytest.approx(result.usage.cost_usd)
    assert sample("llm_request_duration_seconds_count", **labels) == 1

    (s,) = [s for s in spans.get_finished_spans() if s.attributes.get("llm.model") == inner.model]
    assert s.name == "llm.chat"
    assert s.attributes["llm.prompt_tokens"] == 10
    assert s.attributes["llm.cost_usd"] == pytest.approx(result.usage.cost_usd)


def test_errors_are_counted_and_reraised() -> None:
    inner = Counting(fail=True)
    with pytest.raises(ServingError):
        AccountingChatModel(inner, PRICED).chat(ask("x"))
    assert sample("llm_requests_total", backend="fake", model=inner.model, outcome="error") == 1


def test_stream_is_accounted_when_it_ends(spans: InMemorySpanExporter) -> None:
    inner = Counting()
    model = AccountingChatModel(inner, PRICED)
    with track_usage() as t:
        stream = model.stream(ask("s"))
        first = next(stream)
        assert first.delta == "streamed "
        assert t.calls == 0  # nothing accounted mid-stream
        rest = list(stream)
    assert rest[-1].usage is not None
    assert rest[-1].usage.cost_usd == pytest.approx(10 / 1000 * 0.5 + 3 / 1000 * 1.5)
    assert t.calls == 1 and t.total.completion_tokens == 3
    labels = {"backend": "fake", "model": inner.model}
    assert sample("llm_requests_total", **labels, outcome="ok") == 1
    assert sample("llm_tokens_total", **labels, kind="completion") == 3
    (s,) = [s for s in spans.get_finished_spans() if s.attributes.get("llm.model") == inner.model]
    assert s.name == "llm.stream" and s.attributes["llm.outcome"] == "ok"


def test_cancelled_stream_is_accounted_with_what_was_produced() -> None:
    inner = Counting()
    model = AccountingChatModel(inner, PRICED)
    with track_usage() as t:
        stream = model.stream(ask("s"))
        next(stream)
        next(stream)
        stream.close()
    assert sample("llm_requests_total", backend="fake", model=inner.model, outcome="cancelled") == 1
    assert t.total.completion_tokens == 2  # "streamed answer" by the model's tokenizer


def test_track_usage_sums_every_call_of_a_request_and_nests() -> None:
    model = AccountingChatModel(Counting(), PRICED)
    with track_usage() as outer:
        model.chat(ask("a"))
        with track_usage() as inner:
            model.chat(ask("b"))
        list(model.stream(ask("c")))
        # a worker thread running in a copy of the request's context reports to the same tracker
        ctx = contextvars.copy_context()
        worker = threading.Thread(target=lambda: ctx.run(model.chat, ask("d")))
        worker.start()
        worker.join()
    assert inner.calls == 1 and inner.total.prompt_tokens == 10
    assert outer.calls == 4
    assert outer.total.prompt_tokens == 40
    assert outer.total.completion_tokens == 5 + 5 + 3 + 5
    assert outer.total.cost_usd == pytest.approx(40 / 1000 * 0.5 + 18 / 1000 * 1.5)
    assert list(outer.by_model) == [f"fake/{model.model}"]

    model.chat(ask("outside"))  # no active tracker: nothing to report to, nothing breaks
    assert outer.calls == 4


def test_exact_cache_hits_only_identical_deterministic_requests() -> None:
    inner = Counting()
    model = AccountingChatModel(ExactCacheChatModel(inner, max_size=10), PRICED)
    hits_before = sample("cache_lookups_total", cache="exact", result="hit")

    first = model.chat(ask("q1"))
    with track_usage() as t:
        again = model.chat(ask("q1"))
    assert inner.calls == 1
    assert not first.cached and again.cached and again.text == first.text
    assert again.usage.cost_usd == 0.0 and t.cached_calls == 1 and t.total.cost_usd == 0.0
    assert sample("cache_lookups_total", cache="exact", result="hit") == hits_before + 1
    assert sample("llm_requests_total", backend="fake", model=inner.model, outcome="cached") == 1

    model.chat(ask("q2"))  # different request
    model.chat(ask("q1", max_tokens=7))  # different parameters
    model.chat(ask("q1", temperature=0.7))  # sampled: never cached
    model.chat(ask("q1", temperature=0.7))
    assert inner.calls == 5


def test_exact_cache_is_an_lru() -> None:
    inner = Counting()
    cache = ExactCacheChatModel(inner, max_size=2)
    cache.chat(ask("a"))
    cache.chat(ask("b"))
    cache.chat(ask("a"))  # a is now most recent
    cache.chat(ask("c"))  # evicts b
    assert cache.size == 2
    assert cache.chat(ask("a")).cached
    assert not cache.chat(ask("b")).cached
    assert inner.calls == 4


def test_exact_cache_streams_replay_and_populate() -> None:
    inner = Counting()
    cache = ExactCacheChatModel(inner, max_size=10)
    chat_result = cache.chat(ask("x"))
    replayed = list(cache.stream(ask("x")))
    assert inner.calls == 1
    assert "".join(c.delta for c in replayed) == chat_result.text
    assert len(replayed) > 1 and all(getattr(c, "cached", False) for c in replayed)
    assert replayed[-1].finish_reason == "stop" and replayed[-1].usage == chat_result.usage

    streamed = "".join(c.delta for c in cache.stream(ask("y")))
    assert cache.chat(ask("y")).text == streamed and inner.calls == 2

    tools = [ToolSpec(name="lookup")]
    list(cache.stream(ask("z", tools=tools)))
    assert not cache.chat(ask("z", tools=tools)).cached  # a streamed answer has no tool calls to reuse


def test_exact_key_is_canonical() -> None:
    a = ChatRequest(messages=[ChatMessage.user("hi")], temperature=0, max_tokens=5)
    b = ChatRequest(max_tokens=5, messages=[{"content": "hi", "role": "user"}])
    assert exact_key("local", "m", a) == exact_key("local", "m", b)
    assert exact_key("local", "m", a) != exact_key("openai", "m", a)
    assert exact_key("local", "m", a) != exact_key("local", "m2", a)
    assert len(exact_key("local", "m", a)) == 64
