"""Deterministic synthetic image–caption pairs: coloured shapes (and a few rendered words) on varied backgrounds.

No CLIP weights can be installed on these machines (MODELS.md), so the open_clip path is proved with a tiny CLIP
trained on images generated here. The generator is the whole dataset, so it has to make the task *visual*: shapes
appear at random positions, sizes and small rotations, colours are jittered around a named hue, and backgrounds are
noisy or graded pale tints, so the image tower cannot key on a fixed pixel. Captions mix a canonical form ("a red
circle") with paraphrases ("a round red shape", "red circle on a grey background") so the text tower has to learn
the words, not whole strings. Everything derives from one seed: the same ``(n, seed, size)`` gives identical images.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Named colours and their base RGB; each image jitters the base so the model learns the hue, not one value.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 30),
    "green": (30, 160, 50),
    "blue": (35, 65, 215),
    "yellow": (240, 210, 20),
    "purple": (130, 40, 170),
    "orange": (245, 130, 15),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
#: Words rendered as dark text (``shape == "word"``, ``colour == "black"``): a glimpse of OCR-like retrieval.
WORDS: tuple[str, ...] = ("stop", "open")

# Paraphrases per shape: the phrase replaces "{colour} {shape}" in a caption.
_SHAPE_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "circle": ("round {c} shape", "{c} disc", "{c} round shape"),
    "square": ("{c} square shape", "{c} box shape"),
    "triangle": ("{c} triangular shape", "{c} three-sided shape"),
    "star": ("{c} five-pointed star", "{c} star shape"),
    "cross": ("{c} plus sign", "{c} cross shape"),
}
_WORD_CAPTIONS: tuple[str, ...] = ("the word {w}", "a sign that says {w}", "the text {w}", "{w} written in black")

_SUPERSAMPLE = 2  # shapes are drawn at 2× and downsampled: smooth edges, like a photo rather than aliased pixels


@dataclass(frozen=True)
class ShapeSample:
    """One generated image with its caption and ground-truth attributes (``text`` is set for rendered words)."""

    image: Image.Image
    caption: str
    colour: str
    shape: str
    text: str | None = None


def canonical_caption(colour: str, shape: str) -> str:
    """The caption used as a query and as the zero-shot class prompt: ``"a red circle"``, ``"an orange star"``."""
    return f"{_article(colour)} {colour} {shape}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def make_shape_images(n: int, seed: int, size: int = 64, *, word_fraction: float = 0.1) -> list[ShapeSample]:
    """Generate ``n`` samples deterministically from ``seed``; about ``word_fraction`` of them are rendered words."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if size < 16:
        raise ValueError("size must be >= 16 pixels")
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        background, bg_name = _background(rng, noise, size)
        if rng.random() < word_fraction:
            samples.append(_word_sample(rng, background, size))
        else:
            samples.append(_shape_sample(rng, background, bg_name, size))
    return samples


def _background(rng: random.Random, noise: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    """A pale background (grey, white, or a gradient between two pale tints) with light pixel noise."""
    kind = rng.choice(("grey", "white", "gradient"))
    if kind == "grey":
        level = rng.uniform(160, 205)
        base = np.full((size, size, 3), level, dtype=np.float32)
    elif kind == "white":
        base = np.full((size, size, 3), rng.uniform(225, 250), dtype=np.float32)
    else:
        start = np.array([rng.uniform(175, 250) for _ in range(3)], dtype=np.float32)
        end = np.array([rng.uniform(175, 250) for _ in range(3)], dtype=np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
        t = (xs * math.cos(angle) + ys * math.sin(angle)).astype(np.float32)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        base = start + (end - start) * t[..., None]
        kind = "light"
    base += noise.standard_normal(size=base.shape, dtype=np.float32) * np.float32(rng.uniform(2.0, 12.0))
    return np.clip(base, 0, 255), kind


def _jitter(rgb: tuple[int, int, int], rng: random.Random) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, v + rng.randint(-25, 25)))) for v in rgb)  # type: ignore[return-value]


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a square, triangle, star or cross of "radius" ``r`` centred at (cx, cy), rotated by ``angle``."""
    if shape == "square":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        pts = [(x * r * 0.8, y * r * 0.8) for x, y in pts]
    elif shape == "triangle":
        pts = [(r * math.cos(a), r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
        pts = [(x, y + r * 0.2) for x, y in pts]  # centre the visual mass
    elif shape == "star":
        pts = []
        for k in range(10):
            radius = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((radius * math.cos(a), radius * math.sin(a)))
    elif shape == "cross":
        w = r * 0.35
        pts = [
            (-w, -r),
            (w, -r),
            (w, -w),
            (r, -w),
            (r, w),
            (w, w),
            (w, r),
            (-w, r),
            (-w, w),
            (-r, w),
            (-r, -w),
            (-w, -w),
        ]
    else:
        raise ValueError(f"no polygon for shape {shape!r}")
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in pts]


def _shape_sample(rng: random.Random, background: np.ndarray, bg_name: str, size: int) -> ShapeSample:
    colour = rng.choice(tuple(COLOURS))
    shape = rng.choice(SHAPES)
    big = size * _SUPERSAMPLE
    canvas = Image.fromarray(background.astype(np.uint8)).resize((big, big), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(canvas)
    r = rng.uniform(0.17, 0.34) * big  # "radius": the shape spans about a third to two thirds of the image
    cx, cy = rng.uniform(r, big - r), rng.uniform(r, big - r)
    fill = _jitter(COLOURS[colour], rng)
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        spin = rng.uniform(0, 2 * math.pi / 5) if shape == "star" else rng.uniform(-0.3, 0.3)
        draw.polygon(_polygon(shape, cx, cy, r, spin), fill=fill)
    image = canvas.resize((size, size), Image.Resampling.BOX)
    return ShapeSample(image=image, caption=_caption(rng, colour, shape, bg_name), colour=colour, shape=shape)


def _caption(rng: random.Random, colour: str, shape: str, bg_name: str) -> str:
    """Mostly canonical captions, plus paraphrases, word-order changes and background mentions."""
    roll = rng.random()
    if roll < 0.5:
        return canonical_caption(colour, shape)
    if roll < 0.62:
        return f"a photo of {_article(colour)} {colour} {shape}"
    if roll < 0.74:
        return f"{colour} {shape} on a {bg_name} background"
    if roll < 0.82:
        return f"a {shape} in {colour}"
    phrase = rng.choice(_SHAPE_PARAPHRASES[shape]).format(c=colour)
    return f"{_article(phrase)} {phrase}"


def _word_sample(rng: random.Random, background: np.ndarray, size: int) -> ShapeSample:
    word = rng.choice(WORDS)
    image = Image.fromarray(background.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(8, round(size * rng.uniform(0.24, 0.3))))
    left, top, right, bottom = draw.textbbox((0, 0), word.upper(), font=font)
    width, height = right - left, bottom - top
    x = rng.uniform(0, max(0.0, size - width)) - left
    y = rng.uniform(0, max(0.0, size - height)) - top
    shade = rng.randint(0, 50)
    draw.text((x, y), word.upper(), font=font, fill=(shade, shade, shade))
    caption = rng.choice(_WORD_CAPTIONS).format(w=word)
    return ShapeSample(image=image, caption=caption, colour="black", shape="word", text=word)
