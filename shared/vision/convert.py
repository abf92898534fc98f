"""Any Pillow image mode → 8-bit RGB, the way a person would see it: one conversion for loading and for models.

Transparent pixels are composited on white (a plain RGBA → RGB keeps whatever colour hides under alpha 0,
often black). High-bit-depth greyscale is rescaled, not clipped at 255 (Pillow's own ``convert`` clips, which
turns most 16-bit photos white): 16-bit values divide by 257 (65535 → 255); float images in [0, 1] scale by
255; 32-bit int and float images beyond those ranges are stretched by their own maximum, having no fixed white.
Only numpy and Pillow: importing this module stays cheap.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(img), mode), "L").convert("RGB")
    if (mode == "P" and "transparency" in img.info) or mode in ("PA", "LA", "La", "RGBa"):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, img).convert("RGB")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, P, L, 1


def _to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    values = arr.astype(np.float64)
    peak = float(values.max()) if values.size else 0.0
    if mode == "F":
        scaled = values * (255.0 if peak <= 1.0 else 255.0 / peak)
    elif mode == "I" and peak > 65535:
        scaled = values * (255.0 / peak)
    else:
        scaled = values / 257  # exact for the 257-multiples 8-bit values become in 16 bits
    return np.clip(scaled, 0, 255).astype(np.uint8)  # truncates: 0.5 of white is 127
