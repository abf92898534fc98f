"""Fixtures of the service/API tests: a small generated demo database, the real service on the embedded
PostgreSQL, and a test-double pipeline (canned Answers) for the orchestration of /ask only.

Everything that runs SQL (/sql, tiles, export) uses the real safety path against the real SQLite file.
Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from projects.nl2sql_analytics.api import create_router
from projects.nl2sql_analytics.demo_data import generate, write_sqlite
from projects.nl2sql_analytics.models import Answer, Chart
from projects.nl2sql_analytics.service import Nl2SqlService
from projects.nl2sql_analytics.settings import PROJECT_DIR, Nl2SqlSettings
from shared.api.app import create_app
from shared.api.context import ServiceContext

DEMO_CUSTOMERS = 120  # ~600 orders: enough rows for every region, generated in a fraction of a second
NORTH_AMERICA = 1  # dana's region in policies/demo.yaml


class CannedPipeline:
    """Test double of :class:`models.AskPipeline`: replays an Answer, reports stages, records its calls."""

    def __init__(self, answer: Callable[[str, str], Answer] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer = answer or (
            lambda q, c: Answer(
                question=q,
                connection=c,
                status="ok",
                sql="SELECT COUNT(*) AS n FROM orders",
                executed_sql="SELECT COUNT(*) AS n FROM orders LIMIT 101",
                columns=["n"],
                rows=[[42]],
                chart=Chart(kind="kpi", reason="a single row of numbers"),
                timings_ms={"linking": 1.0, "generation": 2.0, "validation": 0.5, "execution": 0.7},
            )
        )

    def ask(
        self,
        question: str,
        connection: str,
        *,
        user: str | None = None,
        insight: bool = True,
        on_stage: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> Answer:
        self.calls.append({"question": question, "connection": connection, "user": user, "insight": insight})
        for stage in ("linking", "generation", "validation", "execution"):
            if on_stage:
                on_stage(stage, {})
        return self.answer(question, connection)


class RecordingExamples:
    def __init__(self) -> None:
        self.added: list[tuple[str, str, str, str | None]] = []

    def add(self, connection: str, question: str, sql: str, user: str | None) -> None:
        self.added.append((connection, question, sql, user))


def headers(user: str = "analyst") -> dict[str, str]:
    return {"X-User-Id": user}


def query(path: Path, sql: str) -> list[tuple]:
    """Ground truth, read straight from the SQLite file (not through the code under test)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sqlite(tmp_path_factory.mktemp("nl2sql-demo") / "demo.sqlite", generate(n_customers=DEMO_CUSTOMERS))


@pytest.fixture
def nl_settings(tmp_path: Path, demo_sqlite: Path) -> Nl2SqlSettings:
    return Nl2SqlSettings(
        data_dir=tmp_path / "data",
        sqlite_roots=[demo_sqlite.parent, tmp_path / "dbs"],
        semantic_dir=PROJECT_DIR / "semantic",
        policies_dir=PROJECT_DIR / "policies",
        row_limit=100,
        export_row_limit=50,
        statement_timeout_ms=3000,
        sample_values=2,
        demo_customers=DEMO_CUSTOMERS,
    )


@pytest.fixture
def pipeline() -> CannedPipeline:
    return CannedPipeline()


@pytest.fixture
def service(database_url: str, nl_settings: Nl2SqlSettings, pipeline: CannedPipeline, demo_sqlite: Path):
    svc = Nl2SqlService(database_url, nl_settings, pipeline=pipeline)
    svc.register_connection("demo-admin", "demo", str(demo_sqlite))
    return svc


@pytest.fixture
def client(database_url: str, service: Nl2SqlService, nl_settings: Nl2SqlSettings) -> Iterator[TestClient]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("nl2sql-test", routers=[("/analytics", create_router(ctx, nl_settings, service=service))])
    with TestClient(app) as c:
        yield c
