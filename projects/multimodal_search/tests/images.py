"""Test images made in code (plus the two real photos scikit-learn ships), as encoded bytes."""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path

import sklearn.datasets
from PIL import Image, ImageDraw, ImageFont

PHOTOS = Path(sklearn.datasets.__file__).parent / "images"


def encode(img: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@cache
def photo(name: str) -> Image.Image:
    """``flower`` (a daisy) or ``china`` (a palace), 640×427 JPEG photos."""
    return Image.open(PHOTOS / f"{name}.jpg").convert("RGB")


def photo_bytes(name: str) -> bytes:
    return (PHOTOS / f"{name}.jpg").read_bytes()


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> Image.Image:
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    draw.ellipse([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], fill=tuple(c // 2 for c in colour))
    return img


def stripes(colour: tuple[int, int, int], size: tuple[int, int] = (200, 300), n: int = 6) -> Image.Image:
    """Horizontal bands of ``colour`` and white: a structure no solid() image shares (pHash sees structure)."""
    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img)
    band = size[1] // (2 * n)
    for i in range(n):
        draw.rectangle([0, 2 * i * band, size[0], (2 * i + 1) * band], fill=colour)
    return img


def sign(text: str, size: tuple[int, int] = (640, 240)) -> Image.Image:
    """Dark words on a light board: what OCR must read."""
    img = Image.new("RGB", size, (235, 230, 215))
    draw = ImageDraw.Draw(img)
    draw.rectangle([10, 10, size[0] - 10, size[1] - 10], outline=(60, 40, 20), width=6)
    draw.text((40, size[1] // 2 - 40), text, fill=(20, 20, 20), font=ImageFont.load_default(size=72))
    return img


def with_exif(img: Image.Image, *, taken: datetime, make: str = "Canon", model: str = "EOS R6") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    return encode(img, "JPEG", quality=90, exif=exif)
