"""The project's own tables, created idempotently at service start (``apply_statements``).

Vectors do not live here: each embedding space is a ``shared.retrieval`` collection (one document per
image, one chunk carrying the index text for full-text search and the space's vector), so search,
filters, hybrid RRF and HNSW indexes are the platform's. These tables hold what a vector store does
not: the image record (where the original is, EXIF, thumbnail, perceptual hash, labels, OCR text,
indexing state) and the imports that added images.

- ``mms_images``: one row per distinct image content per tenant (``UNIQUE (tenant_id, sha256)``: an
  exact re-upload returns the existing image). ``indexed_model`` is the embedding-profile signature the
  image's vectors were made with; a row whose signature differs from the running profile is *stale*
  and a re-index job re-embeds it (embeddings are versioned by model).
- ``mms_imports``: a folder import or an upload batch: its job, progress counters and the files it
  skipped with the reason (bad input is reported per file, never half-stored).

Status of an image: ``queued → indexing → indexed``, or ``failed`` (the error is kept; a retry of its
import re-queues it). Status of an import: ``queued → running → done | failed``.
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x4D4D535F5343484D  # "MMS_SCHM"

IMAGE_STATUSES = ("queued", "indexing", "indexed", "failed")
IMPORT_STATUSES = ("queued", "running", "done", "failed")

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS mms_imports (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        created_by text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('folder', 'upload', 'reindex')),
        path text,
        recursive boolean NOT NULL DEFAULT true,
        source text NOT NULL,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
        job_id bigint,
        total int NOT NULL DEFAULT 0,
        done int NOT NULL DEFAULT 0,
        added int NOT NULL DEFAULT 0,
        duplicates int NOT NULL DEFAULT 0,
        failed int NOT NULL DEFAULT 0,
        skipped jsonb NOT NULL DEFAULT '[]',
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS mms_imports_tenant ON mms_imports (tenant_id, created_at DESC)",
    """CREATE TABLE IF NOT EXISTS mms_images (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        created_by text NOT NULL,
        import_id uuid REFERENCES mms_imports(id) ON DELETE SET NULL,
        sha256 text NOT NULL,
        storage_path text NOT NULL,
        filename text NOT NULL,
        index_filename boolean NOT NULL DEFAULT true,
        source text NOT NULL,
        caption text,
        tags text[] NOT NULL DEFAULT '{}',
        media_type text NOT NULL,
        size_bytes bigint NOT NULL,
        width int NOT NULL,
        height int NOT NULL,
        orientation text NOT NULL,
        n_frames int NOT NULL DEFAULT 1,
        taken_at timestamptz,
        camera_make text,
        camera_model text,
        gps_lat double precision,
        gps_lon double precision,
        phash bigint NOT NULL,
        duplicate_of uuid,
        colours text[] NOT NULL DEFAULT '{}',
        warnings jsonb NOT NULL DEFAULT '[]',
        thumbnail bytea NOT NULL,
        labels jsonb NOT NULL DEFAULT '[]',
        ocr_text text,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'indexing', 'indexed', 'failed')),
        error text,
        indexed_model text,
        indexed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, sha256)
    )""",
    "CREATE INDEX IF NOT EXISTS mms_images_status ON mms_images (tenant_id, status)",
    "CREATE INDEX IF NOT EXISTS mms_images_import ON mms_images (import_id)",
    "CREATE INDEX IF NOT EXISTS mms_images_model ON mms_images (tenant_id, indexed_model)",
)


def ensure_schema(url: str) -> None:
    apply_statements(url, STATEMENTS, _LOCK_KEY)
