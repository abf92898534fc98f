"""Fixtures: the real embedded PostgreSQL, the real parser/OCR, the local embedder; a scripted chat model where a
test checks orchestration (what the service does with a model's answer), never as the default path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from projects.document_intelligence.api import create_router
from projects.document_intelligence.service import DocumentService
from projects.document_intelligence.settings import DocIntSettings
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.serving.embeddings import LocalEmbedder
from shared.testing.doubles import RecordingChat


def headers(user: str = "alice", tenant: str = "acme") -> dict[str, str]:
    return {"X-User-Id": user, "X-Tenant-Id": tenant}


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def chat() -> RecordingChat:
    return RecordingChat('{"doc_type": "other"}')


@pytest.fixture
def di_settings() -> DocIntSettings:
    # heuristic extraction only (the LLM path has its own tests); small limits so bad-input cases stay cheap
    return DocIntSettings(inline_worker=False, extract_llm=False, max_upload_bytes=2_000_000, max_pages=50)


@pytest.fixture
def service(
    database_url: str, embedder: LocalEmbedder, chat: RecordingChat, di_settings: DocIntSettings
) -> Iterator[DocumentService]:
    svc = DocumentService(database_url, embedder, lambda: chat, di_settings)
    yield svc
    svc.queue.close()


@pytest.fixture
def client(database_url: str, service: DocumentService, di_settings: DocIntSettings) -> Iterator[TestClient]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("docint-test", routers=[("/docintel", create_router(ctx, di_settings, service=service))])
    with TestClient(app) as c:
        yield c


def upload(client: TestClient, filename: str, data: bytes, **form: str):
    return client.post("/docintel/documents", files={"file": (filename, data)}, data=form, headers=headers())
