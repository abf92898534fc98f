"""The τ-bench eval on a real embedded PostgreSQL and a tiny τ-bench-shaped retailer written by the test.

The scoring rules are tested one by one (pass^k, tool-call matching, required outputs, the gold state with a refused
gold action, the independent policy audit catching planted violations); one end-to-end ``main([...])`` run drives
the real agent (router, policy, sessions) with a scripted customer (the simulator is a port) and a fake chat model
that never rewords (orchestration test), and checks ``summary.json`` and ``results.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from projects.support_agent import eval as E
from projects.support_agent import scoring as S
from projects.support_agent.policy import Policy, SessionState, args_hash
from projects.support_agent.retailer import load_tau_bench, snapshot_digest
from projects.support_agent.sessions import SessionStore
from projects.support_agent.settings import SupportSettings
from projects.support_agent.tests.fixtures import write_tau_dir
from projects.support_agent.tests.test_agent import FakeChat
from projects.support_agent.tools import ToolCall, from_tau

TASKS = [
    {  # cancel a pending order: the agent can do it
        "user_id": "ann_lee_1",
        "instruction": "You are Ann Lee (ann@example.com). Cancel order #W2, you ordered it by mistake.",
        "actions": [{"name": "cancel_pending_order", "kwargs": {"order_id": "#W2", "reason": "ordered by mistake"}}],
        "outputs": [],
    },
    {  # the gold action is refused by the policy (a delivered order cannot be cancelled): the gold state is the start
        "user_id": "ann_lee_1",
        "instruction": "You are Ann Lee. Ask for the status of an order, then leave.",
        "actions": [{"name": "cancel_pending_order", "kwargs": {"order_id": "#W3", "reason": "no longer needed"}}],
        "outputs": ["1,000"],
    },
]


@pytest.fixture(scope="module")
def tau_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = write_tau_dir(tmp_path_factory.mktemp("tau"))
    (directory / "wiki.md").write_text("# Retail agent policy\nAuthenticate the user first.\n")
    (directory / "tasks.json").write_text(json.dumps(TASKS))
    return directory


@pytest.fixture
def template(pg_server_url: str, tau_dir: Path):
    url = E.build_template(pg_server_url, tau_dir)
    yield url
    E._release(url, pg_server_url)


# -- pure scoring ---------------------------------------------------------------------------------------------------
def test_pass_hat_k_is_the_tau_bench_formula() -> None:
    runs = {"a": [True, True, False], "b": [False, False, False], "c": [True, True, True]}
    assert S.pass_hat_k(runs, 1) == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert S.pass_hat_k(runs, 2) == pytest.approx((1 / 3 + 0 + 1) / 3)  # C(2,2)/C(3,2) = 1/3 for task a
    assert S.pass_hat_k(runs, 3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        S.pass_hat_k(runs, 4)


def test_tool_calls_match_on_name_and_canonical_arguments() -> None:
    address = {"address1": "2 Oak", "address2": "", "city": "Austin", "state": "TX", "country": "USA", "zip": "78701"}
    gold = [
        from_tau("cancel_pending_order", {"order_id": "#W2", "reason": "ordered by mistake"}),
        from_tau("modify_user_address", {"user_id": "ann_lee_1", **address}),
    ]
    assert gold[1].name == "modify_customer_address" and gold[1].arguments["customer_id"] == "ann_lee_1"
    predicted = [
        ToolCall(name="cancel_pending_order", arguments={"reason": "ordered by mistake", "order_id": "#W2"}),
        ToolCall(name="cancel_pending_order", arguments={"order_id": "#W1", "reason": "ordered by mistake"}),
    ]
    counts = S.match_calls(predicted, gold)
    assert counts == {"predicted": 2, "gold": 2, "matched": 1}
    assert S.precision_recall([counts, {"predicted": 0, "gold": 1, "matched": 0}]) == (0.5, pytest.approx(1 / 3))
    assert S.precision_recall([{"predicted": 0, "gold": 0, "matched": 0}]) == (None, None)
    # the same call twice matches one gold call once (multiset)
    twice = S.match_calls([predicted[0], predicted[0]], gold[:1])
    assert twice == {"predicted": 2, "gold": 1, "matched": 1}


def test_outputs_said_follows_tau_bench() -> None:
    replies = ["Your total is $1,000.50.", "The Lamp is WHITE."]
    assert S.outputs_said(["1000.50", "white"], replies)
    assert S.outputs_said([], replies)
    assert not S.outputs_said(["1000.50", "blue"], replies)


# -- gold state -----------------------------------------------------------------------------------------------------
def test_gold_state_applies_actions_and_a_refused_one_changes_nothing(pg_server_url: str, template: str) -> None:
    start = snapshot_digest(template)
    emails = {"ann_lee_1": "ann@example.com"}
    cancelled = E.gold_state(pg_server_url, template, TASKS[0], emails["ann_lee_1"])
    assert cancelled["refused"] == [] and [c.name for c in cancelled["applied"]] == ["cancel_pending_order"]
    assert cancelled["digest"] != start
    refused = E.gold_state(pg_server_url, template, TASKS[1], emails["ann_lee_1"])
    assert refused["applied"] == [] and refused["refused"] == [{"tool": "cancel_pending_order", "code": "bad_status"}]
    assert refused["digest"] == start
    assert snapshot_digest(template) == start  # the template itself is never written


# -- the independent policy audit ---------------------------------------------------------------------------------
def _plant_write(url: str, session_id: str, customer: str | None, tool: str, args: dict) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO sa_tool_audit (session_id, actor, customer_id, tool, kind, args, args_sha256, decision)"
            " VALUES (%s, 'agent', %s, %s, 'write', %s, %s, 'allowed')",
            (session_id, customer, tool, Jsonb(args), args_hash(tool, args, customer)),
        )


def test_policy_audit_passes_a_clean_write_and_catches_planted_violations(database_url: str, tau_dir: Path) -> None:
    load_tau_bench(database_url, tau_dir)
    settings = SupportSettings(mask_pii=False)
    store = SessionStore(database_url, settings)
    try:
        policy = Policy(database_url, settings)
        sid = store.create_session("acme", "eval").id
        state = SessionState(session_id=sid)
        policy.execute(ToolCall(name="find_customer_by_email", arguments={"email": "ann@example.com"}), state)
        call = ToolCall(name="cancel_pending_order", arguments={"order_id": "#W2", "reason": "ordered by mistake"})
        policy.execute(call, state)
        store.append(sid, "user", "Yes, please.")
        policy.execute(call, state, confirmed=True)
        assert S.policy_violations(database_url, [sid]) == []
        assert [c.name for c in S.executed_writes(database_url, sid)] == ["cancel_pending_order"]

        # a write with no identification, no proposal, no yes, in another session
        other = store.create_session("acme", "eval").id
        args = {"order_id": "#W1", "reason": "no longer needed"}
        _plant_write(database_url, other, "ann_lee_1", "cancel_pending_order", args)
        # a write on a verified session, proposed, but the customer said no — and on another customer's order
        state2 = SessionState(session_id=store.create_session("acme", "eval").id)
        policy.execute(ToolCall(name="find_customer_by_email", arguments={"email": "ann@example.com"}), state2)
        policy.execute(ToolCall(name="cancel_pending_order", arguments=args), state2)
        store.append(state2.session_id, "user", "No, don't.")
        _plant_write(database_url, state2.session_id, "ann_lee_1", "cancel_pending_order", args)
        _plant_write(database_url, state2.session_id, "ann_lee_1", "cancel_pending_order",
                     {"order_id": "#W9", "reason": "no longer needed"})  # fmt: skip

        found = S.policy_violations(database_url)
        by_session = {(v["session_id"], v["args"]["order_id"]): set(v["problems"]) for v in found}
        assert len(found) == 3
        assert by_session[(other, "#W1")] == {"not_identified", "not_proposed"}
        assert by_session[(state2.session_id, "#W1")] == {"not_confirmed"}
        assert by_session[(state2.session_id, "#W9")] == {"not_proposed", "foreign_order_id"}
        assert S.policy_violations(database_url, [sid]) == []
    finally:
        store.shutdown()


# -- end to end -----------------------------------------------------------------------------------------------------
class ScriptedUser:
    def __init__(self, messages: list[str]) -> None:
        self.messages = list(messages)

    def first(self) -> str | None:
        return self.reply("")

    def reply(self, agent_text: str) -> str | None:
        return self.messages.pop(0) if self.messages else None


class ScriptedSimulator:
    """The user-simulator port with fixed lines per instruction (the orchestration is what is tested)."""

    model_id = "scripted"

    def __init__(self, scripts: dict[str, list[str]]) -> None:
        self.scripts = scripts
        self.seeds: list[int] = []

    def conversation(self, instruction: str, seed: int) -> ScriptedUser:
        self.seeds.append(seed)
        return ScriptedUser(self.scripts[instruction])


def test_main_end_to_end_writes_summary_and_results(
    pg_server_url: str, tau_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", pg_server_url)
    monkeypatch.setenv("SUPPORT__MASK_PII", "false")
    get_settings.cache_clear()
    from projects.support_agent.settings import get_support_settings

    get_support_settings.cache_clear()
    simulator = ScriptedSimulator(
        {
            TASKS[0]["instruction"]: [
                "Hi, I want to cancel an order",
                "my email is ann@example.com",
                "order #W2",
                "I ordered it by mistake",
                "yes",
            ],
            TASKS[1]["instruction"]: ["Hello", "thanks, bye"],
        }
    )
    out = tmp_path / "out"
    try:
        code = E.main(
            ["--tau-bench", str(tau_dir), "--tasks", str(tau_dir / "tasks.json"), "--out", str(out), "--seed", "3"],
            simulator=simulator,
            agent_chat=FakeChat(),
        )
    finally:
        get_settings.cache_clear()
        get_support_settings.cache_clear()
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("pass^1", "n", "tool_call_precision", "tool_call_recall", "policy_violations", "escalation_rate",
                "turns", "latency_per_turn_ms", "wall_s", "models"):  # fmt: skip
        assert key in summary, key
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["task"], r["trial"]) for r in rows] == [(0, 0), (1, 0)]
    first, second = rows
    assert first["state_match"] and first["passed"], first["transcript"]
    assert [c["name"] for c in first["tool_calls"]] == ["cancel_pending_order"]
    assert first["turns"] == 5 and first["ended"] == "user_stop"
    # task 1: state equal to the (refused-gold) start, but "1,000" was never said → not passed
    assert second["state_match"] and not second["outputs_said"] and not second["passed"]
    assert summary["pass^1"] == 0.5 and summary["n"] == 2
    assert summary["tool_call_precision"] == 1.0 and summary["tool_call_recall"] == 1.0
    assert summary["policy_violations"] == 0 and summary["escalation_rate"] == 0.0
    assert summary["turns"]["p50"] == 3.5
    assert summary["models"]["user_simulator"] == "scripted"
    assert simulator.seeds == [E.trial_seed(3, 0, 0), E.trial_seed(3, 1, 0)]


# -- the simulator's code around the model (no model: a fake chat returns fixed lines) ------------------------------
class LinesChat(FakeChat):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = list(lines)
        self.requests = []

    def chat(self, request):  # type: ignore[override]
        from shared.serving.types import ChatResult

        self.requests.append(request)
        return ChatResult(text=self.lines.pop(0) if self.lines else "", model="lines", backend="test")


def test_simulator_cleans_resamples_and_stops() -> None:
    from projects.support_agent.simulator import OPENER, LLMUserSimulator, clean

    assert clean("Agent: Hi, I'm Ann.\nAgent: thanks", 400) == "Hi, I'm Ann."
    assert clean("x " * 300, 50).startswith("x x") and len(clean("x " * 300, 50)) <= 50
    # opening: a stop, then the agent's voice, then a stop again → the neutral opener (nothing revealed)
    chat = LinesChat(["### STOP###", "How can I help you today?", "#STOP"])
    user = LLMUserSimulator(chat=chat, max_turns=3).conversation("Cancel order #W2.", seed=7)
    assert user.first() == OPENER
    assert len({r.seed for r in chat.requests}) == 3  # each draw its own seed
    # an id neither in the instruction nor said by the agent: resampled, then masked
    chat.lines = ["It is #W999.", "It is #W998.", "Order #W997 please."]
    assert user.reply("Which order?") == "Order I don't remember please."
    chat.lines = ["Order #W2, and #W5 that you listed."]
    assert user.reply("Your orders: #W5.") == "Order #W2, and #W5 that you listed."
    assert user.reply("anything else?") is None  # max_turns=3 reached
    # a stop right after a question is resampled; after a plain statement it ends the conversation
    user = LLMUserSimulator(chat=LinesChat(["I want to cancel."]), max_turns=9).conversation(
        "Cancel #W2. Your email is ann@example.com.", seed=1
    )
    user.first()
    chat2 = LinesChat(["###STOP###", "ann@example.com"])
    user.chat = chat2
    assert user.reply("To help you, please give your e-mail address.") == "ann@example.com"
    chat2.lines = ["###STOP###"]
    assert user.reply("Done: the order is cancelled.") is None
