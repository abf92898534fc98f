"""The standalone app: the kit's operational routes plus the router; the service is built on first request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from projects.nl2sql_analytics.app import build_app
from shared.api.context import ServiceContext

from .api_support import CannedPipeline


def test_standalone_app_serves_the_router_and_readiness(database_url: str, nl_settings) -> None:
    app = build_app(ServiceContext(database_url=database_url), settings=nl_settings, pipeline=CannedPipeline())
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 503  # project tables not created before the first request
        assert client.get("/analytics/connections", headers={"X-User-Id": "a"}).json() == []
        assert client.get("/ready").status_code == 200
        paths = app.openapi()["paths"]
        assert "/analytics/ask/stream" in paths and "/analytics/export.csv" in paths
        responses = paths["/analytics/sql"]["post"]["responses"]
        assert {"403", "404", "422", "504"} <= set(responses)
