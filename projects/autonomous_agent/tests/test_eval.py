"""The GSM8K/BFCL evaluation: answer parsing, BFCL's AST-matching rules, the solvers' repair logic, the harness.

Fixtures are written here (never read from shared/data). Chat doubles only drive orchestration; the sandbox is the
real one, and one test calls the real local model once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projects.autonomous_agent import bfcl
from projects.autonomous_agent.eval import main
from projects.autonomous_agent.eval_solvers import (
    CallResult,
    SingleShotSolver,
    SolveResult,
    ToolCallingSolver,
)
from projects.autonomous_agent.gsm8k import answers_match, gold_answer, load_gsm8k, parse_answer
from shared.testing.doubles import RecordingChat, ToolCallingChat, tool_call


# -- GSM8K parsing ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jane is 27.\nTrent is 27+5=32 years old\n#### 32", "32"),
        ("#### 32 years", "32"),
        ("The total is $1,234.50.", "1234.5"),
        ("So she pays $18.00 in all.", "18"),
        ("He had 5 apples, ate 2, so 3 apples are left.", "3"),
        ("The result is -7 degrees.", "-7"),
        ("It is 10 km. #### 12,000\nThe end 99", "12000"),
        ("I cannot tell.", None),
        ("", None),
    ],
)
def test_parse_answer(text: str, expected: str | None) -> None:
    assert parse_answer(text) == expected


def test_gold_and_match() -> None:
    assert gold_answer("15000/3 = 5,000\n#### 20,000") == "20000"
    assert answers_match("18.0", "18") and answers_match("18", "18")
    assert not answers_match("18.5", "18") and not answers_match(None, "18")
    with pytest.raises(ValueError, match="####"):
        gold_answer("no marker 5")


def test_load_gsm8k_reports_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    rows = [{"question": "q", "answer": "#### 4"}, {"question": "q", "answer": "4"}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ValueError, match=":2:"):
        load_gsm8k(path)
    assert [i.gold for i in load_gsm8k(path, limit=1)] == ["4"]


# -- BFCL AST checker ---------------------------------------------------------------------------------------------
AREA = {
    "name": "geometry.area",
    "description": "Area of a shape.",
    "parameters": {
        "type": "dict",
        "properties": {
            "shape": {"type": "string"},
            "size": {"type": "float"},
            "count": {"type": "integer"},
            "units": {"type": "string", "default": "m"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "dict", "properties": {"a": {"type": "integer"}}},
        },
        "required": ["shape", "size"],
    },
}
WEATHER = {
    "name": "weather",
    "description": "Weather in a city.",
    "parameters": {"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
AREA_GT = {"geometry.area": {"shape": ["circle"], "size": [2.0], "count": [3, ""], "units": ["m", ""]}}


def call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


@pytest.mark.parametrize(
    ("produced", "valid", "reason"),
    [
        (call("geometry.area", shape="circle", size=2.0), True, ""),  # "" = optional may be absent
        (call("geometry.area", shape="circle", size=2), True, ""),  # int accepted for float
        (call("geometry.area", shape=" Circle", size=2.0, count=3, units="M"), True, ""),  # case/space-normalised
        (call("geometry.area", shape="circle", size=2.0, count=3.0), False, "wrong type"),  # float for integer
        (call("geometry.area", shape="circle", size=2.0, count=True), False, "wrong type"),  # bool is not int
        (call("geometry.area", shape="circle", size=2.5), False, "invalid value"),
        (call("geometry.area", shape="square", size=2.0), False, "invalid value"),
        (call("geometry.area", size=2.0), False, "missing required"),
        (call("geometry.area", shape="circle", size=2.0, colour="red"), False, "unexpected parameter"),
        (call("geometry.area", shape="circle", size=2.0, tags=["x"]), False, "unexpected parameter"),  # not in gt
        (call("geometry_area", shape="circle", size=2.0), False, "wrong function"),  # sanitised name not mapped back
    ],
)
def test_simple_rules(produced: dict, valid: bool, reason: str) -> None:
    result = bfcl.check_item("simple_python", [AREA], [produced], [AREA_GT])
    assert result.valid is valid
    assert reason in result.error


def test_answer_param_without_optional_marker_must_be_given() -> None:
    gt = {"geometry.area": {"shape": ["circle"], "size": [2.0], "count": [3]}}
    without = call("geometry.area", shape="circle", size=2.0)
    assert not bfcl.check_item("simple_python", [AREA], [without], [gt]).valid
    given = call("geometry.area", shape="circle", size=2.0, count=3)
    assert bfcl.check_item("live_simple", [AREA], [given], [gt]).valid


def test_list_and_dict_values() -> None:
    gt = {"geometry.area": {"shape": ["circle"], "size": [1.0], "tags": [["Big Red", "b"]], "extra": [{"a": [1]}]}}
    ok = call("geometry.area", shape="circle", size=1.0, tags=["big red", "B"], extra={"a": 1})
    assert bfcl.check_item("simple_python", [AREA], [ok], [gt]).valid
    swapped = call("geometry.area", shape="circle", size=1.0, tags=["B", "big red"], extra={"a": 1})
    assert "invalid value for 'tags'" in bfcl.check_item("simple_python", [AREA], [swapped], [gt]).error
    bad_dict = call("geometry.area", shape="circle", size=1.0, tags=["big red", "b"], extra={"a": 2})
    assert "invalid value for 'extra'" in bfcl.check_item("simple_python", [AREA], [bad_dict], [gt]).error


def test_simple_needs_exactly_one_call() -> None:
    two = [call("geometry.area", shape="circle", size=2.0)] * 2
    assert "wrong number of calls" in bfcl.check_item("simple_python", [AREA], two, [AREA_GT]).error
    assert not bfcl.check_item("simple_python", [AREA], [], [AREA_GT]).valid


def test_parallel_is_order_independent_and_one_to_one() -> None:
    gt = [{"weather": {"city": ["Paris"]}}, {"weather": {"city": ["Rome", "Roma"]}}]
    paris, rome = call("weather", city="paris"), call("weather", city="Roma")
    assert bfcl.check_item("parallel", [WEATHER], [rome, paris], gt).valid
    assert bfcl.check_item("parallel", [WEATHER], [paris, rome], gt).valid
    assert not bfcl.check_item("parallel", [WEATHER], [paris, paris], gt).valid  # one call cannot match twice
    assert "wrong number" in bfcl.check_item("parallel", [WEATHER], [paris], gt).error
    mixed = [AREA_GT, {"weather": {"city": ["Paris"]}}]
    both = [paris, call("geometry.area", shape="circle", size=2.0)]
    assert bfcl.check_item("parallel_multiple", [AREA, WEATHER], both, mixed).valid


def test_multiple_picks_the_right_function() -> None:
    gt = [{"weather": {"city": ["Paris"]}}]
    assert bfcl.check_item("multiple", [AREA, WEATHER], [call("weather", city="Paris")], gt).valid
    wrong = bfcl.check_item("multiple", [AREA, WEATHER], [call("geometry.area", shape="circle", size=2.0)], gt)
    assert "wrong function" in wrong.error


def test_irrelevance_is_correct_iff_no_call() -> None:
    assert bfcl.check_item("irrelevance", [WEATHER], [], None).valid
    assert not bfcl.check_item("irrelevance", [WEATHER], [call("weather", city="Paris")], None).valid


def test_tool_names_and_schemas() -> None:
    names = bfcl.tool_names([AREA, {**WEATHER, "name": "geometry_area"}, WEATHER])
    assert names["geometry.area"] == "geometry_area"
    assert len(set(names.values())) == 3  # the collision with a real "geometry_area" got a suffix
    schema = bfcl.to_json_schema(AREA["parameters"])
    assert schema["type"] == "object" and schema["properties"]["size"]["type"] == "number"
    assert schema["properties"]["extra"]["type"] == "object"
    assert bfcl.validate_call(call("geometry.area", shape="c", size=1), [AREA]) is None
    assert "unknown parameter" in bfcl.validate_call(call("geometry.area", shape="c", size=1, z=1), [AREA])
    assert "required" in bfcl.validate_call(call("geometry.area", shape="c"), [AREA])
    assert "unknown function" in bfcl.validate_call(call("nope"), [AREA])


def test_extract_calls_from_text() -> None:
    assert bfcl.extract_calls('Sure: [{"name": "weather", "arguments": {"city": "Paris"}}]') == [
        call("weather", city="Paris")
    ]
    assert bfcl.extract_calls('```json\n{"weather": {"city": "Rome"}}\n```') == [call("weather", city="Rome")]
    two = '{"name": "weather", "arguments": {"city": "A"}}\n\n{"name": "weather", "arguments": {"city": "B"}}'
    assert bfcl.extract_calls(two) == [call("weather", city="A"), call("weather", city="B")]
    assert bfcl.extract_calls("None of these functions can help.") == []
    assert bfcl.extract_calls("[]") == []


def test_load_bfcl_reports_skipped_categories(tmp_path: Path) -> None:
    write_bfcl(tmp_path)
    cats = {c.name: c for c in bfcl.load_bfcl(tmp_path)}
    assert cats["multi_turn_base"].skipped and "simulators" in cats["multi_turn_base"].skipped
    assert cats["simple_python"].items[0].ground_truth == [AREA_GT]
    assert cats["irrelevance"].items[0].ground_truth is None


# -- solvers with chat doubles ------------------------------------------------------------------------------------
def test_tool_calling_maps_dotted_names_back() -> None:
    chat = ToolCallingChat(
        tool_call("geometry_area", shape="circle", size=2) + "\n" + tool_call("weather", city="Paris")
    )
    result = ToolCallingSolver(chat).call_functions([{"role": "user", "content": "both"}], [AREA, WEATHER])
    assert result.calls == [call("geometry.area", shape="circle", size=2), call("weather", city="Paris")]
    assert (result.steps, result.repairs, result.error) == (1, 0, None)
    assert {t.name for t in chat.calls[0].tools} == {"geometry_area", "weather"}


def test_tool_calling_repairs_with_the_validation_error() -> None:
    chat = ToolCallingChat(tool_call("weather", town="Paris"), tool_call("weather", city="Paris"))
    result = ToolCallingSolver(chat, repairs=2).call_functions("weather in Paris?", [WEATHER])
    assert result.calls == [call("weather", city="Paris")]
    assert (result.steps, result.repairs, result.budget_exhausted) == (2, 1, False)
    feedback = chat.calls[1].messages[-1].content
    assert "'city' is a required property" in feedback


def test_tool_calling_is_bounded_and_detects_repeats() -> None:
    chat = ToolCallingChat(tool_call("weather", town="Paris"))  # the same invalid call forever
    result = ToolCallingSolver(chat, repairs=2).call_functions("weather in Paris?", [WEATHER])
    assert result.steps == 3 and len(chat.calls) == 3
    assert result.budget_exhausted and result.error
    assert result.calls == [call("weather", town="Paris")]  # the attempted call is reported (and scored) as made
    assert result.loop_recoveries == 1 and chat.calls[2].temperature > 0
    assert "repeated" in chat.calls[2].messages[-1].content


def test_tool_calling_takes_valid_untagged_calls_without_a_round_trip() -> None:
    text = json.dumps(call("weather", city="A")) + "\n\n" + json.dumps(call("geometry_area", shape="c", size=1))
    chat = ToolCallingChat(text)
    result = ToolCallingSolver(chat).call_functions("weather in A and an area", [WEATHER, AREA])
    assert result.calls == [call("weather", city="A"), call("geometry.area", shape="c", size=1)]
    assert (result.steps, result.repairs, result.error) == (1, 1, None)


def test_tool_calling_plain_text_is_no_call() -> None:
    chat = ToolCallingChat("None of the functions can do that.")
    result = ToolCallingSolver(chat).call_functions("tell a joke", [WEATHER])
    assert result.calls == [] and result.steps == 1 and result.error is None


def test_single_shot_parses_once_without_repair() -> None:
    chat = RecordingChat('[{"name": "weather", "arguments": {"town": "Paris"}}]')
    result = SingleShotSolver(chat).call_functions("weather in Paris?", [WEATHER])
    assert result.calls == [call("weather", town="Paris")] and result.steps == 1 and len(chat.calls) == 1
    assert chat.calls[0].tools is None and "geometry" not in chat.calls[0].system
    assert '"weather"' in chat.calls[0].system  # the functions are described in the prompt
    math = SingleShotSolver(RecordingChat("3 + 4 = 7\n#### 7")).solve_math("3 + 4?")
    assert parse_answer(math.answer) == "7" and math.steps == 1


# -- the harness end to end ---------------------------------------------------------------------------------------
def write_bfcl(root: Path) -> Path:
    def lines(path: Path, rows: list[dict]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    q = [[{"role": "user", "content": "area of a circle of size 2"}]]
    lines(root / "BFCL_v4_simple_python.json", [{"id": "simple_python_0", "question": q, "function": [AREA]}])
    lines(root / "possible_answer/BFCL_v4_simple_python.json", [{"id": "simple_python_0", "ground_truth": [AREA_GT]}])
    pq = [[{"role": "user", "content": "weather in Paris and Rome"}]]
    gt = [{"weather": {"city": ["Paris"]}}, {"weather": {"city": ["Rome"]}}]
    lines(root / "BFCL_v4_parallel.json", [{"id": "parallel_0", "question": pq, "function": [WEATHER]}])
    lines(root / "possible_answer/BFCL_v4_parallel.json", [{"id": "parallel_0", "ground_truth": gt}])
    iq = [[{"role": "user", "content": "tell a joke"}]]
    lines(root / "BFCL_v4_irrelevance.json", [{"id": "irrelevance_0", "question": iq, "function": [WEATHER]}])
    mt = {"id": "multi_turn_base_0", "question": [q[0], pq[0]], "initial_config": {}, "involved_classes": []}
    lines(root / "BFCL_v4_multi_turn_base.json", [mt])
    lines(root / "possible_answer/BFCL_v4_multi_turn_base.json", [{"id": "multi_turn_base_0", "ground_truth": []}])
    return root


def write_gsm8k(path: Path) -> Path:
    rows = [
        {"question": "What is 2 + 3?", "answer": "2+3=5\n#### 5"},
        {"question": "What is 10 times 100?", "answer": "#### 1,000"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ORACLE_CALLS = {
    "area of a circle of size 2": [call("geometry.area", shape="circle", size=2)],
    "weather in Paris and Rome": [call("weather", city="Rome"), call("weather", city="paris")],
    "tell a joke": [],
}


class OracleSolver:
    """Right on everything except the second GSM8K item; takes 2 steps and one recovery per item."""

    name = "agent"

    def solve_math(self, question: str) -> SolveResult:
        answer = "5" if "2 + 3" in question else "999"
        return SolveResult(answer=answer, steps=2, loop_recoveries=1, budget_exhausted="10" in question)

    def call_functions(self, question: list[dict] | str, functions: list[dict]) -> CallResult:
        return CallResult(calls=ORACLE_CALLS[question[0]["content"]], steps=2, loop_recoveries=1)


class BrokenSolver:
    """Fails every BFCL item (always the same wrong call) and raises on GSM8K."""

    name = "single_shot"

    def solve_math(self, question: str) -> SolveResult:
        raise RuntimeError("model down")

    def call_functions(self, question: list[dict] | str, functions: list[dict]) -> CallResult:
        return CallResult(calls=[call("weather", city="Oslo")])


def test_harness_summary_and_results(tmp_path: Path) -> None:
    gsm, bfcl_dir, out = write_gsm8k(tmp_path / "g.jsonl"), write_bfcl(tmp_path / "bfcl"), tmp_path / "out"
    argv = ["--gsm8k", str(gsm), "--bfcl", str(bfcl_dir), "--out", str(out), "--workers", "4"]
    rc = main(argv, solvers=[OracleSolver(), BrokenSolver()])
    assert rc == 1  # the baseline raised on GSM8K items: a harness failure
    summary = json.loads((out / "summary.json").read_text())
    assert summary["solver"] == "agent"
    assert summary["gsm8k_accuracy"] == 0.5 and summary["gsm8k_n"] == 2
    assert summary["bfcl"] == {"irrelevance": 1.0, "parallel": 1.0, "simple_python": 1.0}
    assert summary["bfcl_overall"] == 1.0
    assert set(summary["bfcl_skipped"]) == {"multi_turn_base"}
    assert summary["n"] == 5 and summary["avg_steps"] == 2.0 and summary["loop_recoveries"] == 5
    assert summary["budget_exhausted_rate"] == 0.2 and summary["errors"] == 0
    assert set(summary["latency_s"]) == {"p50", "p95"}
    base = summary["baselines"]["single_shot"]
    assert base.keys() == {k for k in summary if k not in ("solver", "baselines", "wall_s", "model", "backend",
                                                            "commit", "config")}  # fmt: skip
    assert base["gsm8k_accuracy"] == 0.0 and base["errors"] == 2
    assert base["bfcl"] == {"irrelevance": 0.0, "parallel": 0.0, "simple_python": 0.0} and base["bfcl_overall"] == 0.0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 10
    first = next(r for r in rows if r["solver"] == "agent" and r["id"] == "gsm8k_1")
    assert (first["prediction"], first["gold"], first["correct"]) == ("999", "1000", False)
    par = next(r for r in rows if r["solver"] == "single_shot" and r["id"] == "parallel_0")
    assert par["category"] == "parallel" and "wrong number" in par["why"]
    assert any("harness_error" in r for r in rows if r["solver"] == "single_shot")


def test_harness_wires_the_default_solvers(tmp_path: Path, database_url: str) -> None:
    """main(chat=...) builds the agent solver (the real loop, its runs in the database) and the single-shot
    baseline on the same chat model."""
    from projects.autonomous_agent.store import AgentStore

    gsm, out = write_gsm8k(tmp_path / "g.jsonl"), tmp_path / "out"
    chat = ToolCallingChat(tool_call("python", code="print(2 + 3)"), "FINAL ANSWER: 5")
    argv = ["--gsm8k", str(gsm), "--out", str(out), "--limit", "1", "--workers", "1"]
    assert main(argv, chat=chat, url=database_url) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gsm8k_accuracy"] == 1.0 and summary["baselines"]["single_shot"]["gsm8k_accuracy"] == 1.0
    assert summary["bfcl"] == {} and summary["bfcl_overall"] is None
    assert summary["model"] == "recording" and len(chat.calls) == 3  # agent: a python call, then the answer
    assert summary["avg_steps"] == 1 and summary["baselines"]["single_shot"]["avg_steps"] == 1
    [run] = AgentStore(database_url).list_runs("eval")
    assert run.status == "succeeded" and run.tools == ["python", "calculator"]


# -- the real model, once -----------------------------------------------------------------------------------------
def test_real_model_tool_call_smoke() -> None:
    from shared.serving import get_chat_model

    fns = [
        {
            "name": "math.factorial",
            "description": "Calculate the factorial of a number.",
            "parameters": {"type": "dict", "properties": {"number": {"type": "integer"}}, "required": ["number"]},
        }
    ]
    gt = [{"math.factorial": {"number": [5]}}]
    solver = ToolCallingSolver(get_chat_model(), max_tokens=48, repairs=1)
    result = solver.call_functions([{"role": "user", "content": "Calculate the factorial of 5."}], fns)
    assert result.steps >= 1 and result.tokens > 0
    assert [c["name"] for c in result.calls] == ["math.factorial"]  # mapped back from math_factorial
    assert bfcl.check_item("simple_python", fns, result.calls, gt).valid
