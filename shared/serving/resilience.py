"""Timeouts, retries, a circuit breaker per backend, and a fallback chain between backends.

Each pattern is a :class:`ChatModel` that wraps a ChatModel, so they compose in any order and
projects never see them. Retries use tenacity (exponential backoff with jitter) and only for
*transient* failures: a missing model or an invalid request fails the same way every time, so
retrying it only adds latency. The breaker is pybreaker's state machine; we enter it through
``CircuitBreaker.calling()`` because ``CircuitBreaker.call`` holds a lock for the whole call,
which would serialise concurrent requests and defeat the local backend's batching.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pybreaker
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from shared.observability.metrics import BREAKER_STATE
from shared.serving.base import ChatModel, ModelNotFoundError, ServingError
from shared.serving.types import ChatRequest, ChatResult, StreamChunk

log = logging.getLogger(__name__)

T = TypeVar("T")


class ServingTimeoutError(ServingError):
    """The backend did not answer (or send the next stream chunk) within the timeout; transient."""


class CircuitOpenError(ServingError):
    """The backend's breaker is open: it failed repeatedly and is not called until the reset timeout passes."""

    retryable = False


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a ServingError (or network error) that is not a missing model or an invalid request.

    Backends mark a permanent ServingError by subclassing ``ValueError`` as well or by setting
    ``retryable = False`` on it (e.g. an HTTP 400 from an OpenAI-compatible server).
    """
    if isinstance(exc, ModelNotFoundError | CircuitOpenError | ValueError | TypeError):
        return False
    if getattr(exc, "retryable", True) is False:
        return False
    return isinstance(exc, ServingError | TimeoutError | ConnectionError)


def counts_against_breaker(exc: BaseException) -> bool:
    """Backend malfunctions trip the breaker; the caller's mistakes and abandoned streams do not."""
    if isinstance(exc, GeneratorExit | ModelNotFoundError | CircuitOpenError | ValueError | TypeError):
        return False
    return getattr(exc, "retryable", True) is not False


class _BreakerGauge(pybreaker.CircuitBreakerListener):
    """Mirror the breaker's state into the BREAKER_STATE gauge (1 = open)."""

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        opened = new_state.name == pybreaker.STATE_OPEN
        BREAKER_STATE.labels(cb.name).set(1 if opened else 0)
        log.warning("circuit breaker %s: %s -> %s", cb.name, getattr(old_state, "name", None), new_state.name)


def make_breaker(name: str, fail_max: int, reset_s: float) -> pybreaker.CircuitBreaker:
    """A breaker that re-raises the backend's own error when it trips, so fallback messages stay useful."""
    BREAKER_STATE.labels(name).set(0)
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_s,
        exclude=[lambda e: not counts_against_breaker(e)],
        listeners=[_BreakerGauge()],
        name=name,
        throw_new_error_on_trip=False,
    )


def call_with_timeout(fn: Callable[[], T], timeout_s: float | None, what: str) -> T:
    """Run ``fn`` in a worker thread and stop waiting after ``timeout_s``.

    Python cannot kill a thread: a timed-out call keeps running in the background until the backend
    gives up (the OpenAI client has its own timeout; the local backend is bounded by max_tokens).
    What the timeout buys is that the caller gets its error in time and can fall back.
    """
    if not timeout_s:
        return fn()
    box: dict[str, Any] = {}
    done = threading.Event()
    ctx = contextvars.copy_context()

    def run() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"serving-timeout-{what}", daemon=True).start()
    if not done.wait(timeout_s):
        raise ServingTimeoutError(f"{what}: no answer within {timeout_s:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


_END = object()


def iterate_with_timeout(make: Callable[[], Iterator[T]], timeout_s: float | None, what: str) -> Iterator[T]:
    """Iterate ``make()`` in a producer thread; fail if any item (the first included) takes over ``timeout_s``.

    When the consumer stops early or times out, the producer is told to stop and closes the inner
    iterator after its current item, so abandoned streams do not keep a backend busy forever.
    """
    if not timeout_s:
        yield from make()
        return
    items: queue.Queue[Any] = queue.Queue(maxsize=64)
    stop = threading.Event()
    ctx = contextvars.copy_context()

    def produce() -> None:
        it: Iterator[T] | None = None
        try:
            it = make()
            for item in it:
                if stop.is_set():
                    break
                items.put(item)
            items.put(_END)
        except BaseException as exc:
            items.put(exc if isinstance(exc, Exception) else ServingError(repr(exc)))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    threading.Thread(target=lambda: ctx.run(produce), name=f"serving-stream-{what}", daemon=True).start()
    try:
        while True:
            try:
                item = items.get(timeout=timeout_s)
            except queue.Empty:
                raise ServingTimeoutError(f"{what}: stream stalled for {timeout_s:g}s") from None
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        while not items.empty():  # unblock a producer waiting on a full queue
            items.get_nowait()


class ResilientChatModel(ChatModel):
    """One backend behind a timeout, a circuit breaker (per attempt) and tenacity retries.

    Streaming is retried only until the first chunk arrives: after that the caller has seen
    text, and restarting would duplicate it.
    """

    def __init__(
        self,
        inner: ChatModel,
        *,
        timeout_s: float | None = 300.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        breaker: pybreaker.CircuitBreaker | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.model = inner.model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.breaker = breaker or make_breaker(inner.backend, fail_max=5, reset_s=30.0)
        self._sleep = sleep

    def _retrying(self) -> Retrying:
        kwargs: dict[str, Any] = {}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        return Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential_jitter(initial=self.backoff_s, max=self.backoff_max_s, jitter=self.backoff_s),
            retry=retry_if_exception(is_transient),
            before_sleep=lambda rs: log.warning(
                "retrying %s after attempt %d: %r", self.backend, rs.attempt_number, rs.outcome.exception()
            ),
            reraise=True,
            **kwargs,
        )

    def _guarded(self, fn: Callable[[], T]) -> T:
        """One attempt through the breaker; an open breaker becomes a CircuitOpenError (a ServingError)."""
        try:
            with self.breaker.calling():
                return fn()
        except pybreaker.CircuitBreakerError as exc:
            raise CircuitOpenError(f"{self.backend}: circuit breaker open ({exc})") from exc

    def chat(self, request: ChatRequest) -> ChatResult:
        def attempt() -> ChatResult:
            return self._guarded(
                lambda: call_with_timeout(lambda: self.inner.chat(request), self.timeout_s, self.backend)
            )

        return self._retrying()(attempt)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        for attempt in self._retrying():
            with attempt:
                chunks, first = self._open_stream(request)
        yield from _prepend(first, chunks)

    def _open_stream(self, request: ChatRequest) -> tuple[Iterator[StreamChunk], StreamChunk | None]:
        """Start a stream and pull its first chunk, so start-up failures count, retry and can fall back."""
        chunks = self._breaker_stream(
            iterate_with_timeout(lambda: self.inner.stream(request), self.timeout_s, self.backend)
        )
        try:
            first = next(chunks)
        except StopIteration:
            return iter(()), None
        return chunks, first

    def _breaker_stream(self, chunks: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
        """The whole stream is one breaker call: success at its end, failure if it breaks midway.

        ``chunks`` is lazy, so an open breaker rejects the stream before the backend is called.
        """
        try:
            with self.breaker.calling():
                yield from chunks
        except pybreaker.CircuitBreakerError as exc:
            raise CircuitOpenError(f"{self.backend}: circuit breaker open ({exc})") from exc

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def _prepend(first: StreamChunk | None, rest: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
    try:
        if first is not None:
            yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


class FallbackChatModel(ChatModel):
    """Try each backend in order; the first that answers wins.

    A backend is skipped when it raises a ServingError (its retries are spent, it timed out, or its
    breaker is open) or any unexpected error; a request the caller got wrong (``ValueError``,
    ``TypeError``) is raised at once, because every backend would reject it. When all fail, one
    ServingError lists each backend's error.
    """

    def __init__(self, models: Sequence[ChatModel]) -> None:
        if not models:
            raise ValueError("FallbackChatModel needs at least one backend")
        self.models = list(models)
        self.backend = self.models[0].backend
        self.model = self.models[0].model

    @staticmethod
    def _falls_through(exc: Exception) -> bool:
        return isinstance(exc, ServingError) or not isinstance(exc, ValueError | TypeError)

    def _all_failed(self, errors: list[tuple[ChatModel, Exception]]) -> ServingError:
        detail = "; ".join(f"{m.backend}/{m.model}: {type(e).__name__}: {e}" for m, e in errors)
        return ServingError(f"all {len(errors)} backends failed: {detail}")

    def chat(self, request: ChatRequest) -> ChatResult:
        errors: list[tuple[ChatModel, Exception]] = []
        for model in self.models:
            try:
                return model.chat(request)
            except Exception as exc:
                if not self._falls_through(exc):
                    raise
                log.warning("backend %s failed, falling back: %r", model.backend, exc)
                errors.append((model, exc))
        raise self._all_failed(errors) from errors[-1][1]

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        """Fall back only while nothing was yielded; a failure mid-stream is the caller's to handle."""
        errors: list[tuple[ChatModel, Exception]] = []
        for model in self.models:
            chunks = iter(model.stream(request))
            try:
                first = next(chunks)
            except StopIteration:
                return
            except Exception as exc:
                if not self._falls_through(exc):
                    raise
                log.warning("backend %s failed to stream, falling back: %r", model.backend, exc)
                errors.append((model, exc))
                continue
            yield from _prepend(first, chunks)
            return
        raise self._all_failed(errors) from errors[-1][1]

    def count_tokens(self, text: str) -> int:
        return self.models[0].count_tokens(text)
