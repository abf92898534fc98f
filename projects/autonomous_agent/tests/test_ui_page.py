"""The agent page, headless with AppTest, against the real API on a socket (real service, router, queue, tools and
embedded PostgreSQL; a scripted model, since what is under test is the page): starting a goal and following it
live to its answer, approving and denying a dangerous call from the page, browsing past runs with a
supervisor's worker runs, retrying a failed run, cancelling one, and the API being down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from projects.autonomous_agent.api import create_router
from projects.autonomous_agent.demo import DEMO_GOALS, TENANT
from projects.autonomous_agent.service import AgentService
from projects.autonomous_agent.settings import AgentSettings
from projects.autonomous_agent.tests.conftest import RecordingTool
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.testing.doubles import ToolCallingChat, tool_call
from shared.testing.portal import api_for_portal, background_worker, run_page_with_api_down

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"
TIMEOUT = 45  # one page run: a follow ends within seconds once the worker has the job


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[AgentService]:
    settings = AgentSettings(
        workspace_root=tmp_path / "ws", memory=False, plan=False, verify_with_model=False, inline_worker=False
    )
    svc = AgentService(database_url, ToolCallingChat("FINAL ANSWER: ok"), None, settings)
    svc.registry.register(RecordingTool(permission="network"))
    yield svc
    svc.queue.close()


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str, service: AgentService) -> Iterator[str]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("ag-ui-test", routers=[("/agent", create_router(ctx, service.settings, service=service))])
    with api_for_portal(app, monkeypatch) as url:
        yield url


@contextmanager
def worker(service) -> Iterator[None]:
    """Work the job queue in the background while the page polls (the API's inline worker is off in tests)."""
    with background_worker(service.drain):
        yield


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def codes(at: AppTest) -> str:
    return "\n".join(c.value for c in at.code)


def notify(service: AgentService) -> RecordingTool:
    return service.registry.get("notify")  # type: ignore[return-value]


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_start_a_goal_and_follow_it_to_the_answer(live_api: str, service: AgentService) -> None:
    at = ok(AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run())
    tools = at.multiselect(key="ag_tools")
    assert "calculator" in tools.value and "notify" in tools.value and "delegate" not in tools.options
    assert "notify (asks you first)" in tools.options  # the dangerous one is marked

    ok(at.button(key="ag_start").click().run())  # an empty goal: the API's problem, nothing stored
    assert "422" in at.error[0].value and "empty-goal" in at.error[0].value and service.list_runs() == []

    ok(at.selectbox(key="ag_example").set_value(0).run())  # an example fills the form
    assert at.text_area(key="ag_goal").value == DEMO_GOALS[0].goal
    assert at.multiselect(key="ag_tools").value == ["sql_query", "calculator"]

    service.settings.plan = True
    plan = {"steps": [
        {"description": "Compute 6 * 7 with the calculator", "success_criterion": "the calculator returns a number"},
        {"description": "Answer with the product", "success_criterion": "the answer states the number"},
    ]}  # fmt: skip
    service.loop.chat.replies = [json.dumps(plan), tool_call("calculator", expression="6 * 7"), "FINAL ANSWER: 42"]
    at.text_area(key="ag_goal").set_value("What is 6 * 7?")
    at.multiselect(key="ag_tools").set_value(["calculator"])
    at.number_input(key="ag_steps").set_value(5)
    with worker(service):
        ok(at.button(key="ag_start").click().run())  # starts, follows the run to its end, reruns
    [run] = service.list_runs(TENANT)
    assert run.status == "succeeded" and run.tools == ["calculator"] and run.budget.max_steps == 5
    assert at.session_state["ag_current"] == run.id
    assert at.success[0].value == "42"  # the answer
    shown = texts(at)
    assert "✓ **1. Compute 6 * 7 with the calculator**" in shown and "done when: _the calculator returns" in shown
    assert "**Action** · step 1 · calls `calculator`" in shown and "`calculator` result" in shown
    assert '"expression": "6 * 7"' in codes(at) and "42" in codes(at)
    assert "**Evidence**\n- step 1 (Compute 6 * 7 with the calculator): calculator: 42" in shown
    assert "**Finished: succeeded**" in shown


def test_approve_a_pending_call_from_the_page(live_api: str, service: AgentService) -> None:
    service.loop.chat.replies = [tool_call("notify", text="Deploy finished"), "FINAL ANSWER: ops were told"]
    at = ok(AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run())
    at.text_area(key="ag_goal").set_value("Tell the ops channel that the deploy finished")
    with worker(service):
        ok(at.button(key="ag_start").click().run())  # follows until the run waits for a human
    [run] = service.list_runs(TENANT)
    assert run.status == "waiting_approval" and notify(service).calls == []
    [approval] = service.approvals(TENANT)
    shown = texts(at)
    assert "**Waiting for your approval**" in shown and "**`notify`**, which needs **network** permission" in shown
    assert '"text": "Deploy finished"' in codes(at)
    assert "1 call waiting for approval" in at.sidebar.warning[0].value

    at.text_input(key=f"ag_note_{approval.id}").set_value("go ahead")
    with worker(service):
        ok(at.button(key=f"ag_approve_{approval.id}").click().run())  # decides, follows the run to its end
    assert service.get_run(run.id).status == "succeeded" and notify(service).calls == [{"text": "Deploy finished"}]
    decided = service.store.get_approval(approval.id)
    assert (decided.status, decided.decided_by, decided.note) == ("approved", "operator", "go ahead")
    assert at.success[0].value == "ops were told" and "Approved by operator: the call ran." in at.success[1].value
    assert not at.sidebar.warning


def test_deny_from_the_approvals_view(live_api: str, service: AgentService) -> None:
    service.loop.chat.replies = [tool_call("notify", text="Deploy finished"), "FINAL ANSWER: ops were not told"]
    run = service.start_run("Tell the ops channel that the deploy finished", tenant=TENANT)
    service.drain()
    [approval] = service.approvals(TENANT)
    at = ok(AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run())
    ok(at.sidebar.radio(key="ag_view").set_value("Approvals").run())
    assert "Goal: Tell the ops channel that the deploy finished" in texts(at)

    at.text_input(key=f"ag_note_{approval.id}").set_value("not during the change freeze")
    with worker(service):
        ok(at.button(key=f"ag_deny_{approval.id}").click().run())
    assert service.get_run(run.id).status == "succeeded" and notify(service).calls == []
    assert service.store.get_approval(approval.id).status == "denied"
    assert any("Denied by operator: not during the change freeze" in e.value for e in at.error)
    assert "Nothing is waiting for your approval." in at.info[0].value
    denied_prompt = service.loop.chat.calls[-1].messages[0].content
    assert "not during the change freeze" in denied_prompt  # the agent read the note


def test_browse_runs_workers_retry_and_cancel(live_api: str, service: AgentService) -> None:
    chat = service.loop.chat
    chat.replies = [tool_call("delegate", worker="analyst", goal="Compute 2 + 2"),
                    tool_call("calculator", expression="2 + 2"), "FINAL ANSWER: 4",
                    "FINAL ANSWER: the analyst computed 4"]  # fmt: skip
    boss = service.start_run("What is 2 + 2? Ask the analyst.", tenant=TENANT, agent="supervisor")
    service.drain()
    chat.replies = [tool_call("notify", text="hello")]
    waiting = service.start_run("Say hello to ops", tenant=TENANT)
    service.drain()
    lost = service.start_run("Count the open incidents", tenant=TENANT)
    assert service.store.transition(lost.id, "failed", allowed_from=("queued",), error="worker lost")
    service.drain()  # its queued job finds the run finished and does nothing
    assert [service.get_run(r).status for r in (boss.id, waiting.id, lost.id)] == [
        "succeeded", "waiting_approval", "failed"]  # fmt: skip

    at = ok(AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run())
    ok(at.sidebar.radio(key="ag_view").set_value("Runs").run())
    rows = at.dataframe[0].value.to_dict("records")
    assert [(r["goal"], r["status"], r["agent"]) for r in rows] == [
        ("Count the open incidents", "failed", "agent"), ("Say hello to ops", "waiting approval", "agent"),
        ("What is 2 + 2? Ask the analyst.", "succeeded", "supervisor")]  # fmt: skip
    assert rows[2]["steps"] == 1 and rows[2]["tokens"] > 0 and rows[2]["created"]
    assert at.selectbox(key="ag_open").value == lost.id and "worker lost" in at.error[0].value

    chat.replies = ["FINAL ANSWER: 3 open incidents"]
    with worker(service):
        ok(at.button(key=f"ag_retry_{lost.id}").click().run())  # queued again, followed to its end
    assert service.get_run(lost.id).status == "succeeded" and at.success[0].value == "3 open incidents"

    ok(at.selectbox(key="ag_open").set_value(boss.id).run())
    assert at.success[0].value == "the analyst computed 4"
    workers = at.dataframe[1].value.to_dict("records")  # [0] is the runs table
    assert [(w["worker"], w["goal"], w["status"], w["answer"]) for w in workers] == [
        ("analyst", "Compute 2 + 2", "succeeded", "4")]  # fmt: skip
    [child] = [e for e in at.expander if e.label.startswith("analyst: Compute 2 + 2")]
    assert any("calls `calculator`" in m.value for m in child.markdown)
    assert "calls `delegate`" in texts(at)

    ok(at.selectbox(key="ag_open").set_value(waiting.id).run())
    assert "**Waiting for your approval**" in texts(at)
    ok(at.button(key=f"ag_cancel_{waiting.id}").click().run())
    assert service.get_run(waiting.id).status == "cancelled"
    assert not any(b.key == f"ag_cancel_{waiting.id}" for b in at.button)  # finished runs cannot be cancelled


def test_trace_shows_checks_repairs_and_loop_recovery(live_api: str, service: AgentService) -> None:
    service.settings.plan = service.settings.verify_with_model = True
    plan = {"steps": [{"description": "Add 1 and 1", "success_criterion": "the sum is shown"}]}
    service.loop.chat.replies = [
        json.dumps(plan),
        '<tool_call>{"name": "calculator", "arguments": {"expression": </tool_call>',  # malformed: asked again
        tool_call("calculator", expression="1 + 1"),
        json.dumps({"satisfied": False, "evidence": "no sum in the output"}),
        tool_call("calculator", expression="1 + 1"),  # the same call, the same result: a loop
        json.dumps({"satisfied": True, "evidence": "the output is 2"}),
        "FINAL ANSWER: 2",
    ]
    run = service.start_run("What is 1 + 1?", tenant=TENANT, tools=["calculator"])
    service.drain()
    assert service.get_run(run.id).status == "succeeded"
    at = ok(AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run())
    ok(at.sidebar.radio(key="ag_view").set_value("Runs").run())
    shown = texts(at)
    assert ":red[criterion not met]: no sum in the output" in shown
    assert ":green[criterion met]: the output is 2" in shown
    assert any("could not be read; it was asked again" in w.value for w in at.warning)
    assert any("Loop detected" in w.value and "`calculator` repeated" in w.value for w in at.warning)
    assert "✓ **1. Add 1 and 1**" in shown and "2 attempts" in shown
