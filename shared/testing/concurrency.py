"""Release several calls at the same instant, for tests of races (claims, idempotency, turn locks)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together by a barrier; results in call order (an exception in a call
    leaves ``None`` in its place and is re-raised after every thread finished)."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = calls[i]()
        except BaseException as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out
