"""Image + text embeddings from an OpenAI-compatible server (vLLM serving a CLIP model).

Texts go to ``POST {base}/embeddings`` as ``{"model", "input": [...]}``. Images use vLLM's
multimodal embeddings form: one request per image whose body is a chat-style ``messages`` list
holding a single ``image_url`` part (a base64 PNG data URL) with ``"encoding_format": "float"``;
the OpenAI SDK has no such call, hence plain httpx. Images are downscaled to ``max_side`` before
upload: CLIP resizes to ~224 px anyway, and a 30,000-px PNG would only cost bandwidth.

``model`` is ``openai:<served model name>``: the server name is the only version this client can
see, so deploy changed weights under a new served name to trigger re-indexing.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
from PIL import Image

from shared.observability.metrics import EMBEDDINGS, IMAGE_EMBEDDINGS
from shared.observability.tracing import span
from shared.serving.base import ServingError, l2_normalise
from shared.serving.vision import ImageEmbedder
from shared.vision.convert import to_rgb


def png_data_url(image: Image.Image, max_side: int) -> str:
    rgb = to_rgb(image)
    if max(rgb.size) > max_side:
        rgb = rgb.copy()
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIImageEmbedder(ImageEmbedder):
    """CLIP behind an OpenAI-compatible ``/embeddings`` endpoint; rows are re-normalised client-side."""

    backend = "openai"
    supports_text = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        dim: int | None = None,
        batch_size: int = 16,
        timeout_s: float = 60.0,
        max_side: int = 1024,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.served_model = model
        self.model = f"openai:{model}"
        self.batch_size = batch_size
        self.max_side = max_side
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport or httpx.HTTPTransport(retries=2),
        )
        self._dim = dim

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Known from settings or probed once with a text (the server is not contacted at construction)."""
        if self._dim is None:
            self._dim = int(self.embed_texts(["dimension probe"]).shape[1])
        return self._dim

    def _post(self, body: dict[str, Any]) -> list[list[float]]:
        try:
            resp = self._client.post("embeddings", json=body)
            resp.raise_for_status()
            data = resp.json()["data"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ServingError(f"image embedding server failed ({self.served_model}): {exc}") from exc
        return [d["embedding"] for d in sorted(data, key=lambda d: d.get("index", 0))]

    def _matrix(self, rows: list[list[float]], n: int) -> np.ndarray:
        arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        if arr.shape[0] != n:
            raise ServingError(f"image embedding server returned {arr.shape[0]} vectors for {n} inputs")
        if self._dim is None:
            self._dim = arr.shape[1]
        return l2_normalise(arr)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        rows: list[list[float]] = []
        with span("vision.encode", backend=self.backend, model=self.model, n=len(texts), kind="text"):
            for i in range(0, len(texts), self.batch_size):
                chunk = list(texts[i : i + self.batch_size])
                rows.extend(self._post({"model": self.served_model, "input": chunk, "encoding_format": "float"}))
        EMBEDDINGS.labels(self.backend, self.model).inc(len(texts))
        return self._matrix(rows, len(texts))

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        rows: list[list[float]] = []
        with span("vision.encode", backend=self.backend, model=self.model, n=len(images), kind="image"):
            for image in images:  # the messages form embeds one conversation, i.e. one image, per request
                part = {"type": "image_url", "image_url": {"url": png_data_url(image, self.max_side)}}
                body = {
                    "model": self.served_model,
                    "messages": [{"role": "user", "content": [part]}],
                    "encoding_format": "float",
                }
                rows.extend(self._post(body)[:1])
        IMAGE_EMBEDDINGS.labels(self.backend, self.model).inc(len(images))
        return self._matrix(rows, len(images))

    def close(self) -> None:
        self._client.close()
