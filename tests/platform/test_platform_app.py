"""The platform composition: registry, lazy models, project mounting, readiness against the real database."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import projects
from projects.platform import app as platform_app
from projects.platform.models import LazyChatModel
from projects.platform.registry import PROJECTS, Project, get_project
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest, ChatResult, StreamChunk
from shared.settings import ApiSettings, Settings


def test_registry_lists_the_eight_projects() -> None:
    assert len(PROJECTS) == 8
    assert len({p.slug for p in PROJECTS}) == 8 and len({p.prefix for p in PROJECTS}) == 8
    assert {p.prefix for p in PROJECTS} == {
        "/rag", "/support", "/code", "/docintel", "/agent", "/search", "/analytics", "/moderation"
    }  # fmt: skip
    for p in PROJECTS:
        assert p.title and p.description and p.status in {"planned", "alpha", "beta", "stable"}
        assert p.router_factory == f"projects.{p.slug}.api:create_router"
        # a project still marked planned must not have landed unnoticed, and vice versa
        assert (p.status == "planned") == (not p.has_router()), p.slug
    assert get_project("nl2sql_analytics").prefix == "/analytics"


class _EchoModel(ChatModel):
    """Test double at the model boundary: this test is about loading and readiness, not generation."""

    backend, model = "echo", "m"

    def chat(self, request: ChatRequest) -> ChatResult:
        return ChatResult(text=request.messages[-1].content or "", model=self.model, backend=self.backend)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        yield StreamChunk(delta=request.messages[-1].content or "", finish_reason="stop")


def test_lazy_chat_model_loads_once_on_use_and_reports_readiness() -> None:
    calls = []
    lazy = LazyChatModel("m", "local", lambda: calls.append(1) or _EchoModel())
    assert (lazy.model, lazy.backend) == ("m", "local") and not calls  # listing models does not load
    with pytest.raises(RuntimeError, match="still loading"):
        lazy.check()
    chunks = lazy.stream(ChatRequest(messages=[ChatMessage.user("hi")]))
    assert not calls  # a stream loads on its first chunk (in the worker thread), not when created
    assert [c.delta for c in chunks] == ["hi"]
    assert lazy.chat(ChatRequest(messages=[ChatMessage.user("yo")])).text == "yo"
    assert calls == [1]
    lazy.check()

    def boom() -> ChatModel:
        raise OSError("weights missing")

    failing = LazyChatModel("x", "local", boom)
    failing.warm()  # logs, does not raise: the process keeps serving and /ready says why
    with pytest.raises(RuntimeError, match="weights missing"):
        failing.check()


@pytest.fixture
def fake_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A landed project package (``projects.demo_fake``) on a temporary path, registered in PROJECTS."""
    pkg = tmp_path / "demo_fake"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "api.py").write_text(
        textwrap.dedent(
            """
            from fastapi import APIRouter

            def create_router(ctx):
                router = APIRouter()

                @router.get("/hello")
                def hello() -> dict:
                    return {"db": ctx.database_url is not None, "model": ctx.served_chat_model_name()}

                return router
            """
        )
    )
    monkeypatch.setattr(projects, "__path__", [*projects.__path__, str(tmp_path)])
    project = Project("demo_fake", "Demo fake", "a test project", "/fake", status="alpha")
    monkeypatch.setattr(platform_app, "PROJECTS", (*PROJECTS, project))
    yield project
    sys.modules.pop("projects.demo_fake.api", None)
    sys.modules.pop("projects.demo_fake", None)


@pytest.mark.db
def test_platform_mounts_landed_projects_and_checks_readiness(database_url: str, fake_project: Project) -> None:
    settings = Settings()
    app = platform_app.create_platform_app(settings, database_url=database_url, warm_models=False)
    assert "demo_fake" in app.state.mounted_projects
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        hello = client.get("/fake/hello")
        assert hello.status_code == 200
        assert hello.json() == {"db": True, "model": settings.serving.local_model}
        ready = client.get("/ready")
        assert ready.status_code == 503  # the model is not loaded (not warmed here) ...
        checks = {e["check"]: e["status"] for e in ready.json()["errors"]}
        assert checks == {"database": "ok", "chat_model": "fail"}  # ... but the real database answered
        spec = client.get("/openapi.json").json()
        assert "/fake/hello" in spec["paths"] and "Demo fake" in spec["paths"]["/fake/hello"]["get"]["tags"]


@pytest.mark.db
def test_model_server_mounted_at_v1(database_url: str) -> None:
    app = platform_app.create_platform_app(Settings(), database_url=database_url, warm_models=False)
    with TestClient(app) as client:
        resp = client.get("/v1/models")
    assert resp.status_code == 200
    assert Settings().serving.local_model in [m["id"] for m in resp.json()["data"]]


@pytest.mark.db
def test_bad_chat_requests_get_precise_problem_bodies_from_the_platform(database_url: str) -> None:
    """The acceptance's bad-input list, through the real platform app (each rejected before any model work)."""
    settings = Settings(api=ApiSettings(max_body_bytes=4096))
    app = platform_app.create_platform_app(settings, database_url=database_url, warm_models=False)
    model = settings.serving.local_model
    hello = [{"role": "user", "content": "hi"}]
    with TestClient(app) as client:
        cases = {
            "malformed JSON": client.post(
                "/v1/chat/completions",
                content=b'{"model": "x", "messages": [',
                headers={"content-type": "application/json"},
            ),
            "oversized body": client.post(
                "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "x" * 10_000}]}
            ),
            "wrong content type": client.post(
                "/v1/chat/completions", content=b"model=x", headers={"content-type": "text/plain"}
            ),
            "unknown model": client.post("/v1/chat/completions", json={"model": "no-such-model", "messages": hello}),
            "invalid schema": client.post(
                "/v1/chat/completions",
                json={
                    "model": model,
                    "messages": hello,
                    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 12}}},
                },
            ),
        }
    expected = {"malformed JSON": 400, "oversized body": 413, "wrong content type": 415, "unknown model": 404,
                "invalid schema": 400}  # fmt: skip
    for name, resp in cases.items():
        assert resp.status_code == expected[name], (name, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json"), name
        body = resp.json()
        assert body["status"] == expected[name] and body["title"] and body.get("detail"), (name, body)


def test_readiness_fails_when_database_is_unreachable(tmp_path: Path) -> None:
    bad = f"postgresql:///nope?host={tmp_path}&connect_timeout=1"
    app = platform_app.create_platform_app(Settings(), database_url=bad, warm_models=False)
    with TestClient(app) as client:
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert {e["check"]: e["status"] for e in ready.json()["errors"]}["database"] == "fail"
