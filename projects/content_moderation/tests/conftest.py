"""Fixtures of the service tests: the real service on a fresh embedded-PostgreSQL database, the real cascade at
tier ``fast`` (keywords + packaged classifiers, loaded once per process by ``default_cascade``)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from projects.content_moderation.api import create_router
from projects.content_moderation.service import ModerationService
from projects.content_moderation.settings import ContentModerationSettings
from shared.api.app import create_app
from shared.api.context import ServiceContext

PREFIX = "/moderation"
REVIEWERS = "moderators"


def headers(user: str = "alice", tenant: str = "acme", groups: str | None = None) -> dict[str, str]:
    out = {"X-User-Id": user, "X-Tenant-Id": tenant}
    if groups:
        out["X-Groups"] = groups
    return out


def reviewer(name: str, tenant: str = "acme") -> dict[str, str]:
    return headers(name, tenant, REVIEWERS)


def count(url: str, table: str, where: str = "TRUE") -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


@pytest.fixture
def settings() -> ContentModerationSettings:
    return ContentModerationSettings(
        tiers="fast", inline_worker=False, max_batch_texts=5, max_job_texts=20, webhook_backoff_s=0.01,
        webhook_timeout_s=2.0, webhook_max_attempts=3,
    )  # fmt: skip


@pytest.fixture
def service(database_url: str, settings: ContentModerationSettings) -> Iterator[ModerationService]:
    svc = ModerationService(database_url, settings)
    yield svc
    svc.queue.close()


@pytest.fixture
def client(database_url: str, service: ModerationService, settings: ContentModerationSettings) -> Iterator[TestClient]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("cm-test", routers=[(PREFIX, create_router(ctx, settings, service=service))])
    with TestClient(app) as c:
        yield c
