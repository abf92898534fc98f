"""The loop on real parts (embedded PostgreSQL, the real tool registry and sandbox), with a scripted model
(what is under test is the orchestration): acting and answering, human approval (approve, deny, decide twice),
budgets, loop detection and recovery, malformed tool calls, a raising tool, 10 MB outputs, checkpoint
compaction, plans with verification and re-planning, and two runs' workspaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projects.autonomous_agent.store import StateConflict
from projects.autonomous_agent.tests.conftest import RecordingTool
from projects.autonomous_agent.types import Budget
from shared.testing.doubles import ToolCallingChat, tool_call


def kinds(store, run_id: str) -> list[str]:
    return [e["kind"] for e in store.events(run_id)]


def test_acts_observes_and_answers_with_evidence(make_loop, agent_store) -> None:
    chat = ToolCallingChat(tool_call("calculator", expression="17 * 23"), "FINAL ANSWER: 391")
    loop = make_loop(chat)
    run_id = loop.start("What is 17 * 23?")
    state = loop.run(run_id)
    row = agent_store.get_run(run_id)
    assert (row.status, state.final_answer, row.steps) == ("succeeded", "391", 1)
    assert kinds(agent_store, run_id) == ["plan", "action", "observation", "thought", "final"]
    observation = agent_store.events(run_id)[2]["data"]
    assert observation["tool"] == "calculator" and observation["ok"] and "391" in observation["text"]
    assert "391" in chat.calls[1].messages[-1].content  # the model saw the tool's result before answering
    assert row.usage.tokens > 0 and row.usage.wall_s > 0
    assert loop.run(run_id).status == "succeeded"  # running a finished run again does nothing


def test_a_dangerous_tool_waits_for_approval_then_runs_once(make_loop, agent_store) -> None:
    notify = RecordingTool(permission="network")
    chat = ToolCallingChat(tool_call("notify", text="deploy done"), "FINAL ANSWER: notified")
    loop = make_loop(chat, extra_tools=[notify])
    run_id = loop.start("Tell ops the deploy is done")
    state = loop.run(run_id)
    assert state.status == "waiting_approval" and agent_store.get_run(run_id).status == "waiting_approval"
    assert notify.calls == []  # nothing happened before a human said yes
    [pending] = agent_store.pending_approvals()
    assert (pending.tool, pending.arguments, pending.permission) == ("notify", {"text": "deploy done"}, "network")
    assert loop.run(run_id).status == "waiting_approval" and notify.calls == []  # still undecided

    agent_store.decide(pending.id, True, by="alice")
    with pytest.raises(StateConflict, match="already approved by alice"):
        agent_store.decide(pending.id, False, by="bob")
    state = loop.run(run_id)
    assert state.status == "succeeded" and notify.calls == [{"text": "deploy done"}]
    assert "approved" in kinds(agent_store, run_id) and agent_store.pending_approvals() == []


def test_a_denied_call_becomes_an_observation_and_the_run_goes_on(make_loop, agent_store) -> None:
    notify = RecordingTool(permission="write")
    chat = ToolCallingChat(tool_call("notify", text="rm -rf"), "FINAL ANSWER: could not notify: denied")
    loop = make_loop(chat, extra_tools=[notify])
    run_id = loop.start("Notify ops")
    loop.run(run_id)
    [pending] = agent_store.pending_approvals()
    agent_store.decide(pending.id, False, by="alice", note="not during the freeze")
    state = loop.run(run_id)
    assert state.status == "succeeded" and notify.calls == []
    prompt = chat.calls[-1].messages[-1].content
    assert "denied by alice: not during the freeze" in prompt


def test_budget_exhaustion_ends_the_run_with_what_it_has(make_loop, agent_store) -> None:
    calls = [tool_call("calculator", expression=f"{i} + 1") for i in range(20)]
    loop = make_loop(ToolCallingChat(*calls))
    run_id = loop.start("Count forever", budget=Budget(max_steps=4))
    state = loop.run(run_id)
    row = agent_store.get_run(run_id)
    assert row.status == "budget_exhausted" and row.steps == 4 and state.error == "budget exhausted: steps"
    assert row.final_answer.startswith("Stopped before finishing (budget exhausted: steps).")
    assert "Last observation: 4" in row.final_answer


def test_a_repeated_action_is_detected_and_the_model_is_told_then_the_run_stops(make_loop, agent_store) -> None:
    chat = ToolCallingChat(tool_call("calculator", expression="2 + 2"))  # the same call, forever
    loop = make_loop(chat, max_loop_recoveries=1, max_replans=0, max_steps=20)
    run_id = loop.start("Add two and two")
    state = loop.run(run_id)
    assert state.loop_recoveries == 2 and agent_store.get_run(run_id).status == "failed"
    assert state.error == "stuck in a loop repeating calculator" and state.usage.steps < 20  # no budget burnt
    assert any("You already called calculator" in c.messages[-1].content for c in chat.calls)
    assert kinds(agent_store, run_id).count("loop") == 2


def test_loop_recovery_lets_a_model_that_listens_finish(make_loop, agent_store) -> None:
    same = tool_call("calculator", expression="2 + 2")
    chat = ToolCallingChat(same, same, "FINAL ANSWER: 4")
    loop = make_loop(chat)
    run_id = loop.start("Add two and two")
    state = loop.run(run_id)
    assert state.status == "succeeded" and state.loop_recoveries == 1 and state.final_answer == "4"


def test_malformed_tool_calls_are_re_asked_a_bounded_number_of_times(make_loop, agent_store) -> None:
    broken = '<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"</tool_call>'
    chat = ToolCallingChat(broken, tool_call("calculator", expression="1 + 1"), "FINAL ANSWER: 2")
    loop = make_loop(chat)
    run_id = loop.start("One plus one")
    state = loop.run(run_id)
    assert state.status == "succeeded" and state.repairs == 1 and state.final_answer == "2"
    assert "was not valid JSON" in chat.calls[1].messages[-1].content

    always_broken = make_loop(ToolCallingChat(broken), max_repairs=1, max_steps=3)
    run2 = always_broken.start("One plus one")
    state2 = always_broken.run(run2)
    assert state2.status == "budget_exhausted" and state2.repairs == 6  # (1 + max_repairs) per step × 3 steps


def test_bad_arguments_and_a_raising_tool_are_observations(make_loop, agent_store) -> None:
    class Boom(RecordingTool):
        def run(self, arguments, ctx):
            raise RuntimeError("disk on fire")

    chat = ToolCallingChat(
        tool_call("calculator", expr="1"), tool_call("boom", text="x"), "FINAL ANSWER: gave up honestly"
    )
    loop = make_loop(chat, extra_tools=[Boom(name="boom", permission="compute")])
    run_id = loop.start("Try things")
    state = loop.run(run_id)
    [observation] = [e["data"] for e in agent_store.events(run_id) if e["kind"] == "observation"]
    assert not observation["ok"] and "RuntimeError: disk on fire" in observation["text"]
    assert state.status == "succeeded" and state.repairs == 1  # the schema-invalid call was re-asked, not run
    assert "The call to calculator is invalid: " in chat.calls[1].messages[-1].content


def test_a_10_mb_observation_is_capped_in_the_context_the_checkpoint_and_the_trace(make_loop, agent_store) -> None:
    code = "print('x' * 10_000_000)"
    chat = ToolCallingChat(tool_call("python", code=code), "FINAL ANSWER: printed")
    loop = make_loop(chat)
    run_id = loop.start("Print a lot")
    loop.run(run_id)
    _, size = agent_store.checkpoint_stats(run_id)
    assert size < 200_000  # 3 checkpoints kept, each with a capped observation
    events_bytes = sum(len(json.dumps(e["data"])) for e in agent_store.events(run_id))
    assert events_bytes < 50_000
    assert len(chat.calls[-1].messages[-1].content) < 30_000


def test_checkpoints_are_compacted_and_the_scratchpad_folds(make_loop, agent_store) -> None:
    calls = [tool_call("calculator", expression=f"{i} * 2") for i in range(10)]
    loop = make_loop(ToolCallingChat(*calls, "FINAL ANSWER: done"), max_steps=20, scratchpad_keep=4)
    run_id = loop.start("Double the numbers 0 to 9")
    state = loop.run(run_id)
    assert state.status == "succeeded" and state.usage.steps == 10
    kept, _ = agent_store.checkpoint_stats(run_id)
    assert kept == 3  # AGENT__CHECKPOINTS_KEEP, not one per step
    assert len(state.scratchpad) == 4 and len(state.folded) == 16  # both bounded (keep, 4 × keep)
    assert state.folded[0] == "(2 earlier entries omitted)" and state.folded[1].startswith("[1] action: calculator")


def test_plan_verify_and_replan(make_loop, agent_store) -> None:
    plan = {"steps": [
        {"description": "compute the total", "success_criterion": "a number is printed"},
        {"description": "write it to total.txt", "success_criterion": "total.txt exists"},
    ]}  # fmt: skip
    replanned = {"steps": [{"description": "write it to total.txt", "success_criterion": "the file was written"}]}
    chat = ToolCallingChat(
        json.dumps(plan),
        tool_call("python", code="print(6 * 7)"),
        json.dumps({"satisfied": True, "evidence": "42 printed"}),
        tool_call("list_files"),
        json.dumps({"satisfied": False, "evidence": "no file yet"}),
        json.dumps(replanned),
        tool_call("write_file", path="total.txt", content="42"),
        json.dumps({"satisfied": True, "evidence": "written"}),
        "FINAL ANSWER: 42, written to total.txt",
    )
    loop = make_loop(chat, plan=True, verify_with_model=True, max_step_attempts=1)
    run_id = loop.start("Compute 6*7 and save it")
    state = loop.run(run_id)
    assert state.status == "succeeded" and state.replans == 1
    assert [p.status for p in state.plan] == ["done"] and state.evidence[0].startswith("step 1 (compute the total)")
    assert kinds(agent_store, run_id).count("verification") == 3 and "replan" in kinds(agent_store, run_id)
    workspace = Path(loop.settings.workspace_root) / run_id
    assert (workspace / "total.txt").read_text() == "42"


def test_two_runs_writing_the_same_file_are_isolated(make_loop, agent_store) -> None:
    loop_a = make_loop(ToolCallingChat(tool_call("write_file", path="out.txt", content="A"), "FINAL ANSWER: a"))
    loop_b = make_loop(ToolCallingChat(tool_call("write_file", path="out.txt", content="B"), "FINAL ANSWER: b"))
    a, b = loop_a.start("write A"), loop_b.start("write B")
    loop_a.run(a)
    loop_b.run(b)
    root = Path(loop_a.settings.workspace_root)
    assert (root / a / "out.txt").read_text() == "A" and (root / b / "out.txt").read_text() == "B"


def test_a_cancelled_run_stops_at_the_next_step(make_loop, agent_store) -> None:
    loop = make_loop(ToolCallingChat(tool_call("calculator", expression="1 + 1")))
    run_id = loop.start("anything")
    agent_store.transition(run_id, "cancelled", allowed_from=("queued",))
    assert loop.run(run_id).status == "cancelled" and agent_store.get_run(run_id).status == "cancelled"


def test_a_call_with_invented_arguments_is_repaired_not_lost(make_loop, agent_store) -> None:
    """What the real 0.5B model does: a bare JSON call with a key the schema does not have."""
    sloppy = '{"name": "calculator", "arguments": {"expression": "3 * 4", "required": ["expression"]}}'
    chat = ToolCallingChat(sloppy, "FINAL ANSWER: 12")
    loop = make_loop(chat)
    run_id = loop.start("Three times four")
    state = loop.run(run_id)
    assert state.status == "succeeded" and state.repairs == 1 and state.final_answer == "12"
    repair = next(e["data"] for e in agent_store.events(run_id) if e["kind"] == "repair")
    assert repair["repaired"] == "dropped unknown arguments ['required']"
    assert "12" in chat.calls[1].messages[-1].content  # the repaired call ran


def test_after_a_second_loop_the_model_is_asked_for_the_answer_without_tools(make_loop, agent_store) -> None:
    same = tool_call("calculator", expression="17 * 23")
    chat = ToolCallingChat(same, same, same, "391 is the product")
    loop = make_loop(chat, max_loop_recoveries=2)
    run_id = loop.start("What is 17 * 23?")
    state = loop.run(run_id)
    assert state.status == "succeeded" and state.final_answer == "391 is the product"
    assert chat.calls[-1].tools is None and chat.calls[-2].tools  # the answer turn offered no tools
    assert "Write the final answer now" in chat.calls[-1].messages[-1].content


def test_two_workers_on_one_run_take_turns(make_loop, agent_store) -> None:
    """The run lock: a second worker (a job queued by an approval, a requeued job) waits, then finds it done."""
    import threading
    import time

    class Slow(RecordingTool):
        def run(self, arguments, ctx):
            time.sleep(1.0)
            return super().run(arguments, ctx)

    slow = Slow(name="slow", permission="compute")
    loop = make_loop(ToolCallingChat(tool_call("slow", text="x"), "FINAL ANSWER: done"), extra_tools=[slow])
    run_id = loop.start("do the slow thing")
    results = []
    threads = [threading.Thread(target=lambda: results.append(loop.run(run_id).status)) for _ in range(2)]
    threads[0].start()
    time.sleep(0.3)
    threads[1].start()
    for t in threads:
        t.join(30)
    assert results == ["succeeded", "succeeded"] and slow.calls == [{"text": "x"}]  # one worker did the step
    assert kinds(agent_store, run_id).count("action") == 1


def test_a_call_named_after_the_plan_step_is_repaired_to_the_one_tool_its_arguments_fit(make_loop, agent_store):
    """Also what the real 0.5B model does: the tool name is the step's description, the arguments are right."""
    misnamed = '{"name": "multiply_the_two_numbers", "arguments": {"expression": "6 * 7"}}'
    long_code = "x = 1\n" * 500  # arguments over 2000 characters are summarised, never cut mid-value
    chat = ToolCallingChat(misnamed, tool_call("python", code=long_code + "print(x)"), "FINAL ANSWER: 42")
    loop = make_loop(chat)
    run_id = loop.start("Multiply 6 by 7")
    state = loop.run(run_id)
    assert state.status == "succeeded" and state.repairs == 1
    repair = next(e["data"] for e in agent_store.events(run_id) if e["kind"] == "repair")
    assert repair["repaired"] == "unknown tool 'multiply_the_two_numbers': the arguments fit only calculator"
    prompt = chat.calls[-1].messages[-1].content
    assert 'calculator({"expression": "6 * 7"})' in prompt and "python(<3" in prompt and "…" not in prompt


def test_an_invented_tool_name_with_one_fitting_tool_after_dropping_keys_is_repaired(make_loop, agent_store) -> None:
    """From a GSM8K trace: the tool named after the puzzle, python's argument plus a schema keyword."""
    sloppy = '{"name": "kalinda_puzzle_time", "arguments": {"code": "print(360 / 4)", "additionalProperties": false}}'
    chat = ToolCallingChat(sloppy, "FINAL ANSWER: 90")
    loop = make_loop(chat)
    state = loop.run(loop.start("How long does the puzzle take?"))
    assert state.status == "succeeded" and state.repairs == 1
    assert "90" in chat.calls[1].messages[-1].content  # python ran the program
