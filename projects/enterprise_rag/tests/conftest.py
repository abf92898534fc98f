"""Fixtures: the real embedded PostgreSQL and local embedder; a recording ChatModel double for orchestration tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from projects.enterprise_rag.api import create_router
from projects.enterprise_rag.service import RagService
from projects.enterprise_rag.settings import RagSettings
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.serving.embeddings import LocalEmbedder
from shared.testing.doubles import RecordingChat


def headers(user: str = "alice", tenant: str = "acme", groups: str = "") -> dict[str, str]:
    return {"X-User-Id": user, "X-Tenant-Id": tenant, "X-Groups": groups}


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def chat() -> RecordingChat:
    return RecordingChat()


@pytest.fixture
def rag_settings(tmp_path) -> RagSettings:
    return RagSettings(inline_worker=False, max_upload_bytes=50_000, sync_roots=[tmp_path])


@pytest.fixture
def service(database_url: str, embedder: LocalEmbedder, chat: RecordingChat, rag_settings: RagSettings) -> RagService:
    svc = RagService(database_url, embedder, chat, rag_settings)
    yield svc
    svc.queue.close()


@pytest.fixture
def client(database_url: str, service: RagService, rag_settings: RagSettings) -> Iterator[TestClient]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("rag-test", routers=[("/rag", create_router(ctx, rag_settings, service=service))])
    with TestClient(app) as c:
        yield c


def upload(client: TestClient, collection: str, files: dict[str, bytes], **hdrs: Any):
    return client.post(
        f"/rag/collections/{collection}/documents",
        files=[("files", (name, data)) for name, data in files.items()],
        headers=headers(**hdrs),
    )
