"""Token and cost accounting per model call, and per API request across all of its model calls.

:class:`AccountingChatModel` is the outermost wrapper: it prices each result's usage, records the
Prometheus metrics and an OpenTelemetry span, and reports the usage to every active
:func:`track_usage` block, so an endpoint can return (or log) what one request cost even when its
agent made ten model calls. Cache hits are recorded as ``outcome="cached"`` and cost nothing.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from shared.observability.metrics import LLM_COST, LLM_LATENCY, LLM_REQUESTS, LLM_TOKENS
from shared.observability.tracing import span
from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, ChatResult, StreamChunk, Usage
from shared.settings import ServingSettings


def price(usage: Usage, prompt_per_1k: float, completion_per_1k: float) -> Usage:
    """A copy of ``usage`` with ``cost_usd`` from the per-1k-token prices (a backend's own cost wins)."""
    if usage.cost_usd:
        return usage
    total = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
    cost = usage.prompt_tokens / 1000 * prompt_per_1k + usage.completion_tokens / 1000 * completion_per_1k
    return usage.model_copy(update={"total_tokens": total, "cost_usd": round(cost, 10)})


class UsageTracker:
    """Sums the usage of every model call made inside its ``track_usage()`` block (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = Usage()
        self.calls = 0
        self.cached_calls = 0
        self.by_model: dict[str, Usage] = {}

    def add(self, usage: Usage, *, backend: str, model: str, cached: bool = False) -> None:
        """Cached answers count as calls but add no tokens or cost: nothing was computed for them."""
        with self._lock:
            self.calls += 1
            if cached:
                self.cached_calls += 1
                return
            self.total = _sum(self.total, usage)
            key = f"{backend}/{model}"
            self.by_model[key] = _sum(self.by_model.get(key, Usage()), usage)


def _sum(a: Usage, b: Usage) -> Usage:
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
        cost_usd=round(a.cost_usd + b.cost_usd, 10),
    )


_trackers: contextvars.ContextVar[tuple[UsageTracker, ...]] = contextvars.ContextVar("usage_trackers", default=())


@contextmanager
def track_usage() -> Iterator[UsageTracker]:
    """``with track_usage() as t: ...; t.total`` — nested blocks each see the calls made inside them.

    Worker threads started with a copied context (Starlette's threadpool, our timeout threads)
    report to the same tracker object.
    """
    tracker = UsageTracker()
    token = _trackers.set((*_trackers.get(), tracker))
    try:
        yield tracker
    finally:
        _trackers.reset(token)


class AccountingChatModel(ChatModel):
    """Price, measure and trace every call of ``inner``; streams are accounted when they end."""

    def __init__(self, inner: ChatModel, settings: ServingSettings | None = None) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.model = inner.model
        settings = settings or ServingSettings()
        self.prompt_per_1k = settings.cost_per_1k_prompt_tokens
        self.completion_per_1k = settings.cost_per_1k_completion_tokens
        self._prices = (self.prompt_per_1k, self.completion_per_1k)

    def chat(self, request: ChatRequest) -> ChatResult:
        trackers = _trackers.get()
        start = time.perf_counter()
        with span(
            "llm.chat", **{"llm.backend": self.backend, "llm.model": self.model, "llm.temperature": request.temperature}
        ) as s:
            try:
                result = self.inner.chat(request)
            except Exception:
                self._record_error(time.perf_counter() - start)
                raise
            elapsed = time.perf_counter() - start
            result = self._account(result, elapsed, trackers)
            _annotate(s, result.backend, result.model, result.usage, result.cached, result.finish_reason)
        return result

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        # Captured now, not when the generator first runs: the server may iterate it in another context.
        trackers = _trackers.get()
        return self._stream(request, trackers)

    def _stream(self, request: ChatRequest, trackers: tuple[UsageTracker, ...]) -> Iterator[StreamChunk]:
        # A generator may be resumed from different contexts (threads), so its span is not made
        # "current": attaching/detaching a context across yields fails in that case.
        tracer = trace.get_tracer("genai.shared")
        s = tracer.start_span(
            "llm.stream",
            attributes={"llm.backend": self.backend, "llm.model": self.model, "llm.temperature": request.temperature},
        )
        start = time.perf_counter()
        usage: Usage | None = None
        finish = None
        cached = False
        deltas: list[str] = []
        outcome = "cancelled"
        try:
            for chunk in self.inner.stream(request):
                deltas.append(chunk.delta)
                if chunk.usage is not None:
                    usage = price(chunk.usage, self.prompt_per_1k, self.completion_per_1k)
                    chunk = chunk.model_copy(update={"usage": usage})
                if chunk.finish_reason is not None:
                    finish = chunk.finish_reason
                cached = cached or bool(getattr(chunk, "cached", False))
                yield chunk
            outcome = "ok"
        except Exception as exc:
            outcome = "error"
            s.record_exception(exc)
            s.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            elapsed = time.perf_counter() - start
            if outcome == "error":
                self._record_error(elapsed)
            else:
                if usage is None:  # cancelled (or a backend that sent no usage): estimate what was produced
                    text = "".join(deltas)
                    n = self.inner.count_tokens(text) if text else 0
                    usage = price(Usage(completion_tokens=n, total_tokens=n), *self._prices)
                self._record(self.backend, self.model, usage, elapsed, outcome, cached, trackers)
                _annotate(s, self.backend, self.model, usage, cached, finish)
                s.set_attribute("llm.outcome", outcome)
            s.end()

    def _account(self, result: ChatResult, elapsed: float, trackers: tuple[UsageTracker, ...]) -> ChatResult:
        if result.cached:
            usage = result.usage.model_copy(update={"cost_usd": 0.0})
            outcome = "cached"
        else:
            usage = price(result.usage, self.prompt_per_1k, self.completion_per_1k)
            outcome = "ok"
        self._record(result.backend, result.model, usage, elapsed, outcome, result.cached, trackers)
        return result.model_copy(update={"usage": usage, "latency_s": result.latency_s or elapsed})

    def _record(
        self,
        backend: str,
        model: str,
        usage: Usage,
        elapsed: float,
        outcome: str,
        cached: bool,
        trackers: tuple[UsageTracker, ...],
    ) -> None:
        LLM_REQUESTS.labels(backend, model, "cached" if cached else outcome).inc()
        if not cached:
            LLM_LATENCY.labels(backend, model).observe(elapsed)
            LLM_TOKENS.labels(backend, model, "prompt").inc(usage.prompt_tokens)
            LLM_TOKENS.labels(backend, model, "completion").inc(usage.completion_tokens)
            LLM_COST.labels(backend, model).inc(usage.cost_usd)
        for tracker in trackers:
            tracker.add(usage, backend=backend, model=model, cached=cached)

    def _record_error(self, elapsed: float) -> None:
        LLM_REQUESTS.labels(self.backend, self.model, "error").inc()
        LLM_LATENCY.labels(self.backend, self.model).observe(elapsed)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def _annotate(s: trace.Span, backend: str, model: str, usage: Usage, cached: bool, finish: str | None) -> None:
    s.set_attribute("llm.served_by", f"{backend}/{model}")
    s.set_attribute("llm.prompt_tokens", usage.prompt_tokens)
    s.set_attribute("llm.completion_tokens", usage.completion_tokens)
    s.set_attribute("llm.cost_usd", usage.cost_usd)
    s.set_attribute("llm.cached", cached)
    if finish:
        s.set_attribute("llm.finish_reason", finish)
