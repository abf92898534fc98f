"""Autonomous-agent configuration (environment prefix ``AGENT__``, e.g. ``AGENT__MAX_STEPS=20``).

Model ids and URLs live in ``shared.settings`` (``SERVING__*``); this section holds what only the agent has. Each
limit says what it protects: the complaints about agents are loops that burn budget, timeouts that kill long
commands, and checkpoints that grow without bound.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from projects.autonomous_agent.types import Permission

_REPO_ROOT = Path(__file__).resolve().parents[2]


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENT__", env_file=".env", extra="ignore", env_file_encoding="utf-8", env_nested_delimiter="__"
    )

    # -- budgets (per run; a resumed run continues its budget) ---------------------------------------------
    max_steps: int = Field(default=12, ge=1, le=200, description="actions per run (tool calls and code runs)")
    max_tokens: int = Field(default=20_000, ge=100, description="prompt + completion tokens per run")
    max_wall_s: float = Field(default=300.0, gt=0, description="wall-clock seconds per run, pauses excluded")
    max_cost_usd: float = Field(default=1.0, ge=0, description="per run, priced with shared.serving.accounting")

    # -- tools ---------------------------------------------------------------------------------------------
    workspace_root: Path = Field(
        default=_REPO_ROOT / "var" / "agent_workspaces",
        description="each run gets <root>/<run_id>: the only place file tools and code may write",
    )
    approval_required: list[Permission] = Field(
        default_factory=lambda: ["write", "network"],
        description="permission levels that pause the run for a human before the call",
    )
    tool_output_max_chars: int = Field(
        default=8000, ge=100, description="what a tool result may put into the context; the rest is cut (and said)"
    )
    tool_timeout_s: float = Field(default=60.0, gt=0, description="wall time of one tool call (code: the sandbox's)")

    # -- eval (ag_eval) ------------------------------------------------------------------------------------
    eval_workers: int = Field(
        default=8, ge=1, le=8, description="items evaluated at once (the local backend batches up to 8 requests)"
    )
    eval_repairs: int = Field(
        default=2, ge=0, le=5, description="eval: invalid tool calls / failing programs sent back to be fixed"
    )
    eval_math_max_tokens: int = Field(default=320, ge=16, description="eval: completion tokens per GSM8K request")
    eval_call_max_tokens: int = Field(default=256, ge=16, description="eval: completion tokens per BFCL request")


@lru_cache
def get_agent_settings() -> AgentSettings:
    return AgentSettings()
