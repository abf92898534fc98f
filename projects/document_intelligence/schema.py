"""The project's own tables, created idempotently when the service starts (``apply_statements``).

Tables (``di_`` prefix):
- ``di_blobs``: uploaded originals by SHA-256 (bytea). One copy per content, shared by re-uploads.
  Production would keep them in object storage and store the key here; bytea keeps the reference
  system one dependency (PostgreSQL) and makes "upload + document row" one transaction.
- ``di_documents``: one row per upload: status machine, page progress, classification, the
  extraction result (JSON) and the review state.
- ``di_pages``: one row per parsed page (the ``model.Page`` JSON). Written page by page in the job,
  so a crashed job resumes after its last stored page, and a 500-page document never needs all
  pages in memory.
- ``di_corrections``: every reviewer change (old → new value, who, when): the audit trail and the
  training data export.

Status machine of ``di_documents.status``::

    queued → processing → needs_review → approved
                        ↘ done
    (any) → failed → (retry) queued
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x44495F5343484D41  # "DI_SCHMA"

STATUSES = ("queued", "processing", "needs_review", "approved", "done", "failed")

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS di_blobs (
        sha256 text PRIMARY KEY,
        data bytea NOT NULL,
        size_bytes bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS di_documents (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        created_by text NOT NULL,
        filename text NOT NULL,
        media_type text NOT NULL,
        sha256 text NOT NULL REFERENCES di_blobs(sha256),
        size_bytes bigint NOT NULL,
        n_pages int NOT NULL,
        pages_done int NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'processing', 'needs_review', 'approved', 'done', 'failed')),
        stage text,
        error text,
        warnings jsonb NOT NULL DEFAULT '[]',
        job_id bigint,
        attempts int NOT NULL DEFAULT 0,
        doc_type text,
        doc_type_confidence real,
        doc_type_method text,
        requested_type text,
        extraction jsonb,
        review_reasons jsonb NOT NULL DEFAULT '[]',
        reviewed_by text,
        reviewed_at timestamptz,
        indexed boolean NOT NULL DEFAULT false,
        seconds real,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS di_documents_tenant ON di_documents (tenant_id, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS di_documents_review ON di_documents (tenant_id, status) WHERE status = 'needs_review'",
    """CREATE TABLE IF NOT EXISTS di_pages (
        document_id uuid NOT NULL REFERENCES di_documents(id) ON DELETE CASCADE,
        number int NOT NULL,
        source text NOT NULL,
        page jsonb NOT NULL,
        text text NOT NULL DEFAULT '',
        seconds real NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (document_id, number)
    )""",
    """CREATE TABLE IF NOT EXISTS di_corrections (
        id bigserial PRIMARY KEY,
        document_id uuid NOT NULL REFERENCES di_documents(id) ON DELETE CASCADE,
        tenant_id text NOT NULL,
        field text NOT NULL,
        old_value text,
        new_value text,
        reviewer text NOT NULL,
        action text NOT NULL DEFAULT 'correct' CHECK (action IN ('correct', 'confirm', 'approve', 'reject')),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )""",
    "CREATE INDEX IF NOT EXISTS di_corrections_document ON di_corrections (document_id, id)",
)


def ensure_schema(url: str) -> None:
    """Create the project's tables if missing (idempotent, serialised by an advisory lock)."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)
