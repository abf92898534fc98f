"""The demo database: deterministic, referentially sound, and identical in SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import psycopg
import pytest

from projects.nl2sql_analytics import demo_data
from projects.nl2sql_analytics.demo_data import FOREIGN_KEYS, TABLES, generate, write_postgres, write_sqlite

REVENUE_BY_YEAR = {
    "sqlite": "SELECT CAST(strftime('%Y', o.order_date) AS INTEGER) AS y, ROUND(SUM(oi.unit_price * oi.quantity), 2) "
    "FROM order_items oi JOIN orders o ON o.order_id = oi.order_id WHERE o.status <> 'cancelled' GROUP BY 1 ORDER BY 1",
    "postgres": "SELECT EXTRACT(YEAR FROM o.order_date)::int AS y, ROUND(SUM(oi.unit_price * oi.quantity), 2) "
    "FROM demo.order_items oi JOIN demo.orders o ON o.order_id = oi.order_id WHERE o.status <> 'cancelled' "
    "GROUP BY 1 ORDER BY 1",
}


@pytest.fixture(scope="module")
def small():
    return generate(seed=11, n_customers=400)


def test_same_seed_same_checksum_other_seed_differs(small) -> None:
    assert generate(seed=11, n_customers=400).checksum() == small.checksum()
    assert generate(seed=12, n_customers=400).checksum() != small.checksum()


def test_default_size_and_shape() -> None:
    data = generate()
    counts = data.row_counts()
    assert counts["customers"] == 3000
    assert 20_000 <= counts["order_items"] <= 50_000
    orders = data.tables["orders"]
    years = orders.order_date.str[:4].value_counts().sort_index()
    assert list(years.index) == ["2022", "2023", "2024", "2025"]
    assert years.is_monotonic_increasing  # growth year on year
    months = orders.order_date.str[5:7].value_counts()
    assert months["12"] > 1.5 * months["02"]  # holiday peak
    assert set(orders.status) == {"completed", "shipped", "pending", "cancelled", "returned"}
    assert {"completed", "refunded", "failed"} == set(data.tables["payments"].status)


def test_referential_integrity_and_business_rules(small, tmp_path) -> None:
    path = write_sqlite(tmp_path / "demo.sqlite", small)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    for child, col, parent, pcol in FOREIGN_KEYS:
        orphans = conn.execute(f"SELECT COUNT(*) FROM {child} WHERE {col} NOT IN (SELECT {pcol} FROM {parent})")
        assert orphans.fetchone()[0] == 0, (child, col)
    # nobody orders before signing up; every order has a line; a paid order's payment equals its lines' total
    early = "SELECT COUNT(*) FROM orders o JOIN customers c USING (customer_id) WHERE o.order_date < c.signup_date"
    assert conn.execute(early).fetchone()[0] == 0
    assert (
        conn.execute("SELECT COUNT(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_items)").fetchone()[
            0
        ]
        == 0
    )
    mismatch = conn.execute(
        "SELECT COUNT(*) FROM payments p JOIN (SELECT order_id, SUM(unit_price * quantity) t FROM order_items "
        "GROUP BY order_id) s USING (order_id) WHERE ABS(p.amount - s.t) > 0.01"
    ).fetchone()[0]
    assert mismatch == 0
    pks = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})") if r[5]] for t in TABLES}
    assert pks == {t: [demo_data.PRIMARY_KEYS[t]] for t in TABLES}


def test_sqlite_and_postgres_hold_the_same_data(small, tmp_path, database_url: str) -> None:
    lite = sqlite3.connect(write_sqlite(tmp_path / "demo.sqlite", small))
    write_postgres(database_url, small, schema="demo")
    with psycopg.connect(database_url) as pg:
        for table in TABLES:
            n_lite = lite.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            n_pg = pg.execute(f"SELECT COUNT(*) FROM demo.{table}").fetchone()[0]
            assert n_lite == n_pg == len(small.tables[table]), table
        lite_rev = [(y, Decimal(str(v))) for y, v in lite.execute(REVENUE_BY_YEAR["sqlite"]).fetchall()]
        pg_rev = pg.execute(REVENUE_BY_YEAR["postgres"]).fetchall()
        assert len(pg_rev) == 4 and lite_rev == pg_rev
        fks = pg.execute(
            "SELECT COUNT(*) FROM information_schema.table_constraints WHERE constraint_schema = 'demo' "
            "AND constraint_type = 'FOREIGN KEY'"
        ).fetchone()[0]
        assert fks == len(FOREIGN_KEYS)
    # writing again replaces rather than duplicates
    write_postgres(database_url, small, schema="demo")
    with psycopg.connect(database_url) as pg:
        assert pg.execute("SELECT COUNT(*) FROM demo.orders").fetchone()[0] == len(small.tables["orders"])


def test_cli_writes_sqlite(tmp_path, capsys) -> None:
    out = tmp_path / "cli.sqlite"
    assert demo_data.main(["--sqlite", str(out), "--customers", "50", "--seed", "3"]) == 0
    assert sqlite3.connect(out).execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 50
    assert "checksum" in capsys.readouterr().out
