"""Painting primitives for the procedural demo library: gradients, smooth noise, soft masks, ridge lines, text.

Why float canvases: scenes are layered (sky, glow, silhouettes, haze) and blending in float avoids the banding and
clipping that repeated 8-bit compositing produces. Everything takes an explicit ``numpy.random.Generator`` so a
picture depends only on its seed (the library must be byte-identical run to run).

Text uses Pillow's bundled font (``ImageFont.load_default(size=...)``, Aileron) so rendering does not depend on
which system fonts a machine has. That font has no accented glyphs, so ``draw_text`` draws the acute accent of
"é" itself (the demo has a "Café").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Color = tuple[int, int, int]
Canvas = np.ndarray  # float32, shape (h, w, 3), values 0..255


def gradient(h: int, w: int, stops: Sequence[tuple[float, Color]], axis: int = 0) -> Canvas:
    """A linear gradient through colour ``stops`` (position 0..1, colour) along y (axis 0) or x (axis 1)."""
    n = h if axis == 0 else w
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)
    pos = np.array([s[0] for s in stops], dtype=np.float32)
    cols = np.array([s[1] for s in stops], dtype=np.float32)
    line = np.stack([np.interp(t, pos, cols[:, c]) for c in range(3)], axis=-1).astype(np.float32)
    if axis == 0:
        return np.ascontiguousarray(np.broadcast_to(line[:, None, :], (h, w, 3)))
    return np.ascontiguousarray(np.broadcast_to(line[None, :, :], (h, w, 3)))


def noise(rng: np.random.Generator, h: int, w: int, cells: float, octaves: int = 3, stretch: float = 1.0) -> np.ndarray:
    """Smooth value noise in 0..1: random grids upsampled bicubically and summed over octaves.

    ``cells`` is the number of noise cells across the longer side; ``stretch`` > 1 makes features wider than tall
    (clouds, water streaks)."""
    # Octaves are summed at a working resolution of at most ~640 px and upsampled once: the noise is smooth anyway,
    # and per-octave full-size resizes were most of the render time on big images.
    step = max(1, max(h, w) // 640)
    wh, ww = max(2, -(-h // step)), max(2, -(-w // step))
    out = np.zeros((wh, ww), dtype=np.float32)
    amp, total = 1.0, 0.0
    for octave in range(octaves):
        c = cells * (2**octave)
        gw = max(2, round(c * w / max(h, w) / stretch) + 1)
        gh = max(2, round(c * h / max(h, w)) + 1)
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * np.asarray(Image.fromarray(grid, mode="F").resize((ww, wh), Image.Resampling.BICUBIC))
        total += amp
        amp *= 0.5
    if (wh, ww) != (h, w):
        out = np.asarray(Image.fromarray(out, mode="F").resize((w, h), Image.Resampling.BICUBIC))
    return np.clip(out / total, 0.0, 1.0)


def ridge(
    rng: np.random.Generator, w: int, base: float, amp: float, octaves: int = 6, rough: float = 0.5
) -> np.ndarray:
    """A 1-D fractal line (y per x): piecewise-linear octaves give sharp mountain-like peaks."""
    x = np.arange(w, dtype=np.float32)
    y = np.zeros(w, dtype=np.float32)
    a = amp
    for octave in range(octaves):
        k = 2 + 2 ** (octave + 1)
        y += a * np.interp(x, np.linspace(0, w - 1, k + 1), rng.uniform(-1, 1, k + 1)).astype(np.float32)
        a *= rough
    return base + y


def smooth_line(values: np.ndarray, radius: int) -> np.ndarray:
    """Box-smoothed copy of a 1-D line (rolling hills instead of peaks)."""
    if radius <= 0:
        return values
    kernel = np.ones(2 * radius + 1, dtype=np.float32) / (2 * radius + 1)
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid").astype(np.float32)


def below(line: np.ndarray, h: int) -> np.ndarray:
    """Anti-aliased mask (h, w) of the area under a line of y values."""
    yy = np.arange(h, dtype=np.float32)[:, None]
    return np.clip(yy - line[None, :] + 0.5, 0.0, 1.0)


def blend(canvas: Canvas, mask: np.ndarray, color: Color | Canvas, alpha: float = 1.0) -> None:
    """Paint ``color`` (a colour or a canvas) over ``canvas`` where ``mask`` (0..1, (h, w)) says, in place."""
    # Only the rows the mask touches are blended: most masks (ridges, mist bands, signs) cover a fraction of the
    # image, and full-frame float blends were the bulk of render time.
    rows = np.flatnonzero(np.asarray(mask).max(axis=1) > 0)
    if rows.size == 0:
        return
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    m = np.asarray(mask, dtype=np.float32)[r0:r1, :, None] * np.float32(alpha)
    src = np.asarray(color, dtype=np.float32)
    if src.ndim == 3:
        src = src[r0:r1]
    region = canvas[r0:r1]
    region += m * (src - region)


def radial(h: int, w: int, cx: float, cy: float, radius: float) -> np.ndarray:
    """Distance from (cx, cy) divided by ``radius``, shape (h, w)."""
    yy = (np.arange(h, dtype=np.float32)[:, None] - cy) ** 2
    xx = (np.arange(w, dtype=np.float32)[None, :] - cx) ** 2
    return np.sqrt(xx + yy) / max(radius, 1e-6)


def glow(canvas: Canvas, cx: float, cy: float, radius: float, color: Color, strength: float = 1.0) -> None:
    """Additive soft light (Gaussian falloff) around a point: sun and moon halos, street lamps."""
    d = radial(canvas.shape[0], canvas.shape[1], cx, cy, radius)
    canvas += (np.exp(-(d**2)) * strength)[..., None] * np.asarray(color, dtype=np.float32)


def disc(h: int, w: int, cx: float, cy: float, r: float, soft: float = 1.0) -> np.ndarray:
    """Anti-aliased filled circle mask."""
    d = radial(h, w, cx, cy, 1.0)
    return np.clip((r - d) / max(soft, 1e-3) + 0.5, 0.0, 1.0)


def shape_mask(h: int, w: int, draw_fn, blur: float = 0.0) -> np.ndarray:
    """Rasterise shapes with ``ImageDraw`` (``draw_fn(draw)`` draws in white on black) into a 0..1 mask.

    A small blur softens the aliased polygon edges; larger blurs give depth-of-field or haze."""
    img = Image.new("L", (w, h), 0)
    draw_fn(ImageDraw.Draw(img))
    if blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(img, dtype=np.float32) / 255.0


def grain(rng: np.random.Generator, canvas: Canvas, sigma: float) -> None:
    """Fine monochrome film grain, in place (kept light: grain costs JPEG bytes)."""
    canvas += (rng.standard_normal(canvas.shape[:2], dtype=np.float32) * sigma)[..., None]


def to_image(canvas: Canvas) -> Image.Image:
    return Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")


def mix(a: Color, b: Color, t: float) -> Color:
    return tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3))  # type: ignore[return-value]


def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font: identical on every machine with the same Pillow."""
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int,
    fill: Color | str,
    anchor: str = "la",
    bold: bool = False,
) -> tuple[int, int, int, int]:
    """Draw text and return its box. "é" is drawn as "e" plus a stroke, since the bundled font lacks the glyph."""
    f = font(size)
    plain = text.replace("é", "e")
    stroke = max(1, size // 28) if bold else 0
    draw.text(xy, plain, font=f, fill=fill, anchor=anchor, stroke_width=stroke, stroke_fill=fill)
    box = draw.textbbox(xy, plain, font=f, anchor=anchor, stroke_width=stroke)
    start = 0
    while (i := text.find("é", start)) >= 0:
        # Locate the "e" by measuring the prefix, then put a short slanted stroke above its x-height.
        ex = box[0] + stroke + draw.textlength(plain[:i], font=f)
        eb = draw.textbbox((ex, xy[1]), "e", font=f, anchor="l" + anchor[1])
        ew, gap = eb[2] - eb[0], max(2, size // 14)
        x_mid = (eb[0] + eb[2]) / 2
        lw = max(2, size // 11) + stroke
        draw.line(
            [(x_mid - ew * 0.12, eb[1] - gap), (x_mid + ew * 0.22, eb[1] - gap - size * 0.2)], fill=fill, width=lw
        )
        start = i + 1
    return box
