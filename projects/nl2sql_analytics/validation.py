"""Validate LLM-written SQL with sqlglot before it reaches a database: one read-only SELECT over known names.

The query that runs is sqlglot's regeneration of the checked AST (comments dropped), never the raw text, so
what was checked is what executes. Checks, in order: parses; exactly one statement; a SELECT / WITH ... SELECT /
set operation with no write, DDL, session, locking or INTO node anywhere (PostgreSQL's data-modifying CTEs
included); every function on the dialect's allow-list; every table and column exists (aliases, CTEs,
derived tables and correlated references resolved through sqlglot's scopes) with the closest name suggested;
a row limit. Each refusal is a :class:`SqlValidationError` whose ``code`` the retry loop feeds back.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError, UnsupportedError
from sqlglot.optimizer.scope import Scope, build_scope

from projects.nl2sql_analytics.connections import SchemaInfo
from projects.nl2sql_analytics.errors import SqlValidationError
from projects.nl2sql_analytics.sql_functions import ALLOWED, call_name, is_allowed, is_denied

_FORBIDDEN_NODE_NAMES = (
    "Insert Update Delete Merge Create Drop Alter AlterColumn AlterRename Command Pragma Set SetItem Transaction "
    "Commit Rollback Attach Detach Copy Use Into Lock Grant Revoke Describe Analyze LoadData Cache Uncache Refresh "
    "TruncateTable Kill Export Install Summarize Declare Execute ExecuteSql Call Comment Heredoc"
)
FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = (
    *(getattr(exp, name) for name in _FORBIDDEN_NODE_NAMES.split() if isinstance(getattr(exp, name, None), type)),
    exp.DML,
    exp.DDL,
)
_CLAUSE_CODES = {"Into": "SELECT_INTO", "Lock": "LOCKING_CLAUSE"}


@dataclass
class ValidatedQuery:
    """A checked query: run ``sql``. ``limit_probe`` = the LIMIT holds one extra row so truncation is detectable."""

    ast: exp.Query
    dialect: str
    row_limit: int | None = None
    limit_probe: bool = False
    tables: list[str] = field(default_factory=list)

    @property
    def sql(self) -> str:
        return render(self.ast, self.dialect)


def render(ast: exp.Expression, dialect: str) -> str:
    """The SQL that executes: no comments, and any construct the dialect cannot express is an error, not dropped."""
    try:
        return ast.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise SqlValidationError("UNSUPPORTED", f"Not expressible in {dialect}: {error}") from error


def transpile(sql: str, from_dialect: str, to_dialect: str) -> str:
    """One statement rewritten from one dialect to another (e.g. a PostgreSQL example for a SQLite database)."""
    try:
        out = sqlglot.transpile(sql, read=from_dialect, write=to_dialect, unsupported_level=ErrorLevel.RAISE)
    except (ParseError, TokenError) as error:
        raise SqlValidationError("PARSE_ERROR", _first_line(error)) from error
    except UnsupportedError as error:
        raise SqlValidationError("UNSUPPORTED", f"Cannot transpile to {to_dialect}: {error}") from error
    if len(out) != 1:
        raise SqlValidationError("MULTIPLE_STATEMENTS", "Expected exactly one statement.")
    return out[0]


def validate(sql: str, schema: SchemaInfo, dialect: str | None = None, *, row_limit: int | None) -> ValidatedQuery:
    """Accept exactly one read-only SELECT over known tables/columns, or raise :class:`SqlValidationError`."""
    dialect = dialect or schema.dialect
    statement = _parse_single(sql, dialect)
    query = _read_only_query(statement)
    _check_nodes(query)
    _check_functions(query, dialect)
    tables = _check_tables(query, schema)
    _check_columns(query, schema)
    validated = ValidatedQuery(ast=query, dialect=dialect, tables=tables)
    if row_limit is not None:
        _enforce_limit(validated, row_limit)
    render(validated.ast, dialect)  # fail here, not at execution, on anything the dialect cannot express
    return validated


# -- statement shape -----------------------------------------------------------------------------------------


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _parse_single(sql: str, dialect: str) -> exp.Expression:
    if not sql or not sql.strip():
        raise SqlValidationError("EMPTY_QUERY", "The SQL is empty.", "Write one SELECT statement.")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE) if s is not None]
    except (ParseError, TokenError) as error:
        raise SqlValidationError("PARSE_ERROR", f"The SQL does not parse: {_first_line(error)}") from error
    if not statements:
        raise SqlValidationError("EMPTY_QUERY", "The SQL holds no statement.", "Write one SELECT statement.")
    if len(statements) > 1:
        raise SqlValidationError(
            "MULTIPLE_STATEMENTS",
            f"Expected exactly one statement, got {len(statements)}.",
            "Return a single SELECT without ';' separated statements.",
        )
    return statements[0]


def _read_only_query(statement: exp.Expression) -> exp.Query:
    node = statement
    while isinstance(node, exp.Subquery):  # "(SELECT ...)" at top level
        node = node.this
    if isinstance(node, (exp.Select, exp.SetOperation)):
        return node
    kind = node.key.upper() if not isinstance(node, exp.Command) else str(node.this).upper()
    raise SqlValidationError(
        "NOT_READ_ONLY",
        f"Only a read-only SELECT may run; got a {kind} statement.",
        "Write a single SELECT (WITH ... SELECT and UNION are fine); data and schema changes are never executed.",
    )


def _check_nodes(query: exp.Query) -> None:
    for node in query.walk():
        if isinstance(node, FORBIDDEN_NODES):
            name = type(node).__name__
            code = _CLAUSE_CODES.get(name, "NOT_READ_ONLY")
            raise SqlValidationError(
                code,
                f"Forbidden construct in a read-only query: {name.upper()} ({render_safe(node)}).",
                "Use a plain SELECT: no INTO, FOR UPDATE/SHARE, data-modifying CTEs, or session commands.",
            )


def render_safe(node: exp.Expression, limit: int = 80) -> str:
    try:
        text = node.sql()
    except SqlglotError:
        text = node.key
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- functions -----------------------------------------------------------------------------------------------


def _check_functions(query: exp.Query, dialect: str) -> None:
    for func in query.find_all(exp.Func):
        if isinstance(func.parent, exp.Dot) and func.parent.expression is func:
            raise SqlValidationError(
                "FORBIDDEN_FUNCTION",
                f"Schema-qualified function calls are not allowed: {render_safe(func.parent)}.",
                "Call built-in functions by their plain name.",
            )
        if isinstance(func, exp.Anonymous):
            name: str | None = str(func.this).lower()
        else:
            name = call_name(func.sql(dialect=dialect, comments=False))
        if name is None:  # rendered as an operator, CASE, literal...: no call reaches the database
            continue
        if is_denied(name):
            raise SqlValidationError(
                "FORBIDDEN_FUNCTION",
                f"Function {name}() is forbidden: it has side effects or reads outside the data.",
                "Use only standard aggregate, string, date and math functions.",
            )
        if not is_allowed(name, dialect):
            close = difflib.get_close_matches(name, sorted(ALLOWED.get(dialect, ())), n=3, cutoff=0.6)
            raise SqlValidationError(
                "UNKNOWN_FUNCTION",
                f"Function {name}() is not on the allow-list for {dialect}.",
                f"Did you mean {', '.join(close)}?" if close else "Use standard SQL functions.",
            )


# -- names ---------------------------------------------------------------------------------------------------


def _suggest(name: str, candidates: list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    return f"Did you mean {', '.join(lowered[c] for c in close)}?" if close else None


def _column_hint(name: str, candidates: list[str], schema: SchemaInfo) -> str | None:
    """The closest names in scope, and which tables really have ``name``: the fix is often a missing join
    (``river.length`` when the query only reads ``border_info``), which a close-spelling hint cannot say."""
    owners = [t.name for t in schema.tables if t.column(name) is not None]
    parts = [hint] if (hint := _suggest(name, candidates)) else []
    if owners:
        parts.append(f"'{name}' is a column of: {', '.join(owners[:5])}.")
    return " ".join(parts) or None


def _table_key(ident: exp.Identifier | exp.Expression, dialect: str) -> tuple[str, bool]:
    """(name, case_sensitive): PostgreSQL lower-cases unquoted names and keeps quoted ones; SQLite ignores case."""
    name = ident.name
    if dialect == "postgres":
        quoted = isinstance(ident, exp.Identifier) and ident.quoted
        return (name if quoted else name.lower()), True
    return name, False


def _cte_names(query: exp.Query) -> set[str]:
    return {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}


def _check_tables(query: exp.Query, schema: SchemaInfo) -> list[str]:
    """Every table node names a CTE or a real table of the connection's own schema (qualifier stripped)."""
    ctes, found = _cte_names(query), []
    for table in list(query.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function (json_each, generate_series): checked as a function
        if table.args.get("catalog") is not None or (table.db and table.db.lower() != schema.namespace.lower()):
            raise SqlValidationError(
                "UNKNOWN_TABLE",
                f"Table {render_safe(table)} is outside the allowed schema '{schema.namespace}'.",
                "Use the table names of this database without a schema prefix.",
            )
        if table.db:
            table.set("db", None)
        if table.name.lower() in ctes:
            continue
        name, case_sensitive = _table_key(table.this, schema.dialect)
        info = schema.table(name, case_sensitive=case_sensitive)
        if info is None:
            raise SqlValidationError(
                "UNKNOWN_TABLE", f"Table '{table.name}' does not exist.", _suggest(table.name, schema.table_names())
            )
        found.append(info.name)
    return sorted(set(found))


def _alias_columns(node: exp.Expression | None) -> list[str] | None:
    alias = node.args.get("alias") if node is not None else None
    cols = alias.columns if isinstance(alias, exp.TableAlias) else []
    return [c.name.lower() for c in cols] if cols else None


def _source_columns(source: exp.Table | Scope, schema: SchemaInfo) -> set[str] | None:
    """Column names a FROM source exposes (lower case), or None when unknown (table functions, SELECT *)."""
    if isinstance(source, exp.Table):
        aliased = _alias_columns(source)
        if aliased:
            return set(aliased)
        if not isinstance(source.this, exp.Identifier):
            return None
        name, case_sensitive = _table_key(source.this, schema.dialect)
        info = schema.table(name, case_sensitive=case_sensitive)
        return {c.name.lower() for c in info.columns} if info else None
    aliased = _alias_columns(source.expression.parent)
    if aliased:
        return set(aliased)
    expression = source.expression
    if isinstance(expression, exp.SetOperation):
        expression = expression.left if isinstance(expression.left, exp.Select) else None
    if not isinstance(expression, exp.Select) or any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star) for e in expression.expressions
    ):
        return None
    return {n.lower() for n in expression.named_selects}


def _owning_scope(node: exp.Expression, scopes: dict[int, Scope]) -> Scope | None:
    current = node.parent
    while current is not None:
        scope = scopes.get(id(current))
        if scope is not None:
            return scope
        current = current.parent
    return None


def _visible(scope: Scope | None) -> list[tuple[str, exp.Table | Scope]]:
    """Sources visible from ``scope``: its own, then its parents' (correlated subqueries), nearest first."""
    out: list[tuple[str, exp.Table | Scope]] = []
    while scope is not None:
        out.extend((name.lower(), src) for name, src in scope.sources.items())
        scope = scope.parent
    return out


def _check_columns(query: exp.Query, schema: SchemaInfo) -> None:
    root = build_scope(query)
    if root is None:
        return
    scopes = {id(s.expression): s for s in root.traverse()}
    for column in list(query.find_all(exp.Column)):
        if column.args.get("catalog") is not None or (column.db and column.db.lower() != schema.namespace.lower()):
            raise SqlValidationError(
                "UNKNOWN_TABLE", f"Column {render_safe(column)} names a table outside schema '{schema.namespace}'."
            )
        if column.db:
            column.set("db", None)
        scope = _owning_scope(column, scopes)
        if scope is None or isinstance(scope.expression, exp.SetOperation):
            continue
        visible = _visible(scope)
        qualifier, name = column.table.lower(), column.name.lower()
        if qualifier:
            source = next((src for alias, src in visible if alias == qualifier), None)
            if source is None:
                raise SqlValidationError(
                    "UNKNOWN_TABLE",
                    f"'{column.table}' in {render_safe(column)} is not a table or alias in the FROM clause.",
                    _suggest(column.table, aliases := [alias for alias, _ in visible])
                    or f"Tables and aliases in scope: {', '.join(aliases) or 'none'}.",
                )
            if column.is_star:
                continue
            cols = _source_columns(source, schema)
            if cols is not None and name not in cols:
                raise SqlValidationError(
                    "UNKNOWN_COLUMN",
                    f"Column '{column.name}' does not exist in '{column.table}'.",
                    _column_hint(column.name, sorted(cols), schema),
                )
            continue
        expressions = scope.expression.expressions if isinstance(scope.expression, exp.Select) else []
        if name in {e.alias.lower() for e in expressions if isinstance(e, exp.Alias)}:
            continue  # an output alias (ORDER BY / GROUP BY / HAVING)
        known, opaque = set(), False
        for _alias, source in visible:
            cols = _source_columns(source, schema)
            if cols is None:
                opaque = True
            else:
                known |= cols
        if name not in known and not opaque:
            raise SqlValidationError(
                "UNKNOWN_COLUMN",
                f"Column '{column.name}' does not exist in any table of the query.",
                _column_hint(column.name, sorted(known), schema),
            )


# -- row limit -----------------------------------------------------------------------------------------------


def _enforce_limit(validated: ValidatedQuery, row_limit: int) -> None:
    """Cap the rows: keep a smaller literal LIMIT; otherwise LIMIT row_limit + 1 (the +1 reveals truncation)."""
    query, probe = validated.ast, row_limit + 1
    limit = query.args.get("limit")
    existing = None
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) and limit.expression.is_int:
        existing = int(limit.expression.name)
    validated.row_limit = row_limit
    if existing is not None and existing <= row_limit:
        return
    plain = limit is None and query.args.get("fetch") is None and query.args.get("offset") is None
    if plain or existing is not None:
        query.set("limit", exp.Limit(expression=exp.Literal.number(probe)))
    else:  # LIMIT expression, OFFSET or FETCH FIRST: keep its meaning and cap outside
        wrapped = exp.select("*").from_(query.subquery("_limited")).limit(probe)
        validated.ast = wrapped
    validated.limit_probe = True
