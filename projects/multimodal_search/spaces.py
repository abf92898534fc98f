"""Embedding spaces: which vectors an image gets, in which collection, and how a query reaches them.

A *profile* is the pair of spaces search needs:

- the **text space** answers text→image. With CLIP (open_clip or a vLLM-served CLIP) it is CLIP's
  joint space: images by the image tower, queries by the text tower. With the offline default
  (EfficientNet-Lite0, no text tower) it is the sentence model's space: an image is represented by
  the sentences that describe it — its ImageNet labels weighted by their probabilities, its caption,
  tags and OCR text — and a query is embedded by the same sentence model.
- the **image space** answers image→image and "more like this": CLIP image vectors, or EfficientNet's
  1280-d pooled features.

Each space is a ``shared.retrieval`` collection whose name carries the model ids, so a model change
means a new collection (its own HNSW index when the dimension is new); the old one stays searchable
until the re-index job has filled the new one, then is dropped. ``signature`` is what
``mms_images.indexed_model`` stores to tell fresh rows from stale ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from shared.serving.base import Embedder
from shared.serving.vision import ImageEmbedder

Role = Literal["text", "image"]


@dataclass(frozen=True)
class Space:
    role: Role
    collection: str
    model: str  # the collection's embedding_model: the model a query vector must come from
    dim: int


@dataclass(frozen=True)
class Profile:
    text: Space
    image: Space
    joint: bool  # True: one CLIP space serves both roles (one vector per image)

    @property
    def signature(self) -> str:
        return f"{self.text.collection}|{self.image.collection}"

    @property
    def spaces(self) -> tuple[Space, ...]:
        return (self.text,) if self.joint else (self.text, self.image)


def _slug(model: str) -> str:
    """Readable and unique: the model id squeezed to [a-z0-9-] plus 8 hex of its hash."""
    readable = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:40]
    return f"{readable}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def build_profile(image_embedder: ImageEmbedder, text_embedder: Embedder) -> Profile:
    if image_embedder.supports_text:
        joint = Space("text", f"mms-clip-{_slug(image_embedder.model)}", image_embedder.model, image_embedder.dim)
        return Profile(text=joint, image=Space("image", joint.collection, joint.model, joint.dim), joint=True)
    # the text space's vectors depend on both models: the labeller's labels, embedded by the sentence model
    text = Space(
        "text",
        f"mms-text-{_slug(text_embedder.model + '+' + image_embedder.model)}",
        text_embedder.model,
        text_embedder.dim,
    )
    image = Space("image", f"mms-image-{_slug(image_embedder.model)}", image_embedder.model, image_embedder.dim)
    return Profile(text=text, image=image, joint=False)


class ClipTextEmbedder(Embedder):
    """CLIP's text tower as a ``shared.serving`` Embedder, so the platform Searcher embeds text queries with it."""

    def __init__(self, image_embedder: ImageEmbedder) -> None:
        self.backend = image_embedder.backend
        self.model = image_embedder.model
        self.dim = image_embedder.dim
        self._clip = image_embedder

    def embed(self, texts):  # type: ignore[no-untyped-def]
        return self._clip.embed_texts(list(texts))
