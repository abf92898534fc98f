"""Structured output: a pydantic object from any ChatModel, or a clear error after bounded retries.

Backends that can constrain decoding do so when ``ChatRequest.response_schema`` is set (local:
xgrammar; vLLM: ``response_format`` json_schema). Validation still happens here, because
constraints can be cut short by ``max_tokens`` and remote servers may ignore them; on failure the
validation error is fed back to the model so the next attempt can correct itself.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import jsonschema
from pydantic import BaseModel, ValidationError

from shared.serving.base import ChatModel, ServingError
from shared.serving.types import ChatMessage, ChatRequest
from shared.settings import get_settings

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


class StructuredOutputError(ServingError):
    """The model did not produce output valid for the schema within the retry budget."""

    def __init__(self, message: str, *, last_output: str = "", errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.last_output = last_output
        self.errors = errors or []


class InvalidSchemaError(ValueError):
    """The caller's JSON schema is itself invalid: a client error, never worth a retry or a fallback."""


def validate_schema(schema: Any) -> dict[str, Any]:
    """Check ``schema`` is a valid JSON schema (draft 2020-12) and return it; raise InvalidSchemaError."""
    if not isinstance(schema, dict):
        raise InvalidSchemaError(f"response schema must be a JSON object, got {type(schema).__name__}")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "<root>"
        raise InvalidSchemaError(f"invalid JSON schema at {path}: {exc.message}") from exc
    return schema


def schema_instruction(schema: dict[str, Any]) -> str:
    """The system-prompt line telling the model what shape to answer in (helps even when constrained)."""
    return "Answer only with a JSON value that validates against this JSON schema:\n" + json.dumps(schema)


def extract_json(text: str) -> str:
    """The JSON part of a model answer: inside a code fence if there is one, else from the first brace."""
    m = _FENCE.search(text)
    if m:
        return m.group(1)
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text.strip()
    start = min(starts)
    end = max(text.rfind("}"), text.rfind("]"))
    return text[start : end + 1] if end > start else text[start:]


def generate_structured(
    model: ChatModel, request: ChatRequest, output_type: type[T], max_retries: int | None = None
) -> T:
    """Ask ``model`` for an ``output_type`` instance; retry with the validation error as feedback."""
    schema = validate_schema(output_type.model_json_schema())
    retries = get_settings().serving.structured_max_retries if max_retries is None else max_retries
    req = request.model_copy(update={"response_schema": schema, "tools": None, "tool_choice": "none"})
    errors: list[str] = []
    text = ""
    for _attempt in range(retries + 1):
        result = model.chat(req)
        text = result.text
        try:
            return output_type.model_validate_json(extract_json(text))
        except ValidationError as exc:
            error = str(exc)
            errors.append(error)
            feedback = (
                f"Your answer did not validate against the schema:\n{error}\nReply again with only the corrected JSON."
            )
            req = req.model_copy(
                update={"messages": [*req.messages, ChatMessage.assistant(text), ChatMessage.user(feedback)]}
            )
    raise StructuredOutputError(
        f"no valid {output_type.__name__} after {retries + 1} attempts: {errors[-1] if errors else ''}",
        last_output=text,
        errors=errors,
    )
