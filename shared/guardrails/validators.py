"""guardrails-ai validators for the platform, registered under ``platform/<name>``.

Use them in any ``Guard`` (``Guard().use(PiiValidator(on_fail="fix"), InjectionValidator(on_fail="exception"))``)
or through the ready-made rails in :mod:`shared.guardrails.guards`. Models load lazily in
:mod:`shared.guardrails.detectors`, so constructing a validator is cheap.

Fix behaviour: PII → the text with ``<ENTITY_TYPE>`` placeholders; secrets → ``<SECRET:kind>``; JSON → the JSON
payload extracted from fenced/prefixed text when it validates. Injection and profanity have no safe fix (FIX leaves
the value).
"""

from __future__ import annotations

import json
from typing import Any

from shared.guardrails.offline import ensure_offline

ensure_offline()

from guardrails.validators import (  # noqa: E402  (must follow ensure_offline)
    FailResult,
    PassResult,
    ValidationResult,
    Validator,
    register_validator,
)

from shared.guardrails import detectors, secrets  # noqa: E402
from shared.settings import get_settings  # noqa: E402


@register_validator(name="platform/pii", data_type="string")
class PiiValidator(Validator):
    """Fails when Presidio finds PII (entities from settings unless given); FIX redacts to ``<EMAIL_ADDRESS>``."""

    def __init__(self, entities: list[str] | None = None, on_fail: Any = None, **kwargs: Any) -> None:
        super().__init__(on_fail=on_fail, entities=entities, **kwargs)
        self.entities = entities

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        findings = detectors.detect_pii(str(value), self.entities)
        if not findings:
            return PassResult()
        kinds = sorted({f.entity for f in findings})
        return FailResult(
            error_message=f"PII detected: {', '.join(kinds)}",
            fix_value=detectors.redact(str(value), findings),
            metadata={"entities": kinds},
        )


@register_validator(name="platform/prompt-injection", data_type="string")
class InjectionValidator(Validator):
    """Fails when the TF-IDF+LR classifier's injection probability reaches the threshold (settings by default)."""

    def __init__(self, threshold: float | None = None, on_fail: Any = None, **kwargs: Any) -> None:
        super().__init__(on_fail=on_fail, threshold=threshold, **kwargs)
        self.threshold = threshold if threshold is not None else get_settings().guardrails.injection_threshold

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        score = detectors.injection_score(str(value))
        if score < self.threshold:
            return PassResult(metadata={"injection_score": score})
        return FailResult(
            error_message=f"prompt injection suspected (score {score:.2f} >= {self.threshold:.2f})",
            metadata={"injection_score": score},
        )


@register_validator(name="platform/profanity", data_type="string")
class ProfanityValidator(Validator):
    """Fails when alt-profanity-check's probability reaches the threshold (settings by default)."""

    def __init__(self, threshold: float | None = None, on_fail: Any = None, **kwargs: Any) -> None:
        super().__init__(on_fail=on_fail, threshold=threshold, **kwargs)
        self.threshold = threshold if threshold is not None else get_settings().guardrails.profanity_threshold

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        score = detectors.profanity_score(str(value))
        if score < self.threshold:
            return PassResult(metadata={"profanity_score": score})
        return FailResult(
            error_message=f"profanity/toxicity detected (score {score:.2f} >= {self.threshold:.2f})",
            metadata={"profanity_score": score},
        )


@register_validator(name="platform/secrets", data_type="string")
class SecretsValidator(Validator):
    """Fails when the text holds a credential (:mod:`shared.guardrails.secrets`); FIX replaces each with
    ``<SECRET:kind>``. Regex-only: microseconds, so it fits on every completion and every chunk of context."""

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        findings = secrets.detect_secrets(str(value))
        if not findings:
            return PassResult()
        kinds = sorted({f.kind for f in findings})
        return FailResult(
            error_message=f"credentials detected: {', '.join(kinds)}",
            fix_value=secrets.redact_secrets(str(value), findings),
            metadata={"secrets": kinds},
        )


@register_validator(name="platform/json-schema", data_type="string")
class JsonSchemaValidator(Validator):
    """Fails unless the text is JSON valid against ``schema``; FIX extracts the JSON from fences or a prose prefix
    (offered only when the extracted payload itself validates)."""

    def __init__(self, schema: dict[str, Any], on_fail: Any = None, **kwargs: Any) -> None:
        import jsonschema

        super().__init__(on_fail=on_fail, schema=schema, **kwargs)
        jsonschema.validators.validator_for(schema).check_schema(schema)  # a bad schema is a programming error
        self._validator = jsonschema.validators.validator_for(schema)(schema)

    def _errors(self, payload: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in self._validator.iter_errors(payload)
        ]

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            errors = [f"not valid JSON: {exc.msg} at char {exc.pos}"]
        else:
            errors = self._errors(payload)
            if not errors:
                return PassResult()
        extracted = detectors.extract_json(text)
        fix = json.dumps(extracted) if extracted is not None and not self._errors(extracted) else None
        return FailResult(error_message="; ".join(errors[:5]), fix_value=fix)
