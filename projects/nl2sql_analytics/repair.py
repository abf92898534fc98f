"""Deterministic repairs of model SQL before validation: fix what needs no judgement, spend no model call.

An unqualified column that exists in two joined tables (``city_name`` in both ``restaurant`` and
``location``) is the commonest execution error of the small local model on the dev set, and feeding the
database's "ambiguous column name" back did not get it fixed in three tries. Which table is meant rarely
matters — such columns are usually the join keys or copies of each other — so the column is qualified with the
first source of the query that has it, and validation then checks the result like any other SQL.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from projects.nl2sql_analytics.connections import SchemaInfo


def qualify_ambiguous_columns(sql: str, schema: SchemaInfo, dialect: str) -> str:
    """``sql`` with ambiguous unqualified columns qualified by their first source; unchanged when none are
    (or when it does not parse — validation reports that)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return sql
    if tree is None:
        return sql
    changed = False
    for scope in traverse_scope(tree):
        tables: list[tuple[str, set[str]]] = []
        for alias, source in scope.selected_sources.items():
            node = source[1] if isinstance(source, tuple) else source
            if isinstance(node, exp.Table):
                info = schema.table(node.name)
                if info is not None:
                    tables.append((alias, {c.name.lower() for c in info.columns}))
        if len(tables) < 2:
            continue
        outputs = {e.alias_or_name.lower() for e in getattr(scope.expression, "expressions", [])}
        for column in scope.columns:
            if column.table:
                continue
            name = column.name.lower()
            owners = [alias for alias, cols in tables if name in cols]
            in_order_by = column.find_ancestor(exp.Order) is not None
            if len(owners) > 1 and not (in_order_by and name in outputs):
                column.set("table", exp.to_identifier(owners[0]))
                changed = True
    return tree.sql(dialect=dialect) if changed else sql
