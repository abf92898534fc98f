"""Lazily loaded models for the model server: the platform starts instantly and warms them in the background.

The model server router takes plain mappings ``name -> ChatModel`` / ``name -> Embedder``; a
:class:`LazyModel` mapping loads its one entry on first access (or when :meth:`warm` runs) and
reports its state to the readiness probe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class LazyModel(Mapping[str, T], Generic[T]):
    """A one-entry mapping whose value is built by ``loader`` once, thread-safely."""

    def __init__(self, name: str, loader: Callable[[], T]) -> None:
        self.name = name
        self._loader = loader
        self._lock = threading.Lock()
        self._value: T | None = None
        self.error: BaseException | None = None

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get_model(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    try:
                        self._value = self._loader()
                        self.error = None
                    except BaseException as exc:
                        self.error = exc
                        raise
        return self._value

    def warm(self) -> None:
        """Load now; failures are logged and surface through :meth:`check` (the readiness probe)."""
        try:
            self.get_model()
            log.info("model ready", extra={"model": self.name})
        except Exception:
            log.exception("model failed to load", extra={"model": self.name})

    def check(self) -> None:
        """Readiness: raises unless the model is loaded."""
        if self.error is not None:
            raise RuntimeError(f"model {self.name!r} failed to load: {self.error}")
        if not self.loaded:
            raise RuntimeError(f"model {self.name!r} is still loading")

    def __getitem__(self, key: str) -> T:
        if key != self.name:
            raise KeyError(key)
        return self.get_model()

    def __iter__(self) -> Iterator[str]:
        yield self.name

    def __len__(self) -> int:
        return 1

    def __contains__(self, key: object) -> bool:
        return key == self.name
