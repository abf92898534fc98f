"""OCR engine core shared by projects: the ``OcrEngine`` protocol, the offline ``RapidOcrEngine`` and
:func:`read_text` for "what text is in this photo" (indexed for full-text image search).

``RapidOcrEngine`` runs PaddleOCR's PP-OCR models as ONNX, shipped inside the ``rapidocr`` wheel, so it works
offline. Its per-line 0/180 classifier is off on purpose (document intelligence relies on upside-down pages
reading as low-confidence gibberish to detect page rotation; see ``projects/document_intelligence/ocr.py``).
Models take seconds to load, so one engine per process (:func:`get_rapid_ocr_engine`) serves every caller.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from shared.observability.tracing import span

Quad = list[tuple[float, float]]

_QUIET_PACKAGES = ("rapidocr", "rapid_layout")
_QUIET_NAMES = ("RapidOCR", "RapidLayout")


def quiet_vendor_logs() -> None:
    """Drop INFO chatter from rapidocr/rapid-layout.

    Their ``Logger`` helper calls ``setLevel(INFO)`` whenever a module builds its logger (named after the
    module, often only when a model loads), so levels do not stick: a filter on every module's logger,
    created in advance from the packages' file names, does.
    """
    names = set(_QUIET_NAMES)
    for package in _QUIET_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            for path in Path(root).rglob("*.py"):
                parts = path.relative_to(root).with_suffix("").parts
                names.add(".".join((package, *[p for p in parts if p != "__init__"])))
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _WarningsOnly) for f in logger.filters):
            logger.addFilter(_WarningsOnly())


class _WarningsOnly(logging.Filter):
    # "no text found" is the normal answer for most photos, not a warning worth a log line per image
    _EXPECTED = ("text detection result is empty",)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        return not any(s in record.getMessage() for s in self._EXPECTED)


class OcrUnavailableError(RuntimeError):
    """The selected OCR engine cannot be loaded."""


@dataclass
class OcrWord:
    text: str
    box: Quad
    confidence: float


@dataclass
class OcrLine:
    """One detected text line: ``box`` is a 4-point quad (clockwise from top-left) in image pixels."""

    text: str
    box: Quad
    confidence: float
    words: list[OcrWord] | None = None

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.box]
        ys = [p[1] for p in self.box]
        return (min(xs), min(ys), max(xs), max(ys))


class OcrEngine(Protocol):
    name: str

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        """Lines of an RGB ``uint8`` image (H×W×3), boxes in that image's pixels."""
        ...


class RapidOcrEngine:
    """rapidocr (PP-OCR ONNX). One instance per process; calls are serialised (the engine keeps call state)."""

    name = "rapidocr"

    def __init__(self) -> None:
        quiet_vendor_logs()
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise OcrUnavailableError(f"rapidocr is not installed ({exc}); install the project's extra") from exc

        self._engine = RapidOCR(params={"Global.log_level": "warning", "Global.use_cls": False})
        quiet_vendor_logs()
        self._lock = threading.Lock()

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        with self._lock:
            out = self._engine(np.ascontiguousarray(image), return_word_box=True)
        if out.txts is None or out.boxes is None:
            return []
        word_results = out.word_results if len(out.word_results) == len(out.txts) else [None] * len(out.txts)
        lines = []
        for text, box, score, words in zip(out.txts, out.boxes, out.scores, word_results, strict=True):
            quad = [(float(x), float(y)) for x, y in box]
            ocr_words = None
            if words and all(w and w[2] is not None for w in words):
                ocr_words = [OcrWord(str(w[0]), [(float(x), float(y)) for x, y in w[2]], float(w[1])) for w in words]
            lines.append(OcrLine(str(text), quad, float(score), ocr_words))
        return lines


_RAPID: RapidOcrEngine | None = None
_RAPID_LOCK = threading.Lock()


def get_rapid_ocr_engine() -> RapidOcrEngine:
    """The process-wide ``RapidOcrEngine``, built on first use (loading the models is the slow part)."""
    global _RAPID
    with _RAPID_LOCK:
        if _RAPID is None:
            _RAPID = RapidOcrEngine()
        return _RAPID


@dataclass
class ImageText:
    """Text read from an image: ``text`` is the kept lines in reading order (a row's lines joined by a space,
    rows by a newline); ``lines`` carry boxes in the *input* image's pixels."""

    text: str
    lines: list[OcrLine] = field(default_factory=list)


def reading_order(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Group lines into rows (vertical centres within half a line height of the row's first line), top to
    bottom, each row left to right: signs and captions often split one visual line into several detections."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox[1] + ln.bbox[3]) / 2):
        _, y0, _, y1 = line.bbox
        centre, height = (y0 + y1) / 2, max(1.0, y1 - y0)
        if rows:
            first = rows[-1][0].bbox
            if abs(centre - (first[1] + first[3]) / 2) <= max(height, first[3] - first[1]) / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda ln: ln.bbox[0]) for row in rows]


def read_text(image: Image.Image, max_side: int, min_confidence: float, engine: OcrEngine | None = None) -> ImageText:
    """OCR an image for indexing: downscale to ``max_side`` (OCR time grows with pixels; text small enough to
    vanish at that size rarely helps search), drop lines under ``min_confidence`` (photo textures mostly read as
    low-confidence junk; an occasional confident stray glyph such as "8" can remain), and join lines in
    reading order.

    ``engine`` defaults to the process-wide :func:`get_rapid_ocr_engine`.
    """
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    scale = min(1.0, max_side / max(rgb.size))
    small = rgb
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        small = rgb.resize(size, Image.Resampling.LANCZOS)
    engine = engine or get_rapid_ocr_engine()
    with span("vision.ocr", engine=engine.name, width=small.width, height=small.height) as s:
        found = engine.recognize(np.asarray(small))
        kept = [ln for ln in found if ln.text.strip() and ln.confidence >= min_confidence]
        s.set_attribute("lines", len(kept))
    if scale < 1.0:
        inv = 1.0 / scale
        kept = [
            OcrLine(
                ln.text,
                [(x * inv, y * inv) for x, y in ln.box],
                ln.confidence,
                [OcrWord(w.text, [(x * inv, y * inv) for x, y in w.box], w.confidence) for w in ln.words]
                if ln.words
                else ln.words,
            )
            for ln in kept
        ]
    rows = reading_order(kept)
    text = "\n".join(" ".join(ln.text.strip() for ln in row) for row in rows)
    return ImageText(text=text, lines=[ln for row in rows for ln in row])
