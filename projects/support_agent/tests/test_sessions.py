"""SessionStore on a real embedded PostgreSQL: ordering under concurrency, turn serialisation, optimistic
versions, the human handoff queue, restart/resume, PII masking and input limits. The PII masker is the real one
(Presidio), loaded once per module."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from projects.support_agent.sessions import (
    EmptyMessage,
    HandoffConflict,
    InvalidTransition,
    MessageTooLong,
    NotAssigned,
    SeqConflict,
    SessionBusy,
    SessionClosed,
    SessionNotFound,
    SessionStore,
    TooManyMessages,
    VersionConflict,
    mask_pii,
)
from projects.support_agent.settings import SupportSettings
from shared.db import close_pools

TENANT = "acme"


@pytest.fixture(scope="module", autouse=True)
def _warm_pii() -> None:
    mask_pii("warm up Presidio once for the module: jane@example.com")


def make_store(url: str, **overrides: object) -> SessionStore:
    settings = SupportSettings(**{"max_message_chars": 200, "max_turns_per_minute": 100, **overrides})
    return SessionStore(url, settings)


@pytest.fixture
def store(database_url: str) -> Iterator[SessionStore]:
    s = make_store(database_url)
    yield s
    s.shutdown()


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def waiting_advisory_locks(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]


def wait_until(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


# --------------------------------------------------------------------------- messages


def test_two_threads_appending_to_one_session_get_gap_free_ordered_seqs(store: SessionStore) -> None:
    """50 messages in a row from two writers: numbers 1..50 without gaps, each writer's messages in its order."""
    sid = store.create_session(TENANT).id
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            barrier.wait()
            for i in range(25):
                store.append(sid, "user", f"{name} message {i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = store.history(sid)
    assert [m.seq for m in history] == list(range(1, 51))
    for name in ("alpha", "beta"):
        mine = [m.content for m in history if m.content.startswith(name)]
        assert mine == [f"{name} message {i}" for i in range(25)]
    assert store.get_session(sid).last_seq == 50
    assert [m.seq for m in store.history(sid, limit=3)] == [48, 49, 50]
    assert [m.seq for m in store.history(sid, after_seq=47)] == [48, 49, 50]


def test_expected_seq_mismatch_stores_nothing(store: SessionStore, database_url: str) -> None:
    sid = store.create_session(TENANT).id
    assert store.append(sid, "user", "hello", expected_seq=1).seq == 1
    with pytest.raises(SeqConflict) as err:
        store.append(sid, "assistant", "stale reply", expected_seq=1)
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert count(database_url, "sa_messages") == 1
    assert store.append(sid, "assistant", "hi", expected_seq=2).seq == 2


@pytest.mark.parametrize("content", ["", "   \n\t", "x" * 201])
def test_empty_or_oversized_messages_store_nothing(store: SessionStore, database_url: str, content: str) -> None:
    sid = store.create_session(TENANT).id
    with pytest.raises(EmptyMessage if len(content) < 100 else MessageTooLong):
        store.append(sid, "user", content)
    assert count(database_url, "sa_messages") == 0
    assert store.get_session(sid).last_seq == 0
    assert store.append(sid, "user", "x" * 200).seq == 1  # exactly the limit is fine, and seq starts at 1


def test_message_cap_per_session(database_url: str) -> None:
    store = make_store(database_url, max_messages_per_session=3)
    try:
        sid = store.create_session(TENANT).id
        for i in range(3):
            store.append(sid, "user", f"m{i}")
        with pytest.raises(TooManyMessages):
            store.append(sid, "user", "one too many")
        assert store.get_session(sid).last_seq == 3
    finally:
        store.shutdown()


def test_pii_is_masked_in_content_masked_but_not_in_content(store: SessionStore) -> None:
    sid = store.create_session(TENANT).id
    text = "I'm Jane Miller, email jane.miller@example.com, call me at 415-555-0132."
    msg = store.append(sid, "user", text)
    assert msg.content == text
    assert "jane.miller@example.com" not in msg.content_masked and "<EMAIL_ADDRESS>" in msg.content_masked
    assert "415-555-0132" not in msg.content_masked and "<PHONE_NUMBER>" in msg.content_masked
    stored = store.history(sid)[0]
    assert (stored.content, stored.content_masked) == (msg.content, msg.content_masked)
    store.record_trace(
        sid, user_seq=1, intent="account", confidence=0.9, model_id="test",
        tool_calls=[{"name": "find_customer", "args": {"email": "jane.miller@example.com"}, "result": {"id": 7}}],
        latency_ms={"route": 3.5},
    )  # fmt: skip
    trace = store.traces(sid)[0]
    assert trace.tool_calls == [{"name": "find_customer", "args": {"email": "<EMAIL_ADDRESS>"}, "result": {"id": 7}}]
    assert (trace.intent, trace.confidence, trace.latency_ms, trace.user_seq) == ("account", 0.9, {"route": 3.5}, 1)


# --------------------------------------------------------------------------- turns


def test_turns_on_one_session_serialise_while_other_sessions_proceed(store: SessionStore, database_url: str) -> None:
    a = store.create_session(TENANT).id
    b = store.create_session(TENANT).id
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []
    errors: list[BaseException] = []

    def first_turn() -> None:
        with store.turn(a):
            inside.set()
            release.wait(30)
            store.append(a, "assistant", "first turn done")
            order.append("first")

    def second_turn() -> None:
        try:
            with store.turn(a, timeout_s=30):
                order.append("second")
                store.append(a, "assistant", "second turn done")
        except BaseException as e:
            errors.append(e)

    t1 = threading.Thread(target=first_turn)
    t1.start()
    assert inside.wait(30)
    # a short timeout on the held session: SessionBusy, and nothing stored
    with pytest.raises(SessionBusy) as busy, store.turn(a, timeout_s=0.2):
        pytest.fail("entered a turn that another turn holds")
    assert busy.value.reason == "locked"
    # another session is not blocked by it (a tiny timeout would fire if it were)
    with store.turn(b, timeout_s=0.2) as session_b:
        assert session_b.id == b
        store.append(b, "assistant", "parallel")
    # a patient second turn waits in PostgreSQL until the first ends
    t2 = threading.Thread(target=second_turn)
    t2.start()
    wait_until(lambda: waiting_advisory_locks(database_url) == 1)
    assert order == []
    release.set()
    t1.join()
    t2.join()
    assert errors == []
    assert order == ["first", "second"]
    assert [m.content for m in store.history(a)] == ["first turn done", "second turn done"]
    assert waiting_advisory_locks(database_url) == 0


def test_lock_is_released_when_the_turn_fails(store: SessionStore) -> None:
    sid = store.create_session(TENANT).id
    with pytest.raises(RuntimeError), store.turn(sid):
        raise RuntimeError("model crashed")
    with store.turn(sid, timeout_s=0.2):
        pass


def test_turn_budget_per_session(database_url: str) -> None:
    store = make_store(database_url, max_turns_per_minute=3)
    try:
        sid, other = store.create_session(TENANT).id, store.create_session(TENANT).id
        for _ in range(3):
            with store.turn(sid):
                pass
        with pytest.raises(TooManyMessages) as err, store.turn(sid):
            pytest.fail("the fourth turn in a minute ran")
        assert 0 < err.value.retry_after_s <= 60
        with store.turn(other):  # budgets are per session
            pass
    finally:
        store.shutdown()


# --------------------------------------------------------------------------- state


def test_update_state_is_version_checked(store: SessionStore) -> None:
    session = store.create_session(TENANT, "chat")
    assert (session.version, session.state, session.customer_id) == (1, {}, None)
    flow = {"flow": "returns", "slots": {"order_id": "#W1"}, "pending_confirmation": None}
    updated = store.update_state(session.id, flow, expected_version=1, customer_id="cust-7")
    assert (updated.version, updated.state, updated.customer_id) == (2, flow, "cust-7")
    with pytest.raises(VersionConflict) as err:
        store.update_state(session.id, {"flow": "orders"}, expected_version=1)
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert store.get_session(session.id).state == flow
    # a handoff changes the version: a bot turn that read the session before it cannot overwrite it
    store.hand_off(session.id, "explicit_request", "wants a person")
    with pytest.raises(VersionConflict):
        store.update_state(session.id, {"flow": "orders"}, expected_version=2)


def test_unknown_and_foreign_sessions_are_not_found(store: SessionStore) -> None:
    sid = store.create_session(TENANT).id
    with pytest.raises(SessionNotFound):
        store.get_session(sid, tenant_id="other-tenant")
    with pytest.raises(SessionNotFound):
        store.get_session("not-a-uuid")
    with pytest.raises(SessionNotFound):
        store.append("00000000-0000-0000-0000-000000000000", "user", "hi")


# --------------------------------------------------------------------------- handoff


def race_claims(store: SessionStore, handoff_id: str, agents: tuple[str, ...]) -> dict[str, object]:
    """Each agent claims from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(agents))
    results: dict[str, object] = {}

    def claim(agent: str) -> None:
        barrier.wait()
        try:
            results[agent] = store.claim(handoff_id, agent)
        except HandoffConflict as e:
            results[agent] = e

    threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_claim_race_has_one_winner(store: SessionStore) -> None:
    for round_ in range(4):
        sid = store.create_session(TENANT).id
        store.append(sid, "user", "I want a human")
        handoff = store.hand_off(sid, "explicit_request", f"round {round_}")
        results = race_claims(store, handoff.id, ("ann", "bob"))
        winners = [a for a, r in results.items() if not isinstance(r, HandoffConflict)]
        assert len(winners) == 1
        loser = "bob" if winners[0] == "ann" else "ann"
        conflict = results[loser]
        assert isinstance(conflict, HandoffConflict) and conflict.holder == winners[0]
        assert conflict.status == "claimed"
        session = store.get_session(sid)
        assert (session.status, session.assigned_agent) == ("with_human", winners[0])
        joined = [m for m in store.history(sid) if m.role == "system" and "joined" in m.content]
        assert len(joined) == 1


def test_handoff_and_hand_back_keep_every_message_in_order(store: SessionStore, database_url: str) -> None:
    sid = store.create_session(TENANT).id
    store.append(sid, "user", "my parcel never arrived")
    store.append(sid, "assistant", "let me check")
    store.append(sid, "tool", "", tool_name="track_shipment", tool_args={"order": "#W1"}, tool_result={"ok": False})
    handoff = store.hand_off(sid, "repeated_failure", "tracking failed twice")
    assert handoff.status == "queued" and store.get_session(sid).status == "waiting_human"
    assert store.hand_off(sid, "explicit_request", "again").id == handoff.id  # never queued twice
    assert [h.id for h in store.queue(TENANT)] == [handoff.id]
    store.append(sid, "user", "hello? anyone?")  # the customer keeps talking while queued
    store.claim(handoff.id, "ann")
    assert store.queue(TENANT) == [] and [h.id for h in store.queue(TENANT, "claimed")] == [handoff.id]
    store.human_reply(sid, "ann", "Hi, I'm Ann. I've reshipped it.")
    with pytest.raises(InvalidTransition):
        store.append(sid, "assistant", "the bot must not talk over the human")
    with pytest.raises(NotAssigned):
        store.human_reply(sid, "bob", "I'm not assigned")
    with pytest.raises(NotAssigned):
        store.hand_back(sid, "bob")
    store.append(sid, "user", "thanks!")
    back = store.hand_back(sid, "ann", "reshipped, nothing else needed")
    assert (back.status, back.note, back.claimed_by) == ("returned", "reshipped, nothing else needed", "ann")
    session = store.get_session(sid)
    assert (session.status, session.assigned_agent) == ("active", None)
    store.append(sid, "assistant", "Anything else I can help with?")
    history = store.history(sid)
    assert [m.seq for m in history] == list(range(1, len(history) + 1))
    assert [m.role for m in history] == [
        "user", "assistant", "tool", "system", "user", "system", "human_agent", "user", "system", "assistant",
    ]  # fmt: skip
    assert history[6].author == "ann" and history[2].tool_result == {"ok": False}
    assert count(database_url, "sa_messages") == len(history)
    # a second handoff of the same conversation is a new queue entry
    second = store.hand_off(sid, "negative_sentiment", "angry again")
    assert second.id != handoff.id and [h.status for h in store.handoffs(sid)] == ["returned", "queued"]


def test_close_ends_the_conversation_and_its_handoff(store: SessionStore) -> None:
    sid = store.create_session(TENANT).id
    store.append(sid, "user", "cancel everything")
    handoff = store.hand_off(sid, "policy_exception", "asks for an exception")
    store.claim(handoff.id, "ann")
    closed = store.close(sid, "ann", "resolved by phone")
    assert closed.status == "closed"
    assert store.get_handoff(handoff.id).status == "closed"
    assert store.history(sid)[-1].content == "Conversation closed by ann. Reason: resolved by phone"
    assert store.close(sid, "ann").version == closed.version  # idempotent
    with pytest.raises(SessionClosed):
        store.append(sid, "user", "hello?")
    with pytest.raises(SessionClosed), store.turn(sid):
        pass
    with pytest.raises(SessionClosed):
        store.update_state(sid, {}, expected_version=closed.version)


# --------------------------------------------------------------------------- restart


def test_a_new_store_on_the_same_database_resumes_everything(database_url: str) -> None:
    first = make_store(database_url)
    session = first.create_session(TENANT, "email", customer_id="cust-1")
    first.append(session.id, "user", "I want to return my shoes")
    first.append(session.id, "assistant", "Which order?")
    state = {"flow": "returns", "slots": {"item": "shoes"}, "pending_confirmation": {"tool": "return_items"}}
    first.update_state(session.id, state, expected_version=1)
    first.record_trace(session.id, user_seq=1, intent="returns", confidence=0.8, model_id="m")
    handoff = first.hand_off(session.id, "low_confidence", "unsure which order")
    first.shutdown()
    close_pools()  # nothing survives in this process's memory but the URL

    second = make_store(database_url)
    try:
        resumed = second.get_session(session.id)
        assert (resumed.state, resumed.customer_id, resumed.status) == (state, "cust-1", "waiting_human")
        assert [m.content for m in second.history(session.id)][:2] == ["I want to return my shoes", "Which order?"]
        assert [t.intent for t in second.traces(session.id)] == ["returns"]
        assert [h.id for h in second.queue(TENANT)] == [handoff.id]
        assert second.claim(handoff.id, "ann").claimed_by == "ann"
        assert second.append(session.id, "user", "the blue ones").seq == resumed.last_seq + 2  # + "joined"
    finally:
        second.shutdown()
