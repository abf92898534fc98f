"""Tool calling for local models: prompt formatting, the forced-call schema, and output parsing.

Qwen2.5's chat template accepts OpenAI-style ``tools`` and asks the model to answer with
``<tool_call>{"name": ..., "arguments": ...}</tool_call>``. Small models sometimes wrap that
JSON in a code fence or emit it bare, so the parser accepts all three; a call is only returned
when it names a known tool and its arguments validate against that tool's JSON schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from shared.serving.types import ChatMessage, ToolCall, ToolSpec

TOOL_CALL_OPEN = "<tool_call>"
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def template_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """The OpenAI function format chat templates expect."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


def template_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Messages as chat-template dicts, including assistant tool calls and tool results."""
    out: list[dict[str, Any]] = []
    for m in messages:
        d: dict[str, Any] = {"role": m.role, "content": m.content or ""}
        if m.tool_calls:
            d["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
        if m.role == "tool" and m.tool_call_id:
            d["tool_call_id"] = m.tool_call_id
        if m.name:
            d["name"] = m.name
        out.append(d)
    return out


def selected_tools(tools: list[ToolSpec] | None, tool_choice: str) -> list[ToolSpec]:
    """The tools the model may use under ``tool_choice`` ("auto" | "none" | "required" | a tool name)."""
    if not tools or tool_choice == "none":
        return []
    if tool_choice in ("auto", "required"):
        return list(tools)
    chosen = [t for t in tools if t.name == tool_choice]
    if not chosen:
        raise ValueError(f"tool_choice names {tool_choice!r}, which is not among the tools {[t.name for t in tools]}")
    return chosen


def forced_call_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """JSON schema of one call to any of ``tools``: used to constrain decoding when a call is required."""
    variants = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": t.parameters or {"type": "object"}},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _candidates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, json text) spans that may hold a call, most explicit form first."""
    spans = [(m.start(), m.end(), m.group(1)) for m in _TAGGED.finditer(text)]
    if spans:
        return spans
    spans = [(m.start(), m.end(), m.group(1)) for m in _FENCED.finditer(text)]
    if spans:
        return spans
    stripped = text.strip()
    if stripped.startswith("{"):
        return [(0, len(text), stripped)]
    return []


def _to_call(obj: Any, tools: dict[str, ToolSpec]) -> ToolCall | None:
    if not isinstance(obj, dict) or obj.get("name") not in tools:
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # some models double-encode the arguments
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    try:
        jsonschema.validate(args, tools[obj["name"]].parameters or {"type": "object"})
    except jsonschema.ValidationError:
        return None
    return ToolCall(name=obj["name"], arguments=args)


def parse_tool_calls(text: str, tools: list[ToolSpec]) -> tuple[str, list[ToolCall]]:
    """Split model output into (remaining text, valid tool calls); invalid calls stay in the text."""
    by_name = {t.name: t for t in tools}
    calls: list[ToolCall] = []
    remaining = text
    for start, end, body in reversed(_candidates(text)):
        try:
            obj = json.loads(body)
        except json.JSONDecodeError:
            continue
        objs = obj if isinstance(obj, list) else [obj]
        parsed = [_to_call(o, by_name) for o in objs]
        if parsed and all(parsed):
            calls[0:0] = [c for c in parsed if c]
            remaining = remaining[:start] + remaining[end:]
    return (remaining.strip() if calls else text), calls
