"""Procedural landscape scenes for the demo library: sunsets, night skies, mountains, forests, beaches, skylines, snow.

Each scene type takes a palette name so one type has several siblings (a "more like this" query on an orange sunset
should find the pink and the red one), while the composition is drawn from the seed so siblings are not
near-duplicates of each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from projects.multimodal_search.demo_art.paint import (
    Canvas,
    Color,
    below,
    blend,
    disc,
    glow,
    gradient,
    grain,
    mix,
    noise,
    ridge,
    shape_mask,
    smooth_line,
    to_image,
)

SceneFn = Callable[..., Image.Image]  # (rng, width, height, palette, **options) -> image


# -- shared pieces -----------------------------------------------------------------------------------------


def _clouds(rng: np.random.Generator, c: Canvas, top: float, bottom: float, color: Color, cover: float, alpha: float):
    """Horizontal cloud streaks between two heights (fractions of the image height)."""
    h, w = c.shape[:2]
    n = noise(rng, h, w, cells=5, octaves=4, stretch=3.5)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    band = np.clip((yy - top) / 0.08, 0, 1) * np.clip((bottom - yy) / 0.08, 0, 1)
    mask = np.clip((n - (1 - cover)) * 5, 0, 1) * band
    blend(c, mask, color, alpha)


def _puffy_clouds(rng: np.random.Generator, c: Canvas, count: int, color: Color, y_max: float) -> None:
    h, w = c.shape[:2]

    def draw(d: ImageDraw.ImageDraw) -> None:
        for _ in range(count):
            cx, cy = rng.uniform(0, w), rng.uniform(0.08, y_max) * h
            size = rng.uniform(0.05, 0.11) * w
            for _ in range(7):
                ox, oy = rng.uniform(-1.4, 1.4) * size, rng.uniform(-0.35, 0.2) * size
                r = size * rng.uniform(0.35, 0.7)
                d.ellipse([cx + ox - r, cy + oy - r * 0.8, cx + ox + r, cy + oy + r * 0.8], fill=255)
            d.rectangle([cx - size * 1.6, cy + size * 0.15, cx + size * 1.6, cy + size * 0.5], fill=0)

    mask = shape_mask(h, w, draw, blur=w * 0.006)
    # lit tops, slightly grey undersides: shade each puff by how far down its own soft edge it is
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    shade = 1.0 - 0.12 * np.clip((yy - 0.1) / max(y_max, 0.1), 0, 1)
    blend(c, mask, np.asarray(color, np.float32) * shade[..., None], 0.92)


def _stars(rng: np.random.Generator, c: Canvas, density: float, y_max: float, tint: Color = (255, 250, 235)) -> None:
    h, w = c.shape[:2]
    n = int(w * h * density)
    xs, ys = rng.uniform(0, w, n), rng.uniform(0, y_max * h, n)
    mags = rng.pareto(2.5, n) + 0.3

    def draw(d: ImageDraw.ImageDraw) -> None:
        for x, y, m in zip(xs, ys, mags, strict=True):
            v = int(min(255, 90 * m))
            r = 0.6 if m < 2 else 1.2 if m < 4 else 1.8
            d.ellipse([x - r, y - r, x + r, y + r], fill=v)

    mask = shape_mask(h, w, draw, blur=0.5)
    c += (mask * 1.6)[..., None] * (np.asarray(tint, np.float32) / 255.0) * 255.0 * 0.6


def _pine(d: ImageDraw.ImageDraw, x: float, base: float, height: float, width: float, fill: int = 255) -> None:
    d.rectangle([x - width * 0.06, base - height * 0.15, x + width * 0.06, base], fill=fill)
    for k in range(4):
        top = base - height * (1.0 - k * 0.2)
        bot = base - height * (0.1 + (3 - k) * 0.18) + height * 0.12
        half = width * (0.5 - k * 0.1)
        d.polygon([(x, top), (x - half, bot), (x + half, bot)], fill=fill)


def _round_tree(d: ImageDraw.ImageDraw, rng: np.random.Generator, x: float, base: float, height: float) -> None:
    d.rectangle([x - height * 0.04, base - height * 0.45, x + height * 0.04, base], fill=255)
    r = height * 0.32
    for _ in range(5):
        ox, oy = rng.uniform(-0.5, 0.5) * r, rng.uniform(-0.4, 0.3) * r
        rr = r * rng.uniform(0.6, 0.9)
        d.ellipse([x + ox - rr, base - height * 0.62 + oy - rr, x + ox + rr, base - height * 0.62 + oy + rr], fill=255)


def _finish(rng: np.random.Generator, c: Canvas, sigma: float = 1.6) -> Image.Image:
    grain(rng, c, sigma)
    return to_image(c)


# -- scenes ------------------------------------------------------------------------------------------------

_SUNSET = {
    "orange": [(0, (38, 40, 92)), (0.45, (196, 92, 96)), (0.8, (248, 152, 72)), (1, (255, 214, 130))],
    "pink": [(0, (30, 32, 78)), (0.5, (132, 84, 150)), (0.82, (236, 128, 150)), (1, (255, 196, 170))],
    "red": [(0, (52, 20, 40)), (0.5, (150, 40, 50)), (0.85, (232, 88, 48)), (1, (255, 160, 80))],
    "gold": [(0, (70, 110, 160)), (0.5, (170, 160, 150)), (0.85, (245, 196, 110)), (1, (255, 232, 170))],
}


def sunset_sea(rng: np.random.Generator, w: int, h: int, palette: str) -> Image.Image:
    """Gradient sky, sun disc on the horizon, cloud streaks, sea with a broken sun reflection."""
    stops = _SUNSET[palette]
    horizon = h * rng.uniform(0.55, 0.64)
    c = gradient(h, w, [(p * horizon / h, col) for p, col in stops] + [(1.0, stops[-1][1])])
    sun_x, sun_r = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.05, 0.075)
    sun_y = horizon - sun_r * rng.uniform(0.2, 0.9)
    sun_col = mix(stops[-1][1], (255, 250, 225), 0.6)
    glow(c, sun_x, sun_y, h * 0.45, mix(stops[-1][1], (255, 255, 255), 0.2), 0.35)
    _clouds(rng, c, 0.12, horizon / h - 0.06, mix(stops[1][1], stops[2][1], 0.5), 0.42, 0.85)
    _clouds(rng, c, 0.3, horizon / h - 0.02, mix(stops[2][1], (255, 230, 200), 0.4), 0.3, 0.7)
    blend(c, disc(h, w, sun_x, sun_y, sun_r, 1.5), sun_col)
    glow(c, sun_x, sun_y, sun_r * 2.2, (255, 220, 160), 0.35)
    if palette == "red":  # a dark headland on the left
        line = smooth_line(ridge(rng, w, horizon - h * 0.06, h * 0.05, 5, 0.55), 6)
        line[int(w * rng.uniform(0.3, 0.45)) :] = horizon + 2
        blend(c, below(line, h), mix(stops[0][1], (0, 0, 0), 0.5))
    # sea: darker version of the sky, mirrored, with horizontal wave streaks
    yy = np.arange(h, dtype=np.float32)[:, None]
    sea_t = np.clip((yy - horizon) / (h - horizon), 0, 1)
    deep = np.asarray(mix(stops[0][1], (0, 0, 0), 0.35), np.float32)
    near = np.asarray(mix(stops[2][1], stops[0][1], 0.55), np.float32)
    sea = near + (deep - near) * sea_t[..., None] ** 0.7
    waves = noise(rng, h, w, cells=40, octaves=2, stretch=8.0)
    sea = sea * (0.85 + 0.3 * waves[..., None])
    xx = np.arange(w, dtype=np.float32)[None, :]
    spread = sun_r * (1.0 + 5.0 * sea_t)
    column = np.exp(-(((xx - sun_x) / spread) ** 2))
    streaks = np.clip((noise(rng, h, w, cells=60, octaves=2, stretch=12.0) - 0.45) * 3.5, 0, 1)
    refl = column * streaks * (1 - sea_t * 0.7)
    sea += refl[..., None] * (np.asarray(sun_col, np.float32) - sea) * 0.9
    blend(c, below(np.full(w, horizon, np.float32), h), sea)
    return _finish(rng, c)


_NIGHT = {
    "navy": [(0, (6, 10, 28)), (0.7, (20, 36, 72)), (1, (46, 70, 110))],
    "violet": [(0, (10, 6, 26)), (0.65, (36, 26, 72)), (1, (90, 70, 120))],
    "teal": [(0, (4, 14, 24)), (0.7, (14, 46, 64)), (1, (40, 90, 100))],
}


def night_sky(rng: np.random.Generator, w: int, h: int, palette: str, phase: str = "full"):
    """Stars (power-law brightness), a faint Milky Way band, a moon (full or crescent), a dark horizon."""
    c = gradient(h, w, _NIGHT[palette])
    if phase == "crescent":  # Milky Way: a diagonal band of fine noise
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d = np.abs((yy / h - 0.15) - (xx / w) * 0.6) / 0.12
        band = np.exp(-(d**2)) * noise(rng, h, w, cells=30, octaves=3)
        c += (band * 70)[..., None] * np.asarray((0.85, 0.85, 1.0), np.float32)
    _stars(rng, c, 0.0016, 0.85)
    mx, my, mr = w * rng.uniform(0.6, 0.82), h * rng.uniform(0.16, 0.3), h * rng.uniform(0.055, 0.08)
    glow(c, mx, my, mr * 5, (90, 110, 150), 0.5)
    moon = disc(h, w, mx, my, mr, 1.2)
    if phase == "crescent":
        moon = moon * (1 - disc(h, w, mx + mr * 0.45, my - mr * 0.2, mr * 0.95, 1.2))
    surface = np.full((h, w, 3), (236, 232, 214), np.float32)
    craters = noise(rng, h, w, cells=w / (mr * 0.9), octaves=2)
    surface *= (0.82 + 0.22 * craters)[..., None]
    blend(c, moon, surface)
    hill = smooth_line(ridge(rng, w, h * 0.8, h * 0.07, 5, 0.5), 8)
    blend(c, below(hill, h), (8, 10, 16))
    if phase == "crescent":  # a forest edge in front of the hill
        m = shape_mask(
            h,
            w,
            lambda d: [
                _pine(d, x, hill[int(min(w - 1, max(0, x)))] + h * 0.03, h * rng.uniform(0.08, 0.16), h * 0.07)
                for x in np.arange(0, w, h * 0.035) + rng.uniform(-5, 5)
            ],
            blur=0.6,
        )
        blend(c, m, (4, 6, 10))
    return _finish(rng, c, sigma=1.2)


_MOUNTAIN = {
    "blue": dict(sky=[(0, (120, 160, 200)), (1, (236, 222, 206))], near=(22, 36, 60), far=(170, 186, 210), snow=False),
    "alpine": dict(sky=[(0, (60, 120, 200)), (1, (200, 226, 246))], near=(34, 58, 44), far=(150, 170, 196), snow=True),
    "purple": dict(
        sky=[(0, (50, 40, 90)), (0.7, (210, 120, 130)), (1, (250, 190, 150))],
        near=(30, 20, 46),
        far=(150, 110, 150),
        snow=False,
    ),
    "green": dict(sky=[(0, (90, 150, 220)), (1, (210, 230, 240))], near=(40, 80, 40), far=(140, 170, 170), snow=False),
}


def mountains(rng: np.random.Generator, w: int, h: int, palette: str) -> Image.Image:
    """Layered ridges from hazy far peaks to dark near hills (aerial perspective), sun glow, mist between layers."""
    p = _MOUNTAIN[palette]
    c = gradient(h, w, p["sky"])
    glow(c, w * rng.uniform(0.2, 0.8), h * rng.uniform(0.2, 0.4), h * 0.5, (255, 230, 190), 0.25)
    _clouds(rng, c, 0.05, 0.35, (255, 250, 245), 0.3, 0.5)
    layers = 5
    yy = np.arange(h, dtype=np.float32)[:, None]
    for i in range(layers):
        t = i / (layers - 1)
        base = h * (0.38 + 0.13 * i + rng.uniform(-0.03, 0.03))
        line = ridge(rng, w, base, h * (0.16 - 0.02 * i), octaves=7, rough=0.5 - 0.04 * i)
        if i >= 2:
            line = smooth_line(line, 2 + 3 * i)
        col = np.asarray(mix(p["far"], p["near"], t), np.float32)
        shade = 1.0 + 0.12 * (noise(rng, h, w, cells=12, octaves=3)[..., None] - 0.5)
        layer = np.broadcast_to(col, (h, w, 3)) * shade
        if p["snow"] and i <= 1:  # snow above an altitude line (ragged), so only the high peaks are white
            snowline = line.min() + h * (0.05 + 0.05 * noise(rng, 1, w, cells=14, octaves=3)[0])
            depth = np.clip((yy - line[None, :]) / (h * 0.08), 0, 1)  # snow thins out down the slope
            snow = np.clip((snowline[None, :] - yy) / 3, 0, 1) * (1 - 0.5 * depth)
            layer = layer + snow[..., None] * (np.asarray((246, 248, 252), np.float32) - layer) * 0.92
        blend(c, below(line, h), layer)
        # mist rising from the valley behind the next layer
        mist = np.clip(1 - np.abs(yy - (base + h * 0.1)) / (h * 0.08), 0, 1) * 0.35
        blend(c, np.broadcast_to(mist, (h, w)), mix(p["sky"][-1][1], (255, 255, 255), 0.3))
    return _finish(rng, c)


_FOREST = {
    "summer": dict(
        sky=[(0, (110, 170, 230)), (1, (220, 236, 240))],
        trees=[(120, 160, 150), (40, 92, 54), (16, 52, 28)],
        round=False,
        fog=0.0,
        ground=(60, 110, 40),
    ),
    "autumn": dict(
        sky=[(0, (140, 170, 210)), (1, (246, 226, 200))],
        trees=[(200, 150, 110), (200, 96, 36), (140, 40, 24)],
        round=True,
        fog=0.0,
        ground=(120, 80, 30),
    ),
    "misty": dict(
        sky=[(0, (170, 180, 186)), (1, (226, 228, 226))],
        trees=[(190, 196, 196), (110, 124, 120), (40, 56, 50)],
        round=False,
        fog=0.55,
        ground=(70, 84, 70),
    ),
}


def forest(rng: np.random.Generator, w: int, h: int, palette: str) -> Image.Image:
    """Rows of trees, back to front: smaller, hazier and bluer in the back; fog between rows for the misty one."""
    p = _FOREST[palette]
    c = gradient(h, w, p["sky"])
    if palette != "misty":
        _puffy_clouds(rng, c, 4, (252, 252, 250), 0.35)
    ground_y = h * 0.78
    blend(
        c,
        below(np.full(w, ground_y, np.float32), h),
        np.asarray(p["ground"], np.float32) * (0.8 + 0.3 * noise(rng, h, w, 40, 2))[..., None],
    )
    rows = len(p["trees"])
    for i, col in enumerate(p["trees"]):
        t = i / max(rows - 1, 1)
        base = h * (0.6 + 0.2 * t)
        tree_h = h * (0.16 + 0.38 * t)
        spacing = tree_h * (0.32 if not p["round"] else 0.5)

        def draw(d: ImageDraw.ImageDraw, base=base, tree_h=tree_h, spacing=spacing) -> None:
            x = rng.uniform(-spacing, 0)
            while x < w + spacing:
                th = tree_h * rng.uniform(0.75, 1.15)
                yb = base + rng.uniform(-0.02, 0.02) * h
                if p["round"]:
                    _round_tree(d, rng, x, yb, th)
                else:
                    _pine(d, x, yb, th, th * 0.42)
                x += spacing * rng.uniform(0.6, 1.3)
            d.rectangle([0, base, w, h], fill=255)

        mask = shape_mask(h, w, draw, blur=1.6 - 1.2 * t)
        tex = 0.75 + 0.45 * noise(rng, h, w, cells=30 + 30 * t, octaves=3)
        layer = np.asarray(col, np.float32) * tex[..., None]
        if p["round"]:  # autumn: mix red, orange and yellow crowns
            hue = noise(rng, h, w, cells=8, octaves=2)[..., None]
            layer = layer * (1 - hue * 0.5) + np.asarray((230, 180, 50), np.float32) * hue * 0.5 * tex[..., None]
        blend(c, mask, layer)
        if p["fog"] and i < rows - 1:
            yy = np.arange(h, dtype=np.float32)[:, None]
            fog = np.clip((yy - base + tree_h * 0.8) / (tree_h * 0.9), 0, 1) * p["fog"]
            blend(c, np.broadcast_to(fog, (h, w)) * (0.7 + 0.3 * noise(rng, h, w, 6, 2)), (226, 228, 226))
    return _finish(rng, c)


_BEACH = {
    "tropical": dict(
        sky=[(0, (40, 120, 210)), (1, (180, 220, 244))],
        sea=((40, 190, 200), (20, 90, 160)),
        sand=(236, 216, 170),
        palm=True,
    ),
    "golden": dict(
        sky=[(0, (90, 120, 180)), (0.7, (240, 190, 140)), (1, (255, 220, 160))],
        sea=((120, 150, 160), (50, 70, 110)),
        sand=(214, 170, 120),
        palm=False,
    ),
    "overcast": dict(
        sky=[(0, (150, 156, 164)), (1, (206, 208, 210))],
        sea=((96, 120, 126), (60, 76, 88)),
        sand=(70, 66, 64),
        palm=False,
    ),
}


def beach(rng: np.random.Generator, w: int, h: int, palette: str) -> Image.Image:
    """Sky with clouds, sea band, a wavy foam line, wet and dry sand with texture, and a palm on the tropical one."""
    p = _BEACH[palette]
    c = gradient(h, w, p["sky"])
    if palette == "overcast":
        _clouds(rng, c, 0.0, 0.45, (176, 180, 186), 0.6, 0.8)
    else:
        _puffy_clouds(rng, c, 5, (255, 252, 246), 0.3)
    horizon = h * rng.uniform(0.42, 0.5)
    shore = h * rng.uniform(0.64, 0.72)
    yy = np.arange(h, dtype=np.float32)[:, None]
    t = np.clip((yy - horizon) / (shore - horizon), 0, 1)
    far, near = np.asarray(p["sea"][1], np.float32), np.asarray(p["sea"][0], np.float32)
    sea = far + (near - far) * t[..., None]
    sea = sea * (0.9 + 0.2 * noise(rng, h, w, cells=50, octaves=2, stretch=6)[..., None])
    blend(c, below(np.full(w, horizon, np.float32), h), sea)
    xs = np.arange(w, dtype=np.float32)
    edge = shore + h * 0.02 * np.sin(xs / w * rng.uniform(5, 9) + rng.uniform(0, 6)) + h * 0.01 * np.sin(xs / w * 23)
    sand = np.asarray(p["sand"], np.float32) * (0.88 + 0.2 * noise(rng, h, w, cells=120, octaves=2)[..., None])
    blend(c, below(edge, h), sand)
    wet = np.clip(1 - (yy - edge[None, :]) / (h * 0.05), 0, 1) * below(edge, h)
    blend(c, wet, np.asarray(p["sand"], np.float32) * 0.72, 0.7)
    foam = np.exp(-(((yy - edge[None, :] + 2) / (h * 0.006)) ** 2))
    blend(c, foam, (250, 252, 250), 0.9)
    if p["palm"]:
        px = w * rng.choice([0.12, 0.85])
        top = (px + w * 0.08 * (1 if px < w / 2 else -1), h * 0.18)

        def draw(d: ImageDraw.ImageDraw) -> None:
            pts = [(px + (top[0] - px) * s**2, h * 0.95 + (top[1] - h * 0.95) * s) for s in np.linspace(0, 1, 30)]
            for (x0, y0), (x1, y1) in itertools.pairwise(pts):
                d.line([(x0, y0), (x1, y1)], fill=255, width=int(w * 0.012))
            for a in np.linspace(0, 2 * np.pi, 9, endpoint=False) + rng.uniform(0, 0.5):
                tip = (top[0] + np.cos(a) * w * 0.13, top[1] + np.sin(a) * h * 0.12 + h * 0.06)
                mid = ((top[0] + tip[0]) / 2, (top[1] + tip[1]) / 2 - h * 0.04)
                nx, ny = -(tip[1] - top[1]) * 0.08, (tip[0] - top[0]) * 0.08
                d.polygon([top, (mid[0] + nx, mid[1] + ny), tip, (mid[0] - nx, mid[1] - ny)], fill=255)

        blend(c, shape_mask(h, w, draw, blur=0.8), (40, 52, 34))
    return _finish(rng, c)


_CITY = {
    "blue-hour": dict(
        sky=[(0, (20, 30, 70)), (0.7, (60, 70, 130)), (1, (200, 120, 110))],
        back=(40, 46, 80),
        front=(14, 16, 30),
        water=False,
    ),
    "river": dict(
        sky=[(0, (8, 12, 30)), (0.8, (30, 36, 70)), (1, (90, 70, 90))],
        back=(30, 34, 56),
        front=(10, 12, 22),
        water=True,
    ),
    "moonlit": dict(sky=[(0, (4, 6, 18)), (1, (36, 40, 70))], back=(26, 28, 44), front=(8, 8, 14), water=False),
}


def city_night(rng: np.random.Generator, w: int, h: int, palette: str) -> Image.Image:
    """A skyline at night: two layers of buildings, a grid of randomly lit warm windows, optional river reflection."""
    p = _CITY[palette]
    ground = h * (0.62 if p["water"] else 0.92)
    c = gradient(h, w, [(s * ground / h, col) for s, col in p["sky"]] + [(1.0, p["sky"][-1][1])])
    _stars(rng, c, 0.0004 if palette != "moonlit" else 0.001, 0.5)
    if palette == "moonlit":
        mx, my, mr = w * 0.2, h * 0.18, h * 0.05
        glow(c, mx, my, mr * 4, (80, 90, 120), 0.6)
        blend(c, disc(h, w, mx, my, mr, 1.2), (240, 236, 220))
    glow(c, w * 0.5, ground, w * 0.5, (120, 70, 50), 0.35)
    for layer, col in ((0, p["back"]), (1, p["front"])):
        windows = np.zeros((h, w), np.float32)
        x = rng.uniform(-30, 0)
        rects = []
        while x < w:
            bw = w * rng.uniform(0.04, 0.1) * (1.3 if layer else 1.0)
            bh = (ground - h * 0.08) * rng.uniform(0.25, 0.8 if layer else 0.95) * (0.75 if layer else 1.0)
            rects.append((x, ground - bh, x + bw, ground))
            x += bw + rng.uniform(-0.01, 0.01) * w

        def draw(d: ImageDraw.ImageDraw, rects=rects) -> None:
            for r in rects:
                d.rectangle(r, fill=255)

        m = shape_mask(h, w, draw, blur=0.5)
        # antennas on a few tall towers
        for x0, y0, x1, _ in rects:
            if rng.random() < 0.25:
                xm = int((x0 + x1) / 2)
                if 0 <= xm < w:
                    m[max(0, int(y0 - h * 0.05)) : int(y0), xm : xm + 2] = 1.0
        blend(c, m, col)
        for x0, y0, x1, y1 in rects:
            lit = rng.uniform(0.15, 0.6)
            cw, ch = max(3.0, (x1 - x0) / rng.integers(4, 9)), h * rng.uniform(0.018, 0.028)
            for yy in np.arange(y0 + ch, y1 - ch, ch * 1.6):
                for xx in np.arange(x0 + cw * 0.5, x1 - cw, cw * 1.5):
                    if rng.random() < lit and 0 <= xx < w:
                        windows[int(yy) : int(yy + ch * 0.8), int(xx) : int(xx + cw * 0.8)] = rng.uniform(0.5, 1.0)
        if layer == 1:
            blend(c, below(np.full(w, ground, np.float32), h), (12, 12, 18))
        warm = np.asarray((255, 206, 120) if layer else (230, 200, 150), np.float32)
        blend(c, windows * (0.55 if layer == 0 else 0.95), warm)
    if p["water"]:
        top = int(ground)
        refl = c[max(0, 2 * top - h) : top][::-1] * 0.55
        wob = noise(rng, h - top, w, cells=50, octaves=2, stretch=10)
        base = np.asarray((10, 14, 30), np.float32)
        seg = c[top : top + refl.shape[0]]
        seg[:] = base + (refl - base) * (0.6 + 0.6 * wob[: refl.shape[0], :, None])
        c[top + refl.shape[0] :] = base
    return _finish(rng, c, sigma=1.2)


_SNOW = {
    "clear": dict(
        sky=[(0, (70, 130, 210)), (1, (200, 224, 246))], light=(250, 252, 255), shadow=(170, 196, 230), snowing=False
    ),
    "snowfall": dict(
        sky=[(0, (170, 176, 186)), (1, (218, 220, 224))], light=(236, 238, 242), shadow=(190, 196, 210), snowing=True
    ),
    "dawn": dict(
        sky=[(0, (90, 100, 160)), (0.6, (230, 160, 170)), (1, (255, 210, 180))],
        light=(255, 236, 230),
        shadow=(170, 160, 200),
        snowing=False,
    ),
}


def snowy(rng: np.random.Generator, w: int, h: int, palette: str) -> Image.Image:
    """White hills with blue shadows, snow-dusted pines, distant white peaks, falling snow on the overcast one."""
    p = _SNOW[palette]
    c = gradient(h, w, p["sky"])
    peaks = ridge(rng, w, h * 0.4, h * 0.16, 7, 0.52)
    yy = np.arange(h, dtype=np.float32)[:, None]
    # far peaks: bright at the crest, bluer further down, with soft 2-D shading (no per-column streaks)
    depth = np.clip((yy - peaks[None, :]) / (h * 0.2), 0, 1)
    t = np.clip(0.15 + 0.55 * depth + 0.35 * (noise(rng, h, w, cells=10, octaves=3) - 0.5), 0, 1)
    light, shadow = np.asarray(p["light"], np.float32), np.asarray(p["shadow"], np.float32)
    peak_col = (light + (shadow - light) * t[..., None]) * 0.97
    blend(c, below(peaks, h), peak_col, 0.9)
    for i in range(3):
        line = smooth_line(ridge(rng, w, h * (0.6 + 0.1 * i), h * 0.05, 5, 0.5), 20)
        t = np.clip((yy - line[None, :]) / (h * 0.25), 0, 1)
        col = np.asarray(p["light"], np.float32) + (
            np.asarray(p["shadow"], np.float32) - np.asarray(p["light"], np.float32)
        ) * (t[..., None] * (0.4 + 0.2 * i))
        col = col * (0.97 + 0.05 * noise(rng, h, w, cells=60, octaves=2)[..., None])
        blend(c, below(line, h), col)
        if i == 1:
            trees = [(rng.uniform(0, w), rng.uniform(0.1, 0.17) * h) for _ in range(int(rng.integers(6, 12)))]

            def draw(d: ImageDraw.ImageDraw, line=line, trees=trees) -> None:
                for x, th in trees:
                    _pine(d, x, line[int(min(w - 1, x))] + h * 0.01, th, th * 0.45)

            m = shape_mask(h, w, draw, blur=0.6)
            blend(c, m, (28, 56, 44))
            # snow lies on the upper edge of each tier: tree pixels whose pixel a few rows up is sky
            k = max(2, h // 200)
            above = np.zeros_like(m)
            above[k:] = m[:-k]
            blend(c, np.clip(m - above, 0, 1), p["light"], 0.9)
    if p["snowing"]:
        _stars(rng, c, 0.0025, 1.0, tint=(255, 255, 255))
    return _finish(rng, c)


SCENES: dict[str, SceneFn] = {
    "sunset": sunset_sea,
    "night": night_sky,
    "mountains": mountains,
    "forest": forest,
    "beach": beach,
    "city": city_night,
    "snow": snowy,
}
