"""The standalone app: the kit's operational routes plus the router, service built on first request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from projects.enterprise_rag.app import build_app
from shared.api.context import ServiceContext

from .conftest import headers


def test_standalone_app_serves_the_router_and_readiness(database_url: str) -> None:
    app = build_app(ServiceContext(database_url=database_url))
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 503  # project tables not created before the first request
        assert client.post("/rag/collections", json={"name": "kb"}, headers=headers()).status_code == 201
        assert client.get("/ready").status_code == 200
        assert [c["name"] for c in client.get("/rag/collections", headers=headers()).json()] == ["kb"]
        paths = app.openapi()["paths"]
        assert "/rag/chat/stream" in paths and "404" in paths["/rag/chat"]["post"]["responses"]
