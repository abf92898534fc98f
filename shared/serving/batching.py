"""A micro-batching scheduler: many caller threads submit, one worker thread runs batches.

On CPU a batch of 8 decodes ~6x more tokens per second than 8 sequential requests (MODELS.md),
and a single worker also serialises access to the model, so concurrent callers never race on it.
The worker takes the oldest waiting item, waits up to ``wait_ms`` for company, and runs every
waiting item whose ``key`` equals the oldest one's (requests with different sampling settings
cannot share a ``generate`` call) up to ``max_batch_size``; the rest wait for the next round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741 - the item type
R = TypeVar("R")


@dataclass
class _Pending(Generic[I, R]):
    item: I
    key: Hashable
    future: Future[R] = field(default_factory=Future)


class BatchScheduler(Generic[I, R]):
    """Runs ``run_batch(items) -> results`` (same order) on one daemon thread."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[I]], Sequence[R]],
        max_batch_size: int = 8,
        wait_ms: float = 10.0,
        name: str = "batcher",
    ) -> None:
        self._run_batch = run_batch
        self.max_batch_size = max(1, max_batch_size)
        self.wait_s = max(0.0, wait_ms) / 1000.0
        self._queue: list[_Pending[I, R]] = []
        self._cond = threading.Condition()
        self._closed = False
        self.batches_run = 0
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: I, key: Hashable = None) -> Future[R]:
        pending: _Pending[I, R] = _Pending(item, key)
        with self._cond:
            if self._closed:
                raise RuntimeError("batch scheduler is closed")
            self._queue.append(pending)
            self._cond.notify_all()
        return pending.future

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _take_batch(self) -> list[_Pending[I, R]] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed and not self._queue:
                return None
            deadline = time.monotonic() + self.wait_s
            key = self._queue[0].key
            while True:  # wait for company until the deadline or a full batch
                same = [p for p in self._queue if p.key == key]
                remaining = deadline - time.monotonic()
                if len(same) >= self.max_batch_size or remaining <= 0 or self._closed:
                    break
                self._cond.wait(remaining)
            batch = same[: self.max_batch_size]
            taken = {id(p) for p in batch}
            self._queue = [p for p in self._queue if id(p) not in taken]
            return batch

    def _loop(self) -> None:
        while (batch := self._take_batch()) is not None:
            live = [p for p in batch if p.future.set_running_or_notify_cancel()]
            if not live:
                continue
            self.batches_run += 1
            self.largest_batch = max(self.largest_batch, len(live))
            try:
                results = self._run_batch([p.item for p in live])
                if len(results) != len(live):
                    raise RuntimeError(f"run_batch returned {len(results)} results for {len(live)} items")
            except BaseException as exc:  # one bad batch must not kill the worker
                log.exception("batch of %d failed", len(live))
                for p in live:
                    p.future.set_exception(exc)
                continue
            for p, r in zip(live, results, strict=True):
                p.future.set_result(r)
