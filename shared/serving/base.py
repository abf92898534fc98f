"""Ports every backend implements. Projects depend on these, never on a concrete backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import numpy as np

from shared.serving.types import ChatRequest, ChatResult, StreamChunk


def l2_normalise(arr: np.ndarray) -> np.ndarray:
    """Unit rows as float32 (zero rows stay zero): what every embedder returns, whatever its server sent."""
    arr = np.asarray(arr, dtype=np.float32)
    return arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)


class ServingError(Exception):
    """A backend failed (after its own retries); callers may fall back to another backend."""


class ModelNotFoundError(ServingError):
    """The requested model is not served by this backend."""


class ChatModel(ABC):
    backend: str
    model: str

    @abstractmethod
    def chat(self, request: ChatRequest) -> ChatResult:
        """Answer the request in one piece."""

    @abstractmethod
    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        """Answer the request as text deltas; the last chunk carries finish_reason and usage."""

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by this model's tokenizer (approximate for remote backends)."""
        return max(1, len(text) // 4)


class Embedder(ABC):
    backend: str
    model: str
    dim: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 matrix of shape (len(texts), dim)."""

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class Reranker(ABC):
    model: str

    @abstractmethod
    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """Relevance of each document to the query; higher is more relevant."""
