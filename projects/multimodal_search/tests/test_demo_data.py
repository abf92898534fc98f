"""The generated demo library: deterministic, varied in format and shape, with EXIF, captions, real near-duplicates
and legible text — the properties the demo's search features rely on."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import ExifTags, Image

from projects.multimodal_search.demo_data import CAMERAS, CATALOG, SIDECAR, DemoImage, generate_demo_library, main, plan
from projects.multimodal_search.settings import MultimodalSettings

NEAR_DUPLICATE = MultimodalSettings().near_duplicate_distance  # the threshold the indexer uses (6)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> list[DemoImage]:
    return generate_demo_library(tmp_path_factory.mktemp("demo"), n=48, seed=7)


@pytest.fixture(scope="module")
def by_name(library: list[DemoImage]) -> dict[str, DemoImage]:
    return {d.path.name: d for d in library}


def _first_frame(path: Path) -> Image.Image:
    with Image.open(path) as img:
        img.seek(0)
        return img.convert("RGB")


def _degrees(dms: tuple, ref: str) -> float:
    value = float(dms[0]) + float(dms[1]) / 60 + float(dms[2]) / 3600
    return -value if ref in ("S", "W") else value


def test_same_seed_gives_identical_bytes(library: list[DemoImage], tmp_path: Path) -> None:
    # A second, smaller run shares the catalog's first entries: every shared file must be byte-identical,
    # including the EXIF-carrying JPEGs, the animated GIF, the TIFF, the WebP and a burst frame.
    again = generate_demo_library(tmp_path, n=12, seed=7)
    formats = set()
    for d in again:
        original = next(o for o in library if o.path.name == d.path.name)
        assert d.path.read_bytes() == original.path.read_bytes(), d.path.name
        formats.add(d.path.suffix)
    assert {".jpg", ".png", ".gif", ".tif", ".webp"} <= formats
    other_seed = generate_demo_library(tmp_path / "other", n=1, seed=8)[0]
    assert other_seed.path.read_bytes() != library[0].path.read_bytes()


def test_count_formats_orientations_and_sizes(library: list[DemoImage]) -> None:
    assert len(library) == 48
    assert len({d.path.name for d in library}) == 48
    formats: dict[str, int] = {}
    shapes = set()
    sizes = set()
    for d in library:
        with Image.open(d.path) as img:
            formats[img.format] = formats.get(img.format, 0) + 1
            w, h = img.size
            sizes.add((w, h))
            shapes.add("landscape" if w > h else "portrait" if h > w else "square")
            if img.format == "GIF":
                assert img.n_frames >= 2 and img.is_animated
    assert formats["JPEG"] > 24  # mostly JPEG
    assert {"PNG", "WEBP", "GIF", "TIFF"} <= set(formats)
    assert shapes == {"landscape", "portrait", "square"}
    assert (320, 240) in sizes and (1600, 1067) in sizes


def test_exif_dates_cameras_and_gps_parse_back(library: list[DemoImage], by_name: dict[str, DemoImage]) -> None:
    jpegs = [d for d in library if d.path.suffix == ".jpg"]
    dates = []
    for d in jpegs:
        with Image.open(d.path) as img:
            exif = img.getexif()
        taken = datetime.strptime(exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal], "%Y:%m:%d %H:%M:%S")
        assert 2023 <= taken.year <= 2025
        if d.source.startswith("travel-"):
            assert taken.year == int(d.source.split("-")[1]), d.path.name
        dates.append(taken)
        assert (exif[ExifTags.Base.Make], exif[ExifTags.Base.Model]) in CAMERAS.values()
    assert {t.year for t in dates} == {2023, 2024, 2025}
    assert len({(t.year, t.month) for t in dates}) > 12  # spread out, not one day

    with Image.open(by_name["sunset-lisbon.jpg"].path) as img:
        gps = img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps[ExifTags.GPS.GPSLatitudeRef])
    lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps[ExifTags.GPS.GPSLongitudeRef])
    assert lat == pytest.approx(38.72, abs=0.01) and lon == pytest.approx(-9.14, abs=0.01)  # Lisbon, west of Greenwich

    with_gps = 0
    for d in jpegs:
        with Image.open(d.path) as img:
            if img.getexif().get_ifd(ExifTags.IFD.GPSInfo):
                with_gps += 1
                assert d.source.startswith("travel-"), f"{d.path.name}: GPS only on travel photos"
    assert with_gps >= 10
    with Image.open(by_name["full-moon-hills.jpg"].path) as img:  # a home photo: camera, no location
        assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)


def test_sidecar_matches_the_files(library: list[DemoImage]) -> None:
    folder = library[0].path.parent
    entries = json.loads((folder / SIDECAR).read_text(encoding="utf-8"))
    assert [e["file"] for e in entries] == [d.path.name for d in library]
    assert {p.name for p in folder.iterdir()} == {e["file"] for e in entries} | {SIDECAR}
    for entry, d in zip(entries, library, strict=True):
        assert set(entry) == {"file", "caption", "tags", "source"}
        assert entry["caption"] == d.caption and len(d.caption.split()) >= 4
        assert entry["tags"] == d.tags and 2 <= len(d.tags) <= 8
        assert entry["source"] == d.source
    sources = {d.source for d in library}
    assert {"home", "screenshots", "design"} <= sources and any(s.startswith("travel-") for s in sources)


def test_near_duplicates_are_within_phash_distance_and_nothing_else_is(library: list[DemoImage]) -> None:
    hashes = {d.path.name: imagehash.phash(_first_frame(d.path)) for d in library}
    group = {d.path.name: d.duplicate_of or d.path.name for d in library}
    duplicates = [d for d in library if d.duplicate_of]
    assert len({d.duplicate_of for d in duplicates}) >= 3  # several bursts/copies, not one
    for a, b in itertools.combinations(hashes, 2):
        distance = hashes[a] - hashes[b]
        if group[a] == group[b]:
            assert distance <= NEAR_DUPLICATE, (a, b, distance)
        else:
            assert distance > NEAR_DUPLICATE, (a, b, distance)
    # the copies differ in bytes (a burst frame is not the same file)
    for d in duplicates:
        assert d.path.read_bytes() != (d.path.parent / d.duplicate_of).read_bytes()


@pytest.fixture(scope="module")
def ocr():
    """The process-wide engine the indexer uses (loaded once per process, not once per test module)."""
    from shared.vision.ocr import get_rapid_ocr_engine

    return get_rapid_ocr_engine()


@pytest.mark.parametrize(
    ("name", "words"),
    [("cafe-aurora-sign.jpg", ["aurora", "open", "9-17"]), ("platform-4-sign.jpg", ["platform 4", "porto"])],
)
def test_sign_text_is_readable_by_ocr(ocr, by_name: dict[str, DemoImage], name: str, words: list[str]) -> None:
    img = _first_frame(by_name[name].path)
    text = " ".join(line.text for line in ocr.recognize(np.asarray(img))).lower()
    for word in words:
        assert word in text, (word, text)


def test_library_is_small(library: list[DemoImage]) -> None:
    total = sum(d.path.stat().st_size for d in library)
    assert total < 8_000_000, total


def test_plan_handles_small_and_large_libraries() -> None:
    small = plan(7)
    assert len(small) == 7
    slugs = [e.slug for e in small]
    for e in small:  # no orphan near-duplicate without its original
        if e.render[0] == "dup":
            assert e.render[1] in slugs
    large = plan(len(CATALOG) + 20)
    assert len(large) == len(CATALOG) + 20 and len({e.slug for e in large}) == len(large)
    with pytest.raises(ValueError):
        plan(0)


def test_cli_writes_images_and_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--n", "4"]) == 0
    entries = json.loads((tmp_path / SIDECAR).read_text(encoding="utf-8"))
    assert len(entries) == 4 and all((tmp_path / e["file"]).is_file() for e in entries)
    assert "wrote 4 images" in capsys.readouterr().out
