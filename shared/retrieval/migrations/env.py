"""Alembic environment: online migrations only, over psycopg 3, under an advisory lock."""

from __future__ import annotations

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool, text

_LOCK_KEY = 0x5E7A_10

config = context.config
# A libpq conninfo (URI or key=value, as shared.db produces) handed to psycopg directly.
conninfo = config.attributes.get("conninfo") or config.get_main_option("sqlalchemy.url")
engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo), poolclass=pool.NullPool)

with engine.connect() as connection:
    # Serialise concurrent upgrades (several processes starting at once); released at disconnect.
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
    connection.commit()
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
engine.dispose()
