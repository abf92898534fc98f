"""The moderation cascade (:mod:`shared.moderation`) as a guardrails-ai validator: ``platform/moderation``.

``ModerationValidator(surface="llm_input")`` runs the shared cascade on the value under the policy rules of an
LLM surface (``llm_input`` tightens prompt injection, ``llm_output`` loosens nothing and flags PII earlier) and
fails when the verdict's action is one of ``fail_on`` (``["block"]`` by default; ``["review", "block"]`` for a
stricter rail). The failure names the categories with their scores and evidence text, carries the evidence spans
as guardrails ``error_spans`` and the whole verdict, JSON-able, as metadata (``verdict_from_metadata`` rebuilds it).

Latency: a rail sits in front of every model call, so the default tier is ``fast`` (keyword rules + the packaged
classifiers, no embedding model), and a keyword hit at block strength stops the cascade before any model runs.
Each (tiers, policy) cascade is built once per process; building is cheap, the models load on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from shared.guardrails.offline import ensure_offline

ensure_offline()

from guardrails.validators import (  # noqa: E402  (must follow ensure_offline)
    ErrorSpan,
    FailResult,
    PassResult,
    ValidationResult,
    Validator,
    register_validator,
)

from shared.moderation.cascade import Cascade, CategoryVerdict, Verdict  # noqa: E402
from shared.moderation.pipeline import Tiers, build_cascade  # noqa: E402
from shared.moderation.policy import load_policy  # noqa: E402
from shared.moderation.signals import Evidence  # noqa: E402
from shared.settings import get_settings  # noqa: E402

SURFACES = ("llm_input", "llm_output")
_cascades: dict[tuple[str, str], Cascade] = {}
_lock = threading.Lock()


def rail_cascade(tiers: Tiers | None = None, policy: str | None = None) -> Cascade:
    """The process-wide cascade for (tiers, policy); defaults from ``settings.guardrails`` / ``settings.moderation``."""
    settings = get_settings()
    key = (tiers or settings.guardrails.moderation_tiers, policy or settings.moderation.policy)
    cascade = _cascades.get(key)
    if cascade is None:
        with _lock:
            cascade = _cascades.get(key)
            if cascade is None:
                # a rail needs the action, not every category's score: a tier-0 block ends the cascade there
                cascade = build_cascade(settings.moderation, tiers=key[0], policy=load_policy(key[1]), fast_path=True)
                _cascades[key] = cascade
    return cascade


def moderate(
    text: str, surface: str = "llm_input", *, tiers: Tiers | None = None, policy: str | None = None
) -> Verdict:
    """One text through the rail's cascade under ``surface``'s rules."""
    return rail_cascade(tiers, policy).moderate([text], surface)[0]


def failing(verdict: Verdict, fail_on: Sequence[str]) -> list[CategoryVerdict]:
    """The categories whose action is in ``fail_on``, strongest first."""
    hits = [c for c in verdict.categories.values() if c.action in fail_on]
    return sorted(hits, key=lambda c: -c.score)


def describe(categories: Sequence[CategoryVerdict], policy_version: str, max_evidence: int = 3) -> str:
    """``moderation blocked (policy default@1+ab12cd34): violence 0.95 ['kill you': keyword 'kill you']; ...``."""
    parts = []
    for c in categories:
        shown = ", ".join(f"{e.text[:60]!r}: {e.why}" for e in c.evidence[:max_evidence])
        parts.append(f"{c.category} {c.score:.2f} ({c.action})" + (f" [{shown}]" if shown else ""))
    return f"moderation ({policy_version}): " + "; ".join(parts)


def verdict_metadata(verdict: Verdict) -> dict[str, Any]:
    """The verdict as plain JSON-able data (guardrails keeps metadata in its history and may serialise it)."""
    return verdict.as_dict()


def verdict_from_metadata(meta: dict[str, Any]) -> Verdict:
    categories = {
        name: CategoryVerdict(
            category=name,
            score=float(c["score"]),
            action=c["action"],
            detectors=dict(c["detectors"]),
            evidence=[Evidence(**e) for e in c["evidence"]],
        )
        for name, c in meta["categories"].items()
    }
    return Verdict(
        action=meta["action"],
        categories=categories,
        policy_version=meta["policy_version"],
        surface=meta["surface"],
        tiers_run=list(meta["tiers_run"]),
        timings_ms=dict(meta["timings_ms"]),
    )


@register_validator(name="platform/moderation", data_type="string")
class ModerationValidator(Validator):
    """Fails when the moderation cascade's action for ``surface`` is in ``fail_on`` (settings by default).

    No FIX: a hateful or violent text has no safe rewrite, so ``on_fail="fix"`` leaves the value as it is.
    """

    def __init__(
        self,
        surface: str = "llm_input",
        tiers: Tiers | None = None,
        fail_on: Sequence[str] | None = None,
        policy: str | None = None,
        on_fail: Any = None,
        **kwargs: Any,
    ) -> None:
        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {SURFACES}, got {surface!r}")
        cfg = get_settings().guardrails
        fail_on = list(fail_on) if fail_on is not None else list(cfg.moderation_fail_actions)
        if bad := set(fail_on) - {"flag", "review", "block"}:
            raise ValueError(f"fail_on takes flag/review/block, got {sorted(bad)}")
        super().__init__(on_fail=on_fail, surface=surface, tiers=tiers, fail_on=fail_on, policy=policy, **kwargs)
        self.surface, self.tiers, self.fail_on, self.policy = surface, tiers, fail_on, policy

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        verdict = moderate(str(value), self.surface, tiers=self.tiers, policy=self.policy)
        meta = verdict_metadata(verdict) | {"fail_on": list(self.fail_on)}
        bad = failing(verdict, self.fail_on)
        if not bad:
            return PassResult(metadata=meta)
        spans = [ErrorSpan(start=e.start, end=e.end, reason=f"{c.category}: {e.why}") for c in bad for e in c.evidence]
        return FailResult(error_message=describe(bad, verdict.policy_version), error_spans=spans, metadata=meta)
