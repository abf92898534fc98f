"""Run a validated, policy-filtered query on a read-only connection with a timeout and a bounded fetch.

Defence in depth: even SQL that never went through validation cannot write here. SQLite opens ``mode=ro``
with ``query_only`` and an authorizer that permits only reads; PostgreSQL runs inside a READ ONLY
transaction through a server-side cursor. At most ``max_rows + 1`` rows ever cross the wire (the extra row
only tells that the result was truncated), so a query producing ten million rows costs the same as one
producing a thousand and one.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from projects.nl2sql_analytics.connections import Connection, open_readonly
from projects.nl2sql_analytics.errors import QueryExecutionError, QueryTimeoutError
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from projects.nl2sql_analytics.sql_functions import is_denied
from projects.nl2sql_analytics.validation import ValidatedQuery

_SQLITE_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}
_PROGRESS_EVERY = 1000  # SQLite VM instructions between deadline checks (~microseconds)


class QueryResult(BaseModel):
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = Field(description="the query had more rows than were returned")
    elapsed_ms: float
    sql: str


def execute(connection: Connection, query: ValidatedQuery, settings: Nl2SqlSettings | None = None) -> QueryResult:
    """Run a :class:`ValidatedQuery` (after :func:`policies.apply_policies` when row policies apply)."""
    settings = settings or get_nl2sql_settings()
    max_rows = query.row_limit if query.row_limit is not None else settings.row_limit
    return run_readonly(connection, query.sql, max_rows=max_rows, timeout_ms=settings.statement_timeout_ms)


def run_readonly(connection: Connection, sql: str, *, max_rows: int, timeout_ms: int) -> QueryResult:
    """Execute ``sql`` read-only; return at most ``max_rows`` rows. The low-level path: prefer :func:`execute`."""
    start = time.perf_counter()
    if connection.dialect == "sqlite":
        columns, rows = _run_sqlite(connection, sql, max_rows, timeout_ms)
    else:
        columns, rows = _run_postgres(connection, sql, max_rows, timeout_ms)
    return QueryResult(
        columns=columns,
        rows=rows[:max_rows],
        truncated=len(rows) > max_rows,
        elapsed_ms=round((time.perf_counter() - start) * 1000, 2),
        sql=sql,
    )


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    """Only reads: any write, DDL, PRAGMA, ATTACH or transaction is refused at prepare time."""
    if action in _SQLITE_ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and not is_denied(arg2 or ""):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _run_sqlite(connection: Connection, sql: str, max_rows: int, timeout_ms: int) -> tuple[list[str], list[tuple]]:
    with open_readonly(connection) as conn:
        deadline = time.monotonic() + timeout_ms / 1000
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_EVERY)
        conn.set_authorizer(_sqlite_authorizer)
        try:
            cursor = conn.execute(sql)
            columns = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchmany(max_rows + 1)
        except sqlite3.OperationalError as error:
            if time.monotonic() > deadline or "interrupted" in str(error):
                raise QueryTimeoutError(timeout_ms) from error
            raise QueryExecutionError(f"SQLite error: {error}") from error
        except (sqlite3.DatabaseError, sqlite3.Warning, sqlite3.ProgrammingError) as error:
            raise QueryExecutionError(f"SQLite error: {error}") from error
    return columns, rows


def _run_postgres(connection: Connection, sql: str, max_rows: int, timeout_ms: int) -> tuple[list[str], list[tuple]]:
    try:
        with open_readonly(connection, statement_timeout_ms=timeout_ms) as conn:
            try:
                with conn.cursor(name="nl2sql_query") as cursor:  # server-side: rows stream, never all at once
                    cursor.execute(sql)
                    rows = cursor.fetchmany(max_rows + 1)
                    columns = [d.name for d in cursor.description or ()]
            finally:
                conn.rollback()
    except psycopg.errors.QueryCanceled as error:
        raise QueryTimeoutError(timeout_ms) from error
    except psycopg.Error as error:
        diag = error.diag
        message = diag.message_primary or str(error).strip().splitlines()[0]
        raise QueryExecutionError(f"PostgreSQL error: {message}", diag.message_hint) from error
    return columns, rows
