"""Autonomous-agent benchmark: what the loop itself costs per step, excluding model time, and checkpoint writes.

    python scripts/bench/autonomous_agent.py --out var/bench/autonomous_agent.json [--runs 10] [--steps 20]

Each run is a goal worked by the real loop, store and tool registry on PostgreSQL, with a model that answers
instantly (a scripted ``calculator`` call per step, then the final answer), so the time measured is the
orchestration: prompt building, tool-call parsing, argument validation, the tool call, loop detection, the
trace events and the per-step checkpoint (with compaction). Reported: steps/s and ms per step (p50/p95 over
runs), and checkpoint write latency p50/p95 over every step.

The baseline in the same run is the bare tool loop: the same calls through ``ToolRegistry.call`` with no
planning, no trace and no checkpoints; the ratio is what durability and observability cost per step. A third
figure is the same loop with a python (sandboxed) step, the realistic heavy tool, for scale.

Uses ``DATABASE_URL`` when set (a scratch database is created there), otherwise its own embedded server.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.bench.retrieval import close_database, open_database, pct  # noqa: E402
from shared.db import with_dbname  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "bench" / "autonomous_agent.json")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20, help="tool steps per run")
    parser.add_argument("--python-steps", type=int, default=5, help="steps of the sandboxed-python run")
    args = parser.parse_args()

    from projects.autonomous_agent.loop import AgentLoop
    from projects.autonomous_agent.settings import AgentSettings
    from projects.autonomous_agent.store import AgentStore
    from projects.autonomous_agent.tools import default_registry
    from projects.autonomous_agent.types import Budget, ToolContext
    from shared.testing.doubles import ToolCallingChat, tool_call

    admin, name, _ = open_database(keep=False)
    url = with_dbname(admin, name)
    try:
        workspace = Path(tempfile.mkdtemp(prefix="agent-bench-"))
        settings = AgentSettings(
            workspace_root=workspace, memory=False, plan=False, verify_with_model=False, checkpoints_keep=3,
            max_steps=args.steps + 5,
        )  # fmt: skip
        registry = default_registry(settings, knowledge=False, sql_url=False, http=False)
        store = AgentStore(url, checkpoints_keep=settings.checkpoints_keep)

        checkpoint_s: list[float] = []
        original = store.save_checkpoint

        def timed(state):  # every checkpoint the loop writes, timed
            seconds = original(state)
            checkpoint_s.append(seconds)
            return seconds

        store.save_checkpoint = timed  # type: ignore[method-assign]

        def calls(n: int) -> list[str]:
            return [tool_call("calculator", expression=f"{i} * 3 + 1") for i in range(n)] + ["FINAL ANSWER: done"]

        per_step_ms, steps_per_s = [], []
        for _ in range(args.runs):
            loop = AgentLoop(ToolCallingChat(*calls(args.steps)), registry, store, settings)
            run_id = loop.start("bench", budget=Budget(max_steps=args.steps + 5))
            t0 = time.perf_counter()
            state = loop.run(run_id)
            elapsed = time.perf_counter() - t0
            assert state.status == "succeeded" and state.usage.steps == args.steps, state.status
            per_step_ms.append(elapsed / args.steps * 1000)
            steps_per_s.append(args.steps / elapsed)

        # baseline: the same tool calls, bare
        ctx = ToolContext(run_id="bench", workspace=workspace / "bare")
        ctx.workspace.mkdir(parents=True, exist_ok=True)
        bare_ms = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for i in range(args.steps):
                registry.call("calculator", {"expression": f"{i} * 3 + 1"}, ctx)
            bare_ms.append((time.perf_counter() - t0) / args.steps * 1000)

        # for scale: a run whose steps are sandboxed python
        py_calls = [tool_call("python", code=f"print({i} * 3)") for i in range(args.python_steps)]
        loop = AgentLoop(ToolCallingChat(*py_calls, "FINAL ANSWER: done"), registry, store, settings)
        run_id = loop.start("bench python")
        t0 = time.perf_counter()
        loop.run(run_id)
        python_ms = (time.perf_counter() - t0) / args.python_steps * 1000
        kept, kept_bytes = store.checkpoint_stats(run_id)

        report = {
            "runs": args.runs,
            "steps_per_run": args.steps,
            "loop_overhead": {
                "steps_per_s_p50": round(statistics.median(steps_per_s), 1),
                "ms_per_step_p50": round(pct(per_step_ms, 50), 2),
                "ms_per_step_p95": round(pct(per_step_ms, 95), 2),
            },
            "checkpoint_write_ms": {
                "p50": round(pct([s * 1000 for s in checkpoint_s], 50), 2),
                "p95": round(pct([s * 1000 for s in checkpoint_s], 95), 2),
                "n": len(checkpoint_s),
                "kept_per_run": kept,
                "kept_bytes_per_run": kept_bytes,
            },
            "baseline_bare_tool_calls": {
                "ms_per_step_p50": pct(bare_ms, 50, 4),
                "ratio_loop_to_bare_p50": round(pct(per_step_ms, 50, 4) / max(pct(bare_ms, 50, 4), 1e-6), 1),
            },
            "python_step_ms": round(python_ms, 1),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
    finally:
        close_database(admin, name)


if __name__ == "__main__":
    main()
