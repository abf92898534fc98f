"""Image moderation: safe loading, NSFW detection, and OCR'd text through the text cascade, merged into one Verdict.

Images carry two kinds of harm: what they show (nudity: the :class:`~shared.moderation.nsfw.ImageSafetyDetector`)
and what they say (a threat or a slur rendered as a meme caption, which no pixel classifier reads). OCR turns the
second into text, and the *same* text cascade and policy judge it, so an image and a comment saying the same
thing get the same decision. Per category the stronger of the two sources wins and keeps its evidence, marked
``image_region`` (a detector box) or ``ocr_text`` (a span of the OCR text plus the box of the line it sits on).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shared.moderation.cascade import Cascade, CategoryVerdict, Verdict
from shared.moderation.nsfw import ImageEvidence, ImageSafetyDetector, get_image_safety_detector
from shared.moderation.policy import ACTION_ORDER
from shared.moderation.signals import CATEGORIES, Evidence, Signal
from shared.settings import ModerationSettings, get_settings
from shared.vision.images import ImageLimits, load_image
from shared.vision.ocr import ImageText, OcrEngine, read_text

_DEFAULT = object()


@dataclass
class ImageVerdict(Verdict):
    """A :class:`Verdict` for an image, plus what was read from it (``ocr_text``) and its identity."""

    ocr_text: str = ""
    image_sha256: str = ""
    width: int = 0
    height: int = 0
    media_type: str = ""
    warnings: list[str] = field(default_factory=list)


def _line_box(found: ImageText, start: int, end: int) -> tuple[int, int, int, int] | None:
    """The box (x, y, w, h) of the OCR line(s) that ``[start, end)`` of ``found.text`` falls in.

    ``read_text`` joins lines with one space (same row) or a newline (next row) in ``found.lines`` order, so the
    character offsets of each line are recovered by walking the lines in that order.
    """
    boxes, pos = [], 0
    for line in found.lines:
        text = line.text.strip()
        i = found.text.find(text, pos)
        if i < 0:
            continue
        if i < end and start < i + len(text):
            boxes.append(line.bbox)
        pos = i + len(text)
    if not boxes:
        return None
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def _from_ocr(evidence: Evidence, found: ImageText) -> ImageEvidence:
    return ImageEvidence(
        evidence.start,
        evidence.end,
        evidence.text,
        f"OCR text: {evidence.why}",
        "ocr_text",
        _line_box(found, evidence.start, evidence.end),
    )


def merge(
    text_verdict: Verdict | None, image_signals: list[Signal], cascade: Cascade, surface: str | None, found: ImageText
) -> tuple[str, dict[str, CategoryVerdict]]:
    """Per category the max of the OCR-text score and the image detectors' scores; actions from the policy."""
    rules = cascade.policy.rules(surface)
    categories: dict[str, CategoryVerdict] = {}
    for category in CATEGORIES:
        text_cv = text_verdict.categories[category] if text_verdict else None
        score = text_cv.score if text_cv else 0.0
        detectors = {f"ocr:{d}": s for d, s in (text_cv.detectors if text_cv else {}).items()}
        evidence: list[Evidence] = [_from_ocr(e, found) for e in (text_cv.evidence if text_cv else [])]
        for signal in (s for s in image_signals if s.category == category):
            detectors[signal.detector] = max(detectors.get(signal.detector, 0.0), signal.score)
            if signal.score > score:
                score, evidence = signal.score, list(signal.evidence)
        action = rules[category].action(score)
        categories[category] = CategoryVerdict(category, round(score, 4), action, detectors, evidence)
    action = max((v.action for v in categories.values()), key=ACTION_ORDER.__getitem__, default="allow")
    return action, categories


def moderate_image(
    data: bytes,
    cascade: Cascade,
    surface: str | None = None,
    *,
    settings: ModerationSettings | None = None,
    nsfw: ImageSafetyDetector | object | None = _DEFAULT,
    ocr_engine: OcrEngine | None = None,
    limits: ImageLimits | None = None,
    filename: str | None = None,
) -> ImageVerdict:
    """Moderate one uploaded image. Raises :class:`shared.vision.images.ImageInputError` for bad input.

    ``nsfw`` defaults to the detector ``settings.image_nsfw`` names (None = no NSFW detection); ``ocr_engine``
    to the process-wide RapidOCR; ``filename`` only adds a warning when its extension disagrees with the bytes.
    The text cascade runs only when OCR read something.
    """
    settings = settings or get_settings().moderation
    detector = (
        get_image_safety_detector(settings.image_nsfw, settings.image_nsfw_min_confidence) if nsfw is _DEFAULT else nsfw
    )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_image(data, filename, limits)
    timings["load"] = (time.perf_counter() - t0) * 1000

    image_signals: list[Signal] = []
    if detector is not None:
        t0 = time.perf_counter()
        image_signals = detector.detect([loaded.image])[0]  # type: ignore[union-attr]
        timings["nsfw"] = (time.perf_counter() - t0) * 1000

    found = ImageText(text="")
    if settings.image_ocr:
        t0 = time.perf_counter()
        found = read_text(loaded.image, settings.image_ocr_max_side, settings.image_ocr_min_confidence, ocr_engine)
        timings["ocr"] = (time.perf_counter() - t0) * 1000

    text_verdict = cascade.moderate([found.text], surface)[0] if found.text.strip() else None
    if text_verdict:
        timings.update({f"text.{k}": v for k, v in text_verdict.timings_ms.items()})
    action, categories = merge(text_verdict, image_signals, cascade, surface, found)
    return ImageVerdict(
        action=action,
        categories=categories,
        policy_version=cascade.policy.version_id,
        surface=surface,
        tiers_run=text_verdict.tiers_run if text_verdict else [],
        timings_ms=timings,
        ocr_text=found.text,
        image_sha256=loaded.sha256,
        width=loaded.width,
        height=loaded.height,
        media_type=loaded.media_type,
        warnings=list(loaded.warnings),
    )
