"""Retries, timeouts, circuit breaker and fallback, driven by scripted test-double backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from shared.serving.base import ChatModel, ModelNotFoundError, ServingError
from shared.serving.resilience import (
    CircuitOpenError,
    FallbackChatModel,
    ResilientChatModel,
    ServingTimeoutError,
    make_breaker,
)
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk, Usage


class PermanentError(ServingError):
    retryable = False


class Scripted(ChatModel):
    """Follows a script: each call takes the next step (an exception to raise, or None to answer)."""

    def __init__(self, backend: str, script: list[BaseException | None] | None = None, text: str = "the answer"):
        self.backend = backend
        self.model = f"{backend}-model"
        self.script = list(script or [])
        self.text = text
        self.calls = 0
        self.fail_after_chunks: int | None = None

    def _step(self) -> None:
        self.calls += 1
        if self.script:
            step = self.script.pop(0)
            if step is not None:
                raise step

    def chat(self, request: ChatRequest) -> ChatResult:
        self._step()
        return ChatResult(text=self.text, model=self.model, backend=self.backend, usage=Usage(prompt_tokens=3))

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        self._step()
        words = self.text.split(" ")
        for i, word in enumerate(words):
            if self.fail_after_chunks is not None and i == self.fail_after_chunks:
                raise ServingError("connection reset mid-stream")
            last = i == len(words) - 1
            yield StreamChunk(
                delta=word + ("" if last else " "),
                finish_reason="stop" if last else None,
                usage=Usage(prompt_tokens=3, completion_tokens=len(words), total_tokens=3 + len(words))
                if last
                else None,
            )


REQ = ChatRequest(messages=[ChatMessage.user("hi")])


def resilient(inner: ChatModel, *, retries: int = 2, fail_max: int = 100, timeout_s: float | None = None, sleeps=None):
    return ResilientChatModel(
        inner,
        timeout_s=timeout_s,
        max_retries=retries,
        backoff_s=1.0,
        breaker=make_breaker(f"test-{inner.backend}-{id(inner)}", fail_max=fail_max, reset_s=3600),
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def test_retries_transient_errors_with_exponential_backoff_and_jitter() -> None:
    inner = Scripted("a", [ServingError("503"), ServingError("503")])
    sleeps: list[float] = []
    result = resilient(inner, retries=2, sleeps=sleeps).chat(REQ)
    assert result.text == "the answer"
    assert inner.calls == 3
    # wait_exponential_jitter(initial=1, jitter=1): 1*2**0 + U(0,1), then 1*2**1 + U(0,1)
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 2.0
    assert 2.0 <= sleeps[1] <= 3.0


def test_gives_up_after_max_retries_with_the_backend_error() -> None:
    inner = Scripted("a", [ServingError(f"boom {i}") for i in range(10)])
    with pytest.raises(ServingError, match="boom 2"):
        resilient(inner, retries=2).chat(REQ)
    assert inner.calls == 3


@pytest.mark.parametrize(
    "error", [ModelNotFoundError("no such model"), ValueError("bad request"), PermanentError("HTTP 400")]
)
def test_does_not_retry_permanent_errors(error: Exception) -> None:
    inner = Scripted("a", [error, None])
    with pytest.raises(type(error)):
        resilient(inner, retries=3).chat(REQ)
    assert inner.calls == 1


def test_timeout_raises_a_transient_serving_error_that_is_retried() -> None:
    release = threading.Event()

    class Hangs(Scripted):
        def chat(self, request: ChatRequest) -> ChatResult:
            self.calls += 1
            release.wait(10)
            return super().chat(request)

    inner = Hangs("slow")
    try:
        with pytest.raises(ServingTimeoutError):
            resilient(inner, retries=1, timeout_s=0.05).chat(REQ)
        assert inner.calls == 2
    finally:
        release.set()


def test_stream_timeout_when_no_chunk_arrives() -> None:
    release = threading.Event()

    class StallsStream(Scripted):
        def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
            self.calls += 1
            yield StreamChunk(delta="first ")
            release.wait(10)
            yield StreamChunk(delta="late", finish_reason="stop")

    inner = StallsStream("slow")
    try:
        got: list[str] = []
        with pytest.raises(ServingTimeoutError):
            for chunk in resilient(inner, retries=2, timeout_s=0.05).stream(REQ):
                got.append(chunk.delta)
        assert got == ["first "]
        assert inner.calls == 1  # the caller had text already: no retry after the first chunk
    finally:
        release.set()


def test_breaker_opens_after_fail_max_then_fails_fast_and_recovers() -> None:
    inner = Scripted("flaky", [ServingError("down")] * 2)
    model = resilient(inner, retries=0, fail_max=2)
    gauge = lambda: REGISTRY.get_sample_value("circuit_breaker_open", {"backend": model.breaker.name})  # noqa: E731
    for _ in range(2):
        with pytest.raises(ServingError, match="down"):
            model.chat(REQ)
    assert gauge() == 1
    with pytest.raises(CircuitOpenError):
        model.chat(REQ)
    assert inner.calls == 2  # rejected without calling the backend
    with pytest.raises(CircuitOpenError):
        list(model.stream(REQ))
    assert inner.calls == 2

    model.breaker.reset_timeout = 0  # "time passes": the next call is the half-open trial
    assert model.chat(REQ).text == "the answer"
    assert model.breaker.current_state == "closed"
    assert gauge() == 0


def test_breaker_ignores_the_callers_mistakes_and_abandoned_streams() -> None:
    inner = Scripted("a", [ValueError("bad")] * 5, text="one two three")
    model = resilient(inner, retries=0, fail_max=2)
    for _ in range(5):
        with pytest.raises(ValueError):
            model.chat(REQ)
    for _ in range(3):
        stream = model.stream(REQ)
        next(stream)
        stream.close()
    assert model.breaker.current_state == "closed"
    assert model.breaker.fail_counter == 0


def test_breaker_does_not_serialise_concurrent_calls() -> None:
    barrier = threading.Barrier(2, timeout=10)

    class Rendezvous(Scripted):
        def chat(self, request: ChatRequest) -> ChatResult:
            barrier.wait()  # both calls must be inside the backend at once, or this breaks
            return super().chat(request)

    model = resilient(Rendezvous("batched"), retries=0)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(model.chat(REQ).text)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["the answer", "the answer"]


def test_stream_retries_before_the_first_chunk_only() -> None:
    inner = Scripted("a", [ServingError("warming up"), None], text="hello streaming world")
    chunks = list(resilient(inner, retries=2).stream(REQ))
    assert "".join(c.delta for c in chunks) == "hello streaming world"
    assert chunks[-1].finish_reason == "stop"
    assert inner.calls == 2

    broken = Scripted("b", text="one two three four")
    broken.fail_after_chunks = 2
    got: list[str] = []
    with pytest.raises(ServingError, match="mid-stream"):
        for chunk in resilient(broken, retries=3).stream(REQ):
            got.append(chunk.delta)
    assert got == ["one ", "two "]
    assert broken.calls == 1


def test_fallback_uses_the_next_backend_when_one_fails() -> None:
    primary = Scripted("local", [ServingError("oom")])
    secondary = Scripted("openai")
    result = FallbackChatModel([resilient(primary, retries=0), resilient(secondary, retries=0)]).chat(REQ)
    assert result.backend == "openai"
    assert primary.calls == 1 and secondary.calls == 1


def test_fallback_skips_a_backend_whose_breaker_is_open() -> None:
    primary = Scripted("local", [ServingError("down")] * 10)
    secondary = Scripted("openai")
    guarded = resilient(primary, retries=0, fail_max=1)
    chain = FallbackChatModel([guarded, resilient(secondary, retries=0)])
    assert chain.chat(REQ).backend == "openai"  # primary fails, breaker opens
    assert chain.chat(REQ).backend == "openai"  # primary skipped by its open breaker
    assert primary.calls == 1
    assert secondary.calls == 2


def test_fallback_reports_every_backends_error_when_all_fail() -> None:
    chain = FallbackChatModel(
        [
            resilient(Scripted("local", [ServingError("out of memory")]), retries=0),
            resilient(Scripted("openai", [ModelNotFoundError("model 'x' not served")]), retries=0),
        ]
    )
    with pytest.raises(ServingError) as info:
        chain.chat(REQ)
    message = str(info.value)
    assert "all 2 backends failed" in message
    assert "local/local-model" in message and "out of memory" in message
    assert "openai/openai-model" in message and "model 'x' not served" in message


def test_fallback_does_not_retry_an_invalid_request_elsewhere() -> None:
    secondary = Scripted("openai")
    chain = FallbackChatModel([Scripted("local", [ValueError("max_tokens too large")]), secondary])
    with pytest.raises(ValueError):
        chain.chat(REQ)
    assert secondary.calls == 0


def test_fallback_streams_from_the_next_backend_when_the_first_cannot_start() -> None:
    primary = Scripted("local", [ServingError("down")])
    secondary = Scripted("openai", text="from the fallback")
    chunks = list(FallbackChatModel([resilient(primary, retries=0), resilient(secondary, retries=0)]).stream(REQ))
    assert "".join(c.delta for c in chunks) == "from the fallback"

    with pytest.raises(ServingError, match="all 2 backends failed"):
        list(FallbackChatModel([Scripted("a", [ServingError("x")]), Scripted("b", [ServingError("y")])]).stream(REQ))
