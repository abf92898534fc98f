"""The demo photo library: a deterministic, generated set of images with captions, tags, albums and EXIF.

Why generated: the demo must work offline and ship no third-party pictures, yet searching it should feel like a
real library. So the library mixes
- procedural landscapes (sunsets, night skies, mountains, forests, beaches, skylines, snow), several palettes each,
  so image→image search ("more like this") has siblings to find;
- text images (café and station signs, posters, a menu, a receipt, chat and slide screenshots) whose words OCR reads,
  so text search works even where the image model only sees abstract shapes;
- the two real photos scikit-learn ships (``china.jpg``, ``flower.jpg``, BSD-3) and crops of them;
- near-duplicates on purpose (burst frames, a re-encoded smaller copy) for perceptual-hash duplicate detection;
- mixed formats (JPEG, PNG, WebP, animated GIF, TIFF), orientations and sizes;
- EXIF in every JPEG: DateTimeOriginal (2023–2025), camera Make/Model, and GPS for travel photos in real cities.

Everything depends only on ``seed``: two runs write byte-identical files.

Sidecar format (``captions.json`` beside the images; a folder import reads it to attach captions)::

    [{"file": "sunset-lisbon.jpg", "caption": "Sunset over the sea at Lisbon, orange sky",
      "tags": ["sunset", "sea", "orange"], "source": "travel-2024"}, ...]

``file`` is the name relative to the folder; ``source`` is the album the image belongs to.

CLI: ``python -m projects.multimodal_search.demo_data --out DIR [--n N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageEnhance

from projects.multimodal_search.demo_art.scenes import SCENES, night_sky
from projects.multimodal_search.demo_art.signs import SIGNS

SIDECAR = "captions.json"

CAMERAS: dict[str, tuple[str, str]] = {
    "iphone": ("Apple", "iPhone 14 Pro"),
    "pixel": ("Google", "Pixel 8"),
    "galaxy": ("samsung", "Galaxy S23"),
    "canon": ("Canon", "Canon EOS R6"),
    "fuji": ("FUJIFILM", "X-T4"),
    "sony": ("SONY", "ILCE-7M3"),
}

# latitude, longitude, altitude (m)
CITIES: dict[str, tuple[float, float, float]] = {
    "Lisbon": (38.7223, -9.1393, 20.0),
    "Nice": (43.6950, 7.2650, 5.0),
    "Cape Town": (-33.9249, 18.4241, 10.0),
    "Tromsø": (69.6492, 18.9553, 15.0),
    "Zermatt": (46.0207, 7.7491, 1608.0),
    "Vancouver": (49.2827, -123.1207, 30.0),
    "Kyoto": (35.0116, 135.7681, 50.0),
    "Sydney": (-33.8915, 151.2767, 8.0),
    "Barcelona": (41.3784, 2.1925, 4.0),
    "Reykjavik": (64.1466, -21.9426, 12.0),
    "New York": (40.7128, -74.0060, 10.0),
    "Tokyo": (35.6762, 139.6503, 40.0),
    "Beijing": (39.9999, 116.2755, 60.0),
}


@dataclass(frozen=True)
class DemoImage:
    """One generated file and the text a user would have attached to it."""

    path: Path
    caption: str
    tags: list[str]
    source: str
    duplicate_of: str | None = None  # file name of the image this one near-duplicates (bursts, re-encodes)


@dataclass(frozen=True)
class _Entry:
    slug: str
    fmt: str  # jpeg | png | webp | gif | tiff
    size: tuple[int, int]
    caption: str
    tags: tuple[str, ...]
    source: str
    render: tuple  # ("scene", kind, palette, kwargs) | ("sign", name) | ("photo", name, crop) | ("dup", slug, op, arg)
    camera: str | None = None
    city: str | None = None
    hour: tuple[int, int] = (9, 17)


def _e(slug, fmt, size, caption, tags, source, render, camera=None, city=None, hour=(9, 17)) -> _Entry:
    return _Entry(slug, fmt, size, caption, tuple(tags.split()), source, render, camera, city, hour)


# Priority order: the first dozen already cover every kind and format, so a small ``n`` is still a varied library.
# A near-duplicate always comes after the image it copies.
# fmt: off
CATALOG: list[_Entry] = [
    _e("sunset-lisbon", "jpeg", (1600, 1067), "Sunset over the sea at Lisbon, orange sky",
       "sunset sea sun orange sky reflection ocean", "travel-2024", ("scene", "sunset", "orange", {}),
       "iphone", "Lisbon", (19, 20)),
    _e("cafe-aurora-sign", "jpeg", (1024, 768), "Sign of Café Aurora with opening hours 9-17",
       "sign cafe coffee shop text storefront", "travel-2024", ("sign", "cafe"), "iphone", "Lisbon", (10, 16)),
    _e("summer-palace-beijing", "jpeg", (640, 427),
       "Tower of Buddhist Incense at the Summer Palace in Beijing above Kunming Lake",
       "temple pagoda china architecture lake trees landmark", "travel-2023", ("photo", "china.jpg", None),
       "canon", "Beijing", (11, 15)),
    _e("night-sky-shooting-star", "gif", (480, 320), "Animated night sky with a shooting star over the hills",
       "night stars moon sky animation shooting-star", "home", ("animated",)),
    _e("chat-dinner-plans", "png", (720, 1280), "Chat screenshot with Anna about dinner at Café Aurora at 7pm",
       "screenshot chat message phone dinner", "screenshots", ("sign", "chat")),
    _e("mountains-zermatt-dawn", "jpeg", (1200, 800), "Layered blue mountain ridges at dawn near Zermatt",
       "mountains ridges dawn blue haze landscape alps", "travel-2024", ("scene", "mountains", "blue", {}),
       "canon", "Zermatt", (6, 8)),
    _e("sunset-lisbon-burst-2", "jpeg", (1600, 1067), "Sunset over the sea at Lisbon, second frame of the burst",
       "sunset sea sun orange sky reflection burst", "travel-2024", ("dup", "sunset-lisbon", "shift", 8),
       "iphone", "Lisbon", (19, 20)),
    _e("grocery-receipt-scan", "tiff", (480, 960), "Scanned grocery receipt from Green Market, total 14.44",
       "receipt scan shopping groceries text document", "home", ("sign", "receipt")),
    _e("dahlia-closeup", "webp", (400, 400), "Close-up of the centre of an orange dahlia",
       "flower dahlia orange petals garden macro", "home", ("photo", "flower.jpg", (170, 80, 450, 360))),
    _e("city-skyline-new-york", "jpeg", (1200, 800), "City skyline at night with lit windows, New York",
       "city skyline night buildings windows lights urban", "travel-2023", ("scene", "city", "blue-hour", {}),
       "sony", "New York", (20, 22)),
    _e("restaurant-menu", "jpeg", (768, 1152), "Menu of Trattoria Sole: soup, risotto, grilled salmon, apple pie",
       "menu restaurant food dishes prices text", "travel-2024", ("sign", "menu"), "iphone", "Lisbon", (12, 14)),
    _e("palette-seaside", "png", (1200, 600), "Colour palette Seaside with coral, sand, saffron, teal and ink swatches",
       "palette colours swatches design hex", "design", ("sign", "palette")),
    _e("forest-summer-pines", "jpeg", (1200, 800), "Rows of green pine trees on a summer day near Vancouver",
       "forest trees pines green summer nature", "travel-2023", ("scene", "forest", "summer", {}),
       "fuji", "Vancouver", (10, 16)),
    _e("beach-sydney-palm", "jpeg", (1200, 800), "Turquoise sea and white sand beach with a palm tree in Sydney",
       "beach sea sand palm tropical turquoise summer", "travel-2025", ("scene", "beach", "tropical", {}),
       "pixel", "Sydney", (11, 15)),
    _e("snow-zermatt-clear", "jpeg", (1200, 800), "Snowy landscape with pine trees under a clear blue sky",
       "snow winter landscape pines mountains cold", "travel-2024", ("scene", "snow", "clear", {}),
       "canon", "Zermatt", (10, 14)),
    _e("platform-4-sign", "jpeg", (1200, 800), "Station sign for Platform 4, trains to Porto",
       "sign station train platform travel text", "travel-2024", ("sign", "station"), "iphone", "Lisbon", (8, 18)),
    _e("full-moon-hills", "jpeg", (1200, 800), "Full moon and stars over dark hills",
       "night moon stars sky hills astronomy", "home", ("scene", "night", "navy", {}), "sony", None, (22, 23)),
    _e("summer-palace-tower", "jpeg", (427, 640), "The pagoda tower of the Summer Palace in Beijing, portrait crop",
       "temple pagoda china architecture tower", "travel-2023", ("photo", "china.jpg", (40, 0, 360, 427)),
       "canon", "Beijing", (11, 15)),
    _e("sunset-nice-pink", "jpeg", (1200, 800), "Pink and violet dusk over the Mediterranean at Nice",
       "sunset sea dusk pink purple sky reflection", "travel-2023", ("scene", "sunset", "pink", {}),
       "fuji", "Nice", (19, 21)),
    _e("sale-poster", "jpeg", (800, 1000), "Red shop window poster: SALE 50% on the summer collection",
       "poster sale discount shop red text", "home", ("sign", "sale"), "galaxy", None, (12, 18)),
    _e("mountains-alpine-snowcaps", "jpeg", (1600, 1067), "Snow-capped alpine peaks in morning light",
       "mountains snow peaks alps morning landscape", "travel-2024", ("scene", "mountains", "alpine", {}),
       "canon", "Zermatt", (8, 10)),
    _e("dahlia-garden", "jpeg", (640, 427), "Orange dahlia flower in the garden",
       "flower dahlia orange petals garden", "home", ("photo", "flower.jpg", None), "pixel", None, (10, 17)),
    _e("slide-quarterly-review", "png", (1280, 720), "Slide from the quarterly review: revenue up 12%, new stores",
       "screenshot slide presentation chart business", "screenshots", ("sign", "slide")),
    _e("city-skyline-new-york-burst-2", "jpeg", (1200, 800), "City skyline at night in New York, burst frame",
       "city skyline night buildings windows burst", "travel-2023", ("dup", "city-skyline-new-york", "shift", 6),
       "sony", "New York", (20, 22)),
    _e("autumn-forest", "jpeg", (1200, 800), "Autumn forest with orange and red trees",
       "forest trees autumn fall orange red leaves", "home", ("scene", "forest", "autumn", {}),
       "pixel", None, (10, 16)),
    _e("beach-barcelona-golden", "jpeg", (1200, 800), "Golden hour on the beach at Barcelona",
       "beach sea sand golden-hour evening waves", "travel-2024", ("scene", "beach", "golden", {}),
       "iphone", "Barcelona", (18, 20)),
    _e("jazz-night-poster", "jpeg", (768, 1024), "Jazz Night poster on a brick wall: Friday 21:00 at Blue Note Club",
       "poster concert music jazz event text", "home", ("sign", "jazz"), "galaxy", None, (17, 21)),
    _e("milky-way-tromso", "jpeg", (1200, 800), "Crescent moon and the Milky Way above a dark forest in Tromsø",
       "night stars milky-way moon crescent forest sky", "travel-2025", ("scene", "night", "violet",
       {"phase": "crescent"}), "sony", "Tromsø", (22, 23)),
    _e("summer-palace-beijing-small", "jpeg", (480, 320), "Tower of Buddhist Incense in Beijing, resized copy",
       "temple pagoda china architecture copy", "travel-2023", ("dup", "summer-palace-beijing", "reencode", 480),
       "canon", "Beijing", (11, 15)),
    _e("main-street-sign", "jpeg", (800, 800), "Green street sign Main Street above a No Parking sign",
       "sign street road parking text", "travel-2023", ("sign", "street"), "iphone", "New York", (9, 18)),
    _e("mountains-purple-dusk", "jpeg", (1200, 800), "Purple dusk over mountain silhouettes near Vancouver",
       "mountains dusk purple silhouettes evening landscape", "travel-2023",
       ("scene", "mountains", "purple", {}), "fuji", "Vancouver", (19, 21)),
    _e("snowfall-field", "jpeg", (1024, 768), "Snow falling on a quiet winter field with a few pines",
       "snow winter snowfall field pines overcast", "home", ("scene", "snow", "snowfall", {}), "pixel", None, (9, 15)),
    _e("bakery-chalkboard", "jpeg", (800, 1067), "Bakery chalkboard: fresh bread daily, croissant 1.80",
       "bakery chalkboard sign bread food text", "home", ("sign", "bakery"), "pixel", None, (7, 11)),
    _e("misty-forest-kyoto", "jpeg", (1200, 800), "Misty pine forest in the morning fog near Kyoto",
       "forest fog mist pines morning trees", "travel-2025", ("scene", "forest", "misty", {}),
       "fuji", "Kyoto", (6, 8)),
    _e("bauhaus-pattern", "png", (800, 800), "Geometric Bauhaus pattern of circles and triangles in red, blue, yellow",
       "pattern geometric bauhaus shapes design poster", "design", ("sign", "bauhaus")),
    _e("sunset-lisbon-burst-3", "jpeg", (1600, 1067), "Sunset over the sea at Lisbon, brighter burst frame",
       "sunset sea sun orange sky burst", "travel-2024", ("dup", "sunset-lisbon", "brightness", 1.08),
       "iphone", "Lisbon", (19, 20)),
    _e("city-river-tokyo", "jpeg", (1200, 800), "Night skyline of Tokyo reflected in the river",
       "city skyline night river reflection lights", "travel-2025", ("scene", "city", "river", {}),
       "sony", "Tokyo", (20, 23)),
    _e("beach-reykjavik-overcast", "jpeg", (1200, 800), "Grey overcast beach with dark sand near Reykjavik",
       "beach sea sand overcast grey black-sand iceland", "travel-2023", ("scene", "beach", "overcast", {}),
       "fuji", "Reykjavik", (11, 16)),
    _e("logo-aurora-draft", "png", (1200, 500), "Logo draft for Café Aurora in three colourways",
       "logo design branding aurora draft", "design", ("sign", "logo")),
    _e("sunset-cape-town", "jpeg", (1200, 800), "Red sunset behind the headland at Cape Town",
       "sunset sea red headland sky ocean", "travel-2025", ("scene", "sunset", "red", {}),
       "pixel", "Cape Town", (18, 20)),
    _e("dahlia-thumbnail", "jpeg", (320, 240), "Small picture of an orange dahlia",
       "flower dahlia orange thumbnail", "home", ("photo", "flower.jpg", (90, 40, 550, 385)), "pixel", None, (10, 17)),
    _e("snow-tromso-dawn", "jpeg", (1200, 800), "Pink dawn over snowy hills in Tromsø",
       "snow winter dawn pink hills pines", "travel-2025", ("scene", "snow", "dawn", {}),
       "sony", "Tromsø", (8, 10)),
    _e("teal-night-sky", "jpeg", (1024, 768), "Starry teal night sky with a bright moon",
       "night stars moon sky teal", "home", ("scene", "night", "teal", {}), "sony", None, (22, 23)),
    _e("mesh-gradient-wallpaper", "jpeg", (1000, 1000), "Abstract wallpaper of soft blurred colour blobs",
       "abstract gradient wallpaper colours design blur", "design", ("sign", "blobs")),
    _e("kunming-lake-view", "jpeg", (800, 600), "View over Kunming Lake from the Summer Palace in Beijing",
       "lake view china trees water landscape", "travel-2023", ("photo", "china.jpg", (300, 120, 640, 375)),
       "canon", "Beijing", (11, 15)),
    _e("city-moonlit-barcelona", "jpeg", (1200, 800), "Moonlit city skyline in Barcelona with lit windows",
       "city skyline night moon buildings lights", "travel-2024", ("scene", "city", "moonlit", {}),
       "iphone", "Barcelona", (21, 23)),
    _e("sunset-golden-sea", "jpeg", (1200, 800), "Calm golden sunset over the sea",
       "sunset sea golden calm sky sun", "home", ("scene", "sunset", "gold", {}), "galaxy", None, (19, 20)),
    _e("green-hills", "jpeg", (1200, 800), "Green mountains and hills under a blue summer sky",
       "mountains hills green summer sky landscape", "home", ("scene", "mountains", "green", {}),
       "galaxy", None, (10, 16)),
]
# fmt: on

_EXTRA_CAPTIONS = {
    "sunset": "Sunset over the sea, {p} sky",
    "night": "Night sky with stars and the moon, {p} tones",
    "mountains": "Mountain ridges in {p} light",
    "forest": "Rows of trees in a {p} forest",
    "beach": "A {p} beach with waves",
    "city": "City skyline at night ({p})",
    "snow": "Snowy landscape, {p}",
}


def _extra_entries(count: int) -> list[_Entry]:
    """Beyond the catalog: more scene variants (new compositions of the same palettes) for bigger libraries."""
    from projects.multimodal_search.demo_art import scenes as s

    palettes = {
        "sunset": s._SUNSET, "night": s._NIGHT, "mountains": s._MOUNTAIN, "forest": s._FOREST,
        "beach": s._BEACH, "city": s._CITY, "snow": s._SNOW,
    }  # fmt: skip
    combos = [(k, p) for k, pals in palettes.items() for p in pals]
    out = []
    for i in range(count):
        kind, pal = combos[i % len(combos)]
        out.append(
            _e(f"{kind}-{pal}-{i + 1:03d}", "jpeg", (1024, 683), _EXTRA_CAPTIONS[kind].format(p=pal),
               f"{kind} {pal} landscape", "home", ("scene", kind, pal, {}), "galaxy", None, (9, 18))
        )  # fmt: skip
    return out


# -- rendering -----------------------------------------------------------------------------------------------


def _rng(seed: int, slug: str) -> np.random.Generator:
    """Per-image generator keyed by name: a burst frame re-renders its original with the original's stream."""
    return np.random.default_rng([seed, zlib.crc32(slug.encode())])


def _sklearn_photo(name: str) -> Image.Image:
    """A photo scikit-learn ships (BSD-3), found without importing sklearn (its import pulls in scipy: seconds)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-learn is not installed; it ships the two real photos of the demo library")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "images" / name
    with Image.open(path) as img:
        return img.convert("RGB")


def _shooting_star_frames(rng: np.random.Generator, w: int, h: int) -> list[Image.Image]:
    """Three frames of the same night sky with a shooting star moving across it."""
    from PIL import ImageDraw

    base = night_sky(rng, w, h, "navy")
    frames = []
    for k in range(3):
        f = base.copy()
        x0, y0 = w * (0.15 + 0.18 * k), h * (0.12 + 0.08 * k)
        ImageDraw.Draw(f).line([(x0, y0), (x0 + w * 0.12, y0 + h * 0.06)], fill=(255, 255, 240), width=2)
        frames.append(f)
    return frames


def _burst_frame(img: Image.Image, shift: int) -> Image.Image:
    w, h = img.size
    box = (shift, shift // 2, w - shift // 4, h - shift // 3)
    return img.crop(box).resize((w, h), Image.Resampling.BICUBIC)


def _render(entry: _Entry, seed: int, done: dict[str, Image.Image]) -> Image.Image | list[Image.Image]:
    w, h = entry.size
    kind = entry.render[0]
    if kind == "scene":
        _, scene, palette, kwargs = entry.render
        return SCENES[scene](_rng(seed, entry.slug), w, h, palette, **kwargs)
    if kind == "sign":
        return SIGNS[entry.render[1]](_rng(seed, entry.slug), w, h)
    if kind == "animated":
        return _shooting_star_frames(_rng(seed, entry.slug), w, h)
    if kind == "photo":
        _, name, crop = entry.render
        img = _sklearn_photo(name)
        if crop:
            img = img.crop(crop)
        return img if img.size == (w, h) else img.resize((w, h), Image.Resampling.LANCZOS)
    if kind == "dup":
        _, origin, op, arg = entry.render
        if op == "shift":  # the next frame of a burst: the camera moved a few pixels and zoomed a hair
            return _burst_frame(done[origin], int(arg))
        if op == "brightness":  # the same frame, exposure nudged
            return ImageEnhance.Brightness(done[origin]).enhance(float(arg))
        if op == "reencode":  # a smaller, recompressed copy
            return done[origin].resize((w, h), Image.Resampling.LANCZOS)
    raise ValueError(f"unknown render spec {entry.render!r}")


# -- metadata ------------------------------------------------------------------------------------------------


def _timestamp(entry: _Entry, seed: int) -> datetime:
    """A capture time: inside the album's year for travel albums, 2023–2025 otherwise; hour fits the scene."""
    origin = entry.render[1] if entry.render[0] == "dup" else entry.slug
    rng = _rng(seed + 1, origin)
    year = int(entry.source.split("-")[1]) if entry.source.startswith("travel-") else int(rng.integers(2023, 2026))
    day = int(rng.integers(0, 365))
    hour = int(rng.integers(entry.hour[0], entry.hour[1] + 1))
    ts = datetime(year, 1, 1, hour, int(rng.integers(0, 60)), int(rng.integers(0, 60))) + timedelta(days=day)
    if entry.render[0] == "dup":  # a burst frame is taken a second or two later
        ts += timedelta(seconds=1 + CATALOG.index(entry) % 3)
    return ts


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    return (float(deg), float(minutes), round((value - deg - minutes / 60) * 3600, 2))


def _exif(entry: _Entry, seed: int, size: tuple[int, int]) -> Image.Exif:
    """EXIF as a phone or camera writes it: IFD0 make/model, Exif sub-IFD dates, GPS sub-IFD for travel photos."""
    exif = Image.Exif()
    ts = _timestamp(entry, seed).strftime("%Y:%m:%d %H:%M:%S")
    make, model = CAMERAS[entry.camera or "galaxy"]
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.Model] = model
    exif[ExifTags.Base.DateTime] = ts
    exif[ExifTags.Base.Orientation] = 1
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = ts
    sub[ExifTags.Base.DateTimeDigitized] = ts
    sub[ExifTags.Base.ExifImageWidth] = size[0]
    sub[ExifTags.Base.ExifImageHeight] = size[1]
    if entry.city:
        lat, lon, alt = CITIES[entry.city]
        rng = _rng(seed + 2, entry.slug)  # a few hundred metres apart, like photos taken around town
        lat, lon = lat + float(rng.uniform(-0.004, 0.004)), lon + float(rng.uniform(-0.004, 0.004))
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = _dms(lat)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = _dms(lon)
        gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
        gps[ExifTags.GPS.GPSAltitude] = alt
    return exif


# -- writing -------------------------------------------------------------------------------------------------

_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "tiff": "tif"}


def _save(img: Image.Image | list[Image.Image], path: Path, entry: _Entry, seed: int) -> None:
    if entry.fmt == "gif":
        frames = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=128) for f in img]  # type: ignore[union-attr]
        frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=400, loop=0)
        return
    assert isinstance(img, Image.Image)
    if entry.fmt == "jpeg":
        quality = 70 if entry.render[0] == "dup" and entry.render[2] == "reencode" else 85
        img.save(path, "JPEG", quality=quality, optimize=True, exif=_exif(entry, seed, img.size))
    elif entry.fmt == "png":
        img.save(path, "PNG", optimize=True)
    elif entry.fmt == "webp":
        img.save(path, "WEBP", quality=82, method=4)
    elif entry.fmt == "tiff":
        img.save(path, "TIFF", compression="tiff_deflate")
    else:
        raise ValueError(entry.fmt)


def plan(n: int) -> list[_Entry]:
    """The entries a library of ``n`` images holds: the catalog in priority order, then extra scene variants.

    A near-duplicate is only taken when its original is already in, so a small library has no orphan copies."""
    if n < 1:
        raise ValueError("n must be at least 1")
    entries: list[_Entry] = []
    for entry in CATALOG:
        if len(entries) == n:
            return entries
        if entry.render[0] != "dup" or any(e.slug == entry.render[1] for e in entries):
            entries.append(entry)
    return entries + _extra_entries(n - len(entries))


def generate_demo_library(out_dir: Path, n: int = 48, seed: int = 7) -> list[DemoImage]:
    """Write ``n`` demo images and ``captions.json`` into ``out_dir``; return what was written, in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, Image.Image] = {}
    result: list[DemoImage] = []
    for entry in plan(n):
        img = _render(entry, seed, done)
        if isinstance(img, Image.Image):
            done[entry.slug] = img
        path = out_dir / f"{entry.slug}.{_EXT[entry.fmt]}"
        _save(img, path, entry, seed)
        dup = None
        if entry.render[0] == "dup":
            origin = next(e for e in CATALOG if e.slug == entry.render[1])
            dup = f"{origin.slug}.{_EXT[origin.fmt]}"
        result.append(DemoImage(path, entry.caption, list(entry.tags), entry.source, dup))
    sidecar = [{"file": d.path.name, "caption": d.caption, "tags": d.tags, "source": d.source} for d in result]
    (out_dir / SIDECAR).write_text(json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the multimodal search demo photo library.")
    parser.add_argument("--out", type=Path, required=True, help="folder to write images and captions.json into")
    parser.add_argument("--n", type=int, default=48, help="number of images (default 48)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    images = generate_demo_library(args.out, n=args.n, seed=args.seed)
    total = sum(d.path.stat().st_size for d in images)
    print(f"wrote {len(images)} images ({total / 1e6:.1f} MB) and {SIDECAR} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
