"""A run's state: everything the loop needs to continue after a crash, checkpointed as JSON after every step.

The scratchpad is bounded (the newest ``scratchpad_keep`` entries verbatim, older ones folded into one line
each), so neither the prompt nor the checkpoint grows with the number of steps: a long run costs the same per
step as a short one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from projects.autonomous_agent.types import Action, Budget, BudgetUsage, PlanStep, RunStatus

EntryKind = Literal["thought", "action", "observation", "verification", "note", "answer"]


class ScratchEntry(BaseModel):
    step: int
    kind: EntryKind
    text: str


class AgentState(BaseModel):
    run_id: str
    goal: str
    tenant: str = "default"
    agent: str = "agent"
    tools: list[str] = Field(default_factory=list)
    status: RunStatus = "running"
    step: int = Field(default=0, description="completed steps; the checkpoint key")
    plan: list[PlanStep] = Field(default_factory=list)
    current: int = Field(default=0, description="index of the plan step being worked on")
    scratchpad: list[ScratchEntry] = Field(default_factory=list)
    folded: list[str] = Field(default_factory=list, description="one line per scratchpad entry dropped from view")
    budget: Budget = Field(default_factory=Budget)
    usage: BudgetUsage = Field(default_factory=BudgetUsage)
    signatures: list[str] = Field(default_factory=list, description="recent action signatures (loop detection)")
    outcomes: dict[str, str] = Field(default_factory=dict, description="signature -> hash of what it returned")
    loop_recoveries: int = 0
    answer_now: bool = Field(default=False, description="the next decision is the final answer, no tools offered")
    replans: int = 0
    repairs: int = 0
    pending: Action | None = Field(default=None, description="a call waiting for a human's approval")
    approval_id: str | None = None
    memories: list[str] = Field(default_factory=list, description="what worked for similar goals (episodic memory)")
    evidence: list[str] = Field(default_factory=list)
    final_answer: str | None = None
    error: str | None = None

    def note(self, kind: EntryKind, text: str, keep: int, fold_chars: int = 160) -> None:
        """Append to the scratchpad; entries beyond ``keep`` are folded to one short line each."""
        self.scratchpad.append(ScratchEntry(step=self.step, kind=kind, text=text))
        while len(self.scratchpad) > keep:
            old = self.scratchpad.pop(0)
            line = " ".join(old.text.split())
            self.folded.append(f"[{old.step}] {old.kind}: {line[:fold_chars]}{'…' if len(line) > fold_chars else ''}")
        if len(self.folded) > keep * 4:  # the folded history itself stays bounded
            dropped = len(self.folded) - keep * 4
            self.folded = [f"({dropped + 1} earlier entries omitted)", *self.folded[dropped + 1 :]]

    @property
    def active_step(self) -> PlanStep | None:
        return self.plan[self.current] if 0 <= self.current < len(self.plan) else None
