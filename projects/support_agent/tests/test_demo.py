"""``make demo``'s loader on the real service (real router, rails and database; templates for replies): every
scripted conversation ends as the console should show it, and a second run adds nothing."""

from __future__ import annotations

import psycopg

from projects.support_agent.demo import TENANT, load_demo_data
from projects.support_agent.demo_data import HUMAN_AGENT
from projects.support_agent.settings import get_support_settings
from shared.api.context import ServiceContext


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def test_demo_plays_the_help_desk_morning_once(database_url: str) -> None:
    ctx = ServiceContext(database_url=database_url)
    settings = get_support_settings().model_copy(update={"api_demo_customers": 120})
    report = load_demo_data(ctx, settings)
    assert report["sessions"] == 7 and report["mismatches"] == []
    assert report["handoffs"] >= 2  # the late return and the request for a person
    assert (
        _count(
            database_url,
            "SELECT count(*) FROM sa_orders WHERE status = 'cancelled' AND cancel_reason = 'ordered by mistake'",
        )
        >= 1
    )
    assert _count(database_url, "SELECT count(*) FROM sa_handoffs WHERE status = 'queued'") >= 1
    assert (
        _count(
            database_url, f"SELECT count(*) FROM sa_messages WHERE role = 'human_agent' AND author = '{HUMAN_AGENT}'"
        )
        == 1
    )
    # nothing written by the injection: the only executed writes are the cancellation
    executed = _count(database_url, "SELECT count(*) FROM sa_tool_audit WHERE decision = 'allowed' AND kind = 'write'")
    assert executed == 1
    messages = _count(database_url, "SELECT count(*) FROM sa_messages")

    assert load_demo_data(ctx, settings)["sessions"] == 0
    assert _count(database_url, "SELECT count(*) FROM sa_messages") == messages
    assert _count(database_url, f"SELECT count(*) FROM sa_sessions WHERE tenant_id = '{TENANT}'") == 7
