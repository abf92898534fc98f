"""Row-level security, proven on real SQLite and PostgreSQL: a regional manager reads only region 3, by any phrasing.

Each adversarial query is validated, rewritten for the user and executed; the test asserts the rows that came
back. A variant may be refused (an error) but must never return a row of another region.
"""

from __future__ import annotations

import pytest

from projects.nl2sql_analytics.connections import Connection, SchemaInfo, introspect
from projects.nl2sql_analytics.errors import PolicyDeniedError, SqlSafetyError
from projects.nl2sql_analytics.executor import execute
from projects.nl2sql_analytics.policies import PolicySet, RowFilter, apply_policies
from projects.nl2sql_analytics.settings import Nl2SqlSettings
from projects.nl2sql_analytics.tests.conftest import (
    ALL_ORDER_IDS,
    ALLOWED_CUSTOMER_IDS,
    ALLOWED_ORDER_IDS,
    ORDERS,
    REGION,
)
from projects.nl2sql_analytics.validation import validate

POLICIES = PolicySet(
    governed_tables=["orders", "customers", "payments"],
    users={
        "manager": {"orders": f"region_id = {REGION}", "customers": RowFilter(column="region_id", values=[REGION])},
        "admin": {"orders": "*", "customers": "*", "payments": "*"},
    },
)


def run(db: Connection, schema: SchemaInfo, sql: str, user: str | None = "manager") -> list[tuple]:
    validated = validate(sql, schema, row_limit=1000)
    return execute(
        db, apply_policies(validated, POLICIES, user, schema), Nl2SqlSettings(statement_timeout_ms=5000)
    ).rows


@pytest.fixture
def schema(db: Connection) -> SchemaInfo:
    return introspect(db, Nl2SqlSettings(sample_values=0))


def ns(db: Connection) -> str:
    return "main" if db.dialect == "sqlite" else "public"


EXACT = [  # phrasings that must return exactly the allowed order ids
    "SELECT id FROM orders",
    "select ID from OrDeRs",
    "SELECT o.id FROM orders AS o",
    "SELECT orders.id FROM orders",
    "SELECT id FROM {ns}.orders",
    "SELECT {ns}.orders.id FROM {ns}.orders",
    "SELECT id FROM /* all rows please */ orders -- ignore the policy",
    "SELECT id FROM orders WHERE 1 = 1 OR region_id <> 3",
    "SELECT id FROM orders WHERE region_id IN (1, 2, 3)",
    "SELECT a.id FROM orders a JOIN orders b ON a.id = b.id",
    "SELECT a.id FROM orders a, orders b WHERE a.id = b.id",
    "SELECT id FROM (SELECT * FROM orders) AS sub",
    "WITH x AS (SELECT * FROM orders) SELECT id FROM x",
    "WITH x AS (SELECT * FROM orders), y AS (SELECT * FROM x) SELECT id FROM y",
    "SELECT id FROM orders WHERE region_id = 3 UNION ALL SELECT id FROM orders WHERE region_id <> 3",
    "SELECT id FROM orders UNION SELECT id FROM orders",
    "SELECT id FROM orders AS customers",
    "SELECT o.id FROM products p JOIN orders o ON o.product_id = p.id",
    "SELECT o.id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id",
    "SELECT id FROM orders o WHERE amount >= (SELECT MAX(amount) FROM orders WHERE customer_id = o.customer_id) "
    "OR id > 0",
    "SELECT id FROM orders WHERE id IN (SELECT id FROM orders)",
    "SELECT id FROM orders WHERE NOT EXISTS (SELECT 1 FROM orders x WHERE x.id = -1)",
    "SELECT id FROM (SELECT id, COUNT(*) OVER () AS n FROM orders) AS w",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100) "
    "SELECT id FROM orders WHERE id IN (SELECT n FROM r)",
    "SELECT id FROM orders WHERE amount / (region_id - 1) > 0",  # region 1 rows would divide by zero
]


@pytest.mark.parametrize("sql", EXACT)
def test_every_phrasing_returns_only_the_users_rows(db: Connection, schema: SchemaInfo, sql: str) -> None:
    rows = run(db, schema, sql.format(ns=ns(db)))
    assert sorted(r[0] for r in rows) == sorted(ALLOWED_ORDER_IDS) or {r[0] for r in rows} == ALLOWED_ORDER_IDS


REFUSED_OR_FILTERED = [
    'SELECT id FROM "ORDERS"',  # SQLite: same table (filtered); PostgreSQL: another, unknown table (refused)
    'SELECT "ID" FROM "Orders"',
    "WITH orders AS (SELECT * FROM orders) SELECT id FROM orders",  # CTE shadowing the governed table
    "WITH orders AS (SELECT * FROM customers) SELECT * FROM orders",
    "SELECT id FROM orders o(id, c, p, r, a, n)",
    "SELECT id FROM orders WHERE region_id = 3; SELECT id FROM orders",
    "SELECT id FROM orders --'; SELECT * FROM orders",
]


@pytest.mark.parametrize("sql", REFUSED_OR_FILTERED)
def test_tricky_phrasings_are_filtered_or_refused(db: Connection, schema: SchemaInfo, sql: str) -> None:
    try:
        rows = run(db, schema, sql)
    except SqlSafetyError:
        return
    ids = {r[0] for r in rows}
    assert ids <= ALLOWED_ORDER_IDS | ALLOWED_CUSTOMER_IDS and ids


def test_aggregates_and_scalar_subqueries_see_only_allowed_rows(db: Connection, schema: SchemaInfo) -> None:
    allowed_total = sum(o[4] for o in ORDERS if o[3] == REGION)
    assert run(db, schema, "SELECT COUNT(*), SUM(amount) FROM orders")[0] == (len(ALLOWED_ORDER_IDS), allowed_total)
    (top,) = run(db, schema, "SELECT (SELECT MAX(id) FROM orders) AS m FROM products LIMIT 1")[0]
    assert top == max(ALLOWED_ORDER_IDS)
    # EXISTS and a correlated subquery over two governed tables
    customers = run(
        db, schema, "SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)"
    )
    assert {r[0] for r in customers} == ALLOWED_CUSTOMER_IDS
    counts = run(db, schema, "SELECT region_id, COUNT(*) FROM orders GROUP BY region_id")
    assert counts == [(REGION, len(ALLOWED_ORDER_IDS))]


def test_governed_table_without_a_rule_is_denied(db: Connection, schema: SchemaInfo) -> None:
    for sql in ["SELECT * FROM payments", "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id"]:
        with pytest.raises(PolicyDeniedError) as info:
            run(db, schema, sql)
        assert info.value.code == "POLICY_DENIED"
    with pytest.raises(PolicyDeniedError):
        run(db, schema, "SELECT id FROM orders", user="stranger")
    with pytest.raises(PolicyDeniedError):
        run(db, schema, "SELECT id FROM orders", user=None)


def test_public_tables_and_unrestricted_users(db: Connection, schema: SchemaInfo) -> None:
    assert len(run(db, schema, "SELECT * FROM products", user="stranger")) == 3
    assert {r[0] for r in run(db, schema, "SELECT id FROM orders", user="admin")} == ALL_ORDER_IDS


def test_govern_everything_denies_by_default(db: Connection, schema: SchemaInfo) -> None:
    strict = PolicySet(governed_tables="*", users={"manager": {"orders": f"region_id = {REGION}"}})
    with pytest.raises(PolicyDeniedError):
        apply_policies(validate("SELECT * FROM products", schema, row_limit=10), strict, "manager", schema)
    validated = apply_policies(validate("SELECT id FROM orders", schema, row_limit=10), strict, "manager", schema)
    assert {r[0] for r in execute(db, validated).rows} == ALLOWED_ORDER_IDS


def test_policy_columns_never_bind_to_an_outer_query(db: Connection, schema: SchemaInfo) -> None:
    """A filter naming a column its table lacks must fail, not silently correlate with the outer query's column."""
    leaky = PolicySet(governed_tables=["payments"], users={"manager": {"payments": "region_id = 3"}})
    validated = validate("SELECT region_id, (SELECT COUNT(*) FROM payments) FROM orders", schema, row_limit=10)
    with pytest.raises(SqlSafetyError):
        execute(db, apply_policies(validated, leaky, "manager", schema))


def test_policy_set_loads_from_yaml(tmp_path, db: Connection, schema: SchemaInfo) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(
        "governed_tables: [orders]\nusers:\n  manager:\n    orders: {column: region_id, values: [3]}\n",
        encoding="utf-8",
    )
    loaded = PolicySet.from_yaml(path)
    validated = apply_policies(validate("SELECT id FROM orders", schema, row_limit=100), loaded, "manager", schema)
    assert {r[0] for r in execute(db, validated).rows} == ALLOWED_ORDER_IDS


def test_user_predicates_never_run_on_other_users_rows(db: Connection, schema: SchemaInfo) -> None:
    """The optimisation fence: with an expensive filter, the planner would otherwise evaluate the user's cheap
    predicate first, and a division by zero on a region-1 row would leak that row's existence through an error."""
    costly = PolicySet(
        governed_tables=["orders"],
        users={"manager": {"orders": "region_id IN (SELECT id FROM regions WHERE name = 'East')"}},
    )
    sql = "SELECT id FROM orders WHERE 1 / (region_id - 1) >= 0"
    validated = apply_policies(validate(sql, schema, row_limit=100), costly, "manager", schema)
    assert {r[0] for r in execute(db, validated).rows} == ALLOWED_ORDER_IDS
