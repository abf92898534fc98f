import json
import threading
import time
from pathlib import Path

import pytest

from scripts import eval_all
from shared.eval import gate
from shared.eval.harness import load_jsonl, run_eval
from shared.settings import REPO_ROOT


def _system(item: dict) -> dict:
    if item["q"] == "boom":
        raise RuntimeError("model exploded")
    time.sleep(0.01 * (5 - item["n"] % 5))  # later items finish first under concurrency
    return {"answer": item["q"].upper()}


SCORERS = {
    "em": lambda item, out: float(out["answer"] == item["gold"]),
    "detail": lambda item, out: {"len": len(out["answer"]), "note": "kept out of the means"},
}


def _items(n: int = 8) -> list[dict]:
    items = [{"id": f"i{i}", "q": f"q{i}", "gold": f"Q{i}" if i % 2 == 0 else "nope", "n": i} for i in range(n)]
    items[3]["q"] = "boom"
    return items


@pytest.mark.parametrize("concurrency", [1, 4])
def test_run_eval_writes_results_summary_and_report(tmp_path: Path, concurrency: int) -> None:
    summary = run_eval(_items(), _system, SCORERS, tmp_path, concurrency=concurrency, name="toy")
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"i{i}" for i in range(8)]  # dataset order, whatever the concurrency
    assert rows[3]["error"] == {"stage": "system", "type": "RuntimeError", "message": "model exploded"}
    assert rows[3]["scores"] == {}
    assert rows[0]["scores"] == {"em": 1.0, "detail.len": 2.0}
    assert rows[0]["details"] == {"detail.note": "kept out of the means"}
    assert rows[0]["latency_s"] > 0
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == summary
    assert summary["n_items"] == 8 and summary["n_errors"] == 1
    assert summary["error_rate"] == pytest.approx(1 / 8)
    assert summary["metrics"]["em"] == {"mean": pytest.approx(4 / 7), "n": 7}  # i0,i2,i4,i6 of 7 scored
    assert summary["latency_s"]["p95"] >= summary["latency_s"]["p50"] > 0
    assert summary["git_commit"] and len(summary["git_commit"]) == 40
    report = (tmp_path / "report.md").read_text()
    assert "| em | 0.5714 | 7 |" in report
    assert "model exploded" in report and "Worst" in report


def test_run_eval_concurrency_really_overlaps_and_limit_applies(tmp_path: Path) -> None:
    active, peak, lock = 0, 0, threading.Lock()

    def slow(item: dict) -> dict:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return {"answer": "x"}

    summary = run_eval([{"id": i} for i in range(10)], slow, {}, tmp_path, concurrency=4, limit=6)
    assert summary["n_items"] == 6
    assert peak > 1


def test_scorer_failure_is_an_error_row_and_jsonl_input(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"id": "a", "q": "x", "gold": "X", "n": 0}\n\n{"id": "b", "q": "y", "n": 1}\n')
    assert len(load_jsonl(data)) == 2
    summary = run_eval(data, _system, {"em": SCORERS["em"]}, tmp_path / "out")
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert rows[1]["error"]["stage"] == "score" and rows[1]["error"]["type"] == "KeyError"
    assert rows[1]["output"] == {"answer": "Y"}  # the system's output is kept for debugging
    assert summary["n_errors"] == 1 and summary["metrics"]["em"]["n"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        load_jsonl(bad)


def _write(path: Path, obj: dict) -> Path:
    path.write_text(json.dumps(obj))
    return path


SUMMARY = {"name": "s", "error_rate": 0.0, "latency_s": {"p95": 0.2}, "metrics": {"recall@5": {"mean": 0.80, "n": 9}}}


def test_gate_passes_within_tolerance_and_fails_on_regression_or_missing(tmp_path: Path, capsys) -> None:
    summary = _write(tmp_path / "summary.json", SUMMARY)
    ok = {
        "metrics": {
            "recall@5": {"value": 0.81, "direction": "higher", "tolerance": 0.02},
            "latency_s.p95": {"value": 0.25, "direction": "lower", "tolerance": 0.0},
            "error_rate": {"value": 0.0, "direction": "lower", "tolerance": 0.0},
        }
    }
    assert gate.main(["--summary", str(summary), "--baseline", str(_write(tmp_path / "b1.json", ok))]) == 0
    assert "gate passed" in capsys.readouterr().out

    regressed = {"metrics": {"recall@5": {"value": 0.85, "direction": "higher", "tolerance": 0.02}}}
    assert gate.main(["--summary", str(summary), "--baseline", str(_write(tmp_path / "b2.json", regressed))]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "recall@5" in out and "-0.0500" in out

    slower = {"metrics": {"latency_s.p95": {"value": 0.1, "direction": "lower", "tolerance": 0.05}}}
    assert gate.main(["--summary", str(summary), "--baseline", str(_write(tmp_path / "b3.json", slower))]) == 1

    missing = {"metrics": {"ndcg@10": {"value": 0.5, "direction": "higher", "tolerance": 0.5}}}
    assert gate.main(["--summary", str(summary), "--baseline", str(_write(tmp_path / "b4.json", missing))]) == 1
    assert "MISSING" in capsys.readouterr().out


def test_gate_update_writes_baseline_keeping_tolerances(tmp_path: Path) -> None:
    summary = _write(tmp_path / "summary.json", SUMMARY)
    baseline = tmp_path / "new" / "baseline.json"
    assert gate.main(["--summary", str(summary), "--baseline", str(baseline)]) == 2  # no baseline yet
    assert gate.main(["--summary", str(summary), "--baseline", str(baseline), "--update"]) == 0
    written = json.loads(baseline.read_text())["metrics"]
    assert written["recall@5"] == {"direction": "higher", "tolerance": gate.DEFAULT_TOLERANCE, "value": 0.8}
    assert written["error_rate"]["direction"] == "lower"
    assert gate.main(["--summary", str(summary), "--baseline", str(baseline)]) == 0
    custom = json.loads(baseline.read_text())
    custom["metrics"]["recall@5"]["tolerance"] = 0.1
    baseline.write_text(json.dumps(custom))
    improved = _write(tmp_path / "s2.json", {**SUMMARY, "metrics": {"recall@5": {"mean": 0.9, "n": 9}}})
    assert gate.main(["--summary", str(improved), "--baseline", str(baseline), "--update"]) == 0
    assert json.loads(baseline.read_text())["metrics"]["recall@5"] == {
        "direction": "higher",
        "tolerance": 0.1,
        "value": 0.9,
    }


def test_committed_platform_baseline_is_well_formed() -> None:
    from shared.eval.selfeval import BASELINE, SCORERS, build_dataset

    metrics = json.loads(BASELINE.read_text())["metrics"]
    assert set(SCORERS) | {"error_rate"} == set(metrics)
    docs, items = build_dataset()
    assert len(docs) == len(items) == 72 and all(item["relevant"][0] in docs for item in items)
    assert build_dataset() == (docs, items)  # deterministic


def test_eval_all_discovers_projects_and_their_declared_args(tmp_path: Path) -> None:
    (tmp_path / "rag").mkdir()
    (tmp_path / "rag" / "eval.py").write_text('MAKE_EVAL_ARGS = ["--split", "dev", "--limit", 50]\nraise SystemExit\n')
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "eval.py").write_text("def main():\n    pass\n")
    (tmp_path / "noeval").mkdir()
    assert eval_all.discover(tmp_path) == {"rag": ["--split", "dev", "--limit", "50"], "sql": []}


def test_every_project_declares_literal_eval_args() -> None:
    """`make eval` reads MAKE_EVAL_ARGS without importing the module: an f-string there breaks it for everyone."""
    declared = eval_all.discover(REPO_ROOT / "projects")
    assert {"support_agent", "code_assistant", "nl2sql_analytics"} <= set(declared)
    for project, args in declared.items():
        for arg in args:
            if arg.startswith("projects/"):  # files of the repository itself must exist (datasets live outside)
                assert (REPO_ROOT / arg).exists(), (project, arg)
