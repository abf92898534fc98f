"""Multi-agent: a supervisor delegates sub-goals to worker agents through a ``delegate`` tool.

Delegation is a tool call, not a second orchestration engine: the supervisor is the same loop with one more tool,
and each worker is the same loop on a child run (``ag_runs.parent_id``) with its own tool subset and its own
budget (``AGENT__WORKERS``, ``AGENT__WORKER_MAX_STEPS``). The child's final answer (or its best-effort summary)
is the supervisor's observation, so the supervisor verifies and re-plans exactly as it does for any tool.

Bounded by construction (the "recursion limit" complaint): workers never get ``delegate``, so the tree is one
level deep, and each worker run is capped. Workers get only tools that need no approval: a worker waiting for a
human would leave its supervisor holding a tool call open, so dangerous actions stay with the supervisor, where
the approval flow applies.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from projects.autonomous_agent.settings import AgentSettings
from projects.autonomous_agent.types import Budget, Permission, ToolContext, ToolResult

if TYPE_CHECKING:
    from projects.autonomous_agent.loop import AgentLoop

DELEGATE = "delegate"


class DelegateTool:
    name = DELEGATE
    permission: Permission = "compute"

    def __init__(self, loop: AgentLoop, settings: AgentSettings) -> None:
        self.loop = loop
        self.settings = settings
        self.workers = {
            name: [t for t in tools if t in loop.registry.names() and not self._dangerous(t)]
            for name, tools in settings.workers.items()
        }
        listing = "; ".join(f"{n}: {', '.join(t)}" for n, t in self.workers.items())
        self.description = (
            f"Hand a self-contained sub-goal to a worker agent and get its answer. Workers and their tools: {listing}."
        )
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "worker": {"type": "string", "enum": sorted(self.workers)},
                "goal": {"type": "string", "minLength": 1, "description": "the sub-goal, with everything it needs"},
            },
            "required": ["worker", "goal"],
            "additionalProperties": False,
        }

    def _dangerous(self, tool: str) -> bool:
        return self.loop.registry.permission(tool) in self.settings.approval_required or tool == DELEGATE

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        from projects.autonomous_agent.loop import AgentLoop

        worker, goal = arguments["worker"], arguments["goal"]
        tools = self.workers[worker]
        parent = self.loop.store.get_run(ctx.run_id)
        s = self.settings
        budget = Budget(
            max_steps=s.worker_max_steps,
            max_tokens=min(s.worker_max_tokens, parent.budget.max_tokens),
            max_wall_s=min(s.worker_max_wall_s, parent.budget.max_wall_s),
            max_cost_usd=parent.budget.max_cost_usd,
        )
        child = AgentLoop(self.loop.chat, self.loop.registry.subset(tools), self.loop.store, s, self.loop.memory)
        child_id = child.start(goal, tools=tools, budget=budget, tenant=ctx.tenant, agent=worker, parent_id=ctx.run_id)
        state = child.run(child_id)
        data = {"run_id": child_id, "worker": worker, "status": state.status, "steps": state.usage.steps,
                "tokens": state.usage.tokens}  # fmt: skip
        text = f"[{worker} {child_id}: {state.status} in {state.usage.steps} steps]\n{state.final_answer or ''}"
        if state.evidence:
            text += "\nEvidence: " + json.dumps(state.evidence[-3:])
        return ToolResult(ok=state.status == "succeeded", output=text, data=data,
                          error=None if state.status == "succeeded" else text)  # fmt: skip


def attach_supervisor(loop: AgentLoop, settings: AgentSettings) -> None:
    """Register ``delegate`` on the loop's registry (idempotent); runs get it only as agent ``supervisor``."""
    if settings.workers and DELEGATE not in loop.registry.names():
        loop.registry.register(DelegateTool(loop, settings))
