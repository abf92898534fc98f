"""MCP both ways in one real test: our tools served by ``python -m projects.autonomous_agent.mcp_server`` over
stdio (a subprocess), consumed through ``MCPToolset`` into a registry, and called like built-ins."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import mcp_types as mt
import pytest

from projects.autonomous_agent.settings import AgentSettings
from projects.autonomous_agent.tools import ToolRegistry
from projects.autonomous_agent.tools.mcp_bridge import MCPToolset, annotations_for, permission_from_annotations
from projects.autonomous_agent.types import ToolContext

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-server")


@pytest.fixture(scope="module")
def toolset(server_root: Path) -> Iterator[MCPToolset]:
    """Our own MCP server as a subprocess (one per module: it imports the platform, ~3 s)."""
    env = {"PYTHONPATH": str(REPO), "AGENT__WORKSPACE_ROOT": str(server_root), "AGENT__PYTHON_WALL_S": "5"}
    settings = AgentSettings(tool_timeout_s=30.0, workspace_root=server_root / "client")
    args = ["-m", "projects.autonomous_agent.mcp_server", "--no-knowledge", "--no-sql"]
    with MCPToolset(sys.executable, args, env=env, cwd=REPO, settings=settings) as ts:
        yield ts


@pytest.fixture
def registry(toolset: MCPToolset) -> ToolRegistry:
    registry = ToolRegistry(settings=toolset.settings)
    assert toolset.register_into(registry) == [t.name for t in toolset.tools]
    return registry


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(run_id="client-run", workspace=tmp_path / "client-ws")


def test_server_lists_our_tools_with_permissions(toolset: MCPToolset, registry: ToolRegistry) -> None:
    assert toolset.server_name == "autonomous-agent"
    assert registry.names() == ["calculator", "http_get", "list_files", "python", "read_file", "write_file"]
    assert registry.specs(["calculator"])[0].parameters["required"] == ["expression"]
    # permissions travel as annotations and come back conservatively: an outside process's write is 'write'
    assert registry.permission("calculator") == "read"
    assert registry.permission("read_file") == "read"
    assert registry.permission("write_file") == "write"
    assert registry.permission("http_get") == "network"


def test_calculator_over_mcp(registry: ToolRegistry, ctx: ToolContext) -> None:
    result = registry.call("calculator", {"expression": "(2**10 + 6) / 2"}, ctx)
    assert result.ok, result.error
    assert result.output == "515"
    assert result.data == {"value": 515.0}  # structured content crosses the protocol
    refused = registry.call("calculator", {"expression": "9**9**9"}, ctx)
    assert not refused.ok and "too large" in refused.error


def test_write_then_read_round_trip_over_mcp(registry: ToolRegistry, ctx: ToolContext, server_root: Path) -> None:
    written = registry.call("write_file", {"path": "notes/hello.txt", "content": "written over MCP"}, ctx)
    assert written.ok, written.error
    assert registry.call("read_file", {"path": "notes/hello.txt"}, ctx).output == "written over MCP"
    code = registry.call("python", {"code": "print(open('notes/hello.txt').read().upper())"}, ctx)
    assert code.ok and "WRITTEN OVER MCP" in code.output
    # the file lives in the server's scratch workspace, not in the client's
    assert not (ctx.workspace / "notes" / "hello.txt").exists()
    assert list(server_root.glob("mcp-*/notes/hello.txt"))
    escape = registry.call("write_file", {"path": "../escape.txt", "content": "x"}, ctx)
    assert not escape.ok and "'..'" in escape.error


def test_errors_over_mcp_are_observations(registry: ToolRegistry, toolset: MCPToolset, ctx: ToolContext) -> None:
    bad = registry.call("calculator", {"expr": "1"}, ctx)  # validated locally against the server's schema
    assert not bad.ok and "'expression' is a required property" in bad.error
    unknown = toolset.call("no_such_tool", {})
    assert not unknown.ok and unknown.error


def test_permission_from_annotations() -> None:
    assert permission_from_annotations(None, "network") == "network"
    assert permission_from_annotations(None, "read") == "read"
    assert permission_from_annotations(mt.ToolAnnotations(read_only_hint=True), "read") == "network"  # open world
    assert permission_from_annotations(mt.ToolAnnotations(read_only_hint=True, open_world_hint=False), "x") == "read"
    assert permission_from_annotations(mt.ToolAnnotations(open_world_hint=False), "network") == "write"
    for level, back in [("read", "read"), ("compute", "read"), ("write_scratch", "write"), ("network", "network")]:
        assert permission_from_annotations(annotations_for(level), "network") == back


def test_a_server_that_cannot_start_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="failed to start"):
        MCPToolset(sys.executable, ["-c", "import sys; sys.exit(3)"], settings=AgentSettings(tool_timeout_s=5)).start()


def test_calls_after_close_are_refused(server_root: Path, ctx: ToolContext) -> None:
    env = {"PYTHONPATH": str(REPO), "AGENT__WORKSPACE_ROOT": str(server_root)}
    args = ["-m", "projects.autonomous_agent.mcp_server", "--tools", "calculator", "--no-knowledge", "--no-sql"]
    ts = MCPToolset(sys.executable, args, env=env, cwd=REPO, permission="compute").start()
    assert [(t.name, t.permission) for t in ts.tools] == [("calculator", "compute")]
    assert ts.call("calculator", {"expression": "1+1"}).output == "2"
    ts.close()
    after = ts.call("calculator", {"expression": "1+1"})
    assert not after.ok and "not running" in after.error
