"""The code index's own tables (prefix ``ca_``), created idempotently with ``apply_statements``.

The chunks and their vectors live in the platform's retrieval tables (one collection per repository,
``code-<repo id>``); these tables hold what vectors cannot answer: which files are indexed at which content hash
(incremental re-index), where every symbol is defined and used (exact "where is X" answers and the repo map), and
the history of index runs (the UI and the benchmark read it).

- ``ca_repos``: a repository or folder (``id`` is a slug), its status ('empty'|'indexing'|'ready'|'failed'), counts
  refreshed at the end of a run, and repo-specific settings (json).
- ``ca_files``: one row per indexed file. ``sha256 IS NULL`` means "a write was started and did not finish" (see
  ``store.py``): the next run re-indexes such a file, and a deletion still finds it.
- ``ca_symbols`` / ``ca_references``: definitions and uses. Looked up by exact name, lower(name) and, for fuzzy
  "did you mean", a trigram index on the qualified name.
- ``ca_index_runs``: one row per index run (files seen/indexed/unchanged/deleted/failed, skipped by reason).

Every child row cascades from ``ca_repos``, so deleting a repository is one statement.
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x43415F5343484D41  # "CA_SCHMA"
FIX_STATUSES = ("queued", "running", "fixed", "not_fixed", "no_failure", "error", "failed")

REPO_KINDS = ("git", "folder")
REPO_STATUSES = ("empty", "indexing", "ready", "failed")
RUN_STATUSES = ("running", "succeeded", "failed", "cancelled")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


STATEMENTS = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"""CREATE TABLE IF NOT EXISTS ca_repos (
        id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{{0,47}}$'),
        name text NOT NULL,
        root_path text NOT NULL,
        kind text NOT NULL CHECK (kind IN {_in(REPO_KINDS)}),
        head_commit text,
        status text NOT NULL DEFAULT 'empty' CHECK (status IN {_in(REPO_STATUSES)}),
        error text,
        n_files int NOT NULL DEFAULT 0,
        n_symbols int NOT NULL DEFAULT 0,
        n_chunks int NOT NULL DEFAULT 0,
        settings jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        indexed_at timestamptz
    )""",
    """CREATE TABLE IF NOT EXISTS ca_files (
        repo_id text NOT NULL REFERENCES ca_repos(id) ON DELETE CASCADE,
        path text NOT NULL,
        language text NOT NULL,
        size bigint NOT NULL,
        mtime_ns bigint NOT NULL,
        sha256 text,
        n_symbols int NOT NULL DEFAULT 0,
        n_chunks int NOT NULL DEFAULT 0,
        parse_error text,
        indexed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (repo_id, path)
    )""",
    """CREATE TABLE IF NOT EXISTS ca_symbols (
        id bigserial PRIMARY KEY,
        repo_id text NOT NULL REFERENCES ca_repos(id) ON DELETE CASCADE,
        path text NOT NULL,
        name text NOT NULL,
        qualname text NOT NULL,
        kind text NOT NULL,
        start_line int NOT NULL CHECK (start_line >= 1),
        end_line int NOT NULL CHECK (end_line >= start_line),
        signature text NOT NULL DEFAULT '',
        docstring text,
        parent text
    )""",
    "CREATE INDEX IF NOT EXISTS ca_symbols_path ON ca_symbols (repo_id, path)",
    "CREATE INDEX IF NOT EXISTS ca_symbols_name ON ca_symbols (repo_id, name)",
    "CREATE INDEX IF NOT EXISTS ca_symbols_lower_name ON ca_symbols (repo_id, lower(name))",
    "CREATE INDEX IF NOT EXISTS ca_symbols_qualname ON ca_symbols (repo_id, qualname)",
    "CREATE INDEX IF NOT EXISTS ca_symbols_qualname_trgm ON ca_symbols USING gin (qualname gin_trgm_ops)",
    """CREATE TABLE IF NOT EXISTS ca_references (
        id bigserial PRIMARY KEY,
        repo_id text NOT NULL REFERENCES ca_repos(id) ON DELETE CASCADE,
        path text NOT NULL,
        name text NOT NULL,
        line int NOT NULL CHECK (line >= 1),
        kind text NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ca_references_name ON ca_references (repo_id, name)",
    "CREATE INDEX IF NOT EXISTS ca_references_path ON ca_references (repo_id, path)",
    f"""CREATE TABLE IF NOT EXISTS ca_index_runs (
        id bigserial PRIMARY KEY,
        repo_id text NOT NULL REFERENCES ca_repos(id) ON DELETE CASCADE,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at timestamptz,
        status text NOT NULL DEFAULT 'running' CHECK (status IN {_in(RUN_STATUSES)}),
        files_seen int NOT NULL DEFAULT 0,
        files_indexed int NOT NULL DEFAULT 0,
        files_unchanged int NOT NULL DEFAULT 0,
        files_deleted int NOT NULL DEFAULT 0,
        files_failed int NOT NULL DEFAULT 0,
        chunks_written int NOT NULL DEFAULT 0,
        skipped jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        error text,
        duration_s double precision
    )""",
    "CREATE INDEX IF NOT EXISTS ca_index_runs_repo ON ca_index_runs (repo_id, id DESC)",
    # a debug-loop request and its outcome: the job runs it, the row is what the API and the UI read
    f"""CREATE TABLE IF NOT EXISTS ca_fixes (
        id text PRIMARY KEY,
        repo_id text NOT NULL REFERENCES ca_repos(id) ON DELETE CASCADE,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN {_in(FIX_STATUSES)}),
        request jsonb NOT NULL,
        job_id bigint,
        result jsonb,
        events jsonb NOT NULL DEFAULT '[]'::jsonb,
        message text,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS ca_fixes_repo ON ca_fixes (repo_id, created_at DESC)",
)


def ensure_schema(url: str) -> None:
    """Create the tables and indexes (idempotent, serialised by an advisory lock)."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)
