"""Fixtures: an agent store on a fresh database, settings with a temp workspace root, and loop builders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from projects.autonomous_agent.settings import AgentSettings


class RecordingTool:
    """A tool that records its calls (orchestration tests): permission chosen per test."""

    description = "Send a message to the operations channel."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
        "additionalProperties": False,
    }

    def __init__(self, name: str = "notify", permission: str = "network", output: str = "sent") -> None:
        self.name = name
        self.permission = permission
        self.output = output
        self.calls: list[dict[str, Any]] = []

    def run(self, arguments: dict[str, Any], ctx) -> Any:
        from projects.autonomous_agent.types import ToolResult

        self.calls.append(arguments)
        return ToolResult(ok=True, output=self.output)


@pytest.fixture
def agent_settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(
        workspace_root=tmp_path / "workspaces", memory=False, plan=False, verify_with_model=False, max_steps=8
    )


@pytest.fixture
def agent_store(database_url: str):
    from projects.autonomous_agent.store import AgentStore

    return AgentStore(database_url, checkpoints_keep=3)


@pytest.fixture
def make_loop(agent_store, agent_settings) -> Callable[..., Any]:
    """``make_loop(chat, extra_tools=(), **settings_overrides)`` -> AgentLoop on the real registry + store."""
    from projects.autonomous_agent.loop import AgentLoop
    from projects.autonomous_agent.tools import default_registry

    def build(chat, extra_tools=(), settings: AgentSettings | None = None, **overrides: Any):
        s = settings or agent_settings.model_copy(update=overrides)
        registry = default_registry(s, knowledge=False, sql_url=False, http=False)
        for tool in extra_tools:
            registry.register(tool)
        return AgentLoop(chat, registry, agent_store, s)

    return build
