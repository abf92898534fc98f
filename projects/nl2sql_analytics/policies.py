"""Row-level security: per-user row filters rewritten into the query's AST before it executes.

Every reference to a governed table (FROM, JOIN, subqueries, CTE bodies, UNION branches, correlated and
EXISTS subqueries, any alias, quoting or case) is replaced by ``(SELECT * FROM t AS _rls_n WHERE <filter>
OFFSET 0) AS <alias>``. Replacing *every* table node whose name matches a governed table, without trying to
tell CTE references from base tables, over-filters at worst and never under-filters: a base table can only
be read through a table node, and each one is wrapped. ``OFFSET 0`` is an optimisation fence: neither
PostgreSQL nor SQLite flattens the subquery or pushes the user's predicates below the filter, so a
predicate that errors (division by zero, a failing cast) cannot run on other users' rows and leak them
through an error message. Filter columns are qualified with the private alias ``_rls_n`` so that a column
the table lacks errors instead of silently binding to an outer query (a correlated, leaky filter).

A user without a rule for a governed table is denied; ``"*"`` grants a table unfiltered. Run this after
:func:`validation.validate` (which guarantees every table node names a real table or a CTE).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

import sqlglot
import yaml
from pydantic import BaseModel, Field
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from projects.nl2sql_analytics.connections import SchemaInfo
from projects.nl2sql_analytics.errors import PolicyDeniedError
from projects.nl2sql_analytics.validation import ValidatedQuery

UNRESTRICTED = "*"
_RLS_ALIAS = "_rls_{}"


class RowFilter(BaseModel):
    """Structured rule: rows whose ``column`` is one of ``values``."""

    column: str
    values: list[str | int | float | bool] = Field(min_length=1)


Rule = str | RowFilter  # a SQL boolean condition over the table's own columns, or "*" for unfiltered


class PolicySet(BaseModel):
    """Which tables are governed and, per user, the rule for each governed table they may read.

    ``governed_tables="*"`` governs every table of the schema (deny by default, the safe choice when views or
    new tables may expose governed rows); otherwise listed tables are governed and the rest are public.
    """

    governed_tables: list[str] | Literal["*"] = Field(default_factory=list)
    users: dict[str, dict[str, Rule]] = Field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: Path) -> PolicySet:
        return cls.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})

    def governed(self, schema: SchemaInfo | None = None) -> set[str]:
        if self.governed_tables == UNRESTRICTED:
            if schema is None:
                raise ValueError("governed_tables='*' needs the schema to know the tables")
            return {name.lower() for name in schema.table_names()}
        return {name.lower() for name in self.governed_tables}

    def rules_for(self, user: str | None) -> dict[str, Rule]:
        rules = self.users.get(user, {}) if user is not None else {}
        return {table.lower(): rule for table, rule in rules.items()}


def _condition(rule: Rule, alias: str, dialect: str) -> exp.Expression:
    if isinstance(rule, RowFilter):
        column = exp.column(rule.column, table=alias, quoted=True)
        return column.isin(*[exp.convert(v) for v in rule.values])
    try:
        condition = sqlglot.condition(rule, dialect=dialect)
    except (ParseError, TokenError) as error:
        raise ValueError(f"invalid row policy condition {rule!r}: {error}") from error
    for column in condition.find_all(exp.Column):
        if not column.table and column.find_ancestor(exp.Select) is None:  # subqueries in the filter keep theirs
            column.set("table", exp.to_identifier(alias))
    return condition


def _filtered(table: exp.Table, rule: Rule, index: int, dialect: str) -> tuple[exp.Subquery, list[exp.Table]]:
    """The filtered subquery, and the table nodes it introduced (the base table and any the rule's own
    subqueries read, e.g. ``customer_id IN (SELECT customer_id FROM customers WHERE region_id = 1)``): these
    are the policy author's trusted reads, not the user's, so they are neither filtered again nor denied."""
    alias = _RLS_ALIAS.format(index)
    inner = exp.Table(this=copy.deepcopy(table.this), alias=exp.TableAlias(this=exp.to_identifier(alias)))
    condition = _condition(rule, alias, dialect)
    select = exp.select("*").from_(inner, copy=False).where(condition, copy=False)
    select.set("offset", exp.Offset(expression=exp.Literal.number(0)))
    outer_alias = table.args.get("alias")
    alias_node = copy.deepcopy(outer_alias) if outer_alias else exp.TableAlias(this=copy.deepcopy(table.this))
    return exp.Subquery(this=select, alias=alias_node), [inner, *condition.find_all(exp.Table)]


def apply_policies(
    validated: ValidatedQuery, policies: PolicySet, user: str | None, schema: SchemaInfo | None = None
) -> ValidatedQuery:
    """Return the query with every governed table filtered for ``user``; raise PolicyDeniedError if not allowed."""
    governed, rules = policies.governed(schema), policies.rules_for(user)
    ast = copy.deepcopy(validated.ast)
    targets = [t for t in ast.find_all(exp.Table) if isinstance(t.this, exp.Identifier)]
    wrapped: set[int] = set()
    for index, table in enumerate(targets):
        name = table.name.lower()
        if name not in governed:
            continue
        rule = rules.get(name)
        if rule is None:
            who = f"User '{user}'" if user else "An anonymous user"
            hint = "Ask only about tables you can access."
            raise PolicyDeniedError(f"{who} may not read table '{table.name}'.", hint)
        if rule == UNRESTRICTED:
            wrapped.add(id(table))
            continue
        subquery, trusted = _filtered(table, rule, index, validated.dialect)
        table.replace(subquery)
        wrapped.update(id(t) for t in trusted)
    _assert_all_filtered(ast, governed, wrapped)
    return ValidatedQuery(
        ast=ast,
        dialect=validated.dialect,
        row_limit=validated.row_limit,
        limit_probe=validated.limit_probe,
        tables=validated.tables,
    )


def _assert_all_filtered(ast: exp.Expression, governed: set[str], wrapped: set[int]) -> None:
    """Post-condition: no governed table node survives outside a filter (guards against rewrite bugs)."""
    for table in ast.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and table.name.lower() in governed and id(table) not in wrapped:
            raise PolicyDeniedError(f"Row policy could not be applied to table '{table.name}'.")
