"""The agent's tables (prefix ``ag_``), created idempotently with ``apply_statements``.

- ``ag_runs``: one row per run (a goal): status, budget and usage, the final answer, the job that works it, and
  ``parent_id`` for a worker run a supervisor delegated to. ``status`` is the source of truth a UI polls.
- ``ag_checkpoints``: the run's full state after each completed step (LangGraph's checkpointer, in one table):
  resume = load the newest and continue. Compaction keeps the newest ``AGENT__CHECKPOINTS_KEEP`` per run, so a
  200-step run does not keep 200 copies of a growing scratchpad.
- ``ag_events``: the append-only trace the UI streams (plan, thought, action, observation, verification,
  approval, final), with observations capped. Never needed for resume, so it can be pruned independently.
- ``ag_approvals``: a dangerous call waiting for a human; the run is ``waiting_approval`` until it is decided.

Episodic memory lives in ``shared/retrieval`` (collection ``AGENT__MEMORY_COLLECTION``), not here.
"""

from __future__ import annotations

from typing import get_args

from projects.autonomous_agent.types import RunStatus
from shared.db import apply_statements

_LOCK_KEY = 0x41475F5343484D41  # "AG_SCHMA"
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
APPROVAL_STATUSES = ("pending", "approved", "denied")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v + "'" for v in values) + ")"


STATEMENTS = (
    f"""CREATE TABLE IF NOT EXISTS ag_runs (
        id text PRIMARY KEY,
        tenant text NOT NULL DEFAULT 'default',
        parent_id text REFERENCES ag_runs(id) ON DELETE CASCADE,
        agent text NOT NULL DEFAULT 'agent',
        goal text NOT NULL,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN {_in(RUN_STATUSES)}),
        tools jsonb NOT NULL DEFAULT '[]',
        budget jsonb NOT NULL,
        usage jsonb NOT NULL DEFAULT '{{}}',
        steps int NOT NULL DEFAULT 0,
        final_answer text,
        error text,
        job_id bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS ag_runs_tenant_created ON ag_runs (tenant, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS ag_runs_parent ON ag_runs (parent_id) WHERE parent_id IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS ag_checkpoints (
        run_id text NOT NULL REFERENCES ag_runs(id) ON DELETE CASCADE,
        step int NOT NULL,
        state jsonb NOT NULL,
        bytes int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, step)
    )""",
    """CREATE TABLE IF NOT EXISTS ag_events (
        id bigserial PRIMARY KEY,
        run_id text NOT NULL REFERENCES ag_runs(id) ON DELETE CASCADE,
        step int NOT NULL,
        kind text NOT NULL,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS ag_events_run ON ag_events (run_id, id)",
    f"""CREATE TABLE IF NOT EXISTS ag_approvals (
        id text PRIMARY KEY,
        run_id text NOT NULL REFERENCES ag_runs(id) ON DELETE CASCADE,
        step int NOT NULL,
        tool text NOT NULL,
        arguments jsonb NOT NULL,
        permission text NOT NULL,
        reason text NOT NULL DEFAULT '',
        status text NOT NULL DEFAULT 'pending' CHECK (status IN {_in(APPROVAL_STATUSES)}),
        decided_by text,
        note text,
        created_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS ag_approvals_one_pending ON ag_approvals (run_id) WHERE status = 'pending'",
)


def ensure_schema(url: str) -> None:
    apply_statements(url, STATEMENTS, _LOCK_KEY)
