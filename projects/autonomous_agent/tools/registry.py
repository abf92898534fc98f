"""The tool registry: the one place a tool call goes through, and the reason a bad call never crashes a run.

Every failure a tool can have — an unknown name, arguments that do not fit the schema, an exception, a hang, a
10 MB answer — comes back as a ``ToolResult`` with ``ok=False`` (or ``truncated=True``) and a message short and
precise enough for the model to correct itself from. The loop therefore needs no ``try`` around tool calls, and a
checkpoint never holds more than ``tool_output_max_chars`` of one observation.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.types import Permission, Tool, ToolContext, ToolResult, tool_spec
from shared.serving.types import ToolSpec

_MAX_ERRORS = 5  # schema errors listed per call: enough to fix several at once, short enough to read


def cap_text(text: str, limit: int) -> tuple[str, bool]:
    """Keep the head and the tail of ``text`` (what a program printed first and its final result/traceback) and
    say in the middle how much was cut. Returns (text, truncated)."""
    if len(text) <= limit:
        return text, False
    marker = "\n[... {n} characters cut: output longer than {limit} characters ...]\n"
    room = max(limit - len(marker.format(n=len(text), limit=limit)), 2)
    head = room * 2 // 3
    tail = room - head
    cut = len(text) - head - tail
    return text[:head] + marker.format(n=cut, limit=limit) + text[len(text) - tail :], True


def describe_exception(exc: BaseException) -> str:
    """``TypeError: message (at file.py:12 in func)``: the type, the message's first line and the last frame —
    what the model (and a reader of the trail) needs, not a 40-line traceback."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        line += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return line


def _json_size(value: Any) -> int:
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return len(str(value))


def _path_of(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"arguments{path}"


class ToolRegistry:
    """Named tools with their JSON schemas and permission levels; :meth:`call` runs one call safely.

    ``settings`` gives the per-call wall-time limit (``tool_timeout_s``; a tool may declare its own with
    ``timeout_for(arguments) -> float``, e.g. the python tool whose sandbox limit the model can raise) and the
    output cap (``tool_output_max_chars``).
    """

    def __init__(self, tools: Iterable[Tool] = (), settings: AgentSettings | None = None) -> None:
        self.settings = settings or get_agent_settings()
        self._tools: dict[str, Tool] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        for tool in tools:
            self.register(tool)

    # -- catalogue -----------------------------------------------------------------------------------------
    def register(self, tool: Tool) -> Tool:
        """Add ``tool`` (a second tool with the same name replaces the first). Its schema is checked now, so a
        broken schema fails at start-up rather than on the model's first call."""
        if not isinstance(tool, Tool):
            raise TypeError(f"{tool!r} does not implement the Tool protocol")
        try:
            Draft202012Validator.check_schema(tool.parameters)
        except SchemaError as exc:
            raise ValueError(f"tool {tool.name!r} has an invalid parameters schema: {exc.message}") from exc
        self._tools[tool.name] = tool
        self._validators[tool.name] = Draft202012Validator(tool.parameters)
        return tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def permission(self, name: str) -> Permission:
        """The tool's permission level (KeyError for an unknown tool: the loop asks before calling)."""
        return self._tools[name].permission

    def specs(self, names: Iterable[str] | None = None) -> list[ToolSpec]:
        """Model-facing descriptions, of all tools or of ``names`` (unknown names are ignored)."""
        chosen = self.names() if names is None else [n for n in names if n in self._tools]
        return [tool_spec(self._tools[n]) for n in chosen]

    def subset(self, names: Iterable[str]) -> ToolRegistry:
        """A registry of only ``names`` (a worker agent with fewer tools), sharing the tool objects."""
        return ToolRegistry([self._tools[n] for n in names if n in self._tools], self.settings)

    # -- calling ---------------------------------------------------------------------------------------------
    def validate(self, name: str, arguments: Any) -> str | None:
        """None if ``arguments`` fit the tool's schema, else a message naming each offending field."""
        if not isinstance(arguments, dict):
            return f"arguments must be a JSON object, got {type(arguments).__name__}"
        errors = sorted(self._validators[name].iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if not errors:
            return None
        lines = [f"{_path_of(e)}: {e.message}" for e in errors[:_MAX_ERRORS]]
        more = f" (+{len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
        expected = ", ".join(sorted(self._tools[name].parameters.get("properties", {}))) or "none"
        return f"invalid arguments for {name}: " + "; ".join(lines) + more + f". Parameters: {expected}"

    def timeout_for(self, name: str, arguments: dict[str, Any]) -> float:
        tool = self._tools[name]
        custom = getattr(tool, "timeout_for", None)
        if callable(custom):
            try:
                return float(custom(arguments))
            except Exception:  # a broken hint must not break the call: the default applies
                pass
        return self.settings.tool_timeout_s

    def call(self, name: str, arguments: Any, ctx: ToolContext) -> ToolResult:
        """Run one call. Never raises for what the tool or the model did wrong: see the module docstring."""
        start = time.monotonic()
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self.names()) or "none"
            return self._finish(ToolResult(ok=False, error=f"unknown tool {name!r}; available tools: {known}"), start)
        problem = self.validate(name, arguments)
        if problem:
            return self._finish(ToolResult(ok=False, error=problem), start)
        timeout = self.timeout_for(name, arguments)
        result = _run_with_deadline(tool, arguments, ctx, timeout)
        return self._finish(result, start)

    def _finish(self, result: Any, start: float) -> ToolResult:
        """Cap what goes into the context and the checkpoint; record the duration."""
        if not isinstance(result, ToolResult):
            result = ToolResult(ok=False, error=f"tool returned {type(result).__name__}, not a ToolResult")
        limit = self.settings.tool_output_max_chars
        output, cut = cap_text(result.output or "", limit)
        error = result.error
        if error is not None:
            error, cut_error = cap_text(error, limit)
            cut = cut or cut_error
        data = result.data
        if data is not None and _json_size(data) > limit * 4:
            # Structured data is for the UI/eval, not the model; a copy larger than a few outputs would make the
            # checkpoint grow without bound, so it is dropped (the text output keeps head and tail).
            data = {"dropped": f"structured data larger than {limit * 4} characters"}
            cut = True
        return ToolResult(
            ok=result.ok,
            output=output,
            data=data,
            error=error,
            truncated=result.truncated or cut,
            duration_s=round(time.monotonic() - start, 4),
        )


def _run_with_deadline(tool: Tool, arguments: dict[str, Any], ctx: ToolContext, timeout: float) -> ToolResult:
    """Run the tool in a daemon thread and stop waiting at ``timeout``.

    A Python thread cannot be killed: a tool that ignores its own limits keeps running in the background, but the
    run goes on and the model is told. Tools that can hang (code, SQL, HTTP) carry their own hard limits (sandbox
    wall clock, statement_timeout, httpx timeouts) set below this one, so this is the backstop, not the mechanism.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = tool.run(arguments, ctx)
        except BaseException as exc:  # everything, SystemExit from tool code included
            box["error"] = describe_exception(exc)

    worker = threading.Thread(target=target, name=f"tool-{tool.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return ToolResult(
            ok=False,
            error=f"timeout: {tool.name} did not finish within the tool time limit of {timeout:g} s "
            "(AGENT__TOOL_TIMEOUT_S); its result is discarded",
        )
    if "error" in box:
        return ToolResult(ok=False, error=box["error"])
    return box.get("result")  # type: ignore[return-value]  # _finish checks the type
