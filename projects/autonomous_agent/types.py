"""The agent's vocabulary: tools and their results, actions, observations, plans, run budgets and states.

Plain dataclasses/pydantic models with no behaviour beyond (de)serialisation: every step is checkpointed as JSON in
PostgreSQL, so everything here must round-trip through ``model_dump(mode="json")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from shared.serving.types import ToolSpec

# What a tool may touch. ``read``/``compute`` never need approval; ``write_scratch`` writes only inside the run's own
# workspace; ``write`` (outside scratch) and ``network`` are the dangerous levels that pause a run for a human
# (``AGENT__APPROVAL_REQUIRED``).
Permission = Literal["read", "compute", "write_scratch", "write", "network"]

RunStatus = Literal["queued", "running", "waiting_approval", "succeeded", "failed", "budget_exhausted", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "budget_exhausted", "cancelled"})


class ToolResult(BaseModel):
    """What a tool call gave back. ``output`` is the text the model sees (capped: ``truncated`` says so); ``data``
    is optional structured output for the UI/eval; ``error`` is set when ``ok`` is False (the tool raised, timed
    out, was denied, or got invalid arguments) and the model sees it as the observation."""

    ok: bool
    output: str = ""
    data: Any = None
    error: str | None = None
    truncated: bool = False
    duration_s: float = 0.0


class ToolContext(BaseModel):
    """Where a call runs: the run's private workspace (two runs never share one) and who asked."""

    model_config = {"arbitrary_types_allowed": True}

    run_id: str
    workspace: Path
    tenant: str = "default"


@runtime_checkable
class Tool(Protocol):
    """A capability the agent can call. ``parameters`` is a JSON schema (validated before ``run``)."""

    name: str
    description: str
    parameters: dict[str, Any]
    permission: Permission

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult: ...


def tool_spec(tool: Tool) -> ToolSpec:
    """The model-facing description of a tool (OpenAI function format via ``shared.serving``)."""
    return ToolSpec(name=tool.name, description=tool.description, parameters=tool.parameters)


class PlanStep(BaseModel):
    """One step of a plan: what to do and how to tell it worked (checked after acting)."""

    description: str
    success_criterion: str = Field(description="an observable condition a tool result can confirm")
    status: Literal["pending", "active", "done", "failed", "skipped"] = "pending"
    attempts: int = 0
    evidence: str | None = None


class Action(BaseModel):
    """What the model decided: call tools, run code (a ``python`` tool call), or finish with an answer."""

    kind: Literal["tool", "final"]
    thought: str = ""
    tool: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    answer: str | None = None

    def signature(self) -> str:
        """Identity for loop detection: the same tool with the same arguments is the same action."""
        import json

        return f"{self.kind}:{self.tool}:{json.dumps(self.arguments, sort_keys=True, default=str)}"


class Budget(BaseModel):
    """Limits of one run; ``used`` is carried in checkpoints so a resumed run does not get a fresh budget."""

    max_steps: int = 12
    max_tokens: int = 20_000
    max_wall_s: float = 300.0
    max_cost_usd: float = 1.0


class BudgetUsage(BaseModel):
    steps: int = 0
    tokens: int = 0
    wall_s: float = 0.0
    cost_usd: float = 0.0

    def exhausted(self, budget: Budget) -> str | None:
        """The first limit reached, named (``"steps"``, ``"tokens"``, ``"wall time"``, ``"cost"``), or None."""
        if self.steps >= budget.max_steps:
            return "steps"
        if self.tokens >= budget.max_tokens:
            return "tokens"
        if self.wall_s >= budget.max_wall_s:
            return "wall time"
        if self.cost_usd >= budget.max_cost_usd:
            return "cost"
        return None
