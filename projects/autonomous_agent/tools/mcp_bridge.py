"""MCP both ways (the ``mcp`` package, 2.x): use an MCP server's tools as agent tools, and serve the agent's tools.

**Consuming** (:class:`MCPToolset`): the server is started over stdio (command + args), its tools are listed once,
and each becomes an :class:`MCPTool` in the registry — same JSON-schema validation, timeout and output cap as a
built-in. The MCP client is asyncio; the agent loop is synchronous, so one background thread owns an event loop
and the one session per toolset, and calls are submitted to it (``run_coroutine_threadsafe``). ``close()`` ends
the session and the server process.

Which permission an MCP tool gets: an MCP server is an outside process — nothing it does is confined by our
sandbox or our workspace — so by default its tools are ``network`` (a human approves each call, as for
``http_get``). A server may say more with the spec's tool annotations, read as the spec defines them (absent
hints mean "may write, open world"): ``openWorldHint`` true or unset → ``network``; ``readOnlyHint`` → ``read``;
otherwise (writes in a closed world) → ``write``. Annotations are *hints from the server*: for a server you do not
trust, pass ``permission=`` to fix the level of all its tools instead.

**Serving** (:func:`serve_registry`, ``python -m projects.autonomous_agent.mcp_server``): the registry's tools
over stdio with the low-level server (our tools already carry JSON schemas, which FastMCP/MCPServer would rebuild
from function signatures). Calls run in a scratch workspace of their own, removed when the server exits; each
tool's permission is published as annotations, so a client can ask its user before ``network``/``write`` tools.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mcp_types as mt

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.tools.registry import ToolRegistry, describe_exception
from projects.autonomous_agent.types import Permission, ToolContext, ToolResult

log = logging.getLogger(__name__)

_ENVELOPE = {"ok", "truncated", "duration_s", "data"}  # structured_content of serve_registry's results
_START_TIMEOUT_S = 60.0  # spawning a Python server that imports the platform takes seconds on a busy machine


def permission_from_annotations(annotations: mt.ToolAnnotations | None, default: Permission) -> Permission:
    """The permission level an MCP tool's annotations imply (see the module docstring); ``default`` if none."""
    if annotations is None:
        return default
    if annotations.open_world_hint is not False:
        return "network"
    if annotations.read_only_hint:
        return "read"
    return "write"


def annotations_for(permission: Permission) -> mt.ToolAnnotations:
    """How our permission levels read as MCP hints (the inverse of :func:`permission_from_annotations`)."""
    return mt.ToolAnnotations(
        read_only_hint=permission in ("read", "compute"),
        destructive_hint=permission in ("write", "write_scratch"),
        idempotent_hint=permission in ("read", "compute"),
        open_world_hint=permission == "network",
    )


def _text_of(content: Sequence[Any]) -> str:
    parts = []
    for block in content:
        if isinstance(block, mt.TextContent):
            parts.append(block.text)
        else:
            kind = getattr(block, "type", type(block).__name__)
            mime = getattr(block, "mime_type", None)
            parts.append(f"<{kind} content{f' ({mime})' if mime else ''}: not shown>")
    return "\n".join(parts)


class MCPTool:
    """One tool of an MCP server, as an agent ``Tool``."""

    def __init__(self, toolset: MCPToolset, remote: mt.Tool, name: str, permission: Permission) -> None:
        self.toolset = toolset
        self.remote_name = remote.name
        self.name = name
        self.description = remote.description or remote.title or remote.name
        self.parameters: dict[str, Any] = dict(remote.input_schema or {"type": "object"})
        self.permission: Permission = permission

    def timeout_for(self, arguments: dict[str, Any]) -> float:
        return self.toolset.timeout_s + 5.0  # the session's own read timeout fires first

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return self.toolset.call(self.remote_name, arguments)


class MCPToolset:
    """A running MCP server (stdio) and its tools. Use as a context manager, or ``start()``/``close()``.

    ``permission``: fix the level of every tool (a server you do not trust); None = from annotations, else
    ``default_permission`` (``AGENT__MCP_DEFAULT_PERMISSION``, ``network``). ``prefix`` is put before each tool
    name (``"fs_"``), for servers whose names collide with built-ins. ``env`` is added to the MCP SDK's minimal
    default environment (HOME, PATH, ...), so the server does not inherit the agent's secrets.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        permission: Permission | None = None,
        default_permission: Permission | None = None,
        prefix: str = "",
        timeout_s: float | None = None,
        settings: AgentSettings | None = None,
    ) -> None:
        self.settings = settings or get_agent_settings()
        self.command, self.args, self.env, self.cwd = command, list(args), env, cwd
        self.permission = permission
        self.default_permission: Permission = default_permission or self.settings.mcp_default_permission
        self.prefix = prefix
        self.timeout_s = timeout_s or self.settings.tool_timeout_s
        self.tools: list[MCPTool] = []
        self.server_name: str | None = None
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> MCPToolset:
        """Spawn the server, open the session, list its tools. Raises if the server cannot be reached."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._thread_main, name=f"mcp-{self.command}", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            self.close()
            raise TimeoutError(f"MCP server {self.command!r} did not start within {_START_TIMEOUT_S:g} s")
        if self._error is not None:
            error = self._error
            self.close()
            raise RuntimeError(f"MCP server {self.command!r} failed to start: {describe_exception(error)}") from error
        return self

    def close(self) -> None:
        """End the session; the SDK closes the server's stdin, then terminates its process tree."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._thread = None
        self._client = None

    def __enter__(self) -> MCPToolset:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._client is not None

    def register_into(self, registry: ToolRegistry) -> list[str]:
        """Add this server's tools to ``registry`` (a tool with an invalid schema is skipped and logged)."""
        added = []
        for tool in self.tools:
            try:
                registry.register(tool)
                added.append(tool.name)
            except (TypeError, ValueError) as exc:
                log.warning("MCP tool %s skipped: %s", tool.name, exc)
        return added

    # -- the session thread ----------------------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(), or the session ended under a call
            if not self._ready.is_set():
                self._error = exc
        finally:
            self._client = None
            self._ready.set()

    async def _main(self) -> None:
        from mcp import Client, StdioServerParameters

        params = StdioServerParameters(
            command=self.command,
            args=self.args,
            env=self.env,
            cwd=self.cwd,
            encoding_error_handler="replace",
        )
        async with Client(params, read_timeout_seconds=self.timeout_s) as client:
            self.server_name = client.server_info.name if client.server_info else None
            listed: list[mt.Tool] = []
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                listed.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            self.tools = [self._wrap(t) for t in listed]
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._client = client
            self._ready.set()
            await self._stop.wait()

    def _wrap(self, remote: mt.Tool) -> MCPTool:
        permission = self.permission or permission_from_annotations(remote.annotations, self.default_permission)
        return MCPTool(self, remote, f"{self.prefix}{remote.name}", permission)

    # -- calls -----------------------------------------------------------------------------------------------
    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call ``name`` on the server; every failure (server gone, timeout, protocol error) is a ToolResult."""
        client, loop = self._client, self._loop
        if client is None or loop is None or not self.running:
            return ToolResult(ok=False, error=f"MCP server {self.command!r} is not running")
        future = asyncio.run_coroutine_threadsafe(client.call_tool(name, arguments), loop)
        try:
            result: mt.CallToolResult = future.result(timeout=self.timeout_s + 2.0)
        except (concurrent.futures.TimeoutError, TimeoutError):
            future.cancel()
            return ToolResult(ok=False, error=f"timeout: MCP tool {name!r} gave no answer within {self.timeout_s:g} s")
        except Exception as exc:  # MCPError, a closed connection, an invalid result
            return ToolResult(ok=False, error=f"MCP call failed: {describe_exception(exc)}")
        text = _text_of(result.content)
        data = result.structured_content
        truncated = False
        if isinstance(data, dict) and {"ok", "truncated"} <= set(data) <= _ENVELOPE:  # one of our own servers
            truncated = bool(data["truncated"])
            data = data.get("data")
        if result.is_error:
            return ToolResult(ok=False, error=text or "the MCP tool reported an error", data=data, truncated=truncated)
        return ToolResult(ok=True, output=text, data=data, truncated=truncated)


# -- serving -------------------------------------------------------------------------------------------------
def build_server(registry: ToolRegistry, workspace: Path, *, name: str = "autonomous-agent") -> Any:
    """A low-level MCP ``Server`` whose tools are ``registry``'s, each call run in ``workspace``."""
    import anyio.to_thread
    from mcp.server.lowlevel import Server

    ctx = ToolContext(run_id=f"mcp-{uuid.uuid4().hex[:8]}", workspace=workspace, tenant="mcp")

    async def list_tools(_ctx: Any, _params: Any) -> mt.ListToolsResult:
        tools = [
            mt.Tool(
                name=spec.name,
                description=spec.description,
                input_schema=spec.parameters,
                annotations=annotations_for(registry.permission(spec.name)),
            )
            for spec in registry.specs()
        ]
        return mt.ListToolsResult(tools=tools)

    async def call_tool(_ctx: Any, params: mt.CallToolRequestParams) -> mt.CallToolResult:
        result = await anyio.to_thread.run_sync(registry.call, params.name, params.arguments or {}, ctx)
        if result.ok:
            text = result.output
        else:
            text = f"error: {result.error}" + (f"\n{result.output}" if result.output else "")
        structured = {"ok": result.ok, "truncated": result.truncated, "duration_s": result.duration_s}
        if result.data is not None:
            structured["data"] = result.data
        return mt.CallToolResult(
            content=[mt.TextContent(text=text)], structured_content=structured, is_error=not result.ok
        )

    return Server(name, version="1", on_list_tools=list_tools, on_call_tool=call_tool)


def serve_registry(registry: ToolRegistry, *, workspace: Path | None = None, name: str = "autonomous-agent") -> None:
    """Serve ``registry`` over stdio until the client disconnects (blocking).

    ``workspace`` None: a fresh scratch directory under ``AGENT__WORKSPACE_ROOT``, deleted on exit. stdout is the
    protocol channel, so nothing else may print to it (logging goes to stderr).
    """
    import anyio
    from mcp.server.stdio import stdio_server

    scratch = workspace is None
    root = workspace or registry.settings.workspace_root / f"mcp-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True, exist_ok=True)
    server = build_server(registry, root, name=name)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        if scratch:
            shutil.rmtree(root, ignore_errors=True)
