"""Hand-edited SQL over HTTP: the same safety path as generated SQL (read-only, known names, row policies)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .api_support import NORTH_AMERICA, headers, query

REGION_OF_ORDERS = (
    "SELECT DISTINCT c.region_id FROM orders o JOIN customers c ON c.customer_id = o.customer_id ORDER BY 1"
)


def _sql(client: TestClient, sql: str, user: str = "analyst", connection: str = "demo"):
    return client.post("/analytics/sql", json={"connection": connection, "sql": sql}, headers=headers(user))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("drop table orders", "NOT_READ_ONLY"),
        ("DELETE FROM orders", "NOT_READ_ONLY"),
        ("UPDATE customers SET region_id = 1", "NOT_READ_ONLY"),
        ("SELECT 1; DROP TABLE orders", "MULTIPLE_STATEMENTS"),
        ("SELECT * INTO backup FROM orders", "SELECT_INTO"),
        ("SELECT revenue FROM orders", "UNKNOWN_COLUMN"),
        ("SELECT * FROM invoices", "UNKNOWN_TABLE"),
    ],
)
def test_unsafe_or_wrong_sql_is_refused_with_its_code_and_changes_nothing(
    client: TestClient, demo_sqlite: Path, sql: str, code: str
) -> None:
    before, orders = _digest(demo_sqlite), query(demo_sqlite, "SELECT COUNT(*) FROM orders")
    resp = _sql(client, sql)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["errors"][0]["code"] == code and body["type"].endswith("sql-" + code.lower().replace("_", "-"))
    assert _digest(demo_sqlite) == before and query(demo_sqlite, "SELECT COUNT(*) FROM orders") == orders


def test_unknown_column_suggests_the_closest(client: TestClient) -> None:
    body = _sql(client, "SELECT order_dat FROM orders").json()
    assert body["errors"][0]["code"] == "UNKNOWN_COLUMN" and "order_date" in body["errors"][0]["suggestion"]


def test_a_valid_statement_returns_rows_chart_and_the_sql_that_ran(client: TestClient, demo_sqlite: Path) -> None:
    resp = _sql(client, "SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY n DESC")
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    expected = query(demo_sqlite, "SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY n DESC")
    assert [tuple(r) for r in answer["rows"]] == expected
    assert answer["status"] == "ok" and answer["columns"] == ["status", "n"]
    assert answer["chart"]["kind"] in {"bar", "pie"} and answer["chart"]["vega_lite"]["$schema"]
    assert "LIMIT 101" in answer["executed_sql"]  # the row limit (100) + 1 probe row
    assert answer["insight"]["source"] == "template" and answer["insight"]["facts"]


def test_row_limit_truncates_and_says_so(client: TestClient) -> None:
    answer = _sql(client, "SELECT order_id FROM orders").json()
    assert len(answer["rows"]) == 100 and answer["truncated"] is True


def test_regional_manager_sees_only_their_region_by_any_phrasing(client: TestClient, demo_sqlite: Path) -> None:
    all_regions = [r[0] for r in query(demo_sqlite, "SELECT region_id FROM regions ORDER BY 1")]
    assert _sql(client, REGION_OF_ORDERS, "analyst").json()["rows"] == [[r] for r in all_regions]
    for sql in (
        REGION_OF_ORDERS,
        "SELECT DISTINCT region_id FROM customers",
        "SELECT DISTINCT c.region_id FROM customers c WHERE c.region_id <> 1 OR 1 = 1",
        "SELECT region_id FROM customers WHERE customer_id IN (SELECT customer_id FROM orders)",
    ):
        resp = _sql(client, sql, "dana")
        assert resp.status_code == 200, (sql, resp.text)
        assert {r[0] for r in resp.json()["rows"]} == {NORTH_AMERICA}, sql
    # payments and order lines reach the region through their order: counts match the ground truth
    truth = query(
        demo_sqlite,
        "SELECT COUNT(*) FROM payments p JOIN orders o ON o.order_id = p.order_id "
        f"JOIN customers c ON c.customer_id = o.customer_id WHERE c.region_id = {NORTH_AMERICA}",
    )
    assert _sql(client, "SELECT COUNT(*) AS n FROM payments", "dana").json()["rows"] == [[truth[0][0]]]
    lines = _sql(client, "SELECT COUNT(*) FROM order_items", "dana").json()["rows"][0][0]
    assert 0 < lines < query(demo_sqlite, "SELECT COUNT(*) FROM order_items")[0][0]


def test_users_without_a_rule_are_denied_governed_tables_but_read_public_ones(client: TestClient) -> None:
    resp = _sql(client, "SELECT COUNT(*) FROM orders", "eve")
    assert resp.status_code == 403 and resp.json()["errors"][0]["code"] == "POLICY_DENIED"
    assert _sql(client, "SELECT COUNT(*) AS n FROM regions", "eve").json()["rows"] == [[5]]


def test_refusals_are_recorded_in_history(client: TestClient) -> None:
    _sql(client, "drop table orders", "dana")
    _sql(client, "SELECT COUNT(*) AS n FROM regions", "dana")
    history = client.get("/analytics/history", headers=headers("dana")).json()
    assert [(h["kind"], h["status"], h["error_code"]) for h in history] == [
        ("sql", "ok", None),
        ("sql", "refused", "NOT_READ_ONLY"),
    ]
    assert client.get("/analytics/history", headers=headers("analyst")).json() == []


def test_bad_requests(client: TestClient, nl_settings) -> None:
    assert _sql(client, "   ").status_code == 422
    assert _sql(client, "SELECT 1 " + "x" * nl_settings.max_sql_chars).status_code == 422
    assert _sql(client, "SELECT 1", connection="nope").status_code == 404
    assert client.post("/analytics/sql", json={"sql": "SELECT 1"}).status_code == 401  # no X-User-Id


def test_a_slow_cartesian_join_times_out_with_a_clear_message(client: TestClient, service) -> None:
    service.settings = service.settings.model_copy(update={"statement_timeout_ms": 200})
    resp = _sql(client, "SELECT COUNT(*) FROM order_items a, order_items b, order_items c")
    assert resp.status_code == 504 and resp.json()["errors"][0]["code"] == "TIMEOUT"
    assert "200 ms" in resp.json()["detail"] and "join" in resp.json()["detail"]
