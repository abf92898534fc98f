"""open_clip image + text embedder: the production joint space for text→image search.

Downloads: never, unless the user configures one. ``pretrained`` is either the path of a local
checkpoint file (read from disk, no network) or an open_clip hub tag such as ``laion2b_s34b_b79k``
(fetched from the model hub into ``cache_dir`` — production only, and it fails under
``HF_HUB_OFFLINE=1`` unless already cached). ``pretrained=None`` is refused: a randomly initialised
CLIP would index meaningless vectors. ``model_config`` registers a custom architecture JSON (its file
stem must equal ``model_name``) so a self-trained model loads through this same code path.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from shared.observability.metrics import EMBEDDINGS, IMAGE_EMBEDDINGS
from shared.observability.tracing import span
from shared.serving.base import ServingError
from shared.serving.model_store import _sha256
from shared.serving.vision import ImageEmbedder, set_torch_threads
from shared.vision.convert import to_rgb

_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz")


def open_clip_model_id(model_name: str, pretrained: str, model_config: Path | None = None) -> str:
    """``open_clip:<arch>:<tag | checkpoint sha12>[:cfg-<sha8>]``: changes whenever the weights (or config) do."""
    path = Path(pretrained)
    version = _sha256(path)[:12] if path.is_file() else pretrained
    model_id = f"open_clip:{model_name}:{version}"
    if model_config is not None:
        model_id += f":cfg-{hashlib.sha256(Path(model_config).read_bytes()).hexdigest()[:8]}"
    return model_id


class OpenClipImageEmbedder(ImageEmbedder):
    """CLIP image and text towers from open_clip; unit float32 rows of ``dim`` (the model's embed_dim).

    Models are loaded once per process per (architecture, weights, config) and shared by instances.
    """

    backend = "open_clip"
    supports_text = True
    _cache: ClassVar[dict[tuple[str, str, str], tuple[Any, Any, Any]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        model_name: str,
        pretrained: str | None,
        model_config: Path | None = None,
        batch_size: int = 16,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if not pretrained:
            raise ServingError(
                "open_clip needs VISION__OPEN_CLIP_PRETRAINED: a checkpoint path or a hub tag (random weights refused)"
            )
        looks_like_path = pretrained.endswith(_CHECKPOINT_SUFFIXES) or "/" in pretrained or "\\" in pretrained
        if looks_like_path and not Path(pretrained).is_file():
            raise ServingError(f"open_clip checkpoint not found: {pretrained}")
        if model_config is not None:
            model_config = Path(model_config)
            if not model_config.is_file():
                raise ServingError(f"open_clip model config not found: {model_config}")
            if model_config.stem != model_name:
                raise ServingError(
                    f"open_clip names a config by its file stem: {model_config.name} cannot define {model_name!r}"
                )
        set_torch_threads(threads)
        model_id = open_clip_model_id(model_name, pretrained, model_config)
        model, preprocess, tokenizer = self._load(model_name, pretrained, model_config, cache_dir, model_id)
        self._setup(model, preprocess, tokenizer, model_id, batch_size)

    @classmethod
    def from_model(
        cls,
        model: Any,
        preprocess: Callable[[Image.Image], Any],
        tokenizer: Callable[[list[str]], Any],
        model_id: str,
        batch_size: int = 16,
    ) -> OpenClipImageEmbedder:
        """Wrap an in-memory model (e.g. one just trained); ``model_id`` must version its weights."""
        self = cls.__new__(cls)
        self._setup(model.eval(), preprocess, tokenizer, model_id, batch_size)
        return self

    @classmethod
    def _load(
        cls, model_name: str, pretrained: str, model_config: Path | None, cache_dir: Path | None, model_id: str
    ) -> tuple[Any, Any, Any]:
        key = (model_name, model_id, str(model_config))
        with cls._lock:
            if key not in cls._cache:
                import open_clip

                if model_config is not None:
                    open_clip.add_model_config(model_config)
                try:
                    model, _, preprocess = open_clip.create_model_and_transforms(
                        model_name,
                        pretrained=pretrained,
                        device="cpu",
                        cache_dir=str(cache_dir) if cache_dir else None,
                    )
                except RuntimeError as exc:
                    raise ServingError(f"open_clip could not load {model_name!r} / {pretrained!r}: {exc}") from exc
                cls._cache[key] = (model.eval(), preprocess, open_clip.get_tokenizer(model_name))
            return cls._cache[key]

    def _setup(self, model: Any, preprocess: Any, tokenizer: Any, model_id: str, batch_size: int) -> None:
        self._model, self._preprocess, self._tokenizer = model, preprocess, tokenizer
        self.model = model_id
        self.batch_size = batch_size
        out_dim = getattr(getattr(model, "visual", None), "output_dim", None)
        self.dim = int(out_dim) if out_dim else int(self.embed_images([Image.new("RGB", (8, 8))]).shape[1])

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return self._empty()
        import torch

        rows: list[np.ndarray] = []
        with span("vision.encode", backend=self.backend, model=self.model, n=len(images), kind="image"):
            for i in range(0, len(images), self.batch_size):
                batch = torch.stack([self._preprocess(to_rgb(im)) for im in images[i : i + self.batch_size]])
                with torch.inference_mode():
                    rows.append(torch.nn.functional.normalize(self._model.encode_image(batch).float(), dim=-1).numpy())
        IMAGE_EMBEDDINGS.labels(self.backend, self.model).inc(len(images))
        return np.concatenate(rows).astype(np.float32, copy=False)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self._empty()
        import torch

        rows: list[np.ndarray] = []
        with span("vision.encode", backend=self.backend, model=self.model, n=len(texts), kind="text"):
            for i in range(0, len(texts), self.batch_size):
                tokens = self._tokenizer(list(texts[i : i + self.batch_size]))
                with torch.inference_mode():
                    rows.append(torch.nn.functional.normalize(self._model.encode_text(tokens).float(), dim=-1).numpy())
        EMBEDDINGS.labels(self.backend, self.model).inc(len(texts))
        return np.concatenate(rows).astype(np.float32, copy=False)
