"""The demo scripts are picked from the generated retailer by rule: they must name real, matching ids."""

from __future__ import annotations

from datetime import date, datetime

from projects.support_agent.demo_data import demo_conversations
from projects.support_agent.retailer import generate_retailer

TODAY = date(2026, 11, 2)
DEMO_SEED, DEMO_CUSTOMERS = 0, 200  # the service's defaults (SUPPORT__API_DEMO_SEED / _CUSTOMERS)


def _data() -> dict:
    return generate_retailer(seed=DEMO_SEED, n_customers=DEMO_CUSTOMERS, today=TODAY)


def test_scripts_are_deterministic_and_one_customer_each() -> None:
    first, second = demo_conversations(_data(), TODAY), demo_conversations(_data(), TODAY)
    assert first == second
    customers = [c.customer_id for c in first]
    assert len(set(customers)) == len(customers)
    assert len({c.ref for c in first}) == len(first)


def test_scripts_name_the_customers_own_orders_in_the_right_state() -> None:
    data = _data()
    for conv in demo_conversations(data, TODAY):
        user = data["users"][conv.customer_id]
        order_id = conv.expect.get("order_id")
        if order_id is None:
            continue
        order = data["orders"][order_id]
        assert order["user_id"] == conv.customer_id
        assert order_id in " ".join(conv.messages + conv.after_human)
        said = " ".join(conv.messages + conv.after_human)
        assert user["email"] in said or user["address"]["zip"] in said
        if conv.ref == "cancel":
            assert order["status"] == "pending"
        if conv.ref in ("return-pending", "late-return"):
            age = (
                datetime.combine(TODAY, datetime.min.time())
                - datetime.fromisoformat(order["delivered_at"]).replace(tzinfo=None)
            ).days
            assert order["status"] == "delivered"
            assert (age < 30) if conv.ref == "return-pending" else (age > 30)
