"""The project's own tables in the platform PostgreSQL, created idempotently when the service starts.

Like ``projects/enterprise_rag/schema.py``: plain SQL with ``IF NOT EXISTS`` under an advisory lock, so
processes starting together are safe; a later change adds statements (``ALTER TABLE ... ADD COLUMN IF NOT
EXISTS``) and never edits old ones. These tables hold metadata only; the databases users ask about are
separate connections and are never written.

Tables:
- ``nl2sql_connections``: registered databases (name → SQLite path or PostgreSQL URL).
- ``nl2sql_tiles``: each user's dashboard: a titled question with its SQL and chart kind, in order.
- ``nl2sql_history``: every question asked and SQL run, per user: status, SQL, error code, timings.
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x4E4C3253514C5343  # "NL2SQLSC"

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS nl2sql_connections (
        name text PRIMARY KEY,
        target text NOT NULL,
        dialect text NOT NULL CHECK (dialect IN ('sqlite', 'postgres')),
        description text NOT NULL DEFAULT '',
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS nl2sql_tiles (
        id bigserial PRIMARY KEY,
        user_id text NOT NULL,
        connection text NOT NULL REFERENCES nl2sql_connections(name) ON DELETE CASCADE,
        title text NOT NULL,
        question text NOT NULL DEFAULT '',
        sql text NOT NULL,
        chart_kind text,
        position int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        refreshed_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS nl2sql_tiles_user ON nl2sql_tiles (user_id, position, id)",
    """CREATE TABLE IF NOT EXISTS nl2sql_history (
        id bigserial PRIMARY KEY,
        user_id text NOT NULL,
        connection text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('ask', 'sql')),
        question text NOT NULL DEFAULT '',
        status text NOT NULL,
        sql text,
        executed_sql text,
        error_code text,
        row_count int,
        timings_ms jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )""",
    "CREATE INDEX IF NOT EXISTS nl2sql_history_user ON nl2sql_history (user_id, id DESC)",
)


def ensure_schema(url: str) -> None:
    """Create the project's tables if missing (idempotent, serialised by an advisory lock)."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)
