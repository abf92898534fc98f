"""SQL execution match: does the predicted query return the same rows as the gold one?

The execution-accuracy definition of Spider/BIRD: run both queries on the same database and compare
result multisets (column names ignored, row order ignored unless the gold query orders its output).
Works on any DB-API 2.0 connection (sqlite3, psycopg). Each query's transaction is rolled back, so a
predicted ``DELETE`` cannot change the data the next item sees, and a failed statement does not leave a
PostgreSQL connection in the aborted state.
"""

from __future__ import annotations

import decimal
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


@dataclass
class SqlMatch:
    match: bool
    error: str | None = None  # the predicted query's error; a gold error raises instead
    gold_rows: int = 0
    pred_rows: int = 0
    ordered: bool = False


def _is_ordered(sql: str) -> bool:
    """True when the outermost query ends with ORDER BY (string literals ignored; sub-query order is moot)."""
    stripped = _STRINGS.sub("''", sql)
    depth, last_top_level_order = 0, -1
    for m in re.finditer(r"[()]|\border\s+by\b", stripped, re.IGNORECASE):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0:
            last_top_level_order = m.start()
    return last_top_level_order >= 0


def _normalise(value: Any, float_digits: int) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal | float):
        return round(float(value), float_digits)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):  # PostgreSQL arrays: make rows hashable for the multiset
        return tuple(_normalise(v, float_digits) for v in value)
    if isinstance(value, dict):  # json/jsonb
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _run(conn: Any, sql: str, float_digits: int) -> list[tuple]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        rows = cur.fetchall() if cur.description is not None else []
        return [tuple(_normalise(v, float_digits) for v in row) for row in rows]
    finally:
        cur.close()
        conn.rollback()


def sql_execution_match(conn: Any, gold_sql: str, pred_sql: str, *, float_digits: int = 6) -> SqlMatch:
    """Execute both queries on ``conn`` and compare results.

    Row order matters only when the gold query has a top-level ORDER BY. Floats/decimals are compared after
    rounding to ``float_digits`` (SUM over floats differs in the last bits between plans). A predicted
    query that fails is a mismatch with its error recorded; a failing gold query is a dataset bug and raises.
    """
    gold = _run(conn, gold_sql, float_digits)
    ordered = _is_ordered(gold_sql)
    try:
        pred = _run(conn, pred_sql, float_digits)
    except Exception as exc:
        return SqlMatch(False, f"{type(exc).__name__}: {exc}".strip(), len(gold), 0, ordered)
    same = gold == pred if ordered else Counter(gold) == Counter(pred)
    return SqlMatch(same, None, len(gold), len(pred), ordered)
