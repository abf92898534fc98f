"""The project's own tables, created idempotently when the router starts.

Shared migrations (``shared/retrieval/migrations``) must not know about projects, so Enterprise RAG
keeps its small schema here as plain SQL with ``IF NOT EXISTS``; :func:`ensure_schema` runs it
under an advisory lock, so concurrent processes starting together are safe. A future change that
alters a table adds a new statement here (``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``), never edits
an old one.

Tables:
- ``rag_collections``: the tenant-scoped name a user sees → the shared store's collection name.
- ``rag_ingest_items``: one row per file of an upload batch or folder sync: status, error, chunks.
- ``rag_conversations`` / ``rag_messages``: multi-turn chats per user (citations kept as JSON).
- ``rag_feedback``: up/down + comment per message and user, for evaluation.
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x5241475F53434845  # "RAG_SCHE"

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS rag_collections (
        tenant_id text NOT NULL,
        name text NOT NULL,
        store_name text NOT NULL UNIQUE,
        description text NOT NULL DEFAULT '',
        allowed_groups text[] NOT NULL DEFAULT '{public}',
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, name)
    )""",
    """CREATE TABLE IF NOT EXISTS rag_ingest_items (
        id bigserial PRIMARY KEY,
        batch_id uuid NOT NULL,
        job_id bigint,
        store_name text NOT NULL,
        tenant_id text NOT NULL,
        source_uri text NOT NULL,
        status text NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'running', 'inserted', 'replaced', 'unchanged', 'acl_updated',
                              'deleted', 'failed')),
        error text,
        chunks int,
        document jsonb,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS rag_ingest_items_batch ON rag_ingest_items (batch_id)",
    "CREATE INDEX IF NOT EXISTS rag_ingest_items_job ON rag_ingest_items (job_id)",
    """CREATE TABLE IF NOT EXISTS rag_conversations (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        user_id text NOT NULL,
        collection text NOT NULL,
        title text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS rag_conversations_user ON rag_conversations (tenant_id, user_id, updated_at DESC)",
    """CREATE TABLE IF NOT EXISTS rag_messages (
        id bigserial PRIMARY KEY,
        conversation_id uuid NOT NULL REFERENCES rag_conversations(id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('user', 'assistant')),
        content text NOT NULL,
        citations jsonb NOT NULL DEFAULT '[]',
        abstained boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )""",
    "CREATE INDEX IF NOT EXISTS rag_messages_conversation ON rag_messages (conversation_id, id)",
    """CREATE TABLE IF NOT EXISTS rag_feedback (
        id bigserial PRIMARY KEY,
        message_id bigint NOT NULL REFERENCES rag_messages(id) ON DELETE CASCADE,
        tenant_id text NOT NULL,
        user_id text NOT NULL,
        rating smallint NOT NULL CHECK (rating IN (-1, 1)),
        comment text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (message_id, user_id)
    )""",
)


def ensure_schema(url: str) -> None:
    """Create the project's tables if missing (idempotent, serialised by an advisory lock)."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)
