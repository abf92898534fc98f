"""Connections to the databases users ask questions about (SQLite files, PostgreSQL URLs) and their schema.

Every connection this module opens is read-only at the database level (SQLite ``mode=ro`` + ``query_only``;
PostgreSQL read-only transactions), so introspection and execution share one safe opener. The schema model
(:class:`SchemaInfo`) is what validation checks names against and what schema linking retrieves from.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql as pgsql
from pydantic import BaseModel, Field

from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings

Dialect = Literal["sqlite", "postgres"]
_PG_PREFIXES = ("postgresql://", "postgres://")


class Connection(BaseModel):
    """A named database: ``target`` is a SQLite file path (or ``sqlite:///path``) or a PostgreSQL URL."""

    name: str
    target: str
    pg_schema: str = Field(default="public", description="PostgreSQL schema whose tables are exposed")

    @property
    def dialect(self) -> Dialect:
        """The sqlglot dialect name (``sqlite`` or ``postgres``)."""
        lowered = self.target.lower()
        is_pg = lowered.startswith(_PG_PREFIXES) or ("=" in self.target and "dbname" in lowered)
        return "postgres" if is_pg else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.target.removeprefix("sqlite:///"))

    @classmethod
    def from_target(cls, target: str, name: str | None = None) -> Connection:
        return cls(name=name or (Path(target).stem if "://" not in target else "postgres"), target=target)


class ColumnInfo(BaseModel):
    name: str
    type: str = ""
    nullable: bool = True
    primary_key: bool = False
    samples: list[str] = Field(default_factory=list, description="a few distinct values (text columns only)")


class ForeignKey(BaseModel):
    column: str
    ref_table: str
    ref_column: str


class TableInfo(BaseModel):
    name: str
    kind: Literal["table", "view"] = "table"
    columns: list[ColumnInfo] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def column(self, name: str, *, case_sensitive: bool = False) -> ColumnInfo | None:
        for col in self.columns:
            if col.name == name or (not case_sensitive and col.name.lower() == name.lower()):
                return col
        return None


class SchemaInfo(BaseModel):
    """Tables of one connection; lookups follow the dialect's identifier rules (see ``case_sensitive``)."""

    dialect: Dialect
    namespace: str = Field(default="main", description="the schema queries may name: 'main' (SQLite) or pg_schema")
    tables: list[TableInfo] = Field(default_factory=list)

    def table(self, name: str, *, case_sensitive: bool = False) -> TableInfo | None:
        exact = next((t for t in self.tables if t.name == name), None)
        if exact or case_sensitive:
            return exact
        return next((t for t in self.tables if t.name.lower() == name.lower()), None)

    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]


# -- read-only opening ---------------------------------------------------------------------------------------


@contextmanager
def open_readonly(connection: Connection, *, statement_timeout_ms: int | None = None) -> Iterator[Any]:
    """A DB-API connection that cannot write, whatever SQL it is given (defence in depth behind validation).

    SQLite: opened through a ``mode=ro`` URI (the file cannot be modified or created) with ``query_only``.
    PostgreSQL: every transaction is READ ONLY (``default_transaction_read_only`` plus psycopg's
    ``read_only``), with ``statement_timeout`` and ``lock_timeout`` so a query can neither run nor wait forever.
    """
    if connection.dialect == "sqlite":
        path = connection.sqlite_path
        if not path.is_file():
            raise FileNotFoundError(f"SQLite database not found: {path}")
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only = ON")
            yield conn
        finally:
            conn.close()
        return
    pg = psycopg.connect(connection.target, autocommit=False)
    try:
        pg.read_only = True
        pg.execute("SET default_transaction_read_only = on")
        if statement_timeout_ms:
            pg.execute(pgsql.SQL("SET statement_timeout = {}").format(int(statement_timeout_ms)))
            pg.execute(pgsql.SQL("SET lock_timeout = {}").format(int(statement_timeout_ms)))
        pg.execute(pgsql.SQL("SET search_path = {}").format(pgsql.Identifier(connection.pg_schema)))
        pg.commit()
        yield pg
    finally:
        pg.close()


# -- introspection -------------------------------------------------------------------------------------------


def introspect(connection: Connection, settings: Nl2SqlSettings | None = None) -> SchemaInfo:
    """Tables, columns with types, primary and foreign keys, and a few sample values per text column."""
    settings = settings or get_nl2sql_settings()
    with open_readonly(connection, statement_timeout_ms=settings.statement_timeout_ms) as conn:
        tables = _sqlite_tables(conn) if connection.dialect == "sqlite" else _pg_tables(conn, connection.pg_schema)
        if settings.sample_values:
            for table in tables:
                for column in table.columns:
                    if _is_text(column.type):
                        column.samples = _samples(conn, connection, table.name, column.name, settings)
        if connection.dialect == "postgres":
            conn.rollback()
    namespace = "main" if connection.dialect == "sqlite" else connection.pg_schema
    return SchemaInfo(dialect=connection.dialect, namespace=namespace, tables=tables)


def _is_text(type_name: str) -> bool:
    upper = type_name.upper()
    return any(word in upper for word in ("CHAR", "TEXT", "CLOB", "STRING")) or upper == ""


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_tables(conn: sqlite3.Connection) -> list[TableInfo]:
    rows = conn.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    tables = []
    for name, kind in rows:
        quoted = _sqlite_quote(name)
        columns = [
            ColumnInfo(name=col, type=ctype or "", nullable=not notnull, primary_key=pk > 0)
            for _cid, col, ctype, notnull, _default, pk in conn.execute(f"PRAGMA table_info({quoted})")
        ]
        fks = [
            ForeignKey(column=src, ref_table=ref, ref_column=dst or "")
            for _id, _seq, ref, src, dst, *_ in conn.execute(f"PRAGMA foreign_key_list({quoted})")
        ]
        tables.append(TableInfo(name=name, kind=kind, columns=columns, foreign_keys=fks))
    return tables


_PG_COLUMNS = """
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       COALESCE(a.attnum = ANY(pk.conkey), false)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname, a.attnum
"""

_PG_FKS = """
SELECT cl.relname, a.attname, rcl.relname, ra.attname
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
JOIN pg_class rcl ON rcl.oid = con.confrelid
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(col, rcol)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col
JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.rcol
WHERE con.contype = 'f' AND n.nspname = %s
ORDER BY cl.relname, con.conname
"""


def _pg_tables(conn: psycopg.Connection, schema: str) -> list[TableInfo]:
    tables: dict[str, TableInfo] = {}
    for rel, relkind, col, ctype, nullable, is_pk in conn.execute(_PG_COLUMNS, (schema,)):
        table = tables.setdefault(rel, TableInfo(name=rel, kind="view" if relkind in ("v", "m") else "table"))
        table.columns.append(ColumnInfo(name=col, type=ctype, nullable=nullable, primary_key=is_pk))
    for rel, col, ref, ref_col in conn.execute(_PG_FKS, (schema,)):
        if rel in tables:
            tables[rel].foreign_keys.append(ForeignKey(column=col, ref_table=ref, ref_column=ref_col))
    return list(tables.values())


def _samples(conn: Any, connection: Connection, table: str, column: str, settings: Nl2SqlSettings) -> list[str]:
    """Distinct values among the first ``sample_scan_rows`` non-null rows: cheap on any table size."""
    limit, scan = int(settings.sample_values), int(settings.sample_scan_rows)
    if connection.dialect == "sqlite":
        query = (
            f"SELECT DISTINCT v FROM (SELECT {_sqlite_quote(column)} AS v FROM {_sqlite_quote(table)} "
            f"WHERE {_sqlite_quote(column)} IS NOT NULL LIMIT {scan}) LIMIT {limit}"
        )
        rows = conn.execute(query).fetchall()
    else:
        query = pgsql.SQL(
            "SELECT DISTINCT v::text FROM (SELECT {c} AS v FROM {t} WHERE {c} IS NOT NULL LIMIT {scan}) s LIMIT {limit}"
        ).format(c=pgsql.Identifier(column), t=pgsql.Identifier(table), scan=scan, limit=limit)
        rows = conn.execute(query).fetchall()
    return [str(v)[: settings.sample_value_max_chars] for (v,) in rows]
