"""Semantic response cache: questions embedded with pgvector, scoped by model and context, with a TTL.

The DDL lives in shared.serving.cache (one source of truth, also used by tests and by
``SemanticCache.ensure_schema``); the vector dimension follows ``settings.embeddings.dim``.

Revision ID: 0002_semantic_cache
Revises: 0001_base
"""

from __future__ import annotations

from alembic import op

from shared.serving.cache import SEMANTIC_CACHE_DROP, semantic_cache_ddl
from shared.settings import get_settings

revision = "0002_semantic_cache"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # one statement per execute: drivers may not accept several in one prepared statement
    for statement in semantic_cache_ddl(get_settings().embeddings.dim).split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute(SEMANTIC_CACHE_DROP)
