"""The vocabulary every moderation part speaks: categories, normalised text with offsets, detector signals.

Detectors run on :class:`NormalizedText` (evasion undone: confusables, zero-width characters, leetspeak,
spacing) but report evidence as spans of the *original* text, so a reviewer sees what the user wrote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

CATEGORIES: tuple[str, ...] = (
    "hate",
    "harassment",
    "sexual",
    "sexual/minors",
    "violence",
    "self-harm",
    "illicit",
    "spam",
    "pii",
    "prompt_injection",
)


@dataclass(frozen=True)
class NormalizedText:
    """``normalized`` is what detectors read; ``offsets[i]`` is the index in ``original`` of normalized char i."""

    original: str
    normalized: str
    offsets: tuple[int, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span for normalized ``[start, end)``, stretched over characters the normaliser dropped.

        It ends where the next normalized character begins, so "stuuupiddd" or a trailing zero-width character
        is covered whole; trailing whitespace is trimmed.
        """
        if start >= end or not self.offsets:
            return (0, 0)
        s = self.offsets[start]
        e = self.offsets[end] if end < len(self.offsets) else len(self.original)
        e = max(e, self.offsets[end - 1] + 1)
        while e > s + 1 and self.original[e - 1].isspace():
            e -= 1
        return (s, e)


@dataclass(frozen=True)
class Evidence:
    start: int  # in the original text
    end: int
    text: str
    why: str  # e.g. "keyword 'kill yourself'", "PII: EMAIL_ADDRESS", "nearest example: ..."

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, with the fields of subclasses (image evidence adds its source and box)."""
        return asdict(self)


@dataclass(frozen=True)
class Signal:
    """One detector's opinion on one category: a calibrated probability-like score in [0, 1]."""

    category: str
    score: float
    detector: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)


class Detector(Protocol):
    name: str
    tier: int  # 0 = rules (microseconds), 1 = small models (ms), 2 = the LLM judge (seconds)

    def detect(self, texts: list[NormalizedText]) -> list[list[Signal]]:
        """Signals for each text (batched: the model tiers embed or classify many texts at once)."""
        ...
