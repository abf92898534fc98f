"""GSM8K + BFCL evaluation of the agent beside the single-shot baseline (same model, no tools, no loop).

    python -m projects.autonomous_agent.eval --gsm8k FILE.jsonl --out OUT [--bfcl DIR] [--limit N] [--workers W]

Every item runs through every solver: the agent (``agent_solver``: what the project ships) and ``single_shot``
(``eval_solvers.SingleShotSolver``), from one pool of ``--workers`` threads so the local backend decodes the
requests as batches. GSM8K: the number is read from the final answer (``gsm8k.parse_answer``) and compared with the
number after ``####``. BFCL: the calls the solver would make (never executed) are scored by ``bfcl.check_item``
(BFCL's AST checker: names, required/unknown parameters, types, allowed values; parallel categories order-free;
irrelevance = no call). ``--limit N`` takes the first N items of GSM8K and of each BFCL category.

``OUT/summary.json`` (the agent's numbers at the top level, each baseline's under ``baselines``)::

    {"solver", "gsm8k_accuracy", "gsm8k_n", "bfcl": {category: accuracy}, "bfcl_n": {category: n},
     "bfcl_overall" (unweighted mean over the scored categories, as BFCL averages categories),
     "bfcl_skipped": {category: why}, "avg_steps" (model requests per item), "budget_exhausted_rate",
     "loop_recoveries" (total), "repairs" (total), "avg_tokens", "latency_s": {"p50", "p95"} (per item, wall),
     "errors" (items whose solver raised), "n" (items),
     "baselines": {"single_shot": {...the same keys...}}, "model", "backend", "commit", "config", "wall_s"}

``OUT/results.jsonl``: one row per solver × dataset × item (id, category, prediction, gold, correct, why not, the
stats and the solver's trace). Exit status 1 when a solver raised on some item (a harness failure: the serving
layer had already retried); low scores alone never fail the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projects.autonomous_agent import bfcl
from projects.autonomous_agent.eval_solvers import (
    CallResult,
    CombinedSolver,
    LoopMathSolver,
    SingleShotSolver,
    Solver,
    SolveResult,
    ToolCallingSolver,
)
from projects.autonomous_agent.gsm8k import MathItem, answers_match, load_gsm8k, parse_answer
from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from shared.serving import get_batch_chat_model
from shared.serving.base import ChatModel

__all__ = ["CallResult", "SolveResult", "Solver", "agent_solver", "baseline_solver", "main"]

log = logging.getLogger("projects.autonomous_agent.eval")

MAKE_EVAL_ARGS = [  # plain literals: scripts/eval_all.py reads them with ast.literal_eval, without importing
    "--gsm8k",
    "../shared/data/agent/gsm8k_dev.jsonl",
    "--bfcl",
    "../shared/data/agent/bfcl",
    "--out",
    "var/eval/autonomous_agent",
    "--limit",
    "5",
]


# -- the solvers under test ----------------------------------------------------------------------------------------
def agent_solver(settings: AgentSettings, chat: ChatModel, url: str | None = None) -> Solver:
    """The solver the project is scored as: GSM8K through the real agent loop (``LoopMathSolver``: checkpointed
    runs with the python and calculator tools, budgets and loop detection), BFCL through native tool calling with
    schema validation and bounded repair (``ToolCallingSolver``, the loop's acting step without executing: BFCL's
    functions are descriptions, not code).
    """
    from shared.db import database_url

    math = LoopMathSolver(chat, settings, url or database_url())
    calls = ToolCallingSolver(chat, max_tokens=settings.eval_call_max_tokens, repairs=settings.eval_repairs)
    return CombinedSolver("agent", math, calls)


def baseline_solver(settings: AgentSettings, chat: ChatModel) -> Solver:
    """The single-shot baseline: the same model, one request per item, no tools, no loop."""
    return SingleShotSolver(
        chat, math_max_tokens=settings.eval_math_max_tokens, call_max_tokens=settings.eval_call_max_tokens
    )


# -- running -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Job:
    solver: Solver
    dataset: str  # "gsm8k" | "bfcl"
    item: MathItem | bfcl.BfclItem


def _round(x: float, digits: int = 3) -> float:
    return round(float(x), digits)


def run_job(job: Job) -> dict[str, Any]:
    """One solver on one item, scored: a results.jsonl row. A solver that raises gives an error row."""
    item = job.item
    row: dict[str, Any] = {"solver": job.solver.name, "dataset": job.dataset, "id": item.id}
    if isinstance(item, bfcl.BfclItem):
        row["category"] = item.category
    started = time.perf_counter()
    try:
        if isinstance(item, MathItem):
            result: SolveResult | CallResult = job.solver.solve_math(item.question)
            prediction: Any = parse_answer(result.answer)
            correct, why = answers_match(prediction, item.gold), None
            row.update(gold=item.gold, answer=result.answer[-2000:])
        else:
            result = job.solver.call_functions(item.question[0], item.functions)
            prediction = result.calls
            check = bfcl.check_item(item.category, item.functions, result.calls, item.ground_truth)
            correct, why = check.valid, check.error or None
            row["gold"] = item.ground_truth
    except Exception as exc:  # one failing item must not lose the others' work
        log.warning("%s %s %s: %r", job.solver.name, job.dataset, item.id, exc)
        row.update(prediction=None, correct=False, harness_error=f"{type(exc).__name__}: {exc}",
                   latency_s=_round(time.perf_counter() - started), steps=0, tokens=0, budget_exhausted=False,
                   loop_recoveries=0, repairs=0)  # fmt: skip
        return row
    row.update(
        prediction=prediction,
        correct=bool(correct),
        why=why,
        solver_error=result.error,
        latency_s=_round(time.perf_counter() - started),
        steps=result.steps,
        tokens=result.tokens,
        budget_exhausted=result.budget_exhausted,
        loop_recoveries=result.loop_recoveries,
        repairs=result.repairs,
        trace=result.trace,
    )
    return row


def run_jobs(jobs: Sequence[Job], workers: int) -> list[dict[str, Any]]:
    """All jobs from one thread pool (the local backend batches concurrent requests); rows in job order."""
    done = 0
    lock = threading.Lock()
    started = time.perf_counter()

    def one(job: Job) -> dict[str, Any]:
        nonlocal done
        row = run_job(job)
        with lock:
            done += 1
            n = done
        log.info("[%d/%d %.0f s] %s %s %s: %s (%d steps, %.1f s)", n, len(jobs), time.perf_counter() - started,
                 row["solver"], row["dataset"], row["id"], "ok" if row["correct"] else "wrong", row["steps"],
                 row["latency_s"])  # fmt: skip
        return row

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-eval") as pool:
        return list(pool.map(one, jobs))


# -- summary -------------------------------------------------------------------------------------------------------
def _accuracy(rows: list[dict[str, Any]]) -> float | None:
    return round(sum(r["correct"] for r in rows) / len(rows), 4) if rows else None


def summarise(rows: list[dict[str, Any]], categories: Sequence[bfcl.BfclCategory]) -> dict[str, Any]:
    """One solver's section of summary.json (its rows only)."""
    from shared.eval.metrics import percentile

    gsm = [r for r in rows if r["dataset"] == "gsm8k"]
    per_category: dict[str, float | None] = {}
    n_category: dict[str, int] = {}
    for cat in categories:
        if cat.skipped is None:
            cat_rows = [r for r in rows if r.get("category") == cat.name]
            per_category[cat.name] = _accuracy(cat_rows)
            n_category[cat.name] = len(cat_rows)
    scored = [v for v in per_category.values() if v is not None]
    latencies = [r["latency_s"] for r in rows if "harness_error" not in r]
    n = len(rows)
    return {
        "gsm8k_accuracy": _accuracy(gsm),
        "gsm8k_n": len(gsm),
        "bfcl": per_category,
        "bfcl_n": n_category,
        "bfcl_overall": round(sum(scored) / len(scored), 4) if scored else None,
        "bfcl_skipped": {cat.name: cat.skipped for cat in categories if cat.skipped is not None},
        "avg_steps": round(sum(r["steps"] for r in rows) / n, 3) if n else 0.0,
        "budget_exhausted_rate": round(sum(r["budget_exhausted"] for r in rows) / n, 4) if n else 0.0,
        "loop_recoveries": sum(r["loop_recoveries"] for r in rows),
        "repairs": sum(r["repairs"] for r in rows),
        "avg_tokens": round(sum(r["tokens"] for r in rows) / n, 1) if n else 0.0,
        "latency_s": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "errors": sum("harness_error" in r for r in rows),
        "n": n,
    }


def evaluate(
    solvers: Sequence[Solver],
    math_items: Sequence[MathItem],
    categories: Sequence[bfcl.BfclCategory],
    out: Path,
    workers: int = 8,
) -> dict[str, Any]:
    """Run every solver on every item, write ``results.jsonl``; the first solver's section at the top level, the
    others under ``baselines`` by name."""
    items: list[tuple[str, MathItem | bfcl.BfclItem]] = [("gsm8k", it) for it in math_items]
    items += [("bfcl", it) for cat in categories for it in cat.items]
    jobs = [Job(solver, dataset, item) for dataset, item in items for solver in solvers]
    rows = run_jobs(jobs, workers)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    primary, *others = solvers
    summary: dict[str, Any] = {"solver": primary.name}
    summary.update(summarise([r for r in rows if r["solver"] == primary.name], categories))
    summary["baselines"] = {s.name: summarise([r for r in rows if r["solver"] == s.name], categories) for s in others}
    return summary


# -- CLI -----------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m projects.autonomous_agent.eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gsm8k", required=True, type=Path, help='GSM8K JSONL ({"question", "answer"} lines)')
    ap.add_argument("--bfcl", type=Path, default=None, help="folder with BFCL_v4_<category>.json + possible_answer/")
    ap.add_argument("--out", required=True, type=Path, help="folder for summary.json and results.jsonl")
    ap.add_argument("--limit", type=int, default=None, help="first N items of GSM8K and of each BFCL category")
    ap.add_argument("--workers", type=int, default=None, help="concurrent items (default AGENT__EVAL_WORKERS)")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be >= 1")
    if args.workers is not None and not 1 <= args.workers <= 8:
        ap.error("--workers must be between 1 and 8")
    return args


def main(
    argv: Sequence[str] | None = None,
    *,
    chat: ChatModel | None = None,
    solvers: Sequence[Solver] | None = None,
    url: str | None = None,
) -> int:
    """Run the evaluation; ``chat`` / ``solvers`` replace the configured model / solvers and ``url`` the database
    the agent's runs are stored in (tests)."""
    from shared.eval.harness import git_commit

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_agent_settings()
    math_items = load_gsm8k(args.gsm8k, args.limit)
    categories = bfcl.load_bfcl(args.bfcl, args.limit) if args.bfcl is not None else []
    for cat in categories:
        if cat.skipped:
            log.warning("BFCL %s skipped: %s", cat.name, cat.skipped)
    if solvers is None:
        chat = chat or get_batch_chat_model()
        solvers = [agent_solver(settings, chat, url), baseline_solver(settings, chat)]
    workers = args.workers or settings.eval_workers
    log.info("%d GSM8K items, %d BFCL items in %d categories; solvers %s; %d workers", len(math_items),
             sum(len(c.items) for c in categories), len(categories), [s.name for s in solvers], workers)  # fmt: skip
    started = time.perf_counter()
    summary = evaluate(solvers, math_items, categories, args.out, workers)
    summary.update(
        {
            "wall_s": round(time.perf_counter() - started, 1),
            "model": getattr(chat, "model", None),
            "backend": getattr(chat, "backend", None),
            "commit": git_commit(),
            "config": {
                "gsm8k": str(args.gsm8k),
                "bfcl": str(args.bfcl) if args.bfcl else None,
                "limit": args.limit,
                "workers": workers,
                "repairs": settings.eval_repairs,
                "math_max_tokens": settings.eval_math_max_tokens,
                "call_max_tokens": settings.eval_call_max_tokens,
            },
        }
    )
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    errors = summary["errors"] + sum(b["errors"] for b in summary["baselines"].values())
    if errors:
        log.error("HARNESS ERROR: %d items failed in a solver (see harness_error in results.jsonl)", errors)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
