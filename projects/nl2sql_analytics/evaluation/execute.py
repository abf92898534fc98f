"""Run one SQL statement on a SQLite file opened read-only, with a wall-clock budget and a row cap.

The evaluation executes model output, so it must not be able to change the dev databases whatever the
model writes: the file is opened with ``mode=ro`` (SQLite itself refuses every write) and
``PRAGMA query_only`` is set as a second lock. A progress handler aborts statements that run past the
budget (a cartesian join), and at most ``max_rows`` rows are fetched (more is reported as an error, since
a truncated result could not be compared honestly).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PROGRESS_EVERY = 10_000  # SQLite VM instructions between deadline checks (~1 ms)


@dataclass
class QueryResult:
    """Rows and column names of a successful statement, or the error that stopped it."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    error: str | None = None
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def connect_readonly(db_path: str | Path) -> sqlite3.Connection:
    """A connection that cannot write: URI ``mode=ro`` plus ``query_only``; usable from any thread."""
    uri = f"{Path(db_path).resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def run_query(db_path: str | Path, sql: str, *, timeout_s: float = 10.0, max_rows: int = 100_000) -> QueryResult:
    """Execute ``sql`` (a single statement) and fetch at most ``max_rows`` rows; never raises for bad SQL."""
    start = time.perf_counter()
    deadline = start + timeout_s
    try:
        conn = connect_readonly(db_path)
    except sqlite3.Error as exc:
        return QueryResult([], [], f"cannot open database: {exc}", 0.0)
    conn.set_progress_handler(lambda: 1 if time.perf_counter() > deadline else 0, _PROGRESS_EVERY)
    try:
        cur = conn.execute(sql)
        columns = [d[0] for d in cur.description or []]
        rows = cur.fetchmany(max_rows + 1)
        if len(rows) > max_rows:
            return QueryResult(columns, [], f"result exceeds {max_rows} rows", _ms(start))
        return QueryResult(columns, [tuple(r) for r in rows], None, _ms(start))
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc) and time.perf_counter() > deadline:
            return QueryResult([], [], f"timeout: statement ran longer than {timeout_s:g} s", _ms(start))
        return QueryResult([], [], f"{type(exc).__name__}: {exc}", _ms(start))
    except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError) as exc:  # ValueError: e.g. NUL in the statement
        return QueryResult([], [], f"{type(exc).__name__}: {exc}", _ms(start))
    finally:
        conn.close()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
