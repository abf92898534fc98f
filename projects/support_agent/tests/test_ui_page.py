"""The agent console, headless with AppTest, against the real API on a socket (real service, router, rails and
embedded PostgreSQL; the demo morning loaded): the queue with the bot's summary, picking up a conversation, its
history and traces, replying, a colleague who got there first, handing back, and the customer chat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from projects.support_agent.api import create_router
from projects.support_agent.demo import TENANT, load_demo_data
from projects.support_agent.service import SupportService
from projects.support_agent.settings import get_support_settings
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.testing.portal import api_for_portal, run_page_with_api_down

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"


@pytest.fixture
def service(database_url: str) -> Iterator[SupportService]:
    settings = get_support_settings().model_copy(update={"llm_wording": False, "api_demo_customers": 120})
    load_demo_data(ServiceContext(database_url=database_url), settings)
    svc = SupportService(database_url, settings)
    yield svc
    svc.shutdown()


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str, service: SupportService) -> Iterator[str]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("sa-ui-test", routers=[("/support", create_router(ctx, service.settings, service=service))])
    with api_for_portal(app, monkeypatch) as url:
        yield url


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_pick_up_reply_conflict_hand_back_and_customer_chat(live_api: str, service: SupportService) -> None:
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not at.exception, at.exception
    waiting = int(at.metric[0].value)
    assert waiting >= 1  # the late return the customer insisted on
    queued = service.queue(TENANT, "queued", 50)
    late = next(h for h in queued if h["reason"] == "policy_exception")
    head = "\n".join(late["summary"].splitlines()[:3])  # reason, request, verified customer
    assert any(head in t.value for t in at.text)  # the bot's summary, for the person picking it up

    at.button(key=f"sa_open_{late['session_id']}").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value.startswith(f"Conversation {late['session_id'][:8]}")
    assert any(late["summary"] == t.value for t in at.text)  # the whole summary once opened
    assert "return window" in " ".join(m.value for m in at.markdown)  # the history, with the bot's refusal
    assert any(row for row in at.dataframe[0].value.to_dict("records") if row["intent"])  # the traces
    at.button(key="sa_claim").click().run()
    assert not at.exception, at.exception
    assert service.get_handoff(TENANT, late["handoff_id"])["claimed_by"] == "jo"
    assert at.metric[1].value == "1"

    at.text_area(key="sa_reply_text").set_value("I'm Jo from the team: I can accept this return as a one-off.").run()
    at.button(key="sa_reply").click().run()
    assert not at.exception, at.exception
    texts = [m["text"] for m in service.messages(TENANT, late["session_id"]) if m["role"] == "human"]
    assert texts == ["I'm Jo from the team: I can accept this return as a one-off."]

    # a colleague cannot take a conversation jo holds: the page says who has it
    at.sidebar.text_input(key="sa_agent").set_value("sam").run()
    assert not at.exception, at.exception
    assert any("jo is handling this conversation" in i.value for i in at.info)
    at.sidebar.text_input(key="sa_agent").set_value("jo").run()

    at.button(key="sa_hand_back").click().run()
    assert not at.exception, at.exception
    assert service.get_session(TENANT, late["session_id"])["status"] == "active"
    assert int(at.metric[0].value) == waiting - 1

    at.sidebar.radio(key="sa_view").set_value("Customer chat").run()
    assert not at.exception, at.exception
    at.text_input(key="sa_message").set_value("hello").run()
    at.button(key="sa_send").click().run()
    assert not at.exception, at.exception
    said = " ".join(m.value for m in at.markdown)
    assert "hello" in said and "I can help with your orders" in said
