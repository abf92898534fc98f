"""Image NSFW detection behind a port: the NudeNet body-part detector run directly through onnxruntime.

Licence facts (read before shipping this in a product):

- ``nudenet==3.4.2`` on PyPI declares ``License: MIT`` in its metadata, but the LICENSE and LICENSE.md files
  bundled in its wheel are the **GNU AGPL-3.0**; the upstream repository (notAI-tech/NudeNet) is Apache-2.0.
  The three disagree, so treat the strictest one (AGPL-3.0) as binding for the weights that ship in the wheel:
  network use of a modified version obliges you to offer its source.
- That is why it is an *optional* extra (``nsfw``, pulled into ``content_moderation`` for the demo and tests),
  why the code only reads the ONNX file from the installed package (nothing of nudenet is copied or imported:
  its module imports OpenCV and decodes images itself, which would bypass ``shared.vision.images.load_image``),
  and why ``MODERATION__IMAGE_NSFW=none`` turns it off: a deployment that cannot accept AGPL swaps in its own
  :class:`ImageSafetyDetector` (a hosted classifier, a licensed model) without touching the rest.

The model file is checked against :data:`NUDENET_SHA256` at load: a repackaged or tampered wheel fails loudly
instead of silently moderating with different weights.

The model is a YOLOv8-style detector (320×320 input, 18 classes of exposed/covered body parts and faces). Only
*exposed* intimate parts carry a ``sexual`` score; covered parts, faces, feet, armpits, bellies and a male chest
are ordinary in photos and carry nothing. See :func:`sexual_signals` for the score.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from PIL import Image

from shared.moderation.signals import Evidence, Signal
from shared.observability.tracing import span

NUDENET_SHA256 = "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"  # nudenet 3.4.2, 320n.onnx
NUDENET_LABELS: tuple[str, ...] = (  # the model's class order (nudenet/nudenet.py)
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
# How strongly one confident box of a label says "sexual content". Genitals and anus exposed are explicit;
# an exposed female breast is nudity (artistic and medical photos exist, so a little below 1); exposed buttocks
# are often swimwear, so lower still. Everything else maps to nothing.
SEXUAL_WEIGHTS: dict[str, float] = {
    "FEMALE_GENITALIA_EXPOSED": 1.0,
    "MALE_GENITALIA_EXPOSED": 1.0,
    "ANUS_EXPOSED": 1.0,
    "FEMALE_BREAST_EXPOSED": 0.9,
    "BUTTOCKS_EXPOSED": 0.75,
}
INPUT_SIZE = 320


class NsfwUnavailableError(RuntimeError):
    """The NSFW detector cannot be loaded (package missing, or the weights are not the recorded ones)."""


@dataclass(frozen=True)
class Detection:
    """One detector box in the input image's pixels: ``box`` = (x, y, width, height)."""

    label: str
    score: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class ImageEvidence(Evidence):
    """Evidence from an image: a region the detector found, or a span of the text OCR read from it.

    It *is* an :class:`Evidence` (``start``/``end``/``text`` are a span of the OCR text, or 0/0/"" for a region),
    so everything that reads evidence keeps working; ``box`` = (x, y, width, height) in the uploaded image's
    pixels locates it for a reviewer (the OCR line's box for OCR evidence).
    """

    source: Literal["image_region", "ocr_text"] = "image_region"
    box: tuple[int, int, int, int] | None = None


class ImageSafetyDetector(Protocol):
    """The port: signals per image (any category; NudeNet only speaks to ``sexual``)."""

    name: str

    def detect(self, images: Sequence[Image.Image]) -> list[list[Signal]]: ...


def sexual_signals(detections: Sequence[Detection], detector: str, min_confidence: float = 0.3) -> list[Signal]:
    """One ``sexual`` signal from the boxes, or none.

    score = noisy-OR over boxes of ``weight(label) × confidence``: one confident explicit box is enough
    (0.8 genitalia → 0.8), several weaker ones add up (two 0.5 breast boxes → 0.70), covered parts never count.
    The detector's confidence is a YOLO class probability, not a calibrated one, and no labelled nude set can
    ship with this repository to fit a calibration: the weights keep the scale conservative (a lone exposed
    buttock at 0.9 → 0.675, under the default policy's review threshold). Re-fit them on reviewer decisions.
    """
    relevant = [d for d in detections if d.label in SEXUAL_WEIGHTS and d.score >= min_confidence]
    if not relevant:
        return []
    keep = 1.0
    for d in relevant:
        keep *= 1.0 - SEXUAL_WEIGHTS[d.label] * d.score
    evidence = tuple(
        ImageEvidence(0, 0, "", f"image region {d.label} ({d.score:.2f}) at x,y,w,h={d.box}", "image_region", d.box)
        for d in sorted(relevant, key=lambda d: -SEXUAL_WEIGHTS[d.label] * d.score)
    )
    return [Signal("sexual", round(1.0 - keep, 4), detector, evidence)]


def nudenet_model_path() -> Path:
    """The ONNX file inside the installed ``nudenet`` package, found without importing it (it imports OpenCV)."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise NsfwUnavailableError(
            "nudenet is not installed: install the 'nsfw' extra or set MODERATION__IMAGE_NSFW=none"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _preprocess(image: Image.Image) -> tuple[np.ndarray, float]:
    """NudeNet's own preprocessing, reproduced exactly: pad right/bottom to a square with black, resize to 320
    (OpenCV-style bilinear), scale to [0, 1], channels in **BGR** order.

    BGR because that is what NudeNet's reference code feeds the model (``cv2.imread`` gives BGR, its
    ``cvtColor(RGBA2BGR)`` swaps to RGB, then ``blobFromImage(swapRB=True)`` swaps back), so its published
    behaviour is measured on BGR. Returns the NCHW blob and the factor from model pixels back to image pixels.
    """
    rgb = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
    side = max(rgb.shape[:2])
    square = np.zeros((side, side, 3), dtype=np.uint8)
    square[: rgb.shape[0], : rgb.shape[1]] = rgb[:, :, ::-1]
    blob = (_resize_linear(square, INPUT_SIZE) / 255.0).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(blob, dtype=np.float32), side / INPUT_SIZE


def _resize_linear(square: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize without antialiasing, pixel centres aligned: OpenCV's INTER_LINEAR, which
    ``blobFromImage`` uses (Pillow's BILINEAR low-pass filters when shrinking: a visibly softer input).
    Only the rows and columns sampled are converted to float, so a 12-MP photo costs little."""
    src = square.shape[0]
    pos = np.clip((np.arange(size) + 0.5) * (src / size) - 0.5, 0, src - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, src - 1)
    f = (pos - i0).astype(np.float32)
    rows = square[i0].astype(np.float32) * (1 - f)[:, None, None] + square[i1].astype(np.float32) * f[:, None, None]
    return rows[:, i0] * (1 - f)[None, :, None] + rows[:, i1] * f[None, :, None]


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy class-agnostic non-maximum suppression over (x, y, w, h) boxes, as NudeNet does with OpenCV."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.array(order)
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = [j for j, o in zip(order, overlap, strict=True) if o <= iou]
    return keep


def decode(output: np.ndarray, scale: float, width: int, height: int, min_score: float = 0.2) -> list[Detection]:
    """Boxes from one image's raw output (22 × anchors: cx, cy, w, h, 18 class scores), NMS at IoU 0.45."""
    rows = output.T  # anchors × 22
    cls = rows[:, 4:]
    best = cls.argmax(axis=1)
    conf = cls[np.arange(len(rows)), best]
    mask = conf >= min_score
    if not mask.any():
        return []
    cx, cy, w, h = (rows[mask, k] * scale for k in range(4))
    x = np.clip(cx - w / 2, 0, width)
    y = np.clip(cy - h / 2, 0, height)
    w = np.minimum(w, width - x)
    h = np.minimum(h, height - y)
    boxes = np.stack([x, y, w, h], axis=1)
    scores, labels = conf[mask], best[mask]
    return [
        Detection(NUDENET_LABELS[labels[i]], float(scores[i]), tuple(int(v) for v in boxes[i]))  # type: ignore[arg-type]
        for i in _nms(boxes, scores, 0.45)
        if scores[i] >= 0.25
    ]


class NudeNetDetector:
    """NudeNet 3.4.2's 320n detector via onnxruntime (thread-safe: onnxruntime sessions allow concurrent runs)."""

    name = "nudenet"

    def __init__(self, model_path: Path | None = None, *, min_confidence: float = 0.3, threads: int | None = None):
        path = model_path or nudenet_model_path()
        if not path.is_file():
            raise NsfwUnavailableError(f"NSFW model not found at {path}")
        digest = _sha256(path)
        if digest != NUDENET_SHA256:
            raise NsfwUnavailableError(f"{path} has SHA-256 {digest}, expected {NUDENET_SHA256} (nudenet 3.4.2)")
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.min_confidence = min_confidence

    def regions(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """Every box the model finds (all 18 labels), per image."""
        out: list[list[Detection]] = []
        for image in images:  # one at a time: images differ in aspect ratio, and the model is ~30 ms each
            blob, scale = _preprocess(image)
            with span("moderation.nsfw", detector=self.name, width=image.width, height=image.height):
                raw = self._session.run(None, {self._input: blob})[0]
            out.append(decode(raw[0], scale, image.width, image.height))
        return out

    def detect(self, images: Sequence[Image.Image]) -> list[list[Signal]]:
        return [sexual_signals(found, self.name, self.min_confidence) for found in self.regions(images)]


_DETECTORS: dict[tuple[str, float], ImageSafetyDetector] = {}
_LOCK = threading.Lock()


def get_image_safety_detector(kind: str, min_confidence: float = 0.3) -> ImageSafetyDetector | None:
    """The process-wide detector for ``MODERATION__IMAGE_NSFW`` (``nudenet`` or ``none`` → None)."""
    if kind == "none":
        return None
    if kind != "nudenet":
        raise ValueError(f"unknown image NSFW detector {kind!r}")
    with _LOCK:
        key = (kind, min_confidence)
        if key not in _DETECTORS:
            _DETECTORS[key] = NudeNetDetector(min_confidence=min_confidence)
        return _DETECTORS[key]
