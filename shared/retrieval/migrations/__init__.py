"""Schema migrations for the whole platform: Alembic revisions (plain SQL) plus the job queue schema.

``upgrade(url)`` is what every caller uses (projects, the demo launcher, tests). It is idempotent
and safe to call from several processes at once: Alembic's own version table records what ran,
and a PostgreSQL advisory lock serialises concurrent upgrades of the same database.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).resolve().parent
_LOCK_KEY = 0x5E7A_11  # arbitrary, constant: "platform schema upgrade"


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["conninfo"] = url
    return cfg


def apply_job_queue_schema(url: str) -> None:
    """Install Procrastinate's schema once (its SQL is not re-runnable, so check first)."""
    from procrastinate.schema import SchemaManager

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is None:
                with conn.transaction():
                    conn.execute(SchemaManager.get_schema())  # type: ignore[arg-type]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to the latest schema (tables, indexes, job queue)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
    apply_job_queue_schema(url)


def current(url: str) -> set[str]:
    """Revision ids currently applied (empty before the first upgrade)."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
            return set()
        return {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
