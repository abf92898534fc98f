"""Demo data for ``make demo``: the generated retailer, then a morning at its help desk played through the real
service in tenant ``demo`` — so the agent console opens on a queue with a conversation waiting for a human,
one a colleague already answered and handed back, a return waiting for the customer's "yes", a cancellation
carried out, a refused prompt injection and a store-policy question.

The conversations (``demo_data.py``) are picked by rule from the same generated retailer the service loads on
first use, so their ids exist. ``load_demo_data(ctx)`` is idempotent: when tenant ``demo`` already has
sessions it does nothing. Replies use the templates (``llm_wording`` off) so the loader takes seconds, not
minutes; the live agent in the console words replies with the configured model.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from projects.support_agent.settings import SupportSettings, get_support_settings
from shared.api.context import ServiceContext

TENANT = "demo"
log = logging.getLogger(__name__)


def load_demo_data(ctx: ServiceContext, settings: SupportSettings | None = None) -> dict[str, Any]:
    """Play the demo conversations once; returns what happened (sessions, handoffs, mismatches)."""
    from projects.support_agent.demo_data import HUMAN_AGENT, demo_conversations
    from projects.support_agent.retailer import generate_retailer
    from projects.support_agent.service import SupportService

    settings = (settings or get_support_settings()).model_copy(update={"llm_wording": False})
    service = SupportService(ctx.db_url(), settings)
    report: dict[str, Any] = {"sessions": 0, "handoffs": 0, "mismatches": []}
    try:
        if service.list_sessions(TENANT, None, 1):
            log.info("support agent demo: tenant %r already has conversations, nothing to do", TENANT)
            return report
        today = datetime.now(UTC).date()
        data = generate_retailer(settings.api_demo_seed, settings.api_demo_customers, today)
        for conv in demo_conversations(data, today, return_window_days=settings.return_window_days):
            session_id = service.create_session(TENANT, conv.ref)["session_id"]
            report["sessions"] += 1
            handoff_id = None
            for text in conv.messages:
                handoff_id = service.send(TENANT, session_id, text).handoff_id or handoff_id
            if handoff_id:
                report["handoffs"] += 1
            if conv.human and handoff_id:
                service.claim(TENANT, handoff_id, HUMAN_AGENT)
                if conv.human.reply:
                    service.human_reply(TENANT, handoff_id, HUMAN_AGENT, conv.human.reply)
                if conv.human.hand_back:
                    service.hand_back(TENANT, handoff_id, HUMAN_AGENT, "answered; customer may continue with the bot")
            for text in conv.after_human:
                service.send(TENANT, session_id, text)
            report["mismatches"] += _check(service, conv, session_id)
    finally:
        service.shutdown()
    if report["mismatches"]:  # a database seeded on another day can shift the date-based picks: say so, go on
        log.warning("support agent demo: %s", report["mismatches"])
    log.info("support agent demo: %s", report)
    return report


def _check(service: Any, conv: Any, session_id: str) -> list[str]:
    """What the script expected that did not happen (the order's status, a pending action, the handoff)."""
    import psycopg

    problems = []
    expect = conv.expect
    if "order_status" in expect:
        with psycopg.connect(service.url) as conn:
            row = conn.execute("SELECT status FROM sa_orders WHERE id = %s", (expect["order_id"],)).fetchone()
        if row is None or row[0] != expect["order_status"]:
            problems.append(f"{conv.ref}: order {expect['order_id']} is {row and row[0]}, not {expect['order_status']}")
    session = service.get_session(TENANT, session_id)
    if expect.get("pending") and not session.get("pending_action"):
        problems.append(f"{conv.ref}: no action waiting for confirmation")
    if expect.get("cited"):
        replies = [m["text"] for m in service.messages(TENANT, session_id) if m["role"] == "assistant"]
        if not replies or "Source: [" not in replies[-1]:
            problems.append(f"{conv.ref}: the answer cites no knowledge-base article")
    if "handoff" in expect:
        statuses = [h.status for h in service.store.handoffs(session_id)]
        if expect["handoff"] not in statuses:
            problems.append(f"{conv.ref}: handoff {statuses}, expected {expect['handoff']}")
    return problems
