"""The HumanEval/MBPP harness: scoring, failure classification through the real sandbox, summary shape, CLI.

Orchestration tests use a scripted chat model (canonical solutions, wrong code, loops, forks); one test runs the
real local model on two trivial tasks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from projects.code_assistant import codegen
from projects.code_assistant.eval import (
    GenConfig,
    classify,
    evaluate_tasks,
    exception_name,
    main,
    pass_at_k,
    summarise_dataset,
)
from projects.code_assistant.tests.toy_tasks import HUMANEVAL, MBPP, write_jsonl
from shared.sandbox import SandboxLimits
from shared.serving.base import ChatModel, ServingError
from shared.serving.types import ChatRequest, ChatResult, StreamChunk

FAST = SandboxLimits(wall_s=3, cpu_s=3)


class ScriptedChat(ChatModel):
    """Answers each request with ``answer(prompt, request)``; records requests (list.append is thread-safe)."""

    backend = "test"
    model = "scripted"

    def __init__(self, answer: Callable[[str, ChatRequest], str]) -> None:
        self.answer = answer
        self.calls: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls.append(request)
        return ChatResult(text=self.answer(request.prompt or "", request), model=self.model, backend=self.backend)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        raise NotImplementedError


def canonical_chat(tasks: list[codegen.CodeTask]) -> ScriptedChat:
    """Continues the answer with the reference solution of whichever task the prompt is about.

    HumanEval answers start inside the function (the prompt is the answer's prefix): the continuation is the body.
    """

    def answer(text: str, _req: ChatRequest) -> str:
        for t in tasks:
            if text.endswith(codegen.answer_prefix(t)) and t.prompt.strip() in text:
                return t.reference.removeprefix(t.prompt) if t.dataset == "humaneval" else t.reference
        raise AssertionError(f"unknown prompt: {text[:80]}")

    return ScriptedChat(answer)


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    return {
        "humaneval": write_jsonl(tmp_path / "he.jsonl.gz", HUMANEVAL),
        "mbpp": write_jsonl(tmp_path / "mbpp.jsonl", MBPP),
    }


def _tasks(data: dict[str, Path]) -> list[codegen.CodeTask]:
    return codegen.load_humaneval(data["humaneval"]) + codegen.load_mbpp(data["mbpp"])


# -- pass@k ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [(1, 1, 1, 1.0), (1, 0, 1, 0.0), (5, 2, 1, 0.4), (5, 2, 2, 0.7), (10, 3, 5, 1 - 21 / 252), (4, 2, 3, 1.0)],
)
def test_pass_at_k_is_the_unbiased_estimator(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_exception_name_reads_the_last_traceback_line() -> None:
    tb = 'Traceback (most recent call last):\n  File "main.py", line 3\nAssertionError\n'
    assert exception_name(tb) == "AssertionError"
    assert exception_name("  File x\nNameError: name 'f' is not defined\n") == "NameError"
    assert exception_name("E\nsubprocess.CalledProcessError: boom") == "CalledProcessError"
    assert exception_name("nothing here") is None


def test_classify_needs_the_sentinel_for_a_pass() -> None:
    assert classify("ok", "", "x\nDONE\n", "DONE") == ("passed", None)
    assert classify("ok", "", "", "DONE") == ("error", "ExitedBeforeTests")
    assert classify("error", "AssertionError\n", "", "DONE") == ("wrong", "AssertionError")
    assert classify("error", "SyntaxError: invalid syntax\n", "", "DONE") == ("error", "SyntaxError")
    assert classify("timeout", "", "", "DONE") == ("timeout", None)


# -- through the real sandbox ------------------------------------------------------------------------------------
def test_canonical_solutions_score_pass_at_1_of_one(data: dict[str, Path]) -> None:
    tasks = _tasks(data)
    rows = evaluate_tasks(canonical_chat(tasks), tasks, GenConfig(workers=4), FAST)
    assert [r.status for r in rows] == ["passed"] * len(tasks), [r.stderr_tail for r in rows]
    assert [r.task_id for r in rows] == [t.task_id for t in tasks]
    he = summarise_dataset([r for r in rows if r.dataset == "humaneval"], 1)
    assert he["pass@1"] == 1.0 and he["n"] == 3 and sum(he["failures"].values()) == 0


BROKEN = {  # continuations of the HumanEval prompt ``def total(xs: List[int]) -> int: """..."""``
    "wrong": "    return 42\n",
    "syntax": "    return sum(xs\n",
    "missing": "    pass\n```\n\ndef summe(xs):\n    return sum(xs)\n",
    "loop": "    while True:\n        pass\n",
    "exit": "    import os\n    os._exit(0)\n",
    "memory": "    return len(bytearray(10 * 1024**3))\n",
    "output": "    while True:\n        print('x' * 1000)\n",
    "fork": "    import os, time\n    if os.fork() == 0:\n        time.sleep(1000)\n"
    "        os._exit(0)\n    return sum(xs)\n",
    "demo": "    return sum(xs)\n\nassert total([1]) == 2\nprint(total(input()))\n",
}


@pytest.mark.parametrize(
    ("kind", "status", "error_type"),
    [
        ("wrong", "wrong", "AssertionError"),
        ("syntax", "error", "SyntaxError"),
        ("missing", "wrong", "AssertionError"),  # the prompt's stub (``pass``) answers None
        ("loop", "timeout", None),
        ("exit", "error", "ExitedBeforeTests"),
        ("memory", "memory", None),
        ("output", "output_limit", None),
        ("fork", "passed", None),  # the sleeping child is contained and killed with the run
        ("demo", "passed", None),  # the model's own (wrong) example assert and input() are not run
    ],
)
def test_broken_answers_are_classified(data: dict[str, Path], kind: str, status: str, error_type: str | None) -> None:
    task = codegen.load_humaneval(data["humaneval"])[:1]
    chat = ScriptedChat(lambda _t, _r: BROKEN[kind])
    [row] = evaluate_tasks(chat, task, GenConfig(), FAST)
    assert (row.status, row.error_type) == (status, error_type), row.stderr_tail


def test_mbpp_missing_function_is_an_error(data: dict[str, Path]) -> None:
    task = codegen.load_mbpp(data["mbpp"])[:1]
    chat = ScriptedChat(lambda _t, _r: "def maximum(a, b):\n    return max(a, b)\n")
    [row] = evaluate_tasks(chat, task, GenConfig(), FAST)
    assert (row.status, row.error_type) == ("error", "NameError")


def test_generation_failure_is_recorded_not_raised(data: dict[str, Path]) -> None:
    def answer(_t: str, _r: ChatRequest) -> str:
        raise ServingError("backend down")

    tasks = codegen.load_mbpp(data["mbpp"])
    rows = evaluate_tasks(ScriptedChat(answer), tasks, GenConfig(), FAST)
    assert [r.status for r in rows] == ["generation_error"] * 2
    assert summarise_dataset(rows, 1)["failures"]["generation_error"] == 2


def test_samples_use_seed_plus_index_and_pass_at_k(data: dict[str, Path]) -> None:
    """Sample 0 is right, sample 1 wrong, sample 2 right: pass@1 = 2/3, pass@3 = 1."""
    task = codegen.load_mbpp(data["mbpp"])[:1]

    def answer(_t: str, req: ChatRequest) -> str:
        body = "return a if a > b else b" if req.seed != 11 else "return a"
        return f"def max_of_two(a, b):\n    {body}\n"

    chat = ScriptedChat(answer)
    rows = evaluate_tasks(chat, task, GenConfig(samples=3, temperature=0.8, seed=10), FAST)
    assert sorted(c.seed for c in chat.calls) == [10, 11, 12]
    assert {c.temperature for c in chat.calls} == {0.8}
    assert [r.status for r in rows] == ["passed", "wrong", "passed"]
    section = summarise_dataset(rows, 3)
    assert section["pass@1"] == pytest.approx(0.6667, abs=1e-4)
    assert section["pass@3"] == 1.0
    assert section["samples"] == 3 and section["n"] == 1


# -- CLI ---------------------------------------------------------------------------------------------------------
def _args(data: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["--humaneval", str(data["humaneval"]), "--mbpp", str(data["mbpp"]), "--out", str(out), *extra]


def test_cli_writes_summary_and_results(data: dict[str, Path], tmp_path: Path) -> None:
    tasks = _tasks(data)
    out = tmp_path / "out"
    chat = canonical_chat(tasks)
    assert main(_args(data, out, "--limit", "2", "--samples", "2", "--workers", "2"), chat=chat) == 0

    summary = json.loads((out / "summary.json").read_text())
    for name in ("humaneval", "mbpp"):
        section = summary[name]
        assert section["pass@1"] == 1.0 and section["pass@2"] == 1.0
        assert section["n"] == 2 and section["samples"] == 2
        assert set(section["failures"]) >= {"wrong", "error", "timeout", "memory", "output_limit", "killed"}
    assert summary["n"] == 4
    assert set(summary["generation_latency_s"]) == {"p50", "p95"} and set(summary["sandbox_s"]) == {"p50", "p95"}
    assert summary["model"] == "scripted" and summary["backend"] == "test"
    assert re.fullmatch(r"[0-9a-f]{40}", summary["commit"] or "")
    assert summary["config"]["temperature"] == 0.8  # the default when sampling
    assert sorted(c.seed for c in chat.calls) == [0, 0, 0, 0, 1, 1, 1, 1]

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 8  # (2 + 2 tasks) × 2 samples
    assert {(r["dataset"], r["task_id"], r["sample"]) for r in rows} == {
        (d, t, s) for d, t in [("humaneval", "Toy/0"), ("humaneval", "Toy/1"), ("mbpp", "MBPP/901"),
                               ("mbpp", "MBPP/902")] for s in (0, 1)
    }  # fmt: skip
    assert set(rows[0]) >= {"task_id", "dataset", "sample", "status", "completion", "latency_s", "stderr_tail"}


def test_cli_without_mbpp_and_greedy_by_default(data: dict[str, Path], tmp_path: Path) -> None:
    chat = canonical_chat(_tasks(data))
    argv = ["--humaneval", str(data["humaneval"]), "--out", str(tmp_path / "o")]
    assert main(argv, chat=chat) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert "mbpp" not in summary and summary["n"] == 3 and "pass@2" not in summary["humaneval"]
    assert {c.temperature for c in chat.calls} == {0.0} and {c.seed for c in chat.calls} == {None}


def test_low_scores_pass_but_harness_errors_and_the_gate_fail(data: dict[str, Path], tmp_path: Path) -> None:
    wrong = ScriptedChat(lambda _t, _r: "    return 0\n")
    assert main(_args(data, tmp_path / "a", "--limit", "1"), chat=wrong) == 0

    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"metrics": {"humaneval.pass@1": {"value": 0.5, "tolerance": 0.1}}}))
    assert main(_args(data, tmp_path / "b", "--limit", "1", "--baseline", str(baseline)), chat=wrong) == 1
    good = canonical_chat(_tasks(data))
    assert main(_args(data, tmp_path / "c", "--limit", "1", "--baseline", str(baseline)), chat=good) == 0

    def down(_t: str, _r: ChatRequest) -> str:
        raise ServingError("backend down")

    assert main(_args(data, tmp_path / "d", "--limit", "1"), chat=ScriptedChat(down)) == 1


def test_cli_rejects_greedy_sampling(data: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(_args(data, tmp_path, "--samples", "3", "--temperature", "0"), chat=canonical_chat([]))


def test_shipped_baseline_gates_metrics_the_summary_has(data: dict[str, Path], tmp_path: Path) -> None:
    """The baseline `make eval` uses names only metrics this harness writes (a typo would fail as MISSING)."""
    from shared.eval.gate import compare

    baseline = json.loads((Path(__file__).parents[1] / "baselines" / "dev.json").read_text())
    main(_args(data, tmp_path, "--limit", "1"), chat=canonical_chat(_tasks(data)))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r.metric for r in compare(summary, baseline) if r.actual is None] == []


# -- the real model ----------------------------------------------------------------------------------------------
def test_real_model_solves_two_trivial_tasks(tmp_path: Path) -> None:
    he = write_jsonl(tmp_path / "he.jsonl", [HUMANEVAL[2]])
    mbpp = write_jsonl(tmp_path / "mbpp.jsonl", [MBPP[0]])
    out = tmp_path / "out"
    assert main(["--humaneval", str(he), "--mbpp", str(mbpp), "--out", str(out), "--max-tokens", "160"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert summary["backend"] == "local" and summary["n"] == 2
    assert summary["humaneval"]["pass@1"] == 1.0 and summary["mbpp"]["pass@1"] == 1.0, rows
