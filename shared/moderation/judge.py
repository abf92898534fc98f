"""Tier 2: the chat model as a Llama-Guard-style judge, with the policy in its prompt and a JSON answer.

Llama Guard's recipe: list the policy's categories with a one-line definition each, show the text, ask for
"safe" or "unsafe" plus the violated categories. Here the answer is a small JSON object
``{"verdict": "safe|unsafe", "categories": [...], "evidence": "quoted span"}`` (constrained by a JSON schema where
the backend supports it), because the quoted span becomes the reviewer's evidence.

Constrained decoding is off by default: the local backend compiles schemas with sorted keys, which puts
"verdict" *last*, after a free-text "evidence" that the 0.5B model fills with a long paraphrase until the token
budget runs out (measured: no usable verdict in most answers). Unconstrained, the model follows the prompt's
key order (verdict, categories first), and :func:`parse_answer` recovers them even from a truncated answer.

It is the expensive tier (a 0.5B model decodes ~10 tokens/s on 2 cores), so the cascade asks it only about
texts the cheaper tiers left in the uncertain band, the answer budget is tiny, and requests go out concurrently
so the local backend batches them.

Scores. For the texts it sees, the cascade takes a tier-2 score as the arbiter: it replaces the fused tier-0/1
score of each category the judge names (``cascade.py``).

- ``unsafe`` + category → :data:`UNSAFE_SCORE` (0.8): above every category's review threshold and below every
  block threshold except sexual/minors' (0.60) in the default policy. A small judge's "unsafe" should put an
  item in front of a human, not remove it on its own; a stronger judge model can justify a higher score.
- ``safe`` → no signal, so the fused score stands: a 0.5B model's "safe" is not evidence enough to clear a text
  other detectors found lukewarm (it called baking bread unsafe). With a strong served judge (Llama Guard on
  vLLM), emitting a low score for the categories it clears is the change that lets "safe" lower them.
- a malformed or truncated answer → no signal (logged): never a crash, never a guess.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared.guardrails.detectors import extract_json
from shared.moderation.policy import Policy
from shared.moderation.signals import Evidence, NormalizedText, Signal
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest

log = logging.getLogger(__name__)

UNSAFE_SCORE = 0.8
MAX_TEXT_CHARS = 2000  # prefill cost grows with the text; the uncertain part of a long text is rarely past this

SYSTEM = (
    "You are a content safety classifier. Decide whether the user's text violates the policy below.\n"
    "<BEGIN POLICY CATEGORIES>\n{categories}\n<END POLICY CATEGORIES>\n"
    "Judge only the text itself; quoting, reporting or discussing harm is not a violation.\n"
    'Answer with JSON only: {{"verdict": "safe" or "unsafe", "categories": [violated category names], '
    '"evidence": "the shortest exact quote from the text that violates it, or empty"}}'
)
USER = "<BEGIN TEXT>\n{text}\n<END TEXT>"


@dataclass(frozen=True)
class JudgeAnswer:
    verdict: str  # "safe" | "unsafe"
    categories: tuple[str, ...]
    evidence: str


def policy_prompt(policy: Policy) -> str:
    """The system prompt: every policy category with its one-line definition."""
    lines = [f"{name}: {rule.description or name}" for name, rule in policy.categories.items()]
    return SYSTEM.format(categories="\n".join(lines))


def answer_schema(categories: Sequence[str]) -> dict:
    return {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["safe", "unsafe"]},
            "categories": {"type": "array", "items": {"type": "string", "enum": list(categories)}},
            "evidence": {"type": "string"},
        },
        "required": ["verdict", "categories", "evidence"],
    }


_VERDICT = re.compile(r'"?verdict"?\s*:\s*"?(safe|unsafe)\b', re.IGNORECASE)
_EVIDENCE = re.compile(r'"evidence"\s*:\s*"((?:[^"\\]|\\.)*)', re.IGNORECASE)


def parse_answer(text: str, categories: Sequence[str]) -> JudgeAnswer | None:
    """The judge's answer from its raw text, or None when it says nothing usable.

    JSON first (fenced or after prose, via ``extract_json``); a truncated object (the answer budget ran out
    inside the evidence quote) still yields its verdict and categories from a lenient scan. Unknown category
    names are dropped; "unsafe" with no known category is unusable (there is nothing to score).
    """
    data = extract_json(text)
    if isinstance(data, dict) and str(data.get("verdict", "")).lower() in ("safe", "unsafe"):
        verdict = str(data["verdict"]).lower()
        raw = data.get("categories") or []
        named = [str(c).strip().lower() for c in (raw if isinstance(raw, list) else [raw])]
        evidence = str(data.get("evidence") or "")
    else:
        m = _VERDICT.search(text)
        if not m:
            return None
        verdict = m.group(1).lower()
        head = text.split('"evidence"')[0]
        named = [q.lower() for q in re.findall(r'"([^"]+)"', head)]  # answer order; non-categories drop below
        ev = _EVIDENCE.search(text)
        evidence = ev.group(1) if ev else ""
    known = tuple(dict.fromkeys(c for c in named if c in categories))
    if verdict == "unsafe" and not known:
        return None
    return JudgeAnswer(verdict, known if verdict == "unsafe" else (), evidence.strip())


def locate(quote: str, text: NormalizedText) -> tuple[int, int] | None:
    """The quoted span in the original text: exact, then case-insensitive, then in the normalised text."""
    quote = quote.strip().strip("\"'")
    if len(quote) < 2:
        return None
    i = text.original.find(quote)
    if i >= 0:
        return (i, i + len(quote))
    i = text.original.lower().find(quote.lower())
    if i >= 0:
        return (i, i + len(quote))
    i = text.normalized.lower().find(quote.lower())
    if i >= 0:
        return text.to_original(i, i + len(quote))
    return None


class JudgeDetector:
    """The Detector protocol over a chat model. ``chat`` is a model or a factory called on first use, so building
    a full cascade does not load the LLM until an uncertain text actually needs it."""

    name = "llm_judge"
    tier = 2

    def __init__(
        self,
        chat: ChatModel | Callable[[], ChatModel],
        policy: Policy,
        *,
        max_tokens: int = 48,
        concurrency: int = 8,
        constrained: bool = False,
    ) -> None:
        self._chat = chat
        self.policy = policy
        self.categories = tuple(policy.categories)
        self.system = policy_prompt(policy)
        self.schema = answer_schema(self.categories) if constrained else None
        self.max_tokens = max_tokens
        self.concurrency = concurrency

    @property
    def chat(self) -> ChatModel:
        if not isinstance(self._chat, ChatModel):
            self._chat = self._chat()
        return self._chat

    def request(self, text: str) -> ChatRequest:
        return ChatRequest(
            system=self.system,
            messages=[ChatMessage.user(USER.format(text=text[:MAX_TEXT_CHARS]))],
            temperature=0.0,
            max_tokens=self.max_tokens,
            response_schema=self.schema,
        )

    def judge(self, text: NormalizedText) -> list[Signal]:
        try:
            result = self.chat.chat(self.request(text.original))
        except Exception as exc:  # a failed backend leaves the tier-1 scores standing
            log.warning("LLM judge failed: %s", exc)
            return []
        answer = parse_answer(result.text, self.categories)
        if answer is None:
            log.warning("LLM judge gave no usable answer: %r", result.text[:200])
            return []
        return self.signals(answer, text)

    def signals(self, answer: JudgeAnswer, text: NormalizedText) -> list[Signal]:
        if answer.verdict != "unsafe":
            return []
        span = locate(answer.evidence, text)
        why = f"LLM judge: unsafe ({', '.join(answer.categories)})"
        if span:
            evidence = Evidence(span[0], span[1], text.original[span[0] : span[1]], why)
        else:
            quoted = f"; quoted {answer.evidence[:80]!r}, not found in the text" if answer.evidence else ""
            evidence = Evidence(0, 0, "", why + quoted)
        return [Signal(c, UNSAFE_SCORE, self.name, (evidence,)) for c in answer.categories]

    def detect(self, texts: list[NormalizedText]) -> list[list[Signal]]:
        if not texts:
            return []
        if len(texts) == 1 or self.concurrency == 1:
            return [self.judge(t) for t in texts]
        self.chat  # noqa: B018 - load once, before the threads race to do it
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts))) as pool:
            return list(pool.map(self.judge, texts))
