"""Guardrails: input/output rails (PII, prompt injection, profanity, moderation, JSON schema) on guardrails-ai,
offline; :mod:`shared.guardrails.streaming` checks streamed model output sentence by sentence.

``from shared.guardrails import check_input`` is cheap: guardrails-ai and the models load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RailResult",
    "check_input",
    "check_output",
    "input_guard",
    "json_guard",
    "moderation_input_guard",
    "moderation_output_guard",
    "output_guard",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from shared.guardrails import guards

        return getattr(guards, name)
    raise AttributeError(name)
