"""Dashboard tiles and CSV export over HTTP: both re-run SQL through the safe path, as the calling user."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from .api_support import NORTH_AMERICA, headers, query

BY_REGION = (
    "SELECT c.region_id, COUNT(*) AS orders FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
    "GROUP BY c.region_id ORDER BY c.region_id"
)


def _tile(client: TestClient, user: str, sql: str = BY_REGION, title: str = "Orders by region"):
    return client.post("/analytics/tiles", json={"title": title, "sql": sql}, headers=headers(user))


def test_a_regional_managers_tile_returns_only_their_region(client: TestClient, demo_sqlite: Path) -> None:
    created = _tile(client, "dana")
    assert created.status_code == 201, created.text
    tile = created.json()["tile"]
    assert tile["chart_kind"] == "bar" and tile["refreshed_at"]
    truth = query(demo_sqlite, BY_REGION)
    refreshed = client.post(f"/analytics/tiles/{tile['id']}/refresh", headers=headers("dana"))
    assert refreshed.status_code == 200
    assert [tuple(r) for r in refreshed.json()["answer"]["rows"]] == [r for r in truth if r[0] == NORTH_AMERICA]

    mine = _tile(client, "analyst").json()["tile"]
    rows = client.post(f"/analytics/tiles/{mine['id']}/refresh", headers=headers("analyst")).json()["answer"]["rows"]
    assert [tuple(r) for r in rows] == truth  # the same SQL, every region for head office


def test_tiles_are_private_ordered_and_deletable(client: TestClient) -> None:
    ids = [_tile(client, "dana", title=f"t{i}").json()["tile"]["id"] for i in range(3)]
    listed = client.get("/analytics/tiles", headers=headers("dana")).json()
    assert [t["id"] for t in listed] == ids and [t["position"] for t in listed] == [0, 1, 2]
    assert client.get("/analytics/tiles", headers=headers("mei")).json() == []
    for method, path in (("post", f"/analytics/tiles/{ids[0]}/refresh"), ("delete", f"/analytics/tiles/{ids[0]}")):
        assert client.request(method, path, headers=headers("mei")).status_code == 404  # not leaked
    assert client.delete(f"/analytics/tiles/{ids[1]}", headers=headers("dana")).status_code == 204
    assert [t["id"] for t in client.get("/analytics/tiles", headers=headers("dana")).json()] == [ids[0], ids[2]]
    assert client.delete(f"/analytics/tiles/{ids[1]}", headers=headers("dana")).status_code == 404


def test_a_tile_that_cannot_run_safely_is_never_saved(client: TestClient, database_url: str) -> None:
    assert _tile(client, "dana", "drop table orders").json()["errors"][0]["code"] == "NOT_READ_ONLY"
    assert _tile(client, "eve").status_code == 403  # no rule for orders
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM nl2sql_tiles").fetchone()[0] == 0


def _csv(resp) -> list[list[str]]:
    return list(csv.reader(io.StringIO(resp.text)))


def test_csv_export_applies_policies_and_the_row_limit(client: TestClient, demo_sqlite: Path) -> None:
    resp = client.get("/analytics/export.csv", params={"sql": BY_REGION}, headers=headers("dana"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    rows = _csv(resp)
    assert rows[0] == ["region_id", "orders"] and [r[0] for r in rows[1:]] == [str(NORTH_AMERICA)]

    big = client.post("/analytics/export.csv", json={"sql": "SELECT order_id FROM orders"}, headers=headers())
    assert big.headers["x-truncated"] == "true" and big.headers["x-row-count"] == "50"
    assert len(_csv(big)) == 51  # header + export_row_limit rows
    small = client.get("/analytics/export.csv", params={"sql": "SELECT name FROM regions"}, headers=headers())
    assert small.headers["x-truncated"] == "false"
    assert sorted(r[0] for r in _csv(small)[1:]) == sorted(r[0] for r in query(demo_sqlite, "SELECT name FROM regions"))


def test_csv_export_refuses_writes_and_neutralises_formulas(client: TestClient) -> None:
    resp = client.get("/analytics/export.csv", params={"sql": "drop table orders"}, headers=headers())
    assert resp.status_code == 422 and resp.json()["errors"][0]["code"] == "NOT_READ_ONLY"
    formula = client.get(
        "/analytics/export.csv", params={"sql": "SELECT '=HYPERLINK(1)' AS f, -3 AS n"}, headers=headers()
    )
    assert _csv(formula)[1] == ["'=HYPERLINK(1)", "-3"]  # text formulas defused, numbers untouched
    assert (
        client.get(
            "/analytics/export.csv", params={"sql": "SELECT 1", "connection": "x"}, headers=headers()
        ).status_code
        == 404
    )
