"""The verified-example store on the real embedded PostgreSQL and the real embedder; the seed file's SQL runs."""

from __future__ import annotations

import sqlite3

import pytest

from projects.nl2sql_analytics.connections import Connection, introspect
from projects.nl2sql_analytics.demo_data import generate, write_sqlite
from projects.nl2sql_analytics.examples import ExampleStore, load_seed, normalise_question
from projects.nl2sql_analytics.settings import PROJECT_DIR, Nl2SqlSettings
from projects.nl2sql_analytics.validation import validate
from shared.serving.embeddings import LocalEmbedder

SEED = PROJECT_DIR / "examples" / "demo.yaml"


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def store(database_url: str, embedder: LocalEmbedder) -> ExampleStore:
    return ExampleStore(database_url, embedder, Nl2SqlSettings())


def test_every_seed_statement_validates_and_returns_rows_on_the_demo_database(tmp_path) -> None:
    path = write_sqlite(tmp_path / "demo.sqlite", generate(seed=11, n_customers=300))
    schema = introspect(Connection(name="demo", target=str(path)))
    seed = load_seed(SEED)
    assert seed.connection == "demo" and 12 <= len(seed.examples) <= 25
    assert len({normalise_question(e.question) for e in seed.examples}) == len(seed.examples)
    with sqlite3.connect(path) as conn:
        for example in seed.examples:
            validate(example.sql, schema, "sqlite", row_limit=1000)  # read-only, every name exists
            rows = conn.execute(example.sql).fetchall()
            assert rows and any(v is not None for v in rows[0]), example.question


def test_similar_finds_the_closest_question_with_scores(store) -> None:
    assert store.seed("demo", SEED) == len(load_seed(SEED).examples)
    found = store.similar("demo", "how much revenue did each region make?", k=3)
    assert found[0].question == "Revenue by region"
    assert "JOIN regions" in found[0].sql
    assert all(e.score is not None for e in found)
    assert [e.score for e in found] == sorted((e.score for e in found), reverse=True)
    payments = store.similar("demo", "which payment method brings in the most money", k=1)
    assert payments[0].question == "Total amount paid by payment method"
    assert store.similar("other-connection", "revenue by region") == []  # connections never mix


def test_a_corrected_pair_replaces_the_old_sql(store) -> None:
    first = store.add("demo", "Revenue per month", "SELECT 1", user="alice")
    again = store.add("demo", "  revenue PER month? ", "SELECT 2", user="bob")
    assert first == again
    [saved] = store.list("demo")
    assert saved.sql == "SELECT 2" and saved.user == "bob" and saved.question == "revenue PER month?"
    [hit] = store.similar("demo", "monthly revenue", k=5)
    assert hit.sql == "SELECT 2"
    # re-seeding keeps the user's correction
    store.seed("demo", SEED)
    fixed = [e for e in store.list("demo") if normalise_question(e.question) == "revenue per month"]
    assert [e.sql for e in fixed] == ["SELECT 2"]


def test_list_and_delete(store) -> None:
    a = store.add("demo", "Number of customers per country", "SELECT country, COUNT(*) FROM customers GROUP BY 1")
    b = store.add("demo", "Orders per status", "SELECT status, COUNT(*) FROM orders GROUP BY 1", user="carol")
    assert {e.id for e in store.list("demo")} == {a, b}
    assert store.delete("demo", a)
    assert not store.delete("demo", a)
    assert [e.id for e in store.list("demo")] == [b]
    assert all(e.question != "Number of customers per country" for e in store.similar("demo", "customers by country"))


def test_bad_input_is_rejected(store) -> None:
    with pytest.raises(ValueError):
        store.add("demo", " ?! ", "SELECT 1")
    with pytest.raises(ValueError):
        store.add("demo", "a question", "   ")
    assert store.similar("demo", "   ") == []
