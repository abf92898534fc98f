"""The default path end to end: demo data, the real local chat model, the real embedder and schema linker on
the embedded PostgreSQL, seeded verified examples, row-level security — through the HTTP API, no doubles.

The question is one of the verified examples (what a user who saved a corrected pair asks again), so the
small model's answer is deterministic; a regional manager asking it gets only their region's rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from projects.nl2sql_analytics.api import create_router
from projects.nl2sql_analytics.demo import load_demo_data
from projects.nl2sql_analytics.settings import Nl2SqlSettings
from shared.api.app import create_app
from shared.api.context import ServiceContext

QUESTION = "How many orders are in each status?"


@pytest.fixture
def demo(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = Nl2SqlSettings(data_dir=tmp_path, demo_customers=200)
    ctx = ServiceContext(database_url=database_url)
    load_demo_data(ctx, settings)
    app = create_app("nl2sql-e2e", routers=[("/analytics", create_router(ctx, settings))])
    with TestClient(app) as client:
        yield client, settings.data_dir / "demo.sqlite"


def _truth(db: Path, sql: str) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute(sql).fetchall())


def test_a_question_is_answered_by_the_real_pipeline_with_row_level_security(demo) -> None:
    client, db = demo
    everyone = client.post("/analytics/ask", json={"connection": "demo", "question": QUESTION},
                           headers={"X-User-Id": "analyst"})  # fmt: skip
    assert everyone.status_code == 200, everyone.text
    body = everyone.json()
    assert body["status"] == "ok", body
    assert {"orders"} <= set(body["linked"]["tables"]) and body["examples"]
    assert dict(map(tuple, body["rows"])) == _truth(db, "SELECT status, COUNT(*) FROM orders GROUP BY status")
    assert body["chart"]["kind"] in {"bar", "pie"} and body["insight"]["text"]
    assert set(body["timings_ms"]) >= {"linking", "generation", "validation", "execution"}

    dana = client.post("/analytics/ask", json={"connection": "demo", "question": QUESTION},
                       headers={"X-User-Id": "dana"}).json()  # fmt: skip
    north_america = _truth(
        db,
        "SELECT o.status, COUNT(*) FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
        "WHERE c.region_id = 1 GROUP BY o.status",
    )
    assert dana["status"] == "ok" and dict(map(tuple, dana["rows"])) == north_america
    assert sum(north_america.values()) < sum(dict(map(tuple, body["rows"])).values())
