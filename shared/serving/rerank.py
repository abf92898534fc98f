"""Cross-encoder reranking behind the :class:`Reranker` port.

No cross-encoder ships offline (MODELS.md), so :func:`build_reranker` returns None unless
``settings.rerank.cross_encoder_model`` names a local folder or a hub id available in the local
cache; retrieval then keeps its fused order. The model is loaded once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from shared.observability.metrics import RETRIEVAL_LATENCY
from shared.observability.tracing import span
from shared.serving.base import ModelNotFoundError, Reranker
from shared.settings import Settings


class CrossEncoderReranker(Reranker):
    """sentence-transformers ``CrossEncoder`` on CPU, scoring (query, document) pairs in batches."""

    _cache: ClassVar[dict[tuple[str, int | None], object]] = {}
    _lock = threading.Lock()

    def __init__(self, model: str, batch_size: int = 32, max_length: int | None = 512) -> None:
        self.model = model
        self.batch_size = batch_size
        self._ce = self._load(model, max_length)

    @classmethod
    def _load(cls, model: str, max_length: int | None) -> object:
        with cls._lock:
            key = (model, max_length)
            if key not in cls._cache:
                from sentence_transformers import CrossEncoder

                try:
                    cls._cache[key] = CrossEncoder(model, device="cpu", local_files_only=True, max_length=max_length)
                except OSError as exc:  # not a folder and not in the local hub cache
                    raise ModelNotFoundError(f"cross-encoder {model!r} is not available offline: {exc}") from exc
            return cls._cache[key]

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        if not documents:
            return []
        with span("rerank.score", model=self.model, n=len(documents)), RETRIEVAL_LATENCY.labels("rerank").time():
            scores = self._ce.predict(  # type: ignore[attr-defined]
                [(query, d) for d in documents],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(scores, dtype=np.float32).reshape(len(documents), -1)[:, 0].tolist()

    def rerank(self, query: str, documents: Sequence[str], top_k: int | None = None) -> list[tuple[int, float]]:
        """(index into ``documents``, score) pairs, best first."""
        scores = self.score(query, documents)
        order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        return [(i, scores[i]) for i in order[:top_k]]


def build_reranker(settings: Settings) -> Reranker | None:
    """The configured reranker, or None when no cross-encoder is configured (the offline default)."""
    name = settings.rerank.cross_encoder_model
    if not name:
        return None
    path = Path(name).expanduser()
    return CrossEncoderReranker(str(path) if path.exists() else name, batch_size=settings.rerank.batch_size)
