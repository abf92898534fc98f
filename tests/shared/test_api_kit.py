"""The API kit's behaviour, on a tiny app built by ``create_app`` (real middleware, real handlers)."""

from __future__ import annotations

import io
import json
import threading
import uuid

import httpx
import pytest
from anyio import to_thread
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from sse_starlette import EventSourceResponse

from shared.api.app import create_app
from shared.api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from shared.api.serve import serve_in_thread
from shared.observability.logging import configure_logging
from shared.settings import ApiSettings, ObservabilitySettings, Settings

KEY = "test-key-123"


class Item(BaseModel):
    name: str
    qty: int = 1


def _router(release: threading.Event | None = None) -> APIRouter:
    router = APIRouter()

    @router.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @router.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict:
        if item_id == 404:
            raise ProblemError(404, "Not Found", f"no item {item_id}")
        return {"id": item_id}

    @router.post("/upload")
    async def upload(file: UploadFile = File(...)) -> dict:
        return {"size": len(await file.read())}

    @router.post("/raw")
    async def raw(request: Request) -> dict:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        return {"size": total}

    @router.get("/stream")
    async def stream() -> EventSourceResponse:
        async def events():
            yield {"event": "token", "data": "first"}
            if release is not None:
                released = await to_thread.run_sync(release.wait, 20)
                yield {"event": "token", "data": "after-release" if released else "timed-out"}
            else:
                yield {"event": "token", "data": "second"}
            yield {"event": "done", "data": "[DONE]"}

        return EventSourceResponse(events())

    return router


def _app(
    *, keys: list[str] | None = None, rate: str = "1000/minute", max_body: int = 1024, max_upload: int = 4096,
    checks=None, release=None,
):  # fmt: skip
    settings = Settings(
        api=ApiSettings(
            api_keys=[SecretStr(k) for k in keys or []],
            rate_limit=rate,
            max_body_bytes=max_body,
            max_upload_body_bytes=max_upload,
        ),
        observability=ObservabilitySettings(service_name="kit-test", log_json=True),
    )
    return create_app("kit-test", routers=[("/v1", _router(release))], readiness_checks=checks, settings=settings)


@pytest.fixture
def client() -> TestClient:
    return TestClient(_app())


def _is_problem(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = resp.json()
    assert body["status"] == status and body["title"]
    assert body["request_id"] == resp.headers["x-request-id"]
    return body


def test_health_and_valid_request(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    resp = client.post("/v1/items", json={"name": "a", "qty": 2})
    assert resp.status_code == 200 and resp.json() == {"name": "a", "qty": 2}


def test_malformed_json_is_400_problem(client: TestClient) -> None:
    resp = client.post("/v1/items", content=b'{"name": "a",', headers={"content-type": "application/json"})
    body = _is_problem(resp, 400)
    assert body["type"].endswith("malformed-json")


def test_schema_violation_is_422_problem_with_field_errors(client: TestClient) -> None:
    body = _is_problem(client.post("/v1/items", json={"qty": "many"}), 422)
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "name") in locs and ("body", "qty") in locs


def test_service_problem_error_and_unknown_route(client: TestClient) -> None:
    assert _is_problem(client.get("/v1/items/404"), 404)["detail"] == "no item 404"
    _is_problem(client.get("/nope"), 404)


def test_oversized_body_with_content_length_is_413(client: TestClient) -> None:
    body = _is_problem(client.post("/v1/items", json={"name": "x" * 2000}), 413)
    assert "1024" in body["detail"]


def test_file_uploads_have_their_own_larger_cap(client: TestClient) -> None:
    # 3,000 bytes: over the JSON cap (1,024), under the multipart cap (4,096)
    ok = client.post("/v1/upload", files={"file": ("a.bin", b"x" * 3000, "application/octet-stream")})
    assert ok.status_code == 200, ok.text
    _is_problem(client.post("/v1/raw", content=b"x" * 3000, headers={"content-type": "application/json"}), 413)
    body = _is_problem(
        client.post("/v1/upload", files={"file": ("a.bin", b"x" * 5000, "application/octet-stream")}), 413
    )
    assert "4096" in body["detail"]


def test_oversized_chunked_body_without_content_length_is_413(client: TestClient) -> None:
    def chunks():
        for _ in range(10):
            yield b"x" * 200

    # a generator body is sent with Transfer-Encoding: chunked and no Content-Length
    _is_problem(client.post("/v1/raw", content=chunks(), headers={"content-type": "application/json"}), 413)
    _is_problem(client.post("/v1/items", content=chunks(), headers={"content-type": "application/json"}), 413)
    small = client.post("/v1/raw", content=iter([b"x" * 100]), headers={"content-type": "application/json"})
    assert small.status_code == 200 and small.json() == {"size": 100}


def test_oversized_chunked_body_over_real_http_is_413() -> None:
    with serve_in_thread(_app()) as url:
        resp = httpx.post(
            url + "/v1/items", content=iter([b"y" * 600, b"y" * 600]), headers={"content-type": "application/json"}
        )
    assert resp.status_code == 413 and resp.json()["status"] == 413


def test_wrong_content_type_is_415(client: TestClient) -> None:
    body = _is_problem(client.post("/v1/items", content=b"name=a", headers={"content-type": "text/plain"}), 415)
    assert "application/json" in body["detail"]
    _is_problem(client.post("/v1/items", content=b'{"name":"a"}', headers={"content-type": "application/xml"}), 415)
    ok = client.post("/v1/items", content=b'{"name":"a"}', headers={"content-type": "application/merge-patch+json"})
    assert ok.status_code == 200


def test_form_routes_accept_multipart(client: TestClient) -> None:
    resp = client.post("/v1/upload", files={"file": ("a.txt", b"hello", "text/plain")})
    assert resp.status_code == 200 and resp.json() == {"size": 5}


def test_api_key_auth() -> None:
    client = TestClient(_app(keys=[KEY, "other-key"]))
    body = _is_problem(client.get("/v1/items/1"), 401)
    assert "missing" in body["detail"]
    _is_problem(client.get("/v1/items/1", headers={"X-API-Key": "wrong"}), 401)
    _is_problem(client.get("/v1/items/1", headers={"Authorization": "Bearer wrong"}), 401)
    assert client.get("/v1/items/1", headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/v1/items/1", headers={"Authorization": "Bearer other-key"}).status_code == 200
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_auth_disabled_without_keys(client: TestClient) -> None:
    assert client.get("/v1/items/1").status_code == 200


def test_rate_limit_per_key_returns_429_with_retry_after() -> None:
    client = TestClient(_app(keys=["k1", "k2"], rate="3/minute"))
    for _ in range(3):
        assert client.get("/v1/items/1", headers={"X-API-Key": "k1"}).status_code == 200
    resp = client.get("/v1/items/1", headers={"X-API-Key": "k1"})
    body = _is_problem(resp, 429)
    assert int(resp.headers["retry-after"]) >= 1
    assert "3 per 1 minute" in body["detail"]
    # another key has its own budget; probes are never limited
    assert client.get("/v1/items/1", headers={"X-API-Key": "k2"}).status_code == 200
    assert client.get("/health").status_code == 200


def test_ready_reports_checks_and_503_when_one_fails() -> None:
    def broken() -> None:
        raise RuntimeError("database unreachable")

    ok = TestClient(_app(checks={"db": lambda: None}))
    resp = ok.get("/ready")
    assert resp.status_code == 200 and resp.json()["checks"]["db"]["status"] == "ok"

    failing = TestClient(_app(checks={"db": lambda: None, "model": broken}))
    body = _is_problem(failing.get("/ready"), 503)
    by_check = {e["check"]: e for e in body["errors"]}
    assert by_check["model"]["status"] == "fail" and "database unreachable" in by_check["model"]["error"]
    assert by_check["db"]["status"] == "ok"
    assert failing.get("/health").status_code == 200  # liveness does not depend on readiness


def test_request_id_echoed_or_generated(client: TestClient) -> None:
    rid = uuid.uuid4().hex
    resp = client.get("/v1/items/1", headers={"X-Request-ID": rid})
    assert resp.headers["x-request-id"] == rid
    generated = client.get("/v1/items/1").headers["x-request-id"]
    assert generated and generated != rid
    assert client.get("/v1/items/1", headers={"X-Request-ID": "bad id\nwith newline"}).headers["x-request-id"] != (
        "bad id\nwith newline"
    )


def test_structured_json_log_line_carries_request_id(client: TestClient) -> None:
    buf = io.StringIO()
    configure_logging(ObservabilitySettings(service_name="kit-test", log_json=True), stream=buf)
    rid = uuid.uuid4().hex
    client.get("/v1/items/7", headers={"X-Request-ID": rid})
    lines = [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    access = [r for r in lines if r.get("logger") == "shared.api.access" and r.get("request_id") == rid]
    assert access, lines
    assert access[0]["route"] == "/v1/items/{item_id}" and access[0]["status"] == 200
    assert access[0]["service"] == "kit-test" and access[0]["level"] == "INFO"


def test_metrics_labelled_by_route_template(client: TestClient) -> None:
    for i in (11, 12, 13):
        client.get(f"/v1/items/{i}")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/v1/items/{item_id}",service="kit-test",status="200"}' in text
    assert "http_request_duration_seconds_bucket" in text
    assert 'route="/v1/items/11"' not in text


def test_openapi_documents_problem_responses_on_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status in ("400", "401", "413", "415", "422", "429", "500"):
                assert status in op["responses"], (method, path, status)
                assert "application/problem+json" in op["responses"][status]["content"]
    assert "503" in spec["paths"]["/ready"]["get"]["responses"]


def test_openapi_declares_api_key_schemes_when_auth_on() -> None:
    spec = TestClient(_app(keys=[KEY])).get("/openapi.json").json()
    assert {"ApiKeyHeader", "BearerKey"} <= set(spec["components"]["securitySchemes"])


def test_cors_preflight_and_headers() -> None:
    client = TestClient(_app(keys=[KEY]))
    origin = "http://127.0.0.1:8501"
    pre = client.options(
        "/v1/items", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )  # a preflight carries no key and must not be rejected
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == origin
    denied = client.options(
        "/v1/items", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in denied.headers


def test_sse_stream_passes_through_middleware_unbuffered() -> None:
    """The client reads the first event while the server still waits for it; a buffering middleware would
    hold that event back until the generator ends, and the generator would report a timeout instead."""
    release = threading.Event()
    with (
        serve_in_thread(_app(release=release)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
        http.stream("GET", "/v1/stream", headers={"X-Request-ID": "sse-1"}) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-request-id"] == "sse-1"
        data: list[str] = []
        for line in resp.iter_lines():
            if line.startswith("data:"):
                data.append(line.split(":", 1)[1].strip())
                if data == ["first"]:
                    release.set()
                if data[-1] == "[DONE]":
                    break
    assert data == ["first", "after-release", "[DONE]"]
