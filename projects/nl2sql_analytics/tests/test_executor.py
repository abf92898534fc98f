"""Read-only execution on real SQLite and PostgreSQL: bounded fetch, timeouts, and writes refused even unvalidated."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from projects.nl2sql_analytics.connections import Connection, introspect, open_readonly
from projects.nl2sql_analytics.errors import QueryExecutionError, QueryTimeoutError
from projects.nl2sql_analytics.executor import execute, run_readonly
from projects.nl2sql_analytics.settings import Nl2SqlSettings
from projects.nl2sql_analytics.tests.conftest import ORDERS
from projects.nl2sql_analytics.validation import validate

TEN_MILLION = {
    "sqlite": "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10000000) SELECT n FROM c",
    "postgres": "SELECT a.n * 10000 + b.n AS n FROM generate_series(1, 3163) AS a(n) CROSS JOIN "
    "generate_series(1, 3163) AS b(n)",
}
CARTESIAN = {
    "sqlite": "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200000) "
    "SELECT COUNT(*) FROM c AS a, c AS b",
    "postgres": "SELECT COUNT(*) FROM generate_series(1, 200000) AS a(n), generate_series(1, 200000) AS b(n)",
}


def test_validated_query_returns_columns_rows_and_timing(db: Connection, settings: Nl2SqlSettings) -> None:
    schema = introspect(db, settings)
    query = validate("SELECT id, amount FROM orders WHERE amount > 250 ORDER BY id", schema, row_limit=10)
    result = execute(db, query, settings)
    assert result.columns == ["id", "amount"]
    assert [r[0] for r in result.rows] == [o[0] for o in ORDERS if o[4] > 250]
    assert not result.truncated and result.elapsed_ms >= 0


def test_ten_million_rows_are_cut_at_the_limit(db: Connection, settings: Nl2SqlSettings) -> None:
    """Validated (LIMIT limit+1) and unvalidated (no LIMIT: the bounded fetch alone) both stop at the limit; the
    timeout is below the time it takes to produce ten million rows, so success shows nothing was materialised."""
    schema = introspect(db, settings)
    result = execute(db, validate(TEN_MILLION[db.dialect], schema, row_limit=1000), settings)
    assert len(result.rows) == 1000 and result.truncated
    raw = run_readonly(db, TEN_MILLION[db.dialect], max_rows=50, timeout_ms=settings.statement_timeout_ms)
    assert len(raw.rows) == 50 and raw.truncated


def test_slow_cartesian_join_times_out_with_a_clear_message(db: Connection, settings: Nl2SqlSettings) -> None:
    schema = introspect(db, settings)
    with pytest.raises(QueryTimeoutError) as info:
        execute(db, validate(CARTESIAN[db.dialect], schema, row_limit=1000), settings)
    assert info.value.code == "TIMEOUT"
    assert f"{settings.statement_timeout_ms} ms" in info.value.message and info.value.suggestion


def test_execution_errors_are_fit_for_the_model(db: Connection, settings: Nl2SqlSettings) -> None:
    with pytest.raises(QueryExecutionError) as info:
        run_readonly(db, "SELECT no_such_column FROM orders", max_rows=10, timeout_ms=1000)
    assert info.value.code == "EXECUTION_ERROR" and "no_such_column" in info.value.feedback()


WRITES = [
    "DELETE FROM orders",
    "UPDATE orders SET amount = 0",
    "INSERT INTO orders (id, region_id, amount) VALUES (999, 1, 1)",
    "DROP TABLE orders",
    "CREATE TABLE stolen AS SELECT * FROM orders",
    "WITH gone AS (DELETE FROM orders RETURNING id) SELECT id FROM gone",
]


@pytest.mark.parametrize("sql", WRITES)
def test_read_only_connection_refuses_writes_that_bypass_validation(
    db: Connection, settings: Nl2SqlSettings, sql: str
) -> None:
    with pytest.raises(QueryExecutionError):
        run_readonly(db, sql, max_rows=10, timeout_ms=1000)
    count = run_readonly(db, "SELECT COUNT(*) FROM orders", max_rows=1, timeout_ms=1000).rows[0][0]
    assert count == len(ORDERS)


def test_sqlite_session_escapes_are_refused(sqlite_db: Connection) -> None:
    for sql in ["PRAGMA query_only = OFF", "ATTACH DATABASE ':memory:' AS x", "SELECT load_extension('x')", "BEGIN"]:
        with pytest.raises(QueryExecutionError):
            run_readonly(sqlite_db, sql, max_rows=1, timeout_ms=1000)
    with open_readonly(sqlite_db) as conn, pytest.raises(sqlite3.OperationalError):  # no authorizer: mode=ro alone
        conn.execute("DELETE FROM orders")


def test_postgres_read_only_transaction_refuses_side_effects(pg_db: Connection) -> None:
    with pytest.raises(QueryExecutionError) as info:
        run_readonly(pg_db, "SELECT nextval('counter')", max_rows=1, timeout_ms=1000)
    assert "read-only" in info.value.message
    with open_readonly(pg_db) as conn:  # even raw SQL on the connection, after trying to switch the default off
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE stolen (a int)")


def test_introspection_reads_types_keys_and_bounded_samples(db: Connection) -> None:
    schema = introspect(db, Nl2SqlSettings(sample_values=2))
    assert schema.dialect == db.dialect
    assert set(schema.table_names()) == {"regions", "customers", "products", "orders", "payments"}
    orders = schema.table("ORDERS")
    assert orders is not None and orders.primary_key == ["id"]
    assert {(fk.column, fk.ref_table, fk.ref_column) for fk in orders.foreign_keys} == {
        ("customer_id", "customers", "id"),
        ("product_id", "products", "id"),
    }
    note = orders.column("note")
    assert note is not None and "text" in note.type.lower() and len(note.samples) == 2
    assert all(s.startswith("note ") for s in note.samples)
    assert orders.column("amount").samples == []  # numbers are not sampled
