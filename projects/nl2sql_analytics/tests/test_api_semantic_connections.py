"""Connections (registered only if they open read-only) and the semantic layer editor (validated before saving)."""

from __future__ import annotations

from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from projects.nl2sql_analytics.settings import PROJECT_DIR, Nl2SqlSettings
from projects.nl2sql_analytics.workspace import edited_semantic_path

from .api_support import headers

SHIPPED = (PROJECT_DIR / "semantic" / "demo.yaml").read_text(encoding="utf-8")


def _put(client: TestClient, text: str, name: str = "demo"):
    return client.put(f"/analytics/connections/{name}/semantic", json={"yaml": text}, headers=headers())


def test_semantic_layer_with_a_bad_column_is_refused_and_nothing_is_written(
    client: TestClient, nl_settings: Nl2SqlSettings
) -> None:
    got = client.get("/analytics/connections/demo/semantic", headers=headers()).json()
    assert got["source"] == "shipped" and got["yaml"] == SHIPPED
    bad = SHIPPED.replace(
        "sql: SUM(order_items.unit_price * order_items.quantity)\n", "sql: SUM(order_items.price)\n", 1
    )
    assert bad != SHIPPED
    resp = _put(client, bad)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    problems = resp.json()["errors"]
    assert any(p["where"] == "metrics.revenue.sql" and "order_items.price" in p["message"] for p in problems)
    assert not edited_semantic_path(nl_settings, "demo").exists()
    for text in ("tables: [unclosed", "- just\n- a list\n", "connection: other\n", "tables:\n  invoices: {}\n"):
        assert _put(client, text).status_code == 422, text
    assert not edited_semantic_path(nl_settings, "demo").exists()
    assert client.get("/analytics/connections/demo/semantic", headers=headers()).json()["yaml"] == SHIPPED


def test_a_valid_edit_is_saved_verbatim_in_the_workspace(client: TestClient, nl_settings: Nl2SqlSettings) -> None:
    edited = SHIPPED.replace("synonyms: [customer, client, clients,", "synonyms: [patron, customer, client, clients,")
    resp = _put(client, edited)
    assert resp.status_code == 200, resp.text
    assert edited_semantic_path(nl_settings, "demo").read_text(encoding="utf-8") == edited  # comments kept
    got = client.get("/analytics/connections/demo/semantic", headers=headers()).json()
    assert got["source"] == "edited" and "patron" in yaml.safe_load(got["yaml"])["tables"]["customers"]["synonyms"]
    assert (PROJECT_DIR / "semantic" / "demo.yaml").read_text(encoding="utf-8") == SHIPPED  # tracked file untouched


def test_register_connections_only_if_they_open_read_only(
    client: TestClient, nl_settings: Nl2SqlSettings, demo_sqlite: Path, tmp_path: Path, database_url: str
) -> None:
    dbs = tmp_path / "dbs"
    dbs.mkdir()
    (dbs / "notes.sqlite").write_bytes(b"this is not a database" * 10)
    cases = {
        str(dbs / "missing.sqlite"): "not found",
        str(dbs / "notes.sqlite"): "does not open",
        "/etc/hostname": "configured folders",
        "postgresql://nobody@127.0.0.1:9/nothing": "PostgreSQL connection failed",
    }
    for target, message in cases.items():
        resp = client.post("/analytics/connections", json={"name": "x", "target": target}, headers=headers())
        assert resp.status_code == 422 and message in resp.json()["detail"], (target, resp.text)
    assert (
        client.post("/analytics/connections", json={"name": "Bad Name", "target": "x"}, headers=headers()).status_code
        == 422
    )

    ok = client.post("/analytics/connections", json={"name": "pg", "target": database_url}, headers=headers())
    assert ok.status_code == 201 and ok.json()["dialect"] == "postgres"
    again = client.post("/analytics/connections", json={"name": "pg", "target": database_url}, headers=headers())
    assert again.status_code == 201  # idempotent
    clash = client.post("/analytics/connections", json={"name": "pg", "target": str(demo_sqlite)}, headers=headers())
    assert clash.status_code == 409
    names = [c["name"] for c in client.get("/analytics/connections", headers=headers()).json()]
    assert names == ["demo", "pg"]
    tables = client.get("/analytics/connections/pg/schema", headers=headers()).json()["tables"]
    assert {"nl2sql_connections", "nl2sql_tiles"} <= {t["name"] for t in tables}  # introspected the live DB


def test_schema_of_the_demo_and_unknown_connections(client: TestClient) -> None:
    schema = client.get("/analytics/connections/demo/schema", headers=headers()).json()
    orders = next(t for t in schema["tables"] if t["name"] == "orders")
    assert schema["dialect"] == "sqlite" and orders["foreign_keys"][0]["ref_table"] == "customers"
    status = next(c for c in orders["columns"] if c["name"] == "status")
    assert status["samples"]  # sample values for value linking
    for path in ("/schema", "/semantic"):
        assert client.get(f"/analytics/connections/nope{path}", headers=headers()).status_code == 404
    assert _put(client, SHIPPED, "nope").status_code == 404


def test_passwords_never_leave_the_service(client: TestClient, service, database_url: str) -> None:
    from projects.nl2sql_analytics.service import redact

    assert redact("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact("host=db password=s3cret dbname=x") == "host=db password=*** dbname=x"
    service.register_connection("u", "pg", database_url)
    listed = client.get("/analytics/connections", headers=headers()).json()
    assert all("s3cret" not in c["target"] for c in listed)
