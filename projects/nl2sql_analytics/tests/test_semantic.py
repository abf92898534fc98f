"""The semantic layer: YAML round trip, validation against a real schema, bootstrap, and the demo layer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
import sqlglot

from projects.nl2sql_analytics import semantic
from projects.nl2sql_analytics.demo_data import FOREIGN_KEYS, generate, write_postgres, write_sqlite
from projects.nl2sql_analytics.semantic import Metric, SemanticLayer, bootstrap, load, save, validate_against

DEMO_YAML = Path(semantic.__file__).parent / "semantic" / "demo.yaml"


def introspect_sqlite(path: Path) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, str, str]]]:
    """What the database really has (not the generator's declaration): PRAGMA table_info / foreign_key_list."""
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    tables = {t: {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({t})")} for t in names}
    fks = [(t, r[3], r[2], r[4]) for t in names for r in conn.execute(f"PRAGMA foreign_key_list({t})")]
    return tables, fks


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return write_sqlite(tmp_path_factory.mktemp("demo") / "demo.sqlite", generate(seed=5, n_customers=300))


@pytest.fixture
def layer() -> SemanticLayer:
    return load(DEMO_YAML)


def test_round_trip_keeps_everything_and_stays_editable(layer, tmp_path) -> None:
    path = save(layer, tmp_path / "copy.yaml")
    assert load(path) == layer
    text = path.read_text()
    assert "synonyms: [" in text and "from: orders.customer_id" in text  # compact, hand-editable
    edited = text.replace("turnover, ", "turnover, takings2, ")
    path.write_text(edited)
    assert "takings2" in load(path).metrics["revenue"].synonyms


def test_demo_layer_validates_against_the_generated_database(layer, demo_db) -> None:
    tables, fks = introspect_sqlite(demo_db)
    assert validate_against(layer, tables, fks) == []
    assert set(layer.tables) == set(tables)  # every table is described
    for t, cols in tables.items():
        assert set(layer.tables[t].columns) == set(cols), t
        assert layer.tables[t].description
    assert 4 <= len(layer.metrics) <= 6


def test_demo_synonyms(layer) -> None:
    index = layer.synonym_index()
    assert index["client"] == "customers"
    assert index["turnover"] == "metric:revenue"
    assert index["aov"] == "metric:average_order_value"
    assert index["payment method"] == "payments.method"
    assert index["orders"] == "orders"


def test_demo_metrics_run_on_sqlite_and_postgres_with_equal_results(layer, demo_db, database_url) -> None:
    lite = sqlite3.connect(demo_db)
    write_postgres(database_url, generate(seed=5, n_customers=300))
    with psycopg.connect(database_url) as pg:
        for name in layer.metrics:
            sql = layer.metric_query(name)
            (lite_value,) = lite.execute(sql).fetchone()
            (pg_value,) = pg.execute(sqlglot.transpile(sql, read="sqlite", write="postgres")[0]).fetchone()
            assert lite_value is not None and lite_value > 0, name
            assert float(pg_value) == pytest.approx(lite_value, rel=1e-9), name
    # revenue excludes cancelled orders: its definition is not just the sum over all lines
    everything = lite.execute("SELECT SUM(unit_price * quantity) FROM order_items").fetchone()[0]
    assert lite.execute(layer.metric_query("revenue")).fetchone()[0] < everything
    assert 0 < lite.execute(layer.metric_query("refund_rate")).fetchone()[0] < 0.2


def test_validation_names_the_bad_column_and_suggests_the_closest(layer, demo_db) -> None:
    tables, _ = introspect_sqlite(demo_db)
    layer.tables["customers"].columns["segmnt"] = layer.tables["customers"].columns.pop("segment")
    layer.metrics["revenue"].sql = "SUM(order_items.unit_prise * order_items.quantity)"
    layer.joins[0].to = "regionz.region_id"
    problems = {p.where: p.message for p in validate_against(layer, tables)}
    assert "segmnt" in problems["tables.customers.columns.segmnt"]
    assert "did you mean 'segment'" in problems["tables.customers.columns.segmnt"]
    assert "order_items.unit_prise" in problems["metrics.revenue.sql"]
    assert "'unit_price'" in problems["metrics.revenue.sql"]
    assert "regionz" in problems["joins[0].to"]
    assert len(problems) == 3


@pytest.mark.parametrize(
    ("sql", "tables", "expect"),
    [
        ("SUM(order_items.quantity", ["order_items"], "does not parse"),
        ("SELECT 1; DROP TABLE orders", ["orders"], "single SQL expression"),
        ("SUM((SELECT MAX(amount) FROM payments))", ["payments"], "single SQL expression"),
        ("SUM(payments.amount)", ["orders"], "not listed in tables"),
        ("COUNT(DISTINCT order_id)", ["orders", "order_items"], "ambiguous column"),
        ("SUM(amount)", ["orders"], "unknown column 'amount'"),
        ("SUM(quantity)", ["customers", "regions"], "unknown column"),
    ],
)
def test_bad_metric_expressions_are_reported(layer, demo_db, sql, tables, expect) -> None:
    schema, _ = introspect_sqlite(demo_db)
    layer.metrics = {"m": Metric(sql=sql, tables=tables)}
    messages = [p.message for p in validate_against(layer, schema)]
    assert any(expect in m for m in messages), messages


def test_metric_over_unconnected_tables_is_reported(layer, demo_db) -> None:
    schema, _ = introspect_sqlite(demo_db)
    layer.joins = [j for j in layer.joins if j.from_ != "order_items.product_id"]
    layer.metrics["by_product"] = Metric(sql="COUNT(*)", tables=["orders", "products"])
    assert any("no join path" in p.message for p in validate_against(layer, schema))


def test_bootstrap_drafts_tables_columns_and_joins_from_foreign_keys(demo_db, tmp_path) -> None:
    tables, fks = introspect_sqlite(demo_db)
    draft = bootstrap(tables, fks, connection="demo")
    assert set(draft.tables) == set(tables)
    assert set(draft.tables["orders"].columns) == set(tables["orders"])
    assert {(j.from_, j.to) for j in draft.joins} == {(f"{a}.{b}", f"{c}.{d}") for a, b, c, d in FOREIGN_KEYS}
    assert "customer" in draft.tables["customers"].synonyms
    assert "order item" in draft.tables["order_items"].synonyms
    assert draft.metrics == {}
    assert validate_against(draft, tables) == []
    assert load(save(draft, tmp_path / "draft.yaml")) == draft
    assert draft.join_path(["payments", "regions"])  # payments -> orders -> customers -> regions
    assert [j.to_table for j in draft.join_path(["payments", "regions"])][-1] == "regions"
