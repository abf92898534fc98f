"""The HTTP surface on the real service (embedded PostgreSQL, the real queue and tools; a scripted model): runs,
the live event stream, approvals over HTTP, tenant isolation, and every bad input refused with nothing stored."""

from __future__ import annotations

import json

import psycopg
import pytest

from projects.autonomous_agent.service import AgentService
from projects.autonomous_agent.settings import AgentSettings
from projects.autonomous_agent.tests.conftest import RecordingTool
from shared.testing.doubles import ToolCallingChat, tool_call

PREFIX = "/agent"
H = {"X-User-Id": "alice", "X-Tenant-Id": "acme"}
OTHER = {"X-User-Id": "mallory", "X-Tenant-Id": "evil"}


@pytest.fixture
def service(database_url: str, tmp_path):
    settings = AgentSettings(
        workspace_root=tmp_path / "ws",
        memory=False,
        plan=False,
        verify_with_model=False,
        inline_worker=False,
        moderate_goals=False,  # the rail is tested on its own (test_goals_pass_the_input_rail...)
    )
    svc = AgentService(database_url, ToolCallingChat("FINAL ANSWER: ok"), None, settings)
    svc.registry.register(RecordingTool(permission="network"))
    yield svc
    svc.queue.close()


@pytest.fixture
def client(database_url: str, service):
    from fastapi.testclient import TestClient

    from projects.autonomous_agent.api import create_router
    from shared.api.app import create_app
    from shared.api.context import ServiceContext

    ctx = ServiceContext(database_url=database_url)
    app = create_app("ag-test", routers=[(PREFIX, create_router(ctx, service.settings, service=service))])
    with TestClient(app) as c:
        yield c


def problem(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["type"].endswith(code), body
    return body


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_run_events_and_stream(client, service) -> None:
    service.loop.chat.replies = [tool_call("calculator", expression="6 * 7"), "FINAL ANSWER: 42"]
    started = client.post(f"{PREFIX}/runs", json={"goal": "What is 6 * 7?", "tools": ["calculator"]}, headers=H)
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] == "queued" and run["tools"] == ["calculator"] and run["job_id"]
    service.drain()
    got = client.get(f"{PREFIX}/runs/{run['id']}", headers=H).json()
    assert got["status"] == "succeeded" and got["final_answer"].startswith("42") and got["plan"]
    events = client.get(f"{PREFIX}/runs/{run['id']}/events", headers=H).json()
    assert [e["kind"] for e in events] == ["plan", "action", "observation", "thought", "final"]
    later = client.get(f"{PREFIX}/runs/{run['id']}/events", params={"after": events[2]["id"]}, headers=H).json()
    assert [e["kind"] for e in later] == ["thought", "final"]
    with client.stream("GET", f"{PREFIX}/runs/{run['id']}/events?stream=true", headers=H) as resp:
        body = "".join(resp.iter_text())
    assert body.count("event: event") == 5 and "event: end" in body and '"status": "succeeded"' in body
    assert [r["id"] for r in client.get(f"{PREFIX}/runs", headers=H).json()] == [run["id"]]
    tools = {t["name"]: t for t in client.get(f"{PREFIX}/tools", headers=H).json()}
    assert tools["notify"]["needs_approval"] and not tools["calculator"]["needs_approval"]


def test_approval_over_http_and_tenant_isolation(client, service, database_url: str) -> None:
    service.loop.chat.replies = [tool_call("notify", text="hello"), "FINAL ANSWER: done"]
    run = client.post(f"{PREFIX}/runs", json={"goal": "Say hello to ops"}, headers=H).json()
    service.drain()
    got = client.get(f"{PREFIX}/runs/{run['id']}", headers=H).json()
    assert got["status"] == "waiting_approval" and got["pending_approval"]["tool"] == "notify"
    approval_id = got["pending_approval"]["id"]

    problem(client.get(f"{PREFIX}/runs/{run['id']}", headers=OTHER), 404, "run-not-found")
    problem(client.post(f"{PREFIX}/approvals/{approval_id}", json={"approve": True}, headers=OTHER), 404,
            "run-not-found")  # fmt: skip
    assert client.get(f"{PREFIX}/approvals", headers=OTHER).json() == []
    assert [a["id"] for a in client.get(f"{PREFIX}/approvals", headers=H).json()] == [approval_id]

    decided = client.post(f"{PREFIX}/approvals/{approval_id}", json={"approve": True}, headers=H)
    assert decided.status_code == 200 and decided.json()["decided_by"] == "alice"
    again = client.post(f"{PREFIX}/approvals/{approval_id}", json={"approve": False}, headers=H)
    assert "already approved by alice" in problem(again, 409, "state-conflict")["detail"]
    service.drain()
    assert client.get(f"{PREFIX}/runs/{run['id']}", headers=H).json()["status"] == "succeeded"
    problem(client.post(f"{PREFIX}/runs/{run['id']}/cancel", headers=H), 409, "state-conflict")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"goal": ""}, 422, "empty-goal"),
        ({"goal": "x" * 5000}, 413, "goal-too-long"),
        ({"goal": "hi", "tools": ["shell"]}, 422, "unknown-tools"),
        ({"goal": "hi", "budget": {"max_steps": 100_000}}, 422, "invalid-budget"),
    ],
)
def test_bad_runs_are_refused_and_store_nothing(client, database_url: str, body, status, code) -> None:
    problem(client.post(f"{PREFIX}/runs", json=body, headers=H), status, code)
    assert count(database_url, "ag_runs") == 0


def test_malformed_requests(client, database_url: str) -> None:
    bad_utf8 = client.post(f"{PREFIX}/runs", content=b'{"goal": "\xff\xfe"}',
                           headers={**H, "Content-Type": "application/json"})  # fmt: skip
    assert bad_utf8.status_code in (400, 422), bad_utf8.text
    assert client.post(f"{PREFIX}/runs", json={"goal": "hi", "budget": {"max_steps": -3}}, headers=H).status_code == 422
    assert client.get(f"{PREFIX}/runs/../../etc/passwd", headers=H).status_code == 404
    assert client.get(f"{PREFIX}/runs/run_nothexdigits", headers=H).status_code == 422
    problem(client.get(f"{PREFIX}/runs/run_000000000000", headers=H), 404, "run-not-found")
    assert client.post(f"{PREFIX}/runs", json={"goal": "hi"}).status_code == 401  # no user/tenant headers
    assert client.post(f"{PREFIX}/approvals/apr_000000000000", json={"approve": "maybe"}, headers=H).status_code == 422
    assert json.loads(client.get(f"{PREFIX}/runs", headers=H).text) == []
    assert count(database_url, "ag_runs") == 0
