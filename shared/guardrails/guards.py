"""Ready-made rails: guardrails-ai ``Guard`` factories, and a framework-free check for projects.

Projects that only need a yes/no plus clean text call :func:`check_input` / :func:`check_output` and never
touch guardrails-ai; projects that want guardrails' own machinery (on_fail policies, history, reasks) use
:func:`input_guard`, :func:`output_guard` and :func:`json_guard`.

Note on composition in guardrails-ai 0.11: all validators on one property run on the *original* value and
their fixes are merged, and a second ``Guard.use(...)`` call on the same property replaces the first. So a
guard here carries at most one fixing validator (PII redaction), passed in a single ``use`` call. The
moderation validator never fixes, so it joins any guard without breaking that rule.

Moderation: ``check_input`` / ``check_output`` also run the shared moderation cascade (``platform/moderation``,
surfaces ``llm_input`` / ``llm_output``; off with ``moderation=False`` or ``GUARDRAILS__MODERATION_RAILS=false``),
and the :class:`RailResult` carries its verdict, the flagged categories and the policy version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.guardrails.moderation import ModerationValidator, Tiers, verdict_from_metadata
from shared.guardrails.secrets import SecretFinding, detect_secrets, redact_secrets
from shared.guardrails.validators import (
    InjectionValidator,
    JsonSchemaValidator,
    PiiValidator,
    ProfanityValidator,
)
from shared.moderation.cascade import Verdict
from shared.settings import get_settings

from guardrails import Guard, OnFailAction  # isort: skip  (validators.py configures offline mode first)

BLOCKING_INPUT = ("InjectionValidator", "ProfanityValidator", "ModerationValidator")
MODERATION = "ModerationValidator"


def input_guard(
    on_fail: OnFailAction | str = OnFailAction.EXCEPTION, pii_on_fail: OnFailAction | str = "noop"
) -> Guard:
    """Injection + profanity (``on_fail``, raising by default) and PII detection (``pii_on_fail``, recorded only)."""
    return Guard(name="platform-input").use(
        InjectionValidator(on_fail=on_fail), ProfanityValidator(on_fail=on_fail), PiiValidator(on_fail=pii_on_fail)
    )


def output_guard(redact_pii: bool = True, on_fail: OnFailAction | str = OnFailAction.EXCEPTION) -> Guard:
    """Profanity (``on_fail``) and PII: redacted in the validated output when ``redact_pii``, else ``on_fail``."""
    return Guard(name="platform-output").use(
        ProfanityValidator(on_fail=on_fail), PiiValidator(on_fail=OnFailAction.FIX if redact_pii else on_fail)
    )


def moderation_input_guard(
    on_fail: OnFailAction | str = OnFailAction.EXCEPTION,
    *,
    tiers: Tiers | None = None,
    fail_on: list[str] | None = None,
    policy: str | None = None,
) -> Guard:
    """The moderation cascade on the ``llm_input`` surface (``on_fail``, raising by default)."""
    return Guard(name="platform-moderation-input").use(
        ModerationValidator("llm_input", tiers=tiers, fail_on=fail_on, policy=policy, on_fail=on_fail)
    )


def moderation_output_guard(
    redact_pii: bool = True,
    on_fail: OnFailAction | str = OnFailAction.EXCEPTION,
    *,
    tiers: Tiers | None = None,
    fail_on: list[str] | None = None,
    policy: str | None = None,
) -> Guard:
    """Moderation on ``llm_output`` (``on_fail``) and PII redacted in the validated output when ``redact_pii``."""
    validators = [ModerationValidator("llm_output", tiers=tiers, fail_on=fail_on, policy=policy, on_fail=on_fail)]
    if redact_pii:
        validators.append(PiiValidator(on_fail=OnFailAction.FIX))
    return Guard(name="platform-moderation-output").use(*validators)


def json_guard(schema: dict[str, Any], on_fail: OnFailAction | str = OnFailAction.FIX) -> Guard:
    """JSON-schema validity; by default fixes fenced/prefixed JSON and yields None when nothing valid is found."""
    return Guard(name="platform-json").use(JsonSchemaValidator(schema=schema, on_fail=on_fail))


@dataclass
class RailResult:
    """``allowed`` is False when a blocking validator failed; ``reasons`` has one line per failed validator.

    With moderation on: ``verdict`` is the cascade's full verdict, ``categories`` the categories it did not
    allow (flag, review or block), strongest first, and ``policy_version`` the policy that decided.
    ``blocked_by`` names the moderation categories that made the rail fail (empty when it passed).
    ``secrets`` names the kinds of credentials redacted (with ``secrets=True``); they never block.
    """

    allowed: bool
    reasons: list[str] = field(default_factory=list)
    sanitized_text: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    verdict: Verdict | None = None
    categories: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    policy_version: str | None = None
    secrets: list[str] = field(default_factory=list)

    @property
    def refusal_reasons(self) -> list[str]:
        """The reasons that can refuse (the note that credentials were redacted is not one)."""
        return [r for r in self.reasons if not r.startswith(_SECRETS_NOTE)]


_SECRETS_NOTE = "SecretsValidator:"


def _run(guard: Guard, text: str, blocking: tuple[str, ...]) -> RailResult:
    outcome = guard.validate(text)
    reasons, allowed = [], True
    for summary in outcome.validation_summaries or []:
        if summary.validator_status == "fail":
            reasons.append(f"{summary.validator_name}: {summary.failure_reason}")
            allowed = allowed and summary.validator_name not in blocking
    scores: dict[str, float] = {}
    result = RailResult(allowed=allowed, reasons=reasons)
    last = guard.history.last
    if last is not None:
        for log in last.iterations.last.validator_logs if last.iterations.last else []:
            meta = getattr(log.validation_result, "metadata", None) or {}
            scores.update({k: float(v) for k, v in meta.items() if isinstance(v, int | float)})
            if log.validator_name == MODERATION and "categories" in meta:
                _attach(result, meta, log.validation_result.outcome == "fail")
    if result.verdict is not None:  # flagged categories' scores, namespaced so they never clash with a validator's
        scores.update({f"moderation/{c}": result.verdict.score(c) for c in result.categories})
    result.scores = scores
    result.sanitized_text = outcome.validated_output if isinstance(outcome.validated_output, str) else text
    return result


def _attach(result: RailResult, meta: dict, failed: bool) -> None:
    verdict = verdict_from_metadata(meta)
    fail_on = meta.get("fail_on") or get_settings().guardrails.moderation_fail_actions
    ranked = sorted(verdict.categories.values(), key=lambda c: -c.score)
    result.verdict = verdict
    result.policy_version = verdict.policy_version
    result.categories = [c.category for c in ranked if c.action != "allow"]
    result.blocked_by = [c.category for c in ranked if c.action in fail_on] if failed else []


def _moderation(surface: str, enabled: bool | None, policy: str | None = None) -> list[ModerationValidator]:
    on = get_settings().guardrails.moderation_rails if enabled is None else enabled
    return [ModerationValidator(surface, policy=policy, on_fail="noop")] if on else []


def check_input(
    text: str,
    *,
    block_pii: bool = False,
    moderation: bool | None = None,
    injection: bool = True,
    pii: bool = True,
    secrets: bool = False,
    policy: str | None = None,
) -> RailResult:
    """User input rail: blocked on injection, profanity or a moderation block on ``llm_input`` (and PII when
    ``block_pii``); PII is redacted in ``sanitized_text`` so it never reaches a model or a log.
    ``moderation`` None = ``settings.guardrails.moderation_rails``. ``injection=False`` / ``pii=False`` drop
    those validators (e.g. PII redaction on code questions, whose identifiers Presidio reads as names);
    ``secrets=True`` redacts credentials to ``<SECRET:kind>`` first (never blocking: the rest of the text is fine).
    ``policy``: the moderation policy (``shared/moderation/policies/<name>.yaml``; default ``settings.moderation``).
    """
    text, found = _without_secrets(text) if secrets else (text, [])
    validators: list = [InjectionValidator(on_fail="noop")] if injection else []
    validators.append(ProfanityValidator(on_fail="noop"))
    if pii or block_pii:
        validators.append(PiiValidator(on_fail="fix"))
    blocking = (*BLOCKING_INPUT, "PiiValidator") if block_pii else BLOCKING_INPUT
    guard = Guard(name="platform-check-input").use(*validators, *_moderation("llm_input", moderation, policy))
    return _with_secrets(_run(guard, text, blocking), found)


def check_output(
    text: str,
    *,
    redact_pii: bool = True,
    block_pii: bool | None = None,
    moderation: bool | None = None,
    secrets: bool = False,
    policy: str | None = None,
) -> RailResult:
    """Model output rail: blocked on profanity or a moderation block on ``llm_output``; PII redacted in
    ``sanitized_text`` when ``redact_pii``. ``block_pii`` (default: ``not redact_pii``) makes PII block;
    ``redact_pii=False, block_pii=False`` leaves PII alone (a rail for answers quoting names from documents).
    ``secrets=True`` redacts credentials to ``<SECRET:kind>`` (a model repeating a key it saw in context)."""
    text, found = _without_secrets(text) if secrets else (text, [])
    block_pii = (not redact_pii) if block_pii is None else block_pii
    validators: list = [ProfanityValidator(on_fail="noop"), *_moderation("llm_output", moderation, policy)]
    if redact_pii or block_pii:
        validators.append(PiiValidator(on_fail="fix" if redact_pii else "noop"))
    blocking = ("ProfanityValidator", MODERATION) + (("PiiValidator",) if block_pii else ())
    return _with_secrets(_run(Guard(name="platform-check-output").use(*validators), text, blocking), found)


def _without_secrets(text: str) -> tuple[str, list[SecretFinding]]:
    """Secrets go before the guard runs (regex, no model), so no validator or log ever sees one; the guard's
    own fix (PII) then works on the redacted text, keeping to one fixing validator per guard."""
    found = detect_secrets(text)
    return (redact_secrets(text, found) if found else text), found


def _with_secrets(result: RailResult, found: list[SecretFinding]) -> RailResult:
    if found:
        result.secrets = sorted({f.kind for f in found})
        result.reasons.insert(0, f"{_SECRETS_NOTE} credentials redacted: {', '.join(result.secrets)}")
    return result
