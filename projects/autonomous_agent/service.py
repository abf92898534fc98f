"""The agent as a service: runs are jobs on the shared queue, so a crash, a deploy or a human's approval never
loses one.

- ``start_run`` validates the goal, tools and budget, creates the run and queues ``autonomous_agent.run``.
- A worker works the run with :class:`~projects.autonomous_agent.loop.AgentLoop` until it finishes or waits
  for a human. A worker killed mid-run leaves its job ``running`` with no heartbeat; the next worker to start
  (``JobQueue.serve``) puts it back, and the loop resumes from the run's newest checkpoint.
- ``decide`` records a human's approval or denial and queues the run again.
- ``cancel`` stops a run at its next step; ``retry`` puts a ``failed`` run back (from its checkpoint).

The supervisor (``supervisor.py``) adds a ``delegate`` tool whose calls run worker agents as child runs.
"""

from __future__ import annotations

import logging
from typing import Any

from projects.autonomous_agent.loop import AgentLoop
from projects.autonomous_agent.memory import EpisodicMemory
from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.store import AgentStore, ApprovalRow, RunNotFound, RunRow, StateConflict
from projects.autonomous_agent.tools import ToolRegistry, default_registry
from projects.autonomous_agent.types import Budget
from shared.api.problems import RequestRefused
from shared.retrieval import PgVectorStore
from shared.retrieval.jobs import JobQueue, Progress
from shared.retrieval.migrations import upgrade
from shared.serving.base import ChatModel, Embedder

log = logging.getLogger(__name__)
RUN_TASK = "autonomous_agent.run"


InputError = RequestRefused  # a request refused before anything is stored (the API kit's refusal)


class AgentService:
    def __init__(
        self,
        url: str,
        chat: ChatModel,
        embedder: Embedder | None = None,
        settings: AgentSettings | None = None,
        *,
        registry: ToolRegistry | None = None,
        queue: JobQueue | None = None,
    ) -> None:
        self.url = url
        self.settings = settings or get_agent_settings()
        upgrade(url)  # shared tables: the job queue, collections/chunks for memory and knowledge
        self.store = AgentStore(
            url, checkpoints_keep=self.settings.checkpoints_keep, event_max_chars=self.settings.event_max_chars
        )
        self.registry = registry or default_registry(self.settings, url=url, embedder=embedder)
        memory = None
        if embedder is not None and self.settings.memory:
            memory = EpisodicMemory(PgVectorStore(url), embedder, self.settings)
        self.loop = self._build_loop(chat, memory)
        self.queue = queue or JobQueue(url)
        self.queue.task(RUN_TASK, queue=self.settings.job_queue, max_attempts=1)(self._run_job)

    def _build_loop(self, chat: ChatModel, memory: EpisodicMemory | None) -> AgentLoop:
        from projects.autonomous_agent.supervisor import attach_supervisor

        loop = AgentLoop(chat, self.registry, self.store, self.settings, memory)
        attach_supervisor(loop, self.settings)
        return loop

    # -- workers ----------------------------------------------------------------------------------------------
    def start_inline_worker(self) -> None:
        """With ``inline_worker`` a daemon thread works the queue in this process (single-machine setups)."""
        if self.settings.inline_worker:
            self.queue.serve_in_thread(self.settings.job_queue, "agent-inline")

    def drain(self) -> None:
        """Run queued jobs to completion in this thread (tests, scripts, the demo)."""
        self.queue.drain(self.settings.job_queue)

    def _run_job(self, run_id: str, progress: Progress | None = None) -> dict[str, Any]:
        try:
            state = self.loop.run(run_id)
        except StateConflict as exc:  # cancelled or finished meanwhile: nothing to do
            log.info("run %s not worked: %s", run_id, exc)
            return {"status": self.store.get_run(run_id).status}
        except Exception as exc:
            self.store.transition(
                run_id, "failed", allowed_from=("running", "queued"), error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            raise
        if progress is not None:
            progress.update(state.usage.steps, state.budget.max_steps, state.status)
        return {"status": state.status, "steps": state.usage.steps}

    # -- runs -------------------------------------------------------------------------------------------------
    def start_run(
        self,
        goal: str,
        *,
        tenant: str = "default",
        tools: list[str] | None = None,
        budget: dict[str, Any] | None = None,
        agent: str = "agent",
    ) -> RunRow:
        goal = (goal or "").strip()
        if not goal:
            raise InputError(422, "empty-goal", "the goal is empty")
        if len(goal) > self.settings.max_goal_chars:
            raise InputError(413, "goal-too-long", f"goals are limited to {self.settings.max_goal_chars} characters")
        goal = self._screen(goal)
        known = self.loop.registry.names()
        unknown = sorted(set(tools or []) - set(known))
        if unknown:
            raise InputError(422, "unknown-tools", f"unknown tools {unknown}; available: {known}")
        run_id = self.loop.start(goal, tools=tools, budget=self._budget(budget), tenant=tenant, agent=agent)
        self.store.set_job(run_id, self.queue.enqueue(RUN_TASK, run_id=run_id))
        return self.store.get_run(run_id)

    def _screen(self, goal: str) -> str:
        """The shared input rail on the goal (secrets redacted in what is stored); a block is a 422."""
        if not self.settings.moderate_goals:
            return goal
        from shared.guardrails import check_input

        s = self.settings
        rail = check_input(goal, pii=False, secrets=s.redact_secrets, policy=s.moderation_policy)
        if not rail.allowed:
            reasons = "; ".join(rail.refusal_reasons)
            raise InputError(422, "input-refused", f"the goal was refused by the input rail: {reasons}")
        return rail.sanitized_text

    def _budget(self, overrides: dict[str, Any] | None) -> Budget:
        """The defaults, with what the request asks for, capped by the settings (a request cannot buy more)."""
        s = self.settings
        caps = {"max_steps": s.max_steps, "max_tokens": s.max_tokens, "max_wall_s": s.max_wall_s,
                "max_cost_usd": s.max_cost_usd}  # fmt: skip
        values = dict(caps)
        for key, value in (overrides or {}).items():
            if key not in caps:
                raise InputError(422, "invalid-budget", f"unknown budget field {key!r}; fields: {sorted(caps)}")
            if value is None:
                continue
            if not isinstance(value, int | float) or value <= 0:
                raise InputError(422, "invalid-budget", f"budget {key} must be a positive number")
            if value > caps[key]:
                raise InputError(422, "invalid-budget", f"budget {key} is capped at {caps[key]} (AGENT__{key.upper()})")
            values[key] = value
        return Budget(**values)

    def get_run(self, run_id: str, tenant: str | None = None) -> RunRow:
        return self.store.get_run(run_id, tenant)

    def list_runs(self, tenant: str | None = None, limit: int = 50) -> list[RunRow]:
        return self.store.list_runs(tenant, limit=limit)

    def children(self, run_id: str, tenant: str | None = None) -> list[RunRow]:
        self.store.get_run(run_id, tenant)
        return self.store.list_runs(parent_id=run_id)

    def events(self, run_id: str, after_id: int = 0, limit: int = 500, tenant: str | None = None) -> list[dict]:
        self.store.get_run(run_id, tenant)
        return self.store.events(run_id, after_id, limit)

    def cancel(self, run_id: str, tenant: str | None = None) -> RunRow:
        row = self.store.get_run(run_id, tenant)
        if not self.store.transition(run_id, "cancelled", allowed_from=("queued", "running", "waiting_approval")):
            raise StateConflict(f"run {run_id} is {row.status}; only unfinished runs can be cancelled")
        self.store.close_pending(run_id, by="system", note="the run was cancelled")
        return self.store.get_run(run_id)

    def retry(self, run_id: str, tenant: str | None = None) -> RunRow:
        """A ``failed`` run goes back to the queue and resumes from its newest checkpoint."""
        row = self.store.get_run(run_id, tenant)
        if not self.store.transition(run_id, "queued", allowed_from=("failed",), error=None):
            raise StateConflict(f"run {run_id} is {row.status}; only failed runs can be retried")
        self.store.set_job(run_id, self.queue.enqueue(RUN_TASK, run_id=run_id))
        return self.store.get_run(run_id)

    # -- approvals --------------------------------------------------------------------------------------------
    def approvals(self, tenant: str | None = None) -> list[ApprovalRow]:
        return self.store.pending_approvals(tenant)

    def decide(
        self, approval_id: str, approve: bool, *, by: str, note: str | None = None, tenant: str | None = None
    ) -> ApprovalRow:
        """Record the decision (once) and queue the run to carry it out; with ``tenant``, only for its own runs."""
        if tenant is not None:
            self.store.get_run(self.store.get_approval(approval_id).run_id, tenant)
        approval = self.store.decide(approval_id, approve, by=by, note=note)
        run = self.store.get_run(approval.run_id)
        # Queued even if the worker that asked has not marked the run waiting yet: the new job waits on the run's
        # lock until that worker is done, then finds the decision in the checkpoint.
        waiting = [j for j in self.queue.open_jobs(RUN_TASK, run_id=run.id) if self.queue.status(j).status == "queued"]
        if not run.finished and not waiting:
            self.store.set_job(run.id, self.queue.enqueue(RUN_TASK, run_id=run.id))
        return approval


__all__ = ["AgentService", "InputError", "RunNotFound", "StateConflict"]
