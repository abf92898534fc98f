"""Groundedness (faithfulness) of an answer to its context.

Two methods:
- :func:`groundedness` — offline and deterministic: the answer is split into sentence-level claims; a claim
  is supported when its best-matching context sentence is semantically close (embedding cosine ≥
  ``sim_threshold``) or lexically covers it (share of the claim's content words ≥ ``overlap_threshold``),
  and every number it states appears in the context. Cheap enough to run on every eval item; it cannot see
  paraphrased negations ("is" vs "is not" embed closely), which is what the judge variant is for.
- :func:`judge_groundedness` — an LLM judge through the serving contract's structured output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from shared.serving.base import ChatModel, Embedder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def split_sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation followed by a capital/digit, and on newlines; drop empties.

    A regex splitter (not a tokenizer model) keeps this deterministic and dependency-free; it errs towards
    longer claims on abbreviations ("e.g. this"), which only makes the check stricter.
    """
    parts = (p.strip(" \t-*•") for p in _SENTENCE_END.split(text or ""))
    return [p for p in parts if re.search(r"\w", p)]


def _content_tokens(text: str) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from shared.eval.metrics import normalize_answer

    return [t for t in normalize_answer(text).split() if t not in ENGLISH_STOP_WORDS]


def _overlap(claim_tokens: list[str], sentence_tokens: set[str]) -> float:
    if not claim_tokens:
        return 1.0
    return sum(t in sentence_tokens for t in claim_tokens) / len(claim_tokens)


@dataclass
class ClaimVerdict:
    claim: str
    supported: bool
    best_match: str | None
    cosine: float | None
    overlap: float
    missing_numbers: list[str] = field(default_factory=list)


@dataclass
class GroundednessResult:
    score: float
    claims: list[ClaimVerdict]

    @property
    def unsupported(self) -> list[str]:
        return [c.claim for c in self.claims if not c.supported]

    def as_scores(self) -> dict[str, float | list[str]]:
        """The shape a harness scorer returns: numeric score plus the unsupported claims for the report."""
        return {"score": self.score, "n_claims": float(len(self.claims)), "unsupported": self.unsupported}


def groundedness(
    answer: str,
    context: str | Sequence[str],
    embedder: Embedder | None = None,
    *,
    sim_threshold: float = 0.7,
    overlap_threshold: float = 0.8,
    check_numbers: bool = True,
) -> GroundednessResult:
    """Share of the answer's claims supported by the context (1.0 for an answer with no claims).

    ``context`` is one string or a list of passages; each is split into sentences. Without an embedder only
    the lexical test applies. The thresholds suit all-MiniLM-L6-v2 (paraphrases ≈ 0.7-0.9, unrelated < 0.3).
    """
    claims = split_sentences(answer)
    passages = [context] if isinstance(context, str) else list(context)
    sentences = [s for p in passages for s in split_sentences(p)]
    if not claims:
        return GroundednessResult(score=1.0, claims=[])
    if not sentences:
        return GroundednessResult(score=0.0, claims=[ClaimVerdict(c, False, None, None, 0.0) for c in claims])
    context_numbers = {n.replace(",", "") for n in _NUMBER.findall(" ".join(passages))}
    sent_tokens = [set(_content_tokens(s)) for s in sentences]
    cos = None
    if embedder is not None:
        vecs = embedder.embed([*claims, *sentences])
        cos = vecs[: len(claims)] @ vecs[len(claims) :].T

    verdicts: list[ClaimVerdict] = []
    for i, claim in enumerate(claims):
        tokens = _content_tokens(claim)
        overlaps = np.array([_overlap(tokens, st) for st in sent_tokens])
        best = int(np.argmax(cos[i])) if cos is not None else int(np.argmax(overlaps))
        best_cos = float(cos[i, best]) if cos is not None else None
        best_overlap = float(overlaps.max())
        missing = [n for n in _NUMBER.findall(claim) if n.replace(",", "") not in context_numbers]
        semantically = best_cos is not None and best_cos >= sim_threshold
        supported = (semantically or best_overlap >= overlap_threshold) and not (check_numbers and missing)
        verdicts.append(ClaimVerdict(claim, supported, sentences[best], best_cos, best_overlap, missing))
    score = sum(v.supported for v in verdicts) / len(verdicts)
    return GroundednessResult(score=score, claims=verdicts)


# --------------------------------------------------------------------------- LLM judge


class JudgedClaim(BaseModel):
    claim: str = Field(description="one factual statement made by the answer")
    supported: bool = Field(description="true only if the context states or directly implies it")
    evidence: str | None = Field(default=None, description="the context sentence that supports it, if any")


class JudgeVerdict(BaseModel):
    claims: list[JudgedClaim]


JUDGE_SYSTEM = (
    "You check whether an answer is faithful to a context. List every factual claim the answer makes. "
    "Mark a claim supported only if the context states it or directly implies it; outside knowledge does "
    "not count. Reply with JSON only."
)


def _structured(model: ChatModel, request, output_model: type[BaseModel], max_retries: int) -> BaseModel:
    """Prefer the serving layer's ``generate_structured``; fall back to parse-and-retry if it is absent."""
    try:
        from shared.serving.structured import generate_structured
    except ModuleNotFoundError as exc:
        if exc.name != "shared.serving.structured":
            raise
    else:
        return generate_structured(model, request, output_model)

    from pydantic import ValidationError

    request = request.model_copy(update={"response_schema": output_model.model_json_schema()})
    last: Exception | None = None
    for _ in range(max_retries + 1):
        text = model.chat(request).text
        match = re.search(r"\{.*\}", text, re.DOTALL)
        try:
            return output_model.model_validate_json(match.group(0) if match else text)
        except ValidationError as exc:
            last = exc
    raise ValueError(f"judge output did not match {output_model.__name__}: {last}")


def judge_groundedness(
    answer: str, context: str | Sequence[str], model: ChatModel, *, max_retries: int = 2
) -> GroundednessResult:
    """LLM-as-judge faithfulness: the model lists the answer's claims and marks each supported or not.

    Score = supported / listed claims (1.0 when it lists none). Greedy decoding keeps it repeatable for a
    given model; the verdict is only as good as the judge model.
    """
    from shared.serving.types import ChatMessage, ChatRequest

    ctx = context if isinstance(context, str) else "\n\n".join(context)
    request = ChatRequest(
        system=JUDGE_SYSTEM,
        messages=[ChatMessage.user(f"Context:\n{ctx}\n\nAnswer:\n{answer}")],
        temperature=0.0,
    )
    verdict = _structured(model, request, JudgeVerdict, max_retries)
    claims = [ClaimVerdict(c.claim, c.supported, c.evidence, None, 0.0) for c in verdict.claims]
    score = sum(c.supported for c in claims) / len(claims) if claims else 1.0
    return GroundednessResult(score=score, claims=claims)
