"""OCR engines behind one protocol, plus page orientation and skew handling.

The protocol, ``OcrLine``/``OcrWord`` and ``RapidOcrEngine`` live in ``shared.vision.ocr`` and are re-exported
here. ``RapidOcrEngine`` (default) runs PaddleOCR's PP-OCR models as ONNX, shipped in the ``rapidocr``
wheel, so it works offline. ``PaddleOcrEngine`` adapts ``paddleocr`` for users with network access
(it downloads its models on first use); if it cannot load, ``OcrUnavailableError`` names the setting
to switch back.

Orientation: rapidocr's per-line 0/180 classifier is switched off on purpose — it silently reads an
upside-down page line by line and returns the lines bottom-to-top with boxes in the wrong frame. Without
it, a turned page reads as low-confidence gibberish, which is the signal ``ocr_page`` uses to try
180/90/270 and keep the best. Skew: small angles are measured from the line boxes and removed by
rotating the *coordinates* (rapidocr already crops each line along its own angle, so a second OCR
pass on a straightened raster would cost a full pass and read the same text).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from projects.document_intelligence.settings import DocIntSettings, get_docint_settings
from shared.vision.ocr import (
    OcrEngine,
    OcrLine,
    OcrUnavailableError,
    OcrWord,
    Quad,
    RapidOcrEngine,
    _WarningsOnly,
    get_rapid_ocr_engine,
    quiet_vendor_logs,
)

# the engine core lives in shared/vision/ocr.py (multimodal search and moderation use it too); re-exported here
__all__ = [
    "OcrEngine",
    "OcrLine",
    "OcrPage",
    "OcrUnavailableError",
    "OcrWord",
    "PaddleOcrEngine",
    "Quad",
    "RapidOcrEngine",
    "_WarningsOnly",
    "estimate_skew",
    "get_ocr_engine",
    "mean_confidence",
    "ocr_page",
    "quiet_vendor_logs",
    "upright",
]


class PaddleOcrEngine:
    """``paddleocr`` adapter (3.x ``predict`` or 2.x ``ocr``). Needs network on first use to fetch models."""

    name = "paddleocr"

    def __init__(self, lang: str = "en") -> None:
        try:
            import paddleocr

            try:
                self._ocr = paddleocr.PaddleOCR(
                    lang=lang,
                    use_doc_orientation_classify=False,
                    use_doc_unwarping=False,
                    use_textline_orientation=False,
                )
            except TypeError:  # 2.x signature
                self._ocr = paddleocr.PaddleOCR(lang=lang, use_angle_cls=False, show_log=False)
        except Exception as exc:  # ImportError, or a model download failing offline
            raise OcrUnavailableError(
                f"paddleocr cannot be loaded ({type(exc).__name__}: {exc}). Install it with network access, "
                "or set DOCINT__OCR_ENGINE=rapidocr (the offline default)."
            ) from exc
        self._lock = threading.Lock()

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        with self._lock:
            if hasattr(self._ocr, "predict"):
                lines = []
                for res in self._ocr.predict(np.ascontiguousarray(image)):
                    data = res.json.get("res", res.json) if hasattr(res, "json") else res
                    for text, score, poly in zip(
                        data["rec_texts"], data["rec_scores"], data["rec_polys"], strict=False
                    ):
                        lines.append(OcrLine(str(text), [(float(x), float(y)) for x, y in poly], float(score)))
                return lines
            result = self._ocr.ocr(np.ascontiguousarray(image), cls=False) or [[]]
        return [
            OcrLine(str(text), [(float(x), float(y)) for x, y in box], float(score))
            for box, (text, score) in (result[0] or [])
        ]


_ENGINES: dict[str, OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_ocr_engine(settings: DocIntSettings | None = None) -> OcrEngine:
    """The process-wide engine chosen by ``DOCINT__OCR_ENGINE`` (loaded once; models are the slow part)."""
    name = (settings or get_docint_settings()).ocr_engine
    with _ENGINES_LOCK:
        if name not in _ENGINES:
            _ENGINES[name] = PaddleOcrEngine() if name == "paddleocr" else get_rapid_ocr_engine()
        return _ENGINES[name]


# -- page-level OCR: scale, orientation, skew -------------------------------------------------------------


@dataclass
class OcrPage:
    """OCR of one page image, boxes in pixels of the *upright, deskewed* image at the input's resolution."""

    width: int
    height: int
    rotation: int = 0
    skew: float = 0.0
    confidence: float = 0.0
    lines: list[OcrLine] = field(default_factory=list)


def mean_confidence(lines: list[OcrLine]) -> float:
    """Character-weighted mean line confidence (a one-glyph line should not outvote a paragraph)."""
    weights = [max(1, len(line.text.strip())) for line in lines]
    if not lines:
        return 0.0
    return sum(w * line.confidence for w, line in zip(weights, lines, strict=True)) / sum(weights)


def _rotate(arr: np.ndarray, degrees: int) -> np.ndarray:
    """Counter-clockwise rotation by a multiple of 90°."""
    return np.ascontiguousarray(np.rot90(arr, k=(degrees // 90) % 4))


def _mostly_vertical(lines: list[OcrLine]) -> bool:
    """Most multi-character lines taller than wide: the page lies on its side (try 90/270 first)."""
    shapes = [(b[2] - b[0], b[3] - b[1]) for b in (ln.bbox for ln in lines if len(ln.text.strip()) >= 3)]
    return bool(shapes) and sum(h > 1.5 * w for w, h in shapes) > len(shapes) / 2


def estimate_skew(lines: list[OcrLine]) -> float:
    """Median top-edge angle of long lines, in degrees; positive = tilted clockwise (image y points down)."""
    angles = []
    for line in lines:
        (x0, y0), (x1, y1), _, (x3, y3) = line.box
        width, height = math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)
        # short boxes carry a pixel of quantisation noise (≈0.6° over 100 px): long lines only
        if width >= 6 * height and len(line.text.strip()) >= 8:
            angles.append(math.degrees(math.atan2(y1 - y0, x1 - x0)))
    return float(np.median(angles)) if len(angles) >= 2 else 0.0


def _rotate_quad(quad: Quad, angle: float, cx: float, cy: float) -> Quad:
    """Rotate points by ``-angle`` degrees (image coordinates, y down) about (cx, cy): undoes a skew of ``angle``."""
    a = math.radians(-angle)
    cos, sin = math.cos(a), math.sin(a)
    return [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos) for x, y in quad]


def _transform(lines: list[OcrLine], fn) -> list[OcrLine]:
    out = []
    for line in lines:
        words = [OcrWord(w.text, fn(w.box), w.confidence) for w in line.words] if line.words else line.words
        out.append(OcrLine(line.text, fn(line.box), line.confidence, words))
    return out


def ocr_page(image: Image.Image | np.ndarray, engine: OcrEngine, settings: DocIntSettings | None = None) -> OcrPage:
    """OCR one page: downscale to ``ocr_max_side``, fix orientation and skew, map boxes to input pixels.

    The returned ``rotation`` is the counter-clockwise turn applied to read the page upright and
    ``width``/``height`` are the upright image's; boxes live in that frame (after undoing ``skew``).
    """
    settings = settings or get_docint_settings()
    arr = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    h, w = arr.shape[:2]
    scale = min(1.0, settings.ocr_max_side / max(h, w))
    small = arr
    if scale < 1.0:
        small = np.asarray(
            Image.fromarray(arr).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        )

    best_rot, best_lines = 0, engine.recognize(small)
    best_conf = mean_confidence(best_lines)
    if settings.detect_rotation and best_lines and best_conf < settings.rotation_min_confidence:
        order = (270, 90, 180) if _mostly_vertical(best_lines) else (180, 90, 270)
        for rot in order:
            lines = engine.recognize(_rotate(small, rot))
            conf = mean_confidence(lines)
            if conf > best_conf + 0.05 and len(lines) >= max(1, len(best_lines) // 3):
                best_rot, best_lines, best_conf = rot, lines, conf
            if best_conf >= settings.rotation_min_confidence:
                break

    up_h, up_w = (h, w) if best_rot in (0, 180) else (w, h)
    lines = best_lines
    if scale < 1.0:
        inv = 1.0 / scale
        lines = _transform(lines, lambda q: [(x * inv, y * inv) for x, y in q])
    skew = 0.0
    if settings.deskew:
        angle = estimate_skew(lines)
        if 0.5 <= abs(angle) <= 15.0:
            skew = angle
            lines = _transform(lines, lambda q: _rotate_quad(q, angle, up_w / 2, up_h / 2))
    return OcrPage(width=up_w, height=up_h, rotation=best_rot, skew=round(skew, 2), confidence=best_conf, lines=lines)


def upright(image: Image.Image, rotation: int = 0, skew: float = 0.0) -> Image.Image:
    """The page image in the frame ``ocr_page`` reported boxes in (for the reviewer to draw on)."""
    if rotation % 360:
        image = image.rotate(rotation % 360, expand=True)
    if skew:
        # PIL rotates counter-clockwise for positive angles; a clockwise skew of ``skew`` is undone by +skew
        image = image.rotate(skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor="white")
    return image
