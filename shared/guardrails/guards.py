"""Ready-made rails: guardrails-ai ``Guard`` factories, and a framework-free check for projects.

Projects that only need a yes/no plus clean text call :func:`check_input` / :func:`check_output` and never
touch guardrails-ai; projects that want guardrails' own machinery (on_fail policies, history, reasks) use
:func:`input_guard`, :func:`output_guard` and :func:`json_guard`.

Note on composition in guardrails-ai 0.11: all validators on one property run on the *original* value and
their fixes are merged, and a second ``Guard.use(...)`` call on the same property replaces the first. So a
guard here carries at most one fixing validator (PII redaction), passed in a single ``use`` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.guardrails.validators import (
    InjectionValidator,
    JsonSchemaValidator,
    PiiValidator,
    ProfanityValidator,
)

from guardrails import Guard, OnFailAction  # isort: skip  (validators.py configures offline mode first)

BLOCKING_INPUT = ("InjectionValidator", "ProfanityValidator")


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


def json_guard(schema: dict[str, Any], on_fail: OnFailAction | str = OnFailAction.FIX) -> Guard:
    """JSON-schema validity; by default fixes fenced/prefixed JSON and yields None when nothing valid is found."""
    return Guard(name="platform-json").use(JsonSchemaValidator(schema=schema, on_fail=on_fail))


@dataclass
class RailResult:
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    sanitized_text: str = ""
    scores: dict[str, float] = field(default_factory=dict)


def _run(guard: Guard, text: str, blocking: tuple[str, ...]) -> RailResult:
    outcome = guard.validate(text)
    reasons, allowed = [], True
    for summary in outcome.validation_summaries or []:
        if summary.validator_status == "fail":
            reasons.append(f"{summary.validator_name}: {summary.failure_reason}")
            allowed = allowed and summary.validator_name not in blocking
    scores: dict[str, float] = {}
    last = guard.history.last
    if last is not None:
        for log in last.iterations.last.validator_logs if last.iterations.last else []:
            meta = getattr(log.validation_result, "metadata", None) or {}
            scores.update({k: float(v) for k, v in meta.items() if isinstance(v, int | float)})
    sanitized = outcome.validated_output if isinstance(outcome.validated_output, str) else text
    return RailResult(allowed=allowed, reasons=reasons, sanitized_text=sanitized, scores=scores)


def check_input(text: str, *, block_pii: bool = False) -> RailResult:
    """User input rail: blocked on injection or profanity (and PII when ``block_pii``); PII is redacted in
    ``sanitized_text`` so it never reaches a model or a log."""
    guard = Guard(name="platform-check-input").use(
        InjectionValidator(on_fail="noop"), ProfanityValidator(on_fail="noop"), PiiValidator(on_fail="fix")
    )
    blocking = (*BLOCKING_INPUT, "PiiValidator") if block_pii else BLOCKING_INPUT
    return _run(guard, text, blocking)


def check_output(text: str, *, redact_pii: bool = True) -> RailResult:
    """Model output rail: blocked on profanity; PII redacted in ``sanitized_text`` (blocking when not redacting)."""
    guard = Guard(name="platform-check-output").use(
        ProfanityValidator(on_fail="noop"), PiiValidator(on_fail="fix" if redact_pii else "noop")
    )
    blocking = ("ProfanityValidator",) if redact_pii else ("ProfanityValidator", "PiiValidator")
    return _run(guard, text, blocking)
