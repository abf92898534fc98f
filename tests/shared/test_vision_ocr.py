"""shared.vision.ocr: the real rapidocr engine reads words rendered on a photo-like background; reading order,
confidence filtering and box mapping; docint keeps its names (the engine core moved here from docint)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from shared.vision.ocr import (
    ImageText,
    OcrLine,
    RapidOcrEngine,
    get_rapid_ocr_engine,
    read_text,
    reading_order,
)


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return get_rapid_ocr_engine()


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A sky-to-ground gradient with blurred blobs and sensor noise: texture that OCR must not read as text."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    sky, ground = np.array([150, 190, 235]), np.array([120, 140, 90])
    arr = np.broadcast_to(sky * (1 - y) + ground * y, (height, width, 3)).copy()
    img = Image.fromarray(arr.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(20, 120))
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=tuple(int(v) for v in rng.integers(60, 230, 3)))
    img = img.filter(ImageFilter.GaussianBlur(8))
    noisy = np.asarray(img).astype(np.int16) + rng.normal(0, 6, (height, width, 3)).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def with_words(img: Image.Image, words: list[tuple[str, tuple[int, int]]]) -> Image.Image:
    img = img.copy()
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=48)
    for text, (x, y) in words:
        left, top, right, bottom = draw.textbbox((x, y), text, font=font)
        draw.rectangle((left - 12, top - 10, right + 12, bottom + 10), fill=(245, 240, 225))  # a sign
        draw.text((x, y), text, font=font, fill=(20, 20, 30))
    return img


def test_reads_large_words_on_a_photo_in_reading_order_with_boxes_in_input_pixels(engine):
    # 1600 px wide, read at max_side=1280: boxes must come back in the 1600-px frame
    img = with_words(photo_like(1600, 900), [("MARKET", (900, 560)), ("HARBOUR", (300, 200))])
    result = read_text(img, max_side=1280, min_confidence=0.6)
    assert isinstance(result, ImageText)
    assert "HARBOUR" in result.text and "MARKET" in result.text
    assert result.text.index("HARBOUR") < result.text.index("MARKET")  # top line first, whatever the draw order
    harbour = next(ln for ln in result.lines if "HARBOUR" in ln.text)
    x0, y0, x1, y1 = harbour.bbox
    assert 250 <= x0 <= 320 and 180 <= y0 <= 260 and 450 <= x1 <= 600 and y1 <= 280
    assert all(ln.confidence >= 0.6 for ln in result.lines)


def test_confidence_threshold_drops_lines(engine):
    img = with_words(photo_like(800, 400, seed=1), [("SUNSET", (250, 150))])
    assert "SUNSET" in read_text(img, max_side=1280, min_confidence=0.5).text
    nothing = read_text(img, max_side=1280, min_confidence=1.01)
    assert nothing.text == "" and nothing.lines == []


def test_reading_order_groups_rows_left_to_right():
    def line(text: str, x: float, y: float, h: float = 20) -> OcrLine:
        return OcrLine(text, [(x, y), (x + 50, y), (x + 50, y + h), (x, y + h)], 0.9)

    rows = reading_order([line("world", 100, 12), line("below", 0, 60), line("hello", 0, 10)])
    assert [[ln.text for ln in row] for row in rows] == [["hello", "world"], ["below"]]


def test_docint_keeps_its_names_and_shares_the_engine(engine):
    from projects.document_intelligence import ocr as docint_ocr
    from projects.document_intelligence.settings import DocIntSettings
    from shared.vision import ocr as shared_ocr

    for name in ("quiet_vendor_logs", "_WarningsOnly", "OcrUnavailableError", "OcrWord", "OcrLine", "OcrEngine"):
        assert getattr(docint_ocr, name) is getattr(shared_ocr, name)
    assert docint_ocr.RapidOcrEngine is RapidOcrEngine
    assert docint_ocr.get_ocr_engine(DocIntSettings(ocr_engine="rapidocr")) is engine  # one model load per process
