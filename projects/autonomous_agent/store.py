"""Runs, checkpoints, events and approvals in PostgreSQL (``schema.py``).

Every write is one short transaction on the shared pool. Status changes are guarded in SQL (``WHERE status IN
…``) rather than read-then-write, so two workers, or a worker and a user's cancel, cannot both win.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from projects.autonomous_agent.schema import ensure_schema
from projects.autonomous_agent.state import AgentState
from projects.autonomous_agent.types import TERMINAL, Budget, BudgetUsage, RunStatus
from shared.db import connection


class RunNotFound(LookupError):
    pass


class ApprovalNotFound(LookupError):
    pass


class StateConflict(RuntimeError):
    """The run or approval is not in a state that allows this (e.g. approving twice, resuming a finished run)."""


@dataclass(frozen=True)
class RunRow:
    id: str
    tenant: str
    parent_id: str | None
    agent: str
    goal: str
    status: RunStatus
    tools: list[str]
    budget: Budget
    usage: BudgetUsage
    steps: int
    final_answer: str | None
    error: str | None
    job_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class ApprovalRow:
    id: str
    run_id: str
    step: int
    tool: str
    arguments: dict[str, Any]
    permission: str
    reason: str
    status: str
    decided_by: str | None
    note: str | None
    created_at: datetime
    decided_at: datetime | None


def _run(row: dict[str, Any]) -> RunRow:
    return RunRow(
        **{**row, "budget": Budget(**row["budget"]), "usage": BudgetUsage(**(row["usage"] or {})),
           "tools": list(row["tools"] or [])}
    )  # fmt: skip


class AgentStore:
    def __init__(self, url: str, *, checkpoints_keep: int = 3, event_max_chars: int = 4000) -> None:
        self.url = url
        self.checkpoints_keep = checkpoints_keep
        self.event_max_chars = event_max_chars
        ensure_schema(url)

    # -- runs -------------------------------------------------------------------------------------------------
    def create_run(
        self,
        goal: str,
        *,
        tools: list[str],
        budget: Budget,
        tenant: str = "default",
        agent: str = "agent",
        parent_id: str | None = None,
    ) -> str:
        run_id = f"run_{uuid.uuid4().hex[:12]}"
        with connection(self.url) as conn:
            conn.execute(
                "INSERT INTO ag_runs (id, tenant, parent_id, agent, goal, tools, budget) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                (run_id, tenant, parent_id, agent, goal, Jsonb(tools), Jsonb(budget.model_dump())),
            )
        return run_id

    def get_run(self, run_id: str, tenant: str | None = None) -> RunRow:
        """The run; with ``tenant``, another tenant's run is :class:`RunNotFound` too (its existence not leaked)."""
        with connection(self.url, dict_row) as conn:
            row = conn.execute("SELECT * FROM ag_runs WHERE id = %s", (run_id,)).fetchone()
        if row is None or (tenant is not None and row["tenant"] != tenant):
            raise RunNotFound(f"no run {run_id!r}")
        return _run(row)

    def run_status(self, run_id: str) -> str:
        """Only the status: what the loop checks before every step (a cancel from the API)."""
        with connection(self.url) as conn:
            row = conn.execute("SELECT status FROM ag_runs WHERE id = %s", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r}")
        return row[0]

    def list_runs(self, tenant: str | None = None, *, parent_id: str | None = None, limit: int = 50) -> list[RunRow]:
        where, args = ["TRUE"], []
        if tenant is not None:
            where.append("tenant = %s")
            args.append(tenant)
        if parent_id is not None:
            where.append("parent_id = %s")
            args.append(parent_id)
        else:
            where.append("parent_id IS NULL")
        with connection(self.url, dict_row) as conn:
            rows = conn.execute(
                f"SELECT * FROM ag_runs WHERE {' AND '.join(where)} ORDER BY created_at DESC LIMIT %s",
                (*args, limit),
            ).fetchall()
        return [_run(r) for r in rows]

    def transition(self, run_id: str, to: RunStatus, *, allowed_from: tuple[str, ...], **fields: Any) -> bool:
        """Set ``status`` (and ``fields``: usage, steps, final_answer, error, job_id) only from ``allowed_from``."""
        sets, args = ["status = %s", "updated_at = now()"], [to]
        for name, value in fields.items():
            sets.append(f"{name} = %s")
            args.append(Jsonb(value.model_dump()) if hasattr(value, "model_dump") else value)
        with connection(self.url) as conn:
            cur = conn.execute(
                f"UPDATE ag_runs SET {', '.join(sets)} WHERE id = %s AND status = ANY(%s)",
                (*args, run_id, list(allowed_from)),
            )
            return cur.rowcount == 1

    @contextmanager
    def run_lock(self, run_id: str) -> Iterator[None]:
        """Hold the run's session-level advisory lock (on a connection of its own, outside the pool) while working
        it; a second worker blocks here until the first is done. A killed worker's connection closes, and
        PostgreSQL releases the lock with it."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (run_id,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (run_id,))

    def set_job(self, run_id: str, job_id: int) -> None:
        with connection(self.url) as conn:
            conn.execute("UPDATE ag_runs SET job_id = %s, updated_at = now() WHERE id = %s", (job_id, run_id))

    # -- checkpoints --------------------------------------------------------------------------------------------
    def save_checkpoint(self, state: AgentState) -> float:
        """Write the state after a step (and the run's progress columns) in one transaction; compact old ones.
        Returns the seconds it took (the benchmark reports p50/p95)."""
        t0 = time.perf_counter()
        payload = state.model_dump_json()
        with connection(self.url) as conn:
            conn.execute(
                "INSERT INTO ag_checkpoints (run_id, step, state, bytes) VALUES (%s, %s, %s::jsonb, %s) "
                "ON CONFLICT (run_id, step) DO UPDATE SET state = EXCLUDED.state, bytes = EXCLUDED.bytes, "
                "created_at = now()",
                (state.run_id, state.step, payload, len(payload)),
            )
            conn.execute(
                "DELETE FROM ag_checkpoints WHERE run_id = %s AND step <= %s",
                (state.run_id, state.step - self.checkpoints_keep),
            )
            conn.execute(
                "UPDATE ag_runs SET usage = %s, steps = %s, updated_at = now() WHERE id = %s",
                (Jsonb(state.usage.model_dump()), state.usage.steps, state.run_id),
            )
        return time.perf_counter() - t0

    def load_checkpoint(self, run_id: str) -> AgentState | None:
        with connection(self.url) as conn:
            row = conn.execute(
                "SELECT state FROM ag_checkpoints WHERE run_id = %s ORDER BY step DESC LIMIT 1", (run_id,)
            ).fetchone()
        return AgentState.model_validate(row[0]) if row else None

    def checkpoint_stats(self, run_id: str) -> tuple[int, int]:
        """(checkpoints kept, bytes kept) for a run."""
        with connection(self.url) as conn:
            n, size = conn.execute(
                "SELECT count(*), COALESCE(sum(bytes), 0) FROM ag_checkpoints WHERE run_id = %s", (run_id,)
            ).fetchone()
        return int(n), int(size)

    # -- events -------------------------------------------------------------------------------------------------
    def add_event(self, run_id: str, step: int, kind: str, data: dict[str, Any]) -> int:
        text = json.dumps(data, default=str)
        if len(text) > self.event_max_chars:  # the trace is for people: a 10 MB observation is summarised
            data = {k: (v[: self.event_max_chars // 2] + " … (cut)" if isinstance(v, str) and len(v) > 200 else v)
                    for k, v in data.items()}  # fmt: skip
        with connection(self.url) as conn:
            row = conn.execute(
                "INSERT INTO ag_events (run_id, step, kind, data) VALUES (%s, %s, %s, %s) RETURNING id",
                (run_id, step, kind, Jsonb(data)),
            ).fetchone()
        return int(row[0])

    def events(self, run_id: str, after_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        with connection(self.url, dict_row) as conn:
            return conn.execute(
                "SELECT id, step, kind, data, created_at FROM ag_events WHERE run_id = %s AND id > %s "
                "ORDER BY id LIMIT %s",
                (run_id, after_id, limit),
            ).fetchall()

    # -- approvals ----------------------------------------------------------------------------------------------
    def create_approval(
        self, run_id: str, step: int, tool: str, arguments: dict[str, Any], permission: str, reason: str
    ) -> str:
        approval_id = f"apr_{uuid.uuid4().hex[:12]}"
        with connection(self.url) as conn:
            conn.execute(
                "INSERT INTO ag_approvals (id, run_id, step, tool, arguments, permission, reason) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (approval_id, run_id, step, tool, Jsonb(arguments), permission, reason),
            )
        return approval_id

    def get_approval(self, approval_id: str) -> ApprovalRow:
        with connection(self.url, dict_row) as conn:
            row = conn.execute("SELECT * FROM ag_approvals WHERE id = %s", (approval_id,)).fetchone()
        if row is None:
            raise ApprovalNotFound(f"no approval {approval_id!r}")
        return ApprovalRow(**row)

    def approvals(self, run_id: str) -> list[ApprovalRow]:
        with connection(self.url, dict_row) as conn:
            rows = conn.execute("SELECT * FROM ag_approvals WHERE run_id = %s ORDER BY created_at", (run_id,))
            return [ApprovalRow(**r) for r in rows.fetchall()]

    def pending_approvals(self, tenant: str | None = None) -> list[ApprovalRow]:
        with connection(self.url, dict_row) as conn:
            rows = conn.execute(
                "SELECT a.* FROM ag_approvals a JOIN ag_runs r ON r.id = a.run_id WHERE a.status = 'pending' "
                "AND (%s::text IS NULL OR r.tenant = %s) ORDER BY a.created_at",
                (tenant, tenant),
            ).fetchall()
        return [ApprovalRow(**r) for r in rows]

    def close_pending(self, run_id: str, *, by: str, note: str) -> int:
        """Deny whatever the run still has pending (a cancelled run leaves nothing in the approval queue)."""
        with connection(self.url) as conn:
            cur = conn.execute(
                "UPDATE ag_approvals SET status = 'denied', decided_by = %s, note = %s, decided_at = now() "
                "WHERE run_id = %s AND status = 'pending'",
                (by, note, run_id),
            )
            return cur.rowcount

    def decide(self, approval_id: str, approve: bool, *, by: str, note: str | None = None) -> ApprovalRow:
        """Approve or deny once; a second decision is a :class:`StateConflict` (the first one stands)."""
        with connection(self.url, dict_row) as conn:
            row = conn.execute(
                "UPDATE ag_approvals SET status = %s, decided_by = %s, note = %s, decided_at = now() "
                "WHERE id = %s AND status = 'pending' RETURNING *",
                ("approved" if approve else "denied", by, note, approval_id),
            ).fetchone()
        if row is None:
            current = self.get_approval(approval_id)  # raises ApprovalNotFound
            raise StateConflict(f"approval {approval_id} was already {current.status} by {current.decided_by}")
        return ApprovalRow(**row)
