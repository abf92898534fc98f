"""Base schema: collections, documents, chunks (pgvector + tsvector), job progress.

Embedding dimension is chosen per collection: ``chunks.embedding`` is an unconstrained
``vector`` with a generated ``dim`` column, and each dimension in use gets its own partial HNSW
expression index ``((embedding::vector(N)) vector_cosine_ops) WHERE dim = N``. 384 (the default
local embedder) is created here; ``PgVectorStore.create_collection`` adds others on demand.

Revision ID: 0001_base
Revises:
"""

from alembic import op

from shared.retrieval.migrations.versions import hnsw_index_sql
from shared.settings import get_settings

revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    db = get_settings().database
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("""
    CREATE TABLE collections (
        name            text PRIMARY KEY,
        embedding_model text NOT NULL,
        embedding_dim   integer NOT NULL CHECK (embedding_dim BETWEEN 1 AND 2000),
        chunking        jsonb NOT NULL DEFAULT '{}'::jsonb,
        metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
    )
    """)
    op.execute("""
    CREATE TABLE documents (
        id             text PRIMARY KEY,
        collection     text NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
        source_uri     text NOT NULL,
        doc_type       text NOT NULL,
        title          text,
        source_date    timestamptz,
        content_hash   text NOT NULL,
        metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
        tenant_id      text NOT NULL,
        allowed_groups text[] NOT NULL,
        chunk_count    integer NOT NULL DEFAULT 0,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (collection, source_uri)
    )
    """)
    op.execute("CREATE INDEX documents_acl ON documents (collection, tenant_id)")
    op.execute("CREATE INDEX documents_groups ON documents USING gin (allowed_groups)")
    # Chunks repeat the document's ACL and filter fields so every search predicate is on one table.
    op.execute("""
    CREATE TABLE chunks (
        id             text PRIMARY KEY,
        document_id    text NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        collection     text NOT NULL,
        ordinal        integer NOT NULL,
        text           text NOT NULL,
        content_hash   text NOT NULL,
        embedding      vector,
        dim            integer GENERATED ALWAYS AS (vector_dims(embedding)) STORED,
        tsv            tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
        metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- document metadata || chunk_metadata
        chunk_metadata jsonb NOT NULL DEFAULT '{}'::jsonb,  -- the chunker's own (heading_path, ...)
        tenant_id      text NOT NULL,
        allowed_groups text[] NOT NULL,
        source_uri     text NOT NULL,
        doc_type       text NOT NULL,
        source_date    timestamptz,
        page           integer,
        section        text,
        UNIQUE (document_id, ordinal)
    )
    """)
    op.execute("CREATE INDEX chunks_scope ON chunks (collection, tenant_id)")
    op.execute("CREATE INDEX chunks_tsv ON chunks USING gin (tsv)")
    op.execute("CREATE INDEX chunks_groups ON chunks USING gin (allowed_groups)")
    op.execute("CREATE INDEX chunks_metadata ON chunks USING gin (metadata jsonb_path_ops)")
    op.execute(hnsw_index_sql(384, db.hnsw_m, db.hnsw_ef_construction))
    # Progress of background jobs (the queue itself is Procrastinate's schema, applied by upgrade()).
    op.execute("""
    CREATE TABLE job_progress (
        job_id     bigint PRIMARY KEY,
        done       integer NOT NULL DEFAULT 0,
        total      integer,
        message    text,
        attempts   integer NOT NULL DEFAULT 0,
        error      text,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS job_progress")
    op.execute("DROP TABLE IF EXISTS chunks")
    op.execute("DROP TABLE IF EXISTS documents")
    op.execute("DROP TABLE IF EXISTS collections")
