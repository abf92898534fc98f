"""sqlglot validation: only one read-only SELECT over known names passes; every refusal has a stable code."""

from __future__ import annotations

import pytest

from projects.nl2sql_analytics.connections import Connection, SchemaInfo, introspect
from projects.nl2sql_analytics.errors import SqlValidationError
from projects.nl2sql_analytics.settings import Nl2SqlSettings
from projects.nl2sql_analytics.validation import transpile, validate


@pytest.fixture
def schema(sqlite_db: Connection) -> SchemaInfo:
    return introspect(sqlite_db, Nl2SqlSettings(sample_values=0))


def code_of(sql: str, schema: SchemaInfo, dialect: str | None = None) -> str:
    with pytest.raises(SqlValidationError) as info:
        validate(sql, schema, dialect or schema.dialect, row_limit=100)
    assert info.value.message
    return info.value.code


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("DELETE FROM orders", "NOT_READ_ONLY"),
        ("delete from orders where 1=1", "NOT_READ_ONLY"),
        ("UPDATE orders SET amount = 0", "NOT_READ_ONLY"),
        ("INSERT INTO orders (id) VALUES (99)", "NOT_READ_ONLY"),
        ("DROP TABLE orders", "NOT_READ_ONLY"),
        ("CREATE TABLE x AS SELECT * FROM orders", "NOT_READ_ONLY"),
        ("ALTER TABLE orders ADD COLUMN x INT", "NOT_READ_ONLY"),
        ("PRAGMA query_only = OFF", "NOT_READ_ONLY"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "NOT_READ_ONLY"),
        ("VACUUM", "NOT_READ_ONLY"),
        ("BEGIN", "NOT_READ_ONLY"),
        ("EXPLAIN SELECT 1", "NOT_READ_ONLY"),
        ("SELECT 1; DROP TABLE orders", "MULTIPLE_STATEMENTS"),
        ("SELECT * FROM orders; SELECT * FROM customers", "MULTIPLE_STATEMENTS"),
        ("SELECT * INTO stolen FROM orders", "SELECT_INTO"),
        ("WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone", "NOT_READ_ONLY"),
        ("SELECT load_extension('/tmp/evil.so')", "FORBIDDEN_FUNCTION"),
        ("SELECT writefile('/tmp/x', note) FROM orders", "FORBIDDEN_FUNCTION"),
        ("SELECT randomblob(1000000000)", "FORBIDDEN_FUNCTION"),
        ("SELECT * FROM pragma_table_info('orders')", "FORBIDDEN_FUNCTION"),
        ("SELECT my_udf(amount) FROM orders", "UNKNOWN_FUNCTION"),
        ("SELECT * FROM sqlite_master", "UNKNOWN_TABLE"),
        ("SELECT * FROM temp.orders", "UNKNOWN_TABLE"),
        ("SELECT * FROM other.main.orders", "UNKNOWN_TABLE"),
        ("", "EMPTY_QUERY"),
        (" ; ", "EMPTY_QUERY"),
        ("SELEC * FROM orders", "PARSE_ERROR"),
        ("'; DROP TABLE orders; --", "PARSE_ERROR"),
        ("SELECT * FROM orders WHERE note = 'x'); DROP TABLE orders; --", "PARSE_ERROR"),
    ],
)
def test_sqlite_rejects_everything_but_one_read_only_select(schema: SchemaInfo, sql: str, code: str) -> None:
    assert code_of(sql, schema) == code


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT * FROM orders FOR UPDATE", "LOCKING_CLAUSE"),
        ("SELECT * FROM orders FOR SHARE", "LOCKING_CLAUSE"),
        ("COPY orders TO '/tmp/orders.csv'", "NOT_READ_ONLY"),
        ("SET statement_timeout = 0", "NOT_READ_ONLY"),
        ("SELECT pg_sleep(10)", "FORBIDDEN_FUNCTION"),
        ("SELECT pg_catalog.pg_sleep(10)", "FORBIDDEN_FUNCTION"),
        ("SELECT pg_read_file('/etc/passwd')", "FORBIDDEN_FUNCTION"),
        ("SELECT lo_import('/etc/passwd')", "FORBIDDEN_FUNCTION"),
        ("SELECT * FROM dblink('host=evil', 'select 1') AS t(a int)", "FORBIDDEN_FUNCTION"),
        ("SELECT set_config('default_transaction_read_only', 'off', false)", "FORBIDDEN_FUNCTION"),
        ("SELECT nextval('counter')", "FORBIDDEN_FUNCTION"),
        ("SELECT query_to_xml('select * from orders', true, true, '')", "FORBIDDEN_FUNCTION"),
        ("SELECT public.upper(name) FROM customers", "FORBIDDEN_FUNCTION"),
        ("SELECT * FROM pg_catalog.pg_shadow", "UNKNOWN_TABLE"),
        ("SELECT * FROM information_schema.tables", "UNKNOWN_TABLE"),
        ("SELECT * FROM pg_user", "UNKNOWN_TABLE"),
    ],
)
def test_postgres_specific_writes_and_side_effects_are_rejected(schema: SchemaInfo, sql: str, code: str) -> None:
    pg_schema = schema.model_copy(update={"dialect": "postgres", "namespace": "public"})
    assert code_of(sql, pg_schema, "postgres") == code


def test_unknown_names_come_with_the_closest_suggestion(schema: SchemaInfo) -> None:
    with pytest.raises(SqlValidationError) as table:
        validate("SELECT * FROM order_list", schema, row_limit=10)
    assert table.value.code == "UNKNOWN_TABLE" and "orders" in (table.value.suggestion or "")
    with pytest.raises(SqlValidationError) as column:
        validate("SELECT o.ammount FROM orders o", schema, row_limit=10)
    assert column.value.code == "UNKNOWN_COLUMN" and "amount" in (column.value.suggestion or "")
    with pytest.raises(SqlValidationError) as bare:
        validate(
            "SELECT custmer_id FROM orders JOIN customers ON customers.id = orders.customer_id", schema, row_limit=10
        )
    assert bare.value.code == "UNKNOWN_COLUMN" and "customer_id" in (bare.value.suggestion or "")
    with pytest.raises(SqlValidationError) as alias:
        validate("SELECT x.amount FROM orders o", schema, row_limit=10)
    assert alias.value.code == "UNKNOWN_TABLE" and "o" in (alias.value.suggestion or "")
    assert alias.value.feedback().startswith("UNKNOWN_TABLE: ")
    with pytest.raises(SqlValidationError) as elsewhere:  # the fix is a join, not a spelling: say where it lives
        validate("SELECT r.name, r.amount FROM regions r", schema, row_limit=10)
    assert "'amount' is a column of: orders" in (elsewhere.value.suggestion or "")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT o.amount, c.name FROM main.orders AS o JOIN customers c ON c.id = o.customer_id",
        'SELECT "Amount" FROM "ORDERS"',
        "SELECT region_id AS r, SUM(amount) AS total FROM orders GROUP BY r ORDER BY total DESC",
        "WITH t AS (SELECT customer_id, SUM(amount) AS s FROM orders GROUP BY customer_id) SELECT s FROM t",
        "WITH t(c, s) AS (SELECT customer_id, SUM(amount) FROM orders GROUP BY 1) SELECT c, s FROM t",
        "SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
        "SELECT name, (SELECT COUNT(*) FROM orders WHERE orders.customer_id = customers.id) AS n FROM customers",
        "SELECT id FROM orders UNION ALL SELECT id FROM customers",
        "SELECT sub.total FROM (SELECT customer_id, SUM(amount) AS total FROM orders GROUP BY 1) AS sub",
        "SELECT * FROM orders WHERE amount > (SELECT AVG(amount) FROM orders)",
        "SELECT strftime('%Y', 'now'), COALESCE(note, '-'), ROUND(amount, 1) FROM orders -- trailing comment",
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n",
        "SELECT id, ROW_NUMBER() OVER (PARTITION BY region_id ORDER BY amount DESC) AS rk FROM orders",
        "SELECT CASE WHEN amount > 100 THEN 'big' ELSE 'small' END AS size, COUNT(*) FROM orders GROUP BY 1",
    ],
)
def test_valid_queries_pass(schema: SchemaInfo, sql: str) -> None:
    validated = validate(sql, schema, row_limit=100)
    assert validated.sql.upper().startswith(("SELECT", "WITH"))
    assert "--" not in validated.sql  # comments never reach the database


def test_row_limit_is_added_kept_or_capped(schema: SchemaInfo) -> None:
    added = validate("SELECT id FROM orders", schema, row_limit=50)
    assert added.sql.endswith("LIMIT 51") and added.limit_probe and added.row_limit == 50
    kept = validate("SELECT id FROM orders LIMIT 5", schema, row_limit=50)
    assert kept.sql.endswith("LIMIT 5") and not kept.limit_probe
    capped = validate("SELECT id FROM orders UNION SELECT id FROM products LIMIT 100000", schema, row_limit=50)
    assert capped.sql.endswith("LIMIT 51") and capped.limit_probe
    offset = validate("SELECT id FROM orders LIMIT 100000 OFFSET 3", schema, row_limit=50)
    assert "LIMIT 51 OFFSET 3" in offset.sql
    fetch = validate("SELECT id FROM orders ORDER BY id OFFSET 3", schema, "postgres", row_limit=50)
    assert fetch.sql.startswith("SELECT * FROM (SELECT") and fetch.sql.endswith("LIMIT 51")


def test_transpile_between_dialects() -> None:
    assert (
        transpile("SELECT amount::TEXT FROM orders", "postgres", "sqlite") == "SELECT CAST(amount AS TEXT) FROM orders"
    )
    assert "COALESCE" in transpile("SELECT IFNULL(note, 'x') FROM orders", "sqlite", "postgres")
    with pytest.raises(SqlValidationError) as info:
        transpile("SELECT FROM WHERE (", "postgres", "sqlite")
    assert info.value.code == "PARSE_ERROR"
