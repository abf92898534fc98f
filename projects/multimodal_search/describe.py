"""What an image is indexed as: the full text for lexical search and, without CLIP, its sentence vector.

The **index text** gathers every word that can describe an image — caption, tags, the labeller's
confident labels, text read by OCR, camera, dominant colours, orientation and (unless switched off,
as the evaluation does) the file name's words — into one document for PostgreSQL full-text search.

The **description vector** is the offline default's answer to "no text tower": the image is placed in
the sentence model's space as the weighted mean of sentences about it: the labels' sentences
``"a photo of a <label>"`` mixed by probability (as one unit-length component), the caption (weight 1),
tags and OCR text (lower weights: they are often partial). A query embedded by the same model then
lands near the images whose labels or captions say the same thing. Label sentences repeat across
images, so they are embedded once per process and cached.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

from shared.serving.base import Embedder

LABEL_TEMPLATE = "a photo of a {}"
LABELS_WEIGHT = 1.0
CAPTION_WEIGHT = 1.0
TAGS_WEIGHT = 0.5
OCR_WEIGHT = 0.3
MIN_LABEL_PROBABILITY = 0.02
TEXT_LABEL_PROBABILITY = 0.10  # labels below this stay out of the *lexical* text (a 4 % "tench" is noise there)
OCR_CHARS_IN_VECTOR = 200


@dataclass
class ImageFacts:
    """Everything known about one image when it is indexed."""

    filename: str
    index_filename: bool = True
    caption: str | None = None
    tags: list[str] = field(default_factory=list)
    labels: list[tuple[str, float]] = field(default_factory=list)
    ocr_text: str = ""
    camera: str | None = None
    colours: list[str] = field(default_factory=list)
    orientation: str | None = None


def camera_name(make: str | None, model: str | None) -> str | None:
    """``Canon EOS R6`` from the EXIF make and model (either may be missing)."""
    return " ".join(p for p in (make, model) if p) or None


def filename_words(filename: str) -> str:
    """``IMG_2041-beach_sunset.jpg`` → ``beach sunset``: the stem's words, without camera counters."""
    stem = PurePath(filename).stem
    words = [w for w in re.split(r"[\W_]+", stem) if w and not re.fullmatch(r"(?i)(img|dsc|pxl|dscn|\d+)", w)]
    return " ".join(words)


def index_text(facts: ImageFacts) -> str:
    lines: list[str] = []
    if facts.caption:
        lines.append(facts.caption.strip())
    if facts.tags:
        lines.append("tags: " + ", ".join(facts.tags))
    confident = [name for i, (name, p) in enumerate(facts.labels) if i == 0 or p >= TEXT_LABEL_PROBABILITY]
    if confident:
        lines.append("looks like: " + ", ".join(confident))
    if facts.ocr_text.strip():
        lines.append("text: " + facts.ocr_text.strip())
    if facts.index_filename and (words := filename_words(facts.filename)):
        lines.append("file: " + words)
    if facts.camera:
        lines.append("camera: " + facts.camera)
    if facts.colours:
        lines.append("colours: " + ", ".join(facts.colours))
    if facts.orientation:
        lines.append(facts.orientation)
    return "\n".join(lines) or facts.filename


def metadata_text(facts: ImageFacts, width: int, height: int, media_type: str) -> str:
    """The metadata-only baseline's document: what a search over EXIF, size and colour alone can use."""
    parts = [facts.orientation or "", f"{width}x{height}", media_type.split("/")[-1], facts.camera or ""]
    if facts.colours:
        parts.append("colours " + " ".join(facts.colours))
    return " ".join(p for p in parts if p)


class DescriptionEncoder:
    """Builds description vectors with a sentence embedder, caching label sentences."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._label_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _label_vectors(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            missing = sorted({n for n in names if n not in self._label_cache})
            if missing:
                vectors = self.embedder.embed([LABEL_TEMPLATE.format(n) for n in missing])
                self._label_cache.update(zip(missing, vectors, strict=True))
            return {n: self._label_cache[n] for n in names}

    def encode(self, items: Sequence[ImageFacts]) -> np.ndarray:
        """One unit vector per image (zero-free: an image with nothing to say gets its file-name vector)."""
        labels = self._label_vectors([name for f in items for name, p in f.labels if p >= MIN_LABEL_PROBABILITY])
        free_texts: list[str] = []
        slots: list[list[tuple[int, float]]] = []  # per image: (index into free_texts, weight)
        for f in items:
            mine: list[tuple[int, float]] = []
            for text, weight in (
                (f.caption or "", CAPTION_WEIGHT),
                (", ".join(f.tags), TAGS_WEIGHT),
                (f.ocr_text[:OCR_CHARS_IN_VECTOR], OCR_WEIGHT),
            ):
                if text.strip():
                    mine.append((len(free_texts), weight))
                    free_texts.append(text.strip())
            slots.append(mine)
        free = self.embedder.embed(free_texts) if free_texts else np.zeros((0, self.embedder.dim), np.float32)
        out = np.zeros((len(items), self.embedder.dim), dtype=np.float32)
        fallback: list[int] = []
        for i, f in enumerate(items):
            vec = np.zeros(self.embedder.dim, dtype=np.float32)
            # the labels are one component of weight LABELS_WEIGHT whatever their total probability (a flat
            # top-5 of 0.12/0.09/0.08/... must still outweigh a single tag), mixed by relative probability
            label_mix = np.zeros(self.embedder.dim, dtype=np.float32)
            for name, p in f.labels:
                if p >= MIN_LABEL_PROBABILITY:
                    label_mix += p * labels[name]
            if (norm := float(np.linalg.norm(label_mix))) > 1e-6:
                vec += LABELS_WEIGHT * label_mix / norm
            for j, weight in slots[i]:
                vec += weight * free[j]
            norm = float(np.linalg.norm(vec))
            if norm < 1e-6:
                fallback.append(i)
            else:
                out[i] = vec / norm
        if fallback:
            names = [(items[i].index_filename and filename_words(items[i].filename)) or "image" for i in fallback]
            out[fallback] = self.embedder.embed(names)
        return out
