"""Incremental output moderation for streamed model answers: at most one sentence of delay, not the whole answer.

Checking a stream only at its end means either withholding every token until the answer is complete (the
user waits for all of it) or streaming raw tokens (a toxic sentence or a leaked e-mail address is on screen
before any rail ran). :class:`StreamModerator` sits between the two: it buffers deltas until a sentence ends
(or ``max_chars`` pile up without one), runs the output rail on that segment *plus the tail of the text
already released* (a threat split over two sentences is still seen whole), and releases the rail's sanitised
(PII-redacted) segment. The first segment the rail blocks ends the stream: nothing after it, nor the blocked
segment itself, is released, and :attr:`StreamModerator.blocked` says why (categories, evidence, policy).

The overlap is taken from the *released* text, so PII in it is already a ``<PLACEHOLDER>`` and the rail's
sanitised window starts with it unchanged; the released segment is the rest. If a redaction reaches into the
overlap (an entity recognised only with the new context), the segment is checked again alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from shared.guardrails.guards import RailResult, check_output
from shared.moderation.signals import Evidence
from shared.observability.tracing import span
from shared.settings import get_settings

# A sentence ends at . ! ? (closing quotes/brackets allowed) followed by whitespace, or at a line break.
_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)|\n")
_ABBREV = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "no", "fig", "approx"}
)


@dataclass(frozen=True)
class StreamBlock:
    """Why a stream was stopped: the categories (or validators) that blocked, with evidence in ``window``."""

    categories: list[str]
    reason: str
    policy_version: str | None
    window: str  # the text the rail saw: released overlap + the blocked segment
    evidence: list[Evidence] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "categories": self.categories,
            "reason": self.reason,
            "policy_version": self.policy_version,
            "evidence": [{"text": e.text, "why": e.why, "start": e.start, "end": e.end} for e in self.evidence],
        }


def sentence_cut(buffer: str, max_chars: int) -> int | None:
    """Index just after the last complete sentence in ``buffer``; else a whitespace cut once ``max_chars`` is
    reached; else None (wait for more text). Abbreviations and initials ("Dr.", "J.") do not end a sentence."""
    cut = None
    for m in _END.finditer(buffer):
        word = buffer[: m.start()].rsplit(None, 1)[-1].lower() if buffer[: m.start()].strip() else ""
        if m.group() != "\n" and (word in _ABBREV or (len(word) == 1 and word.isalpha())):
            continue
        cut = m.end()
    if cut is not None:
        return cut
    if len(buffer) >= max_chars:
        space = buffer.rfind(" ", 0, max_chars)
        return space if space > 0 else max_chars
    return None


class StreamModerator:
    """Wrap an iterator of text deltas: ``for text in StreamModerator()(deltas): send(text)``.

    ``rail`` is any ``text -> RailResult`` (default: :func:`check_output` with PII redaction and moderation on the
    ``llm_output`` surface). After iteration, :attr:`blocked` is None or the :class:`StreamBlock`, :attr:`text`
    the released text, :attr:`checks` the number of rail calls. Not thread-safe: one moderator per stream.
    """

    def __init__(
        self,
        rail: Callable[[str], RailResult] | None = None,
        *,
        max_chars: int | None = None,
        overlap_chars: int | None = None,
    ) -> None:
        cfg = get_settings().guardrails
        self.rail = rail or partial(check_output, redact_pii=True)
        self.max_chars = max_chars or cfg.stream_max_chars
        self.overlap_chars = cfg.stream_overlap_chars if overlap_chars is None else overlap_chars
        self.blocked: StreamBlock | None = None
        self.released: list[str] = []
        self.checks = 0

    @property
    def text(self) -> str:
        return "".join(self.released)

    def __call__(self, deltas: Iterable[str]) -> Iterator[str]:
        buffer = ""
        for delta in deltas:
            buffer += delta
            while buffer and (cut := sentence_cut(buffer, self.max_chars)) is not None:
                segment, buffer = buffer[:cut], buffer[cut:]
                out = self._check(segment)
                if out is None:
                    return
                if out:
                    yield out
        if buffer:  # the final flush: the last (possibly unterminated) sentence
            out = self._check(buffer)
            if out:
                yield out

    def _overlap(self) -> str:
        if not self.overlap_chars:
            return ""
        tail = self.text[-self.overlap_chars :]
        if len(tail) < len(self.text) and " " in tail:  # start on a word, not in the middle of one
            tail = tail[tail.index(" ") + 1 :]
        return tail

    def _check(self, segment: str) -> str | None:
        """The releasable (sanitised) segment, or None when the rail blocked it (``self.blocked`` is set)."""
        if not segment.strip():
            self.released.append(segment)
            return segment
        prefix = self._overlap()
        window = prefix + segment
        with span("guardrails.stream.check", chars=len(window)):
            result = self._rail(window)
            if not result.allowed:
                return None
            if result.sanitized_text.startswith(prefix):
                out = result.sanitized_text[len(prefix) :]
            else:  # a redaction touched the overlap: sanitise the segment on its own
                result = self._rail(segment)
                if not result.allowed:
                    return None
                out = result.sanitized_text
        self.released.append(out)
        return out

    def _rail(self, window: str) -> RailResult:
        self.checks += 1
        result = self.rail(window)
        if not result.allowed:
            self.blocked = stream_block(result, window)
        return result


def stream_block(result: RailResult, window: str) -> StreamBlock:
    """The :class:`StreamBlock` for a rail result that did not allow ``window``."""
    categories = list(result.blocked_by) or [r.split(":", 1)[0] for r in result.reasons]
    evidence: list[Evidence] = []
    if result.verdict is not None:
        for c in result.blocked_by:
            evidence.extend(result.verdict.categories[c].evidence)
    return StreamBlock(categories, "; ".join(result.reasons), result.policy_version, window, evidence)
