"""Request and response models of the agent API (``/agent``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class BudgetIn(BaseModel):
    """Per-run limits; each is capped by the server's ``AGENT__MAX_*`` (asking for more is a 422)."""

    max_steps: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    max_wall_s: float | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, gt=0)


class RunIn(BaseModel):
    goal: str = Field(description="what the agent should achieve, in words")
    tools: list[str] | None = Field(default=None, description="tool names (default: all but delegate)")
    budget: BudgetIn | None = None
    agent: Literal["agent", "supervisor"] = Field(
        default="agent", description="`supervisor` also gets `delegate`: sub-goals go to worker agents"
    )


class PlanStepOut(BaseModel):
    description: str
    success_criterion: str
    status: str
    attempts: int
    evidence: str | None = None


class ApprovalOut(BaseModel):
    id: str
    run_id: str
    step: int
    tool: str
    arguments: dict[str, Any]
    permission: str
    reason: str
    status: Literal["pending", "approved", "denied"]
    decided_by: str | None = None
    note: str | None = None
    created_at: str
    decided_at: str | None = None


class RunOut(BaseModel):
    id: str
    goal: str
    agent: str
    parent_id: str | None = None
    status: str = Field(
        description="queued | running | waiting_approval | succeeded | failed | budget_exhausted | cancelled"
    )
    tools: list[str]
    budget: dict[str, Any]
    usage: dict[str, Any]
    steps: int
    final_answer: str | None = None
    error: str | None = None
    job_id: int | None = None
    created_at: str
    updated_at: str
    plan: list[PlanStepOut] = Field(default_factory=list, description="from the newest checkpoint")
    loop_recoveries: int = 0
    replans: int = 0
    pending_approval: ApprovalOut | None = None


class EventOut(BaseModel):
    id: int
    step: int
    kind: str = Field(
        description="plan, memory, action, observation, verification, thought, repair, loop, replan, "
        "approval_requested, approved, denied, resumed, cancelled, note, error, final"
    )
    data: dict[str, Any]
    created_at: str


class DecisionIn(BaseModel):
    approve: bool
    note: str | None = Field(default=None, max_length=2000, description="shown to the agent when denied")


class ToolOut(BaseModel):
    name: str
    description: str
    permission: str
    needs_approval: bool
    parameters: dict[str, Any]
