"""The service's own tables, created idempotently at service start (``apply_statements``); the review queue's
tables live with it in ``review.py``.

- ``cm_decisions``: one row per moderated text: the action, the flagged categories with scores and evidence
  spans, the policy version that produced it, the surface, tiers and timings. The text itself is *not* kept,
  only its SHA-256 and length (an appeal of an automated decision re-sends the text and is checked against the
  hash); a text that goes to human review is stored in ``cm_review_items``, where a reviewer needs it.
- ``cm_idempotency``: ``(tenant, Idempotency-Key)`` → the request's hash and the response. The row is written
  in the same transaction as the decisions, so a key never exists without its result; a concurrent duplicate
  blocks on the primary key until the first commits, then replays it (one decision row, not two).
- ``cm_jobs``: an asynchronous batch: its texts until they are moderated, results, progress, callback URL and
  delivery state. Status ``queued → running → succeeded | failed`` (failed is retriable).
- ``cm_webhook_deliveries``: every callback attempt (status code or error, duration), for the job view.
- ``cm_media``: the bytes of an uploaded image, kept **only** when its decision sent it to human review (a
  reviewer has to see it; ``cm_review_items.media_sha256`` points here). Every other image decision keeps its
  SHA-256 and size in ``cm_decisions`` like a text. Keyed by ``(tenant, sha256)``: the same image reviewed twice
  is stored once, and tenants never share rows.
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x434D5F5343484D41  # "CM_SCHMA"

JOB_STATUSES = ("queued", "running", "succeeded", "failed")
WEBHOOK_STATUSES = ("none", "pending", "delivered", "failed")

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS cm_jobs (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        created_by text NOT NULL,
        surface text NOT NULL,
        reach int NOT NULL DEFAULT 1,
        source_ref text,
        texts jsonb,
        total int NOT NULL,
        done int NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        queue_job_id bigint,
        policy_version text,
        results jsonb,
        error text,
        webhook_url text,
        webhook_status text NOT NULL DEFAULT 'none'
            CHECK (webhook_status IN ('none', 'pending', 'delivered', 'failed')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS cm_jobs_tenant ON cm_jobs (tenant_id, created_at DESC)",
    """CREATE TABLE IF NOT EXISTS cm_decisions (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        text_sha256 text NOT NULL,
        text_bytes int NOT NULL,
        action text NOT NULL CHECK (action IN ('allow', 'flag', 'review', 'block')),
        categories jsonb NOT NULL,
        policy_version text NOT NULL,
        surface text NOT NULL,
        source_ref text,
        idempotency_key text,
        job_id uuid REFERENCES cm_jobs(id) ON DELETE SET NULL,
        review_item_id uuid REFERENCES cm_review_items(id) ON DELETE SET NULL,
        tiers_run int[] NOT NULL,
        timings_ms jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS cm_decisions_tenant ON cm_decisions (tenant_id, created_at DESC)",
    """CREATE TABLE IF NOT EXISTS cm_idempotency (
        tenant_id text NOT NULL,
        key text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('moderate', 'job')),
        request_sha256 text NOT NULL,
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, key)
    )""",
    """CREATE TABLE IF NOT EXISTS cm_webhook_deliveries (
        id bigserial PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES cm_jobs(id) ON DELETE CASCADE,
        attempt int NOT NULL,
        url text NOT NULL,
        status_code int,
        error text,
        duration_ms double precision NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS cm_webhook_deliveries_job ON cm_webhook_deliveries (job_id, id)",
    """CREATE TABLE IF NOT EXISTS cm_media (
        tenant_id text NOT NULL,
        sha256 text NOT NULL,
        media_type text NOT NULL,
        data bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, sha256)
    )""",
)


def ensure_schema(url: str) -> None:
    """Create the tables (the review queue's first: decisions reference its items)."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)
