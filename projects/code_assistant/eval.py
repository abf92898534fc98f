"""HumanEval / MBPP functional-correctness evaluation of the configured chat model, run in the sandbox.

    python -m projects.code_assistant.eval --humaneval FILE.jsonl[.gz] --out OUT [--mbpp FILE.jsonl] [--limit N]
        [--samples K] [--temperature T] [--seed S] [--max-tokens M] [--workers W] [--baseline FILE]
        [--repo-qa [DIR]] [--repo-qa-n N]

Per task × sample: the chat model (``shared.serving.get_chat_model()``) writes a function (``codegen.chat_request``;
requests go out from a pool of ``--workers`` threads so the local backend decodes them as one batch); the test
program is assembled from the dataset's own tests (``codegen.test_program``, never from model output) and runs
through ``shared.sandbox.run_python`` with the settings' limits, two programs at a time, while generation goes on.

Each sample is classified: ``passed``; ``wrong`` (an ``AssertionError``: the tests ran and disagreed); ``error``
(any other exception, a syntax error, the function missing, or the program exiting before the tests finished);
``timeout`` / ``memory`` / ``output_limit`` / ``killed`` (the sandbox's own statuses); ``generation_error`` (the
model did not answer: a harness failure, which makes the exit status 1).

``OUT/summary.json``::

    {"humaneval": {"pass@1", "pass@K" (--samples K > 1; unbiased estimator 1 - C(n-c,k)/C(n,k)), "n", "samples",
                   "failures": {"wrong", "error", "timeout", ...}, "truncated"},
     "mbpp": {...}, "n", "generation_errors", "generation_latency_s": {"p50", "p95"} (per request, submit to answer:
     waiting for a batch slot included), "sandbox_s": {"p50", "p95"}, "wall_s",
     "model", "backend", "commit", "config"}

``--repo-qa [DIR]`` (default: this repository) adds ``summary["repo_qa"]`` (``repo_qa.py``: recall@1/5/10 and MRR
of code search on questions generated from the repository's docstrings, the symbol-lookup accuracy, search
latency, indexing throughput) and ``OUT/repo_qa.jsonl``.

``OUT/results.jsonl``: one row per task × sample (task_id, dataset, sample, status, error_type, completion,
latency_s, sandbox_s, stderr tail). Exit status: 0 unless the harness failed (a generation error) or, with
``--baseline``, the regression gate (``shared.eval.gate``) failed; low scores alone never fail the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from projects.code_assistant import codegen
from projects.code_assistant.codegen import CodeTask
from shared.sandbox import SandboxLimits, run_python
from shared.serving import get_batch_chat_model
from shared.serving.base import ChatModel
from shared.settings import REPO_ROOT

log = logging.getLogger("projects.code_assistant.eval")

MAKE_EVAL_ARGS = [
    "--humaneval",
    "../shared/data/code-assistant/HumanEval.jsonl.gz",
    "--mbpp",
    "../shared/data/code-assistant/mbpp_dev.jsonl",
    "--out",
    "var/eval/code_assistant",
    "--limit",
    "20",
    "--baseline",
    "projects/code_assistant/baselines/dev.json",
]

FAILURE_KINDS = ("wrong", "error", "timeout", "memory", "output_limit", "killed", "generation_error")
_STDERR_TAIL = 1500
_SANDBOX_WORKERS = 2  # two programs at a time: the model's decode threads need the rest of the CPU
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b", re.MULTILINE)


@dataclass(slots=True)
class SampleResult:
    """One task × sample: what the model said and what running it did (a row of results.jsonl)."""

    task_id: str
    dataset: str
    sample: int
    status: str
    error_type: str | None
    completion: str
    latency_s: float
    sandbox_s: float | None
    finish_reason: str | None
    tokens: int
    stderr_tail: str


# -- scoring -----------------------------------------------------------------------------------------------------
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"): 1 - C(n-c,k)/C(n,k).

    ``n`` samples of which ``c`` passed. Exact integer binomials (n is small), so no float cancellation.
    """
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def exception_name(stderr: str) -> str | None:
    """The exception a traceback ended with (``AssertionError``, ``NameError``...), None if there is none."""
    names = _EXC_LINE.findall(stderr)
    return names[-1].rsplit(".", 1)[-1] if names else None


def classify(status: str, stderr: str, stdout: str, sentinel: str) -> tuple[str, str | None]:
    """Sample status and exception name from a sandbox run of the test program.

    ``ok`` only counts as passed when the sentinel printed after the tests is in stdout: a solution calling
    ``sys.exit(0)`` / ``os._exit(0)`` at import time would otherwise skip the tests and "pass".
    """
    if status == "ok":
        return ("passed", None) if sentinel in stdout else ("error", "ExitedBeforeTests")
    if status == "error":
        name = exception_name(stderr)
        return ("wrong" if name == "AssertionError" else "error"), name
    return status, None


def run_sample(
    task: CodeTask, completion: str, limits: SandboxLimits | None = None
) -> tuple[str, str | None, float, str]:
    """Execute one completion against the task's tests in the sandbox: (status, exception, seconds, stderr tail).

    ``limits`` default to ``settings.sandbox`` (10 s wall clock, 1 GB address space, no network).
    """

    sentinel = f"__TESTS_DONE_{secrets.token_hex(8)}__"
    program = codegen.test_program(task, codegen.solution_source(task, completion)) + f"\nprint({sentinel!r})\n"
    result = run_python(program, limits=limits)
    status, error_type = classify(result.status, result.stderr, result.stdout, sentinel)
    return status, error_type, result.duration_s, result.stderr[-_STDERR_TAIL:]


def summarise_dataset(rows: Sequence[SampleResult], samples: int) -> dict[str, Any]:
    """One dataset's section of summary.json: pass@1 (and pass@K), task count, failures by kind."""
    by_task: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_task[r.task_id].append(r.status == "passed")
    section: dict[str, Any] = {}
    for k in sorted({1, samples}):
        scores = [pass_at_k(len(v), sum(v), k) for v in by_task.values()]
        section[f"pass@{k}"] = round(sum(scores) / len(scores), 4) if scores else 0.0
    counts = Counter(r.status for r in rows)
    section.update(
        {
            "n": len(by_task),
            "samples": samples,
            "passed": counts["passed"],
            "failures": {kind: counts[kind] for kind in FAILURE_KINDS},
            "error_types": dict(Counter(r.error_type for r in rows if r.status == "error" and r.error_type)),
            "truncated": sum(r.finish_reason == "length" for r in rows),
        }
    )
    return section


# -- generation + execution ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GenConfig:
    samples: int = 1
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 384
    workers: int = 8


def _generate(chat: ChatModel, task: CodeTask, sample: int, cfg: GenConfig) -> tuple[str, float, str | None, int]:
    seed = cfg.seed + sample if cfg.temperature > 0 else None
    request = codegen.chat_request(task, temperature=cfg.temperature, seed=seed, max_tokens=cfg.max_tokens)
    t0 = time.perf_counter()
    result = chat.chat(request)
    return result.text, time.perf_counter() - t0, result.finish_reason, result.usage.completion_tokens


def evaluate_tasks(
    chat: ChatModel, tasks: Sequence[CodeTask], cfg: GenConfig, limits: SandboxLimits | None = None
) -> list[SampleResult]:
    """Generate ``cfg.samples`` answers per task and run each in the sandbox as soon as it arrives.

    Results come back in task × sample order. A request that fails (after the serving layer's retries) becomes a
    ``generation_error`` row rather than stopping the run, so one bad request does not lose the others' work.
    """
    jobs = [(task, s) for task in tasks for s in range(cfg.samples)]
    results: list[SampleResult | None] = [None] * len(jobs)
    done = Counter[str]()
    lock = threading.Lock()
    started = time.perf_counter()

    def finish(index: int, gen: Future) -> SampleResult:
        task, sample = jobs[index]
        try:
            completion, latency, finish_reason, tokens = gen.result()
        except Exception as exc:  # the serving layer already retried; record and go on
            log.warning("%s sample %d: generation failed: %r", task.task_id, sample, exc)
            row = SampleResult(task.task_id, task.dataset, sample, "generation_error", type(exc).__name__, "",
                               0.0, None, None, 0, repr(exc)[-_STDERR_TAIL:])  # fmt: skip
        else:
            status, error_type, sandbox_s, stderr = run_sample(task, completion, limits)
            row = SampleResult(task.task_id, task.dataset, sample, status, error_type, completion,
                               round(latency, 3), round(sandbox_s, 3), finish_reason, tokens, stderr)  # fmt: skip
        with lock:
            results[index] = row
            done[row.status] += 1
            n_done = sum(done.values())
        detail = f" {row.error_type}" if row.error_type else ""
        elapsed = time.perf_counter() - started
        log.info("[%d/%d %.0f s] %s #%d: %s%s (%d tokens in %.1f s)", n_done, len(jobs), elapsed, task.task_id,
                 sample, row.status, detail, row.tokens, row.latency_s)  # fmt: skip
        return row

    with (
        ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="codegen") as gen_pool,
        ThreadPoolExecutor(max_workers=_SANDBOX_WORKERS, thread_name_prefix="sandbox") as run_pool,
    ):
        gens = {gen_pool.submit(_generate, chat, task, s, cfg): i for i, (task, s) in enumerate(jobs)}
        runs = [run_pool.submit(finish, gens[gen], gen) for gen in as_completed(gens)]
        for run in runs:
            run.result()
    return [r for r in results if r is not None]


# -- CLI ---------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m projects.code_assistant.eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--humaneval", required=True, type=Path, help="HumanEval-format JSONL (.gz allowed)")
    ap.add_argument("--mbpp", type=Path, default=None, help="MBPP-format JSONL")
    ap.add_argument("--out", required=True, type=Path, help="folder for summary.json and results.jsonl")
    ap.add_argument("--limit", type=int, default=None, help="first N tasks of each dataset")
    ap.add_argument("--samples", type=int, default=1, help="K samples per task (pass@1 and pass@K)")
    ap.add_argument("--temperature", type=float, default=None, help="default 0 (greedy) for K=1, 0.8 for K>1")
    ap.add_argument("--seed", type=int, default=0, help="sample i is drawn with seed SEED+i (when sampling)")
    ap.add_argument("--max-tokens", type=int, default=384, help="generation budget per answer")
    ap.add_argument("--workers", type=int, default=8, help="concurrent generation requests (local batch: <= 8)")
    ap.add_argument("--baseline", type=Path, default=None, help="gate summary.json against this baseline")
    ap.add_argument(
        "--repo-qa",
        nargs="?",
        type=Path,
        const=REPO_ROOT,
        default=None,
        help="also measure retrieval on questions generated from a repository's docstrings (default: this one)",
    )
    ap.add_argument("--repo-qa-n", type=int, default=50, help="questions for --repo-qa")
    args = ap.parse_args(argv)
    if args.samples < 1:
        ap.error("--samples must be >= 1")
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be >= 1")
    if args.workers < 1:
        ap.error("--workers must be >= 1")
    if args.temperature is None:
        args.temperature = 0.0 if args.samples == 1 else 0.8
    if args.samples > 1 and args.temperature == 0:
        ap.error("--samples > 1 needs --temperature > 0 (greedy samples are identical)")
    return args


def load_tasks(args: argparse.Namespace) -> dict[str, list[CodeTask]]:
    datasets = {"humaneval": codegen.load_humaneval(args.humaneval)}
    if args.mbpp is not None:
        datasets["mbpp"] = codegen.load_mbpp(args.mbpp)
    return {name: tasks[: args.limit] if args.limit else tasks for name, tasks in datasets.items()}


def codegen_sections(chat: ChatModel, datasets: dict[str, list[CodeTask]], cfg: GenConfig, out: Path) -> dict:
    """The per-dataset sections and the generation/sandbox latencies; writes results.jsonl."""
    for name, tasks in datasets.items():
        log.info("%s: %d tasks × %d samples (temperature %s)", name, len(tasks), cfg.samples, cfg.temperature)
    # one queue for all datasets, so the batches stay full across the boundary
    rows = evaluate_tasks(chat, [task for tasks in datasets.values() for task in tasks], cfg)
    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
    from shared.eval.metrics import percentile

    latencies = [r.latency_s for r in rows if r.status != "generation_error"]
    sandbox = [r.sandbox_s for r in rows if r.sandbox_s is not None]
    sections: dict[str, Any] = {
        name: summarise_dataset([r for r in rows if r.dataset == name], cfg.samples) for name in datasets
    }
    sections["n"] = sum(len(tasks) for tasks in datasets.values())
    sections["generation_errors"] = sum(r.status == "generation_error" for r in rows)
    sections["generation_latency_s"] = {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)}
    sections["sandbox_s"] = {"p50": percentile(sandbox, 50, 3), "p95": percentile(sandbox, 95, 3)}
    return sections


def main(argv: Sequence[str] | None = None, *, chat: ChatModel | None = None) -> int:
    """Run the evaluation; ``chat`` replaces the configured model (tests). Returns the exit status."""
    from shared.eval.harness import git_commit

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    datasets = load_tasks(args)
    args.out.mkdir(parents=True, exist_ok=True)
    if chat is None:
        chat = get_batch_chat_model()
    cfg = GenConfig(args.samples, args.temperature, args.seed, args.max_tokens, args.workers)
    started = time.perf_counter()

    summary: dict[str, Any] = codegen_sections(chat, datasets, cfg, args.out)
    if args.repo_qa is not None:
        from projects.code_assistant.repo_qa import run_repo_qa

        qa_summary, qa_rows = run_repo_qa(args.repo_qa, n=args.repo_qa_n, seed=args.seed)
        summary["repo_qa"] = qa_summary
        with (args.out / "repo_qa.jsonl").open("w", encoding="utf-8") as fh:
            for row in qa_rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    summary.update(
        {
            "wall_s": round(time.perf_counter() - started, 1),
            "model": getattr(chat, "model", None),
            "backend": getattr(chat, "backend", None),
            "commit": git_commit(),
            "config": {
                "humaneval": str(args.humaneval),
                "mbpp": str(args.mbpp) if args.mbpp else None,
                "limit": args.limit,
                **asdict(cfg),
            },
        }
    )
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    rc = 0
    if summary["generation_errors"]:
        log.error("HARNESS ERROR: %d generation requests failed (see results.jsonl)", summary["generation_errors"])
        rc = 1
    if args.baseline is not None:
        from shared.eval.gate import compare, format_table

        table = compare(summary, json.loads(args.baseline.read_text(encoding="utf-8")))
        print(format_table(table))
        if any(r.status in ("REGRESSED", "MISSING") for r in table):
            log.error("GATE FAILED against %s", args.baseline)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
