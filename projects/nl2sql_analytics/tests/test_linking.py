"""Schema linking on the generated demo database and a synthetic 120-table schema, with the real embedder and
the real embedded PostgreSQL (pgvector + pg_trgm)."""

from __future__ import annotations

import pytest

from projects.nl2sql_analytics.connections import (
    Connection,
    SchemaInfo,
    introspect,
)
from projects.nl2sql_analytics.demo_data import generate, write_sqlite
from projects.nl2sql_analytics.linking import SchemaLinker, normalise
from projects.nl2sql_analytics.scale_schema import SCALE_QUESTIONS, distractor_tables
from projects.nl2sql_analytics.semantic import SemanticLayer, load
from projects.nl2sql_analytics.settings import PROJECT_DIR, Nl2SqlSettings
from shared.serving.embeddings import LocalEmbedder

DEMO_YAML = PROJECT_DIR / "semantic" / "demo.yaml"


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Connection, SchemaInfo]:
    path = write_sqlite(tmp_path_factory.mktemp("demo") / "demo.sqlite", generate(seed=5, n_customers=300))
    connection = Connection(name="demo", target=str(path))
    return connection, introspect(connection, Nl2SqlSettings())


@pytest.fixture(scope="module")
def layer() -> SemanticLayer:
    return load(DEMO_YAML)


@pytest.fixture
def settings() -> Nl2SqlSettings:
    return Nl2SqlSettings()


@pytest.fixture
def linker(database_url: str, embedder: LocalEmbedder, settings: Nl2SqlSettings) -> SchemaLinker:
    return SchemaLinker(database_url, embedder, settings)


def test_revenue_by_region_per_month_links_the_join_chain(linker, demo, layer) -> None:
    connection, schema = demo
    linker.index("demo", schema, layer, source=connection)
    linked = linker.link("demo", "revenue by region per month", schema, layer)
    assert {"order_items", "orders", "customers", "regions"} <= set(linked.tables)
    assert "revenue" in linked.metrics
    assert "-- metric revenue = SUM(order_items.unit_price * order_items.quantity)" in linked.prompt
    # customers is only there to join regions: its join conditions are given
    assert "customers.region_id = regions.region_id" in linked.joins
    assert "orders.customer_id = customers.customer_id" in linked.joins
    for column in ("orders.order_date", "regions.name", "customers.region_id", "order_items.unit_price"):
        assert column in linked.columns
    assert "CREATE TABLE regions (" in linked.prompt
    assert len(linked.prompt) <= linker.settings.link_max_chars


def test_payments_by_card_matches_the_stored_method_value(linker, demo, layer) -> None:
    connection, schema = demo
    linker.index("demo", schema, layer, source=connection)
    linked = linker.link("demo", "total payments by credit card last year", schema, layer)
    assert "payments" in linked.tables
    assert "payments.method = 'credit_card'" in linked.values
    assert "-- payments.method = 'credit_card'" in linked.prompt
    # a single word matches every value that contains it, and nothing else
    card = linker.link("demo", "payments by card", schema, layer)
    assert "payments.method = 'credit_card'" in card.values
    assert all("card" in normalise(v) for v in card.values)
    # two literal values, four tables apart: the join chain between them comes along; a phrase match ('credit card')
    # is not diluted by the partial one ('gift card')
    both = linker.link("demo", "payments by credit card in Western Europe", schema, layer)
    assert set(both.values) == {"payments.method = 'credit_card'", "regions.name = 'Western Europe'"}
    assert {"payments", "orders", "customers", "regions"} <= set(both.tables)


def test_value_matching_finds_a_city_without_any_semantic_layer(linker, demo) -> None:
    """Distinct values are read from the database itself: 'Berlin' is nowhere in the schema text."""
    connection, schema = demo
    linker.index("demo", schema, None, source=connection)
    linked = linker.link("demo", "how many orders came from Berlin", schema)
    assert "customers.city = 'Berlin'" in linked.values
    assert {"customers", "orders"} <= set(linked.tables)
    assert "orders.customer_id = customers.customer_id" in linked.joins


def test_synonyms_of_the_semantic_layer_link_turnover_of_clients(linker, demo, layer) -> None:
    _, schema = demo
    linker.index("demo", schema, layer)
    linked = linker.link("demo", "turnover of clients", schema, layer)
    assert "revenue" in linked.metrics  # 'turnover' is a synonym of the revenue metric
    assert {"customers", "orders", "order_items"} <= set(linked.tables)  # 'clients' names customers
    assert "payments" not in linked.tables and "products" not in linked.tables


def test_reindexing_an_unchanged_schema_is_a_no_op_and_a_change_replaces(linker, demo, layer) -> None:
    connection, schema = demo
    first = linker.index("demo", schema, layer, source=connection)
    assert first.status == "indexed" and first.changed == first.documents and first.values > 10
    assert linker.index("demo", schema, layer, source=connection).status == "unchanged"
    changed_layer = layer.model_copy(deep=True)
    changed_layer.tables["products"].synonyms.append("widgetry")
    smaller = schema.model_copy(deep=True)
    smaller.tables = [t for t in smaller.tables if t.name != "payments"]
    report = linker.index("demo", smaller, changed_layer, source=connection)
    assert report.status == "indexed"
    assert report.changed == 1  # only the products table document was re-embedded
    assert report.deleted == 1 + len(schema.table("payments").columns) + 1  # table, its columns, refund_rate
    assert "products" in linker.link("demo", "widgetry", smaller, changed_layer).tables
    assert "payments" not in linker.link("demo", "payments by method", smaller, changed_layer).tables


def test_prompt_budget_is_enforced(database_url, embedder, demo, layer) -> None:
    _, schema = demo
    tight = SchemaLinker(database_url, embedder, Nl2SqlSettings(link_max_chars=700))
    linked = tight.link("demo", "revenue by region and product category per month", schema, layer)
    assert len(linked.prompt) <= 700
    assert linked.tables and "CREATE TABLE" in linked.prompt


def test_an_empty_question_links_nothing(linker, demo, layer) -> None:
    _, schema = demo
    linked = linker.link("demo", "  ?? ", schema, layer)
    assert linked.tables == [] and linked.prompt == ""


def test_scale_120_tables_keeps_the_gold_tables_within_budget(linker, demo, layer, record_property) -> None:
    _, demo_schema = demo
    schema = demo_schema.model_copy(deep=True)
    schema.tables += distractor_tables()
    assert len(schema.tables) >= 120
    report = linker.index("big", schema, layer, source=None)
    assert report.documents > 1000
    found = total = extra = 0
    for question, gold in SCALE_QUESTIONS:
        linked = linker.link("big", question, schema, layer)
        assert len(linked.prompt) <= linker.settings.link_max_chars, question
        assert len(linked.tables) <= linker.settings.link_max_tables + linker.settings.link_max_join_tables
        found += len(gold & set(linked.tables))
        total += len(gold)
        extra += len(set(linked.tables) - gold)
        print(f"{question!r}: {linked.tables} missing={sorted(gold - set(linked.tables))}")
    recall, extra_per_question = found / total, extra / len(SCALE_QUESTIONS)
    record_property("gold_table_recall", recall)
    print(f"{len(SCALE_QUESTIONS)} questions, {len(schema.tables)} tables: gold recall {recall:.3f}, "
          f"{extra_per_question:.2f} extra tables per question")  # fmt: skip
    assert recall >= 0.95
    assert extra_per_question <= 1.0
    linked = linker.link("big", "turnover of clients", schema, layer)
    assert set(linked.tables) == {"customers", "orders", "order_items"}


def test_metric_expressions_are_shown_in_the_connections_dialect() -> None:
    from projects.nl2sql_analytics.linking import _in_dialect

    monthly = "COUNT(DISTINCT strftime('%Y-%m', orders.order_date))"
    assert _in_dialect(monthly, "sqlite", "sqlite") == monthly
    assert "TO_CHAR" in _in_dialect(monthly, "sqlite", "postgres") and "strftime" not in _in_dialect(
        monthly, "sqlite", "postgres"
    )
