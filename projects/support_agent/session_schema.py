"""The conversation tables of the support agent, created idempotently (``apply_statements``) by ``SessionStore``.

Why they look like this:
- ``sa_sessions``: one row per conversation. ``status`` says who talks (the bot while ``active``, a person while
  ``with_human``); ``state`` is the slot-filling state of the current flow (flow, filled slots, pending
  confirmation) so a restart resumes mid-flow; ``version`` guards ``state``/``status`` (optimistic concurrency);
  ``last_seq`` is the sequence counter of the session's messages — bumping it with ``UPDATE ... RETURNING`` in the
  same transaction as the message insert is what makes ``seq`` gap-free (a rolled-back append gives its number
  back) and ordered (the row lock serialises appends of one session, never of two). ``turn_window_start`` /
  ``turns_in_window`` are the per-session turn budget (a fixed one-minute window).
- ``sa_messages``: append-only. ``content`` is what was said (the human agent and the bot need it);
  ``content_masked`` has PII replaced by ``<ENTITY>`` and is the only text logs and traces may carry.
- ``sa_turn_traces``: one row per bot turn: intent + confidence, tool calls with arguments and results (PII
  masked), policy decisions, per-step latency and the model id — what the agent console shows.
- ``sa_handoffs``: the human queue. ``version`` makes a claim race have one winner; a session has at most one
  open (queued or claimed) handoff (a partial unique index), so a repeated "let me talk to a human" never
  queues the conversation twice.
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x53415F5345535353  # "SA_SESSS"

SESSION_STATUSES = ("active", "waiting_human", "with_human", "closed")
ROLES = ("user", "assistant", "tool", "human_agent", "system")
HANDOFF_REASONS = ("explicit_request", "repeated_failure", "negative_sentiment", "policy_exception", "low_confidence")
HANDOFF_STATUSES = ("queued", "claimed", "returned", "closed")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


STATEMENTS = (
    f"""CREATE TABLE IF NOT EXISTS sa_sessions (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        customer_id text,
        channel text NOT NULL,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ({_in(SESSION_STATUSES)})),
        assigned_agent text,
        state jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        version int NOT NULL DEFAULT 1,
        last_seq int NOT NULL DEFAULT 0,
        turn_window_start timestamptz,
        turns_in_window int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS sa_sessions_tenant ON sa_sessions (tenant_id, status, updated_at DESC)",
    f"""CREATE TABLE IF NOT EXISTS sa_messages (
        session_id uuid NOT NULL REFERENCES sa_sessions(id) ON DELETE CASCADE,
        seq int NOT NULL CHECK (seq >= 1),
        role text NOT NULL CHECK (role IN ({_in(ROLES)})),
        author text,
        content text NOT NULL,
        content_masked text NOT NULL,
        tool_name text,
        tool_args jsonb,
        tool_result jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS sa_turn_traces (
        id bigserial PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sa_sessions(id) ON DELETE CASCADE,
        user_seq int,
        intent text,
        confidence double precision,
        tool_calls jsonb NOT NULL DEFAULT '[]'::jsonb,
        policy_decisions jsonb NOT NULL DEFAULT '[]'::jsonb,
        latency_ms jsonb NOT NULL DEFAULT '{}'::jsonb,
        model_id text,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS sa_turn_traces_session ON sa_turn_traces (session_id, id)",
    f"""CREATE TABLE IF NOT EXISTS sa_handoffs (
        id uuid PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sa_sessions(id) ON DELETE CASCADE,
        tenant_id text NOT NULL,
        reason text NOT NULL CHECK (reason IN ({_in(HANDOFF_REASONS)})),
        summary text NOT NULL,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ({_in(HANDOFF_STATUSES)})),
        claimed_by text,
        note text,
        version int NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        claimed_at timestamptz,
        returned_at timestamptz,
        closed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS sa_handoffs_queue ON sa_handoffs (tenant_id, status, created_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS sa_handoffs_one_open ON sa_handoffs (session_id) "
    "WHERE status IN ('queued', 'claimed')",
)


def ensure_session_schema(url: str) -> None:
    """Create the session tables (idempotent; concurrent callers serialise on an advisory lock)."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)
