"""Lazily loaded models for the platform: the process starts at once and warms them in the background.

The model server router takes plain mappings ``name -> ChatModel`` / ``name -> Embedder``. The
values here are proxies that know their name and backend up front (so ``/v1/models`` answers
without loading anything) and load the real model on first use — inside the worker thread that
serves the request, never on the event loop — or when :meth:`warm` runs at startup. Their
:meth:`check` is the readiness probe's view of the model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from shared.serving.base import ChatModel, Embedder
from shared.serving.types import ChatRequest, ChatResult, StreamChunk

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Lazy(Generic[T]):
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

    def __getattr__(self, attr: str) -> Any:  # anything else the real model offers
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.get_model(), attr)


class LazyChatModel(_Lazy[ChatModel], ChatModel):
    def __init__(self, name: str, backend: str, loader: Callable[[], ChatModel]) -> None:
        super().__init__(name, loader)
        self.model = name
        self.backend = backend

    def chat(self, request: ChatRequest) -> ChatResult:
        return self.get_model().chat(request)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        yield from self.get_model().stream(request)  # a generator: loads on the first next(), in a worker thread

    def count_tokens(self, text: str) -> int:
        return self.get_model().count_tokens(text)


class LazyEmbedder(_Lazy[Embedder], Embedder):
    def __init__(self, name: str, backend: str, dim: int, loader: Callable[[], Embedder]) -> None:
        super().__init__(name, loader)
        self.model = name
        self.backend = backend
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.get_model().embed(texts)
