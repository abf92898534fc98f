"""Execution match: is a generated query's result the same answer as a gold query's? Pure functions.

The issue's definition, made precise:

- **Column names are ignored**; columns are matched by their values. **Extra columns are allowed** only if
  every gold column is present: each gold column must map to a *distinct* generated column so that the
  generated rows projected onto those columns equal the gold rows (defog sql-eval's subset semantics).
  The mapping is found by backtracking over candidate columns whose values equal the gold column's.
- **Rows are a set by default**: repeated rows are dropped from both results (after projecting the generated
  rows onto the matched columns) before comparing, as defog sql-eval's ``drop_duplicates`` does, so a missing
  ``DISTINCT`` is not an error. ``distinct=False`` compares multisets instead (Spider's stricter definition).
  Row order is ignored unless the gold query's outermost statement has an ORDER BY (read from the sqlglot
  AST, so an ORDER BY inside a sub-query or a string does not count). When every ORDER BY key of the gold is
  one of its output columns, the generated rows must be the same rows *and* carry the same key sequence, so
  rows that tie on the keys may come in any order (SQLite does not define the order of ties). When a key
  is not an output column the full row sequence must match.
- **Values are normalised**: integers compare exactly; any comparison involving a non-integral float uses
  ``rel_tol=1e-6`` (``abs_tol=1e-9``), so ``AVG`` vs ``SUM/COUNT`` or ``3`` vs ``3.0`` agree; numeric
  strings count as numbers (``'42'`` = ``42``; so ``'007'`` = ``7``); dates and datetimes compare as ISO
  text with a midnight time dropped (``2024-01-05 00:00:00`` = ``2024-01-05``); surrounding whitespace of
  text is ignored; booleans are 0/1; NULL equals only NULL.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

REL_TOL = 1e-6
ABS_TOL = 1e-9
SORT_DIGITS = 6  # significant digits of the sort key; equality itself uses the tolerances above
MAX_ASSIGNMENTS = 10_000  # column mappings tried before giving up (only reachable with many identical columns)

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?")
_MIDNIGHT = re.compile(r"00:00(?::00(?:\.0+)?)?")


# --------------------------------------------------------------------------- order


@dataclass(frozen=True)
class OrderSpec:
    """How row order must be compared for one gold statement.

    ``key_columns`` are the gold result's column indexes of its ORDER BY keys, or None when some key is not
    an output column (then the whole row sequence must match).
    """

    ordered: bool = False
    key_columns: tuple[int, ...] | None = None


UNORDERED = OrderSpec()


def order_spec(sql: str, dialect: str = "sqlite") -> OrderSpec:
    """Whether ``sql``'s outermost query has ORDER BY, and which output columns are its keys."""
    try:
        root = sqlglot.parse_one(sql, read=dialect)
    except Exception:  # sqlglot cannot read it: be strict rather than silently order-insensitive
        return OrderSpec(bool(re.search(r"\border\s+by\b", sql, re.IGNORECASE)), None)
    order = root.args.get("order") if root is not None else None
    if not isinstance(order, exp.Order) or not order.expressions:
        return UNORDERED
    selects = root.selects if isinstance(root, exp.Query) else []
    keys = []
    for ordered in order.expressions:
        index = _select_index(ordered.this, selects)
        if index is None:
            return OrderSpec(True, None)
        keys.append(index)
    return OrderSpec(True, tuple(dict.fromkeys(keys)))


def _select_index(key: exp.Expression, selects: list[exp.Expression]) -> int | None:
    """The output column an ORDER BY key names: an ordinal, an alias, or the same expression/column."""
    if isinstance(key, exp.Literal) and not key.is_string and _INT.fullmatch(key.this):
        n = int(key.this)
        return n - 1 if 1 <= n <= len(selects) else None
    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star) for s in selects):
        return None  # SELECT *: output columns are unknown here
    if isinstance(key, exp.Column) and not key.table:
        for i, s in enumerate(selects):
            if isinstance(s, exp.Alias) and s.alias.lower() == key.name.lower():
                return i
    target = key.sql().lower()
    for i, s in enumerate(selects):
        inner = s.this if isinstance(s, exp.Alias) else s
        if inner.sql().lower() == target:
            return i
    if isinstance(key, exp.Column):  # ``ORDER BY name`` for ``SELECT t.name`` (or the reverse)
        for i, s in enumerate(selects):
            inner = s.this if isinstance(s, exp.Alias) else s
            same_name = isinstance(inner, exp.Column) and inner.name.lower() == key.name.lower()
            if same_name and (not key.table or not inner.table or key.table.lower() == inner.table.lower()):
                return i
    return None


# --------------------------------------------------------------------------- values


def normalise_value(value: Any) -> Any:
    """A canonical form: None, int, float (non-integral only), str, or bytes."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | decimal.Decimal):
        return _number(float(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    text = str(value).strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return _number(float(text))
    m = _DATETIME.fullmatch(text)
    if m:
        day, clock = m.groups()
        return day if clock is None or _MIDNIGHT.fullmatch(clock) else f"{day} {clock}"
    return text


def _number(f: float) -> int | float | str:
    if not math.isfinite(f):
        return repr(f)  # 'nan', 'inf', '-inf': equal only to themselves
    if f.is_integer() and abs(f) < 2**53:
        return int(f)
    return f


def values_equal(a: Any, b: Any) -> bool:
    """Equality of two normalised values: exact for ints and text, tolerant when a float is involved."""
    if _is_num(a) and _is_num(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return type(a) is type(b) and a == b


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _sort_key(v: Any) -> tuple[int, Any]:
    """Orders mixed values; numbers by value rounded to SORT_DIGITS so near-equal floats sort together."""
    if v is None:
        return (0, 0)
    if _is_num(v):
        return (1, float(f"{float(v):.{SORT_DIGITS}g}"))
    if isinstance(v, str):
        return (2, v)
    return (3, v)


def _unique(values: Sequence[Any]) -> list[Any]:
    return sorted(set(values), key=_sort_key)


def _rows_key(row: Sequence[Any]) -> tuple:
    return tuple(_sort_key(v) for v in row)


def _seq_equal(xs: Sequence[Sequence[Any]], ys: Sequence[Sequence[Any]]) -> bool:
    return len(xs) == len(ys) and all(
        len(x) == len(y) and all(values_equal(a, b) for a, b in zip(x, y, strict=True))
        for x, y in zip(xs, ys, strict=True)
    )


def _bag_equal(xs: Sequence[Sequence[Any]], ys: Sequence[Sequence[Any]]) -> bool:
    return _seq_equal(sorted(xs, key=_rows_key), sorted(ys, key=_rows_key))


# --------------------------------------------------------------------------- results


def results_match(
    gold_rows: Sequence[Sequence[Any]],
    gen_rows: Sequence[Sequence[Any]],
    *,
    order: OrderSpec = UNORDERED,
    gold_width: int | None = None,
    gen_width: int | None = None,
    distinct: bool = True,
) -> bool:
    """True when the generated result answers like the gold one (see the module docstring).

    Widths are the column counts; they are taken from the first row and only needed for empty results
    (an empty result matches an empty gold result that has no more columns).
    """
    gold = [tuple(normalise_value(v) for v in r) for r in gold_rows]
    gen = [tuple(normalise_value(v) for v in r) for r in gen_rows]
    if distinct:  # first occurrence kept, so an ordered result keeps its order
        gold = list(dict.fromkeys(gold))
    gw = gold_width if gold_width is not None else (len(gold[0]) if gold else 0)
    nw = gen_width if gen_width is not None else (len(gen[0]) if gen else 0)
    if nw < gw or (len(gold) != len(gen) and not distinct) or (not gold) != (not gen):
        return False
    if not gold:
        return True
    gold_cols = [tuple(r[j] for r in gold) for j in range(gw)]
    gen_cols = [tuple(r[k] for r in gen) for k in range(nw)]
    strict = order.ordered and (order.key_columns is None or any(i >= gw for i in order.key_columns))

    def column_fits(j: int, k: int) -> bool:  # a necessary condition; rows_fit decides
        if distinct:  # value sets: duplicates are dropped only after projection
            return _seq_equal([_unique(gold_cols[j])], [_unique(gen_cols[k])])
        if strict:
            return _seq_equal([gold_cols[j]], [gen_cols[k]])
        return _seq_equal([sorted(gold_cols[j], key=_sort_key)], [sorted(gen_cols[k], key=_sort_key)])

    candidates = {j: [k for k in range(nw) if column_fits(j, k)] for j in range(gw)}
    if any(not c for c in candidates.values()):
        return False
    todo = sorted(candidates, key=lambda j: len(candidates[j]))  # most constrained gold column first
    tried = 0

    def rows_fit(mapping: dict[int, int]) -> bool:
        projected = [tuple(r[mapping[j]] for j in range(gw)) for r in gen]
        if distinct:
            projected = list(dict.fromkeys(projected))
        if strict:
            return _seq_equal(gold, projected)
        if not _bag_equal(gold, projected):
            return False
        if not order.ordered:
            return True
        keys = order.key_columns or ()
        return _seq_equal([tuple(r[i] for i in keys) for r in gold], [tuple(r[i] for i in keys) for r in projected])

    def search(pos: int, mapping: dict[int, int], used: set[int]) -> bool:
        nonlocal tried
        if pos == len(todo):
            tried += 1
            return rows_fit(mapping)
        j = todo[pos]
        for k in candidates[j]:
            if k in used:
                continue
            mapping[j] = k
            used.add(k)
            if search(pos + 1, mapping, used):
                return True
            used.discard(k)
            del mapping[j]
            if tried >= MAX_ASSIGNMENTS:
                return False
        return False

    return search(0, {}, set())
