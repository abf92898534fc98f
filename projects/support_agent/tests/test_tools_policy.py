"""The policy engine and tool layer on a real embedded PostgreSQL (no model): what code allows and refuses."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from projects.support_agent import tools as T
from projects.support_agent.policy import Policy, PolicyRefusal, SessionState
from projects.support_agent.retailer import generate_retailer, load_retailer, load_tau_bench, snapshot
from projects.support_agent.settings import SupportSettings
from projects.support_agent.tests.fixtures import write_tau_dir
from projects.support_agent.tools import ToolCall, from_tau

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def tau_url(database_url: str, tmp_path) -> str:
    load_tau_bench(database_url, write_tau_dir(tmp_path))
    return database_url


def verified(policy: Policy, email: str = "ann@example.com", sid: str = "s1") -> SessionState:
    state = SessionState(session_id=sid)
    policy.execute(ToolCall(name="find_customer_by_email", arguments={"email": email}), state)
    return state


def confirm(policy: Policy, state: SessionState, name: str, /, **arguments) -> dict:
    call = ToolCall(name=name, arguments=arguments)
    outcome = policy.execute(call, state, confirmed=False, now=NOW)
    assert outcome.status == "needs_confirmation" and state.pending is not None
    done = policy.execute(call, state, confirmed=True, now=NOW)
    assert done.status == "executed" and state.pending is None
    return done.result


def refused(policy: Policy, state: SessionState, name: str, /, confirmed: bool = False, **arguments) -> PolicyRefusal:
    with pytest.raises(PolicyRefusal) as info:
        policy.execute(ToolCall(name=name, arguments=arguments), state, confirmed=confirmed, now=NOW)
    return info.value


# -- generated retailer --------------------------------------------------------------------------------------


def test_generator_is_deterministic_and_covers_every_status() -> None:
    import json

    a = json.dumps(generate_retailer(3, 60, date(2025, 6, 1)), sort_keys=True)
    assert a == json.dumps(generate_retailer(3, 60, date(2025, 6, 1)), sort_keys=True)
    assert a != json.dumps(generate_retailer(4, 60, date(2025, 6, 1)), sort_keys=True)
    data = json.loads(a)
    assert {o["status"] for o in data["orders"].values()} >= {
        "pending",
        "processed",
        "delivered",
        "cancelled",
        "return requested",
        "exchange requested",
    }
    assert len(data["products"]) == 20


def test_every_tool_happy_path_on_generated_data(database_url: str) -> None:
    today = NOW.date()
    data = generate_retailer(0, 40, today)
    load_retailer(database_url, 0, 40, today)
    policy = Policy(database_url)
    # a customer with a pending order and a recently delivered order with an exchangeable item
    for uid, user in data["users"].items():  # noqa: B007 (uid is used after the loop)
        orders = [data["orders"][o] for o in user["orders"]]
        pending = [o for o in orders if o["status"] == "pending"]
        delivered = [
            o
            for o in orders
            if o["status"] == "delivered" and datetime.fromisoformat(o["delivered_at"]) > NOW - timedelta(days=30)
        ]
        if len(pending) >= 1 and len(delivered) >= 1:
            break
    else:
        pytest.fail("the generator made no customer with a pending and a recent delivered order")
    first, last, zip_ = user["name"]["first_name"], user["name"]["last_name"], user["address"]["zip"]
    state = SessionState(session_id="happy")
    policy.execute(
        ToolCall(name="find_customer_by_name_zip", arguments={"first_name": first, "last_name": last, "zip": zip_}),
        state,
    )
    assert state.auth.customer_id == uid and state.auth.method == "name_zip"
    read = lambda name, **a: policy.execute(ToolCall(name=name, arguments=a), state).result  # noqa: E731
    assert read("get_customer", customer_id=uid)["email"] == user["email"]
    assert {o["order_id"] for o in read("list_orders")["orders"]} == set(user["orders"])
    order = read("get_order", order_id=delivered[0]["order_id"])
    assert order["status"] == "delivered" and order["fulfillments"][0]["carrier"]
    assert read("track_shipment", order_id=delivered[0]["order_id"])["shipments"][0]["status"] == "delivered"
    product_id = order["items"][0]["product_id"]
    assert read("get_product", product_id=product_id)["variants"]
    assert len(read("list_product_types")["products"]) == 20

    method = next(iter(user["payment_methods"]))
    address = {
        "address1": "9 New Road",
        "address2": "",
        "city": "Boston",
        "state": "MA",
        "country": "USA",
        "zip": "02110",
    }
    assert confirm(policy, state, "modify_customer_address", customer_id=uid, **address)["address"] == address
    assert confirm(policy, state, "modify_pending_order_address", order_id=pending[0]["order_id"], **address)
    item = delivered[0]["items"][0]
    result = confirm(
        policy,
        state,
        "return_delivered_order_items",
        order_id=delivered[0]["order_id"],
        item_ids=[item["item_id"]],
        payment_method_id=delivered[0]["payment_history"][0]["payment_method_id"],
    )
    assert result["status"] == "return requested"
    assert (
        confirm(policy, state, "cancel_pending_order", order_id=pending[0]["order_id"], reason="ordered by mistake")[
            "status"
        ]
        == "cancelled"
    )
    assert policy.execute(ToolCall(name="transfer_to_human", arguments={"summary": "wants a discount"}), state).result
    snap = snapshot(database_url)
    assert snap["orders"][pending[0]["order_id"]]["status"] == "cancelled"
    assert snap["customers"][uid]["address"] == address
    assert method in snap["payment_methods"]


# -- the policy refuses what the model asks for ------------------------------------------------------------------


def test_unverified_session_cannot_read_or_write(tau_url: str) -> None:
    policy, state = Policy(tau_url), SessionState(session_id="anon")
    assert refused(policy, state, "get_order", order_id="#W1").code == "not_verified"
    assert (
        refused(policy, state, "cancel_pending_order", confirmed=True, order_id="#W1", reason="no longer needed").code
        == "not_verified"
    )
    assert snapshot(tau_url)["orders"]["#W1"]["status"] == "pending"


def test_another_customers_order_reads_exactly_like_an_unknown_one(tau_url: str) -> None:
    policy = Policy(tau_url)
    state = verified(policy)
    foreign = refused(policy, state, "get_order", order_id="#W9")
    unknown = refused(policy, state, "get_order", order_id="#W8")
    assert foreign.code == unknown.code == "not_found"
    assert foreign.message.replace("#W9", "X") == unknown.message.replace("#W8", "X")
    assert refused(policy, state, "cancel_pending_order", order_id="#W9", reason="no longer needed").code == "not_found"
    # one conversation, one customer: identifying someone else later is refused and changes nothing
    assert refused(policy, state, "find_customer_by_email", email="bob@example.com").code == "other_customer"
    assert state.auth.customer_id == "ann_lee_1"


def test_write_needs_a_confirmation_of_exactly_these_arguments(tau_url: str) -> None:
    policy = Policy(tau_url)
    state = verified(policy)
    before = snapshot(tau_url)
    # "confirmed" without ever having been shown the action
    assert (
        refused(policy, state, "cancel_pending_order", confirmed=True, order_id="#W1", reason="no longer needed").code
        == "not_confirmed"
    )
    # shown #W1, then the model swaps the order id at confirmation time
    outcome = policy.execute(
        ToolCall(name="cancel_pending_order", arguments={"order_id": "#W1", "reason": "no longer needed"}),
        state,
        now=NOW,
    )
    assert "#W1" in outcome.pending.summary and snapshot(tau_url) == before  # the dry run changed nothing
    assert (
        refused(policy, state, "cancel_pending_order", confirmed=True, order_id="#W2", reason="no longer needed").code
        == "confirmation_mismatch"
    )
    assert state.pending is None  # the stale proposal cannot be confirmed afterwards either
    assert snapshot(tau_url) == before
    # expired confirmation
    call = ToolCall(name="cancel_pending_order", arguments={"order_id": "#W1", "reason": "no longer needed"})
    policy.execute(call, state, now=NOW)
    with pytest.raises(PolicyRefusal) as info:
        policy.execute(call, state, confirmed=True, now=NOW + timedelta(hours=2))
    assert info.value.code == "confirmation_expired" and snapshot(tau_url) == before


def test_status_window_and_refund_destination_rules(tau_url: str) -> None:
    policy = Policy(tau_url, SupportSettings(return_window_days=30))
    state = verified(policy)
    assert (
        refused(policy, state, "cancel_pending_order", order_id="#W3", reason="no longer needed").code == "bad_status"
    )
    assert (
        refused(
            policy,
            state,
            "return_delivered_order_items",
            order_id="#W1",
            item_ids=["i_blue_m"],
            payment_method_id="credit_card_1",
        ).code
        == "bad_status"
    )
    # refund to another customer's card: not found; to own non-original card: refused
    assert (
        refused(
            policy,
            state,
            "return_delivered_order_items",
            order_id="#W3",
            item_ids=["i_blue_m"],
            payment_method_id="credit_card_2",
        ).code
        == "not_found"
    )
    assert (
        refused(
            policy,
            state,
            "return_delivered_order_items",
            order_id="#W3",
            item_ids=["i_blue_m"],
            payment_method_id="paypal_1",
        ).code
        == "refund_destination"
    )
    with psycopg.connect(tau_url) as conn:
        conn.execute("UPDATE sa_orders SET delivered_at = %s WHERE id = '#W3'", (NOW - timedelta(days=31),))
    assert (
        refused(
            policy,
            state,
            "return_delivered_order_items",
            order_id="#W3",
            item_ids=["i_blue_m"],
            payment_method_id="credit_card_1",
        ).code
        == "return_window"
    )
    assert (
        refused(
            policy,
            state,
            "exchange_delivered_order_items",
            order_id="#W3",
            item_ids=["i_blue_m"],
            new_item_ids=["i_red_m"],
            payment_method_id="credit_card_1",
        ).code
        == "return_window"
    )
    with psycopg.connect(tau_url) as conn:
        conn.execute("UPDATE sa_orders SET delivered_at = %s WHERE id = '#W3'", (NOW - timedelta(days=29),))
    assert (
        confirm(
            policy,
            state,
            "return_delivered_order_items",
            order_id="#W3",
            item_ids=["i_blue_m"],
            payment_method_id="gift_card_1",
        )["status"]
        == "return requested"
    )


def test_item_and_balance_rules(tau_url: str) -> None:
    policy = Policy(tau_url)
    state = verified(policy)
    # another product type, an unavailable variant, the same variant: all refused
    for new, code in (("i_lamp_w", "invalid_item"), ("i_red_l", "unavailable"), ("i_blue_m", "invalid_item")):
        assert (
            refused(
                policy,
                state,
                "modify_pending_order_items",
                order_id="#W2",
                item_ids=["i_blue_m"],
                new_item_ids=[new],
                payment_method_id="credit_card_1",
            ).code
            == code
        )
    # the order holds i_blue_m twice, not three times
    assert (
        refused(
            policy,
            state,
            "modify_pending_order_items",
            order_id="#W2",
            item_ids=["i_blue_m"] * 3,
            new_item_ids=["i_red_m"] * 3,
            payment_method_id="credit_card_1",
        ).code
        == "not_found"
    )
    # gift card balance 10 cannot pay the 2 × 5.50 difference = 11
    assert (
        refused(
            policy,
            state,
            "modify_pending_order_items",
            order_id="#W2",
            item_ids=["i_blue_m"] * 2,
            new_item_ids=["i_red_m"] * 2,
            payment_method_id="gift_card_1",
        ).code
        == "insufficient_balance"
    )
    assert (
        refused(policy, state, "modify_pending_order_payment", order_id="#W2", payment_method_id="gift_card_1").code
        == "insufficient_balance"
    )
    assert refused(policy, state, "refund", order_id="#W4", payment_method_id="paypal_1").code == "not_refundable"
    with psycopg.connect(tau_url) as conn:
        conn.execute("UPDATE sa_shipments SET status = 'lost' WHERE order_id = '#W4'")
    result = confirm(policy, state, "refund", order_id="#W4", payment_method_id="gift_card_1")
    assert result["refund_amount"] == 25.5
    assert snapshot(tau_url)["payment_methods"]["gift_card_1"]["balance"] == "35.50"


def test_unknown_tool_and_bad_arguments(tau_url: str) -> None:
    policy = Policy(tau_url)
    state = verified(policy)
    assert refused(policy, state, "issue_store_credit", amount=500).code == "unknown_tool"
    assert (
        refused(policy, state, "cancel_pending_order", order_id="#W1", reason="refund me").code == "invalid_arguments"
    )
    assert refused(policy, state, "get_product", product_id="nope").code == "not_found"
    assert (
        refused(policy, SessionState(session_id="x"), "find_customer_by_email", email="nobody@example.com").code
        == "not_found"
    )


# -- atomicity, concurrency, audit ---------------------------------------------------------------------------------


def test_failure_mid_transaction_leaves_the_database_unchanged(tau_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Policy(tau_url)
    state = verified(policy)
    call = ToolCall(name="cancel_pending_order", arguments={"order_id": "#W1", "reason": "no longer needed"})
    policy.execute(call, state, now=NOW)
    before = snapshot(tau_url)

    def crash(*args, **kwargs):
        raise RuntimeError("payment service down")

    monkeypatch.setattr(T, "_gift_card_delta", crash)  # after the status UPDATE and the refund row
    with pytest.raises(PolicyRefusal) as info:
        policy.execute(call, state, confirmed=True, now=NOW)
    assert info.value.code == "tool_failed" and "nothing was changed" in info.value.message
    assert snapshot(tau_url) == before


def test_two_concurrent_cancels_one_wins(tau_url: str) -> None:
    policy = Policy(tau_url)
    states = [verified(policy, sid=f"c{i}") for i in range(2)]
    call = ToolCall(name="cancel_pending_order", arguments={"order_id": "#W2", "reason": "no longer needed"})
    for state in states:
        policy.execute(call, state, now=NOW)
    barrier, results = threading.Barrier(2), []

    def go(state: SessionState) -> None:
        barrier.wait()
        try:
            results.append(policy.execute(call, state, confirmed=True, now=NOW).status)
        except PolicyRefusal as refusal:
            results.append(refusal.code)

    threads = [threading.Thread(target=go, args=(s,)) for s in states]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0] in ("bad_status", "conflict") and sorted(results)[1] == "executed"
    refunds = [p for p in snapshot(tau_url)["orders"]["#W2"]["payments"] if p["transaction_type"] == "refund"]
    assert len(refunds) == 1


def test_every_call_is_audited_and_the_audit_is_append_only(tau_url: str) -> None:
    policy = Policy(tau_url)
    state = verified(policy)
    refused(policy, state, "get_order", order_id="#W9")
    confirm(policy, state, "cancel_pending_order", order_id="#W1", reason="no longer needed")
    with psycopg.connect(tau_url) as conn:
        rows = conn.execute("SELECT tool, decision, code FROM sa_tool_audit ORDER BY id").fetchall()
        assert rows == [
            ("find_customer_by_email", "allowed", None),
            ("get_order", "refused", "not_found"),
            ("cancel_pending_order", "proposed", "needs_confirmation"),
            ("cancel_pending_order", "allowed", None),
        ]
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("UPDATE sa_tool_audit SET decision = 'allowed'")


# -- τ-bench import and gold actions ---------------------------------------------------------------------------------


def test_tau_import_keeps_ids_and_snapshot_round_trips(tau_url: str) -> None:
    snap = snapshot(tau_url)
    assert set(snap["orders"]) == {"#W1", "#W2", "#W3", "#W4", "#W9"}
    assert snap["payment_methods"]["gift_card_1"] == {
        "customer_id": "ann_lee_1",
        "source": "gift_card",
        "balance": "10.00",
    }
    assert (
        snap["orders"]["#W2"]["items"]
        == [{"item_id": "i_blue_m", "price": "20.00", "options": {"color": "blue", "size": "M"}}] * 2
    )
    assert snapshot(tau_url) == snap  # canonical: the same state reads the same


def test_gold_actions_change_the_state_as_the_wiki_says(tau_url: str) -> None:
    policy = Policy(tau_url)
    state = verified(policy)
    for action in (
        {"name": "cancel_pending_order", "kwargs": {"order_id": "#W1", "reason": "no longer needed"}},
        {
            "name": "modify_pending_order_items",
            "kwargs": {
                "order_id": "#W2",
                "item_ids": ["i_blue_m"],
                "new_item_ids": ["i_red_m"],
                "payment_method_id": "gift_card_1",
            },
        },
        {
            "name": "exchange_delivered_order_items",
            "kwargs": {
                "order_id": "#W3",
                "item_ids": ["i_blue_m"],
                "new_item_ids": ["i_red_m"],
                "payment_method_id": "paypal_1",
            },
        },
        {
            "name": "modify_user_address",
            "kwargs": {
                "user_id": "ann_lee_1",
                "address1": "2 Oak",
                "address2": "Apt 1",
                "city": "Dallas",
                "state": "TX",
                "country": "USA",
                "zip": "75201",
            },
        },
    ):
        call = from_tau(action["name"], action["kwargs"])
        policy.execute(call, state, now=NOW)
        policy.execute(call, state, confirmed=True, now=NOW)
    snap = snapshot(tau_url)
    w1, w2 = snap["orders"]["#W1"], snap["orders"]["#W2"]
    assert w1["status"] == "cancelled" and w1["cancel_reason"] == "no longer needed"
    assert {"transaction_type": "refund", "amount": "60.00", "payment_method_id": "gift_card_1"} in w1["payments"]
    # gift card: +60 refunded immediately, −5.50 for the item change
    assert snap["payment_methods"]["gift_card_1"]["balance"] == "64.50"
    assert w2["status"] == "pending (items modified)"
    assert sorted(i["item_id"] for i in w2["items"]) == ["i_blue_m", "i_red_m"]
    assert {"transaction_type": "payment", "amount": "5.50", "payment_method_id": "gift_card_1"} in w2["payments"]
    assert snap["orders"]["#W3"]["status"] == "exchange requested"
    assert snap["return_requests"] == [
        {
            "order_id": "#W3",
            "kind": "exchange",
            "item_ids": ["i_blue_m"],
            "new_item_ids": ["i_red_m"],
            "payment_method_id": "paypal_1",
            "price_difference": "5.50",
        }
    ]
    assert snap["customers"]["ann_lee_1"]["address"]["city"] == "Dallas"
    # modify items happens once: the order is no longer 'pending'
    assert (
        refused(
            policy,
            state,
            "modify_pending_order_items",
            order_id="#W2",
            item_ids=["i_blue_m"],
            new_item_ids=["i_red_m"],
            payment_method_id="credit_card_1",
        ).code
        == "bad_status"
    )


def test_tool_schemas_are_json_schema() -> None:
    schemas = {s["function"]["name"]: s["function"]["parameters"] for s in T.tool_schemas()}
    assert schemas["cancel_pending_order"]["properties"]["reason"]["enum"] == ["no longer needed", "ordered by mistake"]
    assert set(schemas["return_delivered_order_items"]["required"]) == {"order_id", "item_ids", "payment_method_id"}
    assert {"cancel_pending_order", "refund", "modify_customer_address"} <= T.WRITE_TOOLS
