"""Cheap features derived from a decoded RGB image: orientation, thumbnail, perceptual hash, colour names.

These feed metadata (filters, the detail view), near-duplicate detection and the words a metadata-only search
baseline and the full-text index can match ("red", "portrait"), so they are deterministic and model-free.
"""

from __future__ import annotations

import io
from typing import Literal

import imagehash
import numpy as np
from PIL import Image

Orientation = Literal["landscape", "portrait", "square"]
COLOUR_NAMES = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray")
THUMBNAIL_MEDIA_TYPES = {"webp": "image/webp", "jpeg": "image/jpeg"}
_INT64_SPAN = 1 << 64
_UINT64_MASK = _INT64_SPAN - 1


def orientation_of(width: int, height: int, tolerance: float = 0.0) -> Orientation:
    """``square`` when the sides differ by at most ``tolerance`` (a fraction of the longer side; 0 = exactly equal)."""
    if abs(width - height) <= tolerance * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


def make_thumbnail(img: Image.Image, max_side: int, fmt: Literal["webp", "jpeg"] = "webp", quality: int = 80) -> bytes:
    """An RGB thumbnail whose longest side is ``max_side`` (never upscaled), encoded as WebP (default) or JPEG.

    The media type of the bytes is ``THUMBNAIL_MEDIA_TYPES[fmt]``.
    """
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    thumb = img.convert("RGB") if img.mode != "RGB" else img.copy()
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    if fmt == "webp":
        thumb.save(buf, format="WEBP", quality=quality, method=4)
    else:
        thumb.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def perceptual_hash(img: Image.Image) -> int:
    """64-bit DCT pHash (``imagehash.phash``) as a *signed* int64, so it fits a PostgreSQL ``bigint``.

    The bits are the same as the unsigned hash (two's complement); compare hashes only with :func:`hamming`,
    which masks to 64 bits, never with ``-``/``<``. In SQL: ``bit_count((a # b)::bit(64))`` (PostgreSQL 14+).
    """
    bits = imagehash.phash(img, hash_size=8).hash.flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bool(bit))
    return value - _INT64_SPAN if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or unsigned representation)."""
    return ((a ^ b) & _UINT64_MASK).bit_count()


def _colour_names(rgb: np.ndarray) -> np.ndarray:
    """Index into ``COLOUR_NAMES`` for each pixel of an (N, 3) uint8 array, by simple HSV rules."""
    hsv = np.asarray(Image.fromarray(rgb.reshape(1, -1, 3), "RGB").convert("HSV"), dtype=np.float64).reshape(-1, 3)
    hue, sat, val = hsv[:, 0] * 360.0 / 256.0, hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
    idx = {name: i for i, name in enumerate(COLOUR_NAMES)}
    out = np.full(len(hsv), idx["gray"], dtype=np.int64)
    chromatic = (sat >= 0.2) & (val >= 0.2)
    bands = [  # (low, high, name) of hue in degrees
        (0, 15, "red"),
        (15, 45, "orange"),
        (45, 70, "yellow"),
        (70, 170, "green"),
        (170, 255, "blue"),
        (255, 295, "purple"),
        (295, 345, "pink"),
        (345, 361, "red"),
    ]
    for low, high, name in bands:
        out[chromatic & (hue >= low) & (hue < high)] = idx[name]
    warm = chromatic & ((hue < 45) | (hue >= 345))
    out[warm & (val < 0.6) & (hue >= 10) & (hue < 45)] = idx["brown"]  # dark orange is brown
    out[warm & (sat < 0.5) & (val >= 0.75) & ((hue < 15) | (hue >= 345))] = idx["pink"]  # pale red is pink
    out[val < 0.2] = idx["black"]
    out[(sat < 0.2) & (val >= 0.85)] = idx["white"]
    return out


def dominant_colours(img: Image.Image, k: int = 3, min_share: float = 0.05) -> list[str]:
    """Up to ``k`` basic colour names (from ``COLOUR_NAMES``), most frequent first, each covering ≥ ``min_share``
    of the pixels of a 64-px copy (a speck of colour is not a colour of the image)."""
    small = img.convert("RGB")
    small.thumbnail((64, 64), Image.Resampling.BILINEAR)
    names = _colour_names(np.asarray(small).reshape(-1, 3))
    counts = np.bincount(names, minlength=len(COLOUR_NAMES))
    order = np.argsort(-counts, kind="stable")
    total = max(1, int(counts.sum()))
    return [COLOUR_NAMES[i] for i in order[:k] if counts[i] / total >= min_share]
