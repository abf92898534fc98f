"""NL-to-SQL dev evaluation: execution accuracy of the pipeline and of the naive baseline, same run, same items.

    python -m projects.nl2sql_analytics.eval --questions questions.csv --db-dir SQLITE_DIR --out DIR \
        [--metadata-dir METADATA_DIR] [--systems pipeline naive] [--limit N] [--concurrency N] \
        [--require-beats-naive] [--baseline FILE]

Input is defog sql-eval's format (see ``evaluation/dataset.py``). Each system turns a question into SQL; the
harness executes that SQL itself on a read-only connection (``evaluation/execute.py``) and calls it correct
when its result equals the result of ANY gold statement (``evaluation/compare.py``: column names ignored,
extra columns allowed when every gold column is present, row order only when the gold has ORDER BY).

Systems:
- ``pipeline``: ``evaluation.pipeline_system.PipelineSystem`` (the production pipeline, its answer_for_eval system);
- ``naive``: the full schema dump + the question to the same chat model, once, no linking/validation/retry.

Outputs in ``--out``: ``results.jsonl`` (one line per item per system) and ``summary.json``: the pipeline's
``execution_accuracy``, ``per_category``, ``valid_sql_rate``, ``n``, ``latency_p50_ms``, ``latency_p95_ms``,
``baselines.naive`` with the same keys, and ``pipeline_vs_naive`` (accuracy ratio and paired wins/losses).
``valid`` = the system returned SQL that executed without error; ``latency`` = the system's call plus the
execution of its SQL (what a user waits for), excluding a one-item warm-up that loads the models.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from projects.nl2sql_analytics.evaluation.compare import OrderSpec, order_spec, results_match
from projects.nl2sql_analytics.evaluation.dataset import (
    DbMetadata,
    EvalItem,
    metadata_for,
    read_questions,
    sqlite_path,
)
from projects.nl2sql_analytics.evaluation.execute import QueryResult, run_query
from projects.nl2sql_analytics.evaluation.protocol import Generated, Generator
from projects.nl2sql_analytics.settings import get_nl2sql_settings
from shared.eval.harness import git_commit

log = logging.getLogger("projects.nl2sql_analytics.eval")

MAKE_EVAL_ARGS = [  # plain literals: scripts/eval_all.py reads them with ast.literal_eval, without importing
    "--questions",
    "../shared/data/nl2sql/sql-eval/questions.csv",
    "--db-dir",
    "../shared/data/nl2sql/sql-eval/sqlite",
    "--metadata-dir",
    "../shared/data/nl2sql/sql-eval/metadata",
    "--out",
    "var/eval/nl2sql_analytics_sqleval",
    "--require-beats-naive",
    "--baseline",
    "projects/nl2sql_analytics/baselines/sqleval.json",
]

METRIC_KEYS = ("execution_accuracy", "per_category", "valid_sql_rate", "n", "latency_p50_ms", "latency_p95_ms")
PRIMARY = "pipeline"
WARMUP_PREFIX = "Warm-up, ignore: "


# --------------------------------------------------------------------------- systems


def pipeline_generator() -> Generator:
    """The full pipeline's eval system (``evaluation.pipeline_system.PipelineSystem``); a clear error when the
    pipeline cannot be imported."""
    try:
        from projects.nl2sql_analytics.evaluation.pipeline_system import PipelineSystem
    except ImportError as exc:
        raise RuntimeError(
            "the 'pipeline' system (answer_for_eval: evaluation.pipeline_system.PipelineSystem) needs "
            f"projects.nl2sql_analytics.pipeline ({exc}); run with --systems naive to evaluate the baseline only"
        ) from exc
    return PipelineSystem()


def naive_generator(max_tokens: int | None = None) -> Generator:
    """The baseline on the process's shared chat model (the same model the pipeline uses)."""
    from projects.nl2sql_analytics.evaluation.naive import NaiveGenerator
    from shared.serving.factory import get_chat_model

    return NaiveGenerator(get_chat_model(), max_tokens=max_tokens or get_nl2sql_settings().naive_max_tokens)


SYSTEM_FACTORIES: dict[str, Callable[[], Generator]] = {"pipeline": pipeline_generator, "naive": naive_generator}


# --------------------------------------------------------------------------- gold


class GoldCache:
    """Gold results per (database, statement), executed once per run and shared by every system."""

    def __init__(self, timeout_s: float, max_rows: int) -> None:
        self.timeout_s, self.max_rows = timeout_s, max_rows
        self._cache: dict[tuple[str, str], tuple[QueryResult, OrderSpec]] = {}

    def get(self, db_path: Path, sql: str) -> tuple[QueryResult, OrderSpec]:
        key = (str(db_path), sql)
        if key not in self._cache:
            result = run_query(db_path, sql, timeout_s=self.timeout_s, max_rows=self.max_rows)
            self._cache[key] = (result, order_spec(sql))
        return self._cache[key]

    def usable(self, item: EvalItem, db_path: Path) -> list[tuple[int, QueryResult, OrderSpec]]:
        """Gold statements that executed; a failing one is a dataset problem, logged, never a system's fault."""
        out = []
        for i, sql in enumerate(item.gold):
            result, spec = self.get(db_path, sql)
            if result.ok:
                out.append((i, result, spec))
            else:
                log.warning("item %s: gold statement %d fails: %s", item.id, i, result.error)
        return out


def is_correct(
    generated: QueryResult, golds: Sequence[tuple[int, QueryResult, OrderSpec]], *, distinct: bool = True
) -> int | None:
    """Index of the first gold statement the generated result matches, or None."""
    if not generated.ok:
        return None
    options = {"gen_width": len(generated.columns), "distinct": distinct}
    for i, gold, spec in golds:
        if results_match(gold.rows, generated.rows, order=spec, gold_width=len(gold.columns), **options):
            return i
    return None


# --------------------------------------------------------------------------- one item


def evaluate_item(
    system: str,
    generate: Generator,
    item: EvalItem,
    db_path: Path,
    metadata: DbMetadata | None,
    golds: Sequence[tuple[int, QueryResult, OrderSpec]],
    *,
    timeout_s: float,
    max_rows: int,
    distinct: bool = True,
) -> dict[str, Any]:
    """Generate, execute, compare; any exception from the system is recorded on the row, never raised."""
    t0 = time.perf_counter()
    try:
        gen = generate(item, db_path, metadata)
    except Exception as exc:  # one failing item must not stop the run
        log.warning("%s failed on %s: %s", system, item.id, exc)
        gen = Generated(sql=None, error=f"{type(exc).__name__}: {exc}")
    generation_ms = (time.perf_counter() - t0) * 1000
    executed: QueryResult | None = None
    if gen.sql:
        executed = run_query(db_path, gen.sql, timeout_s=timeout_s, max_rows=max_rows)
    execution_ms = executed.elapsed_ms if executed else 0.0
    matched = is_correct(executed, golds, distinct=distinct) if executed else None
    error = gen.error or (executed.error if executed else None) or (None if gen.sql else "no SQL generated")
    return {
        "system": system,
        "id": item.id,
        "db": item.db_name,
        "category": item.category,
        "question": item.question,
        "sql": gen.sql,
        "correct": matched is not None,
        "valid": bool(executed and executed.ok),
        "error": error,
        "latency_ms": round(generation_ms + execution_ms, 2),
        "generation_ms": round(generation_ms, 2),
        "execution_ms": round(execution_ms, 2),
        "stages_ms": gen.stages_ms,
        "matched_gold": matched,
        "rows": len(executed.rows) if executed and executed.ok else None,
        "detail": gen.detail,
    }


# --------------------------------------------------------------------------- run


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The issue's metric keys over one system's rows."""
    n = len(rows)
    latencies = [r["latency_ms"] for r in rows]
    categories: dict[str, list[bool]] = {}
    for r in rows:
        categories.setdefault(r["category"], []).append(r["correct"])
    return {
        "execution_accuracy": round(sum(r["correct"] for r in rows) / n, 4) if n else 0.0,
        "per_category": {c: round(sum(v) / len(v), 4) for c, v in sorted(categories.items())},
        "valid_sql_rate": round(sum(r["valid"] for r in rows) / n, 4) if n else 0.0,
        "n": n,
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
        "n_correct": sum(r["correct"] for r in rows),
        "n_errors": sum(r["error"] is not None for r in rows),
    }


def paired(rows_a: Sequence[Mapping], rows_b: Sequence[Mapping]) -> dict[str, Any]:
    """A vs B on the same items: accuracy ratio (the issue's "gain is a ratio"), delta, wins/losses/ties."""
    a = np.array([r["correct"] for r in rows_a], dtype=float)
    b = np.array([r["correct"] for r in rows_b], dtype=float)
    acc_a, acc_b = (float(a.mean()) if len(a) else 0.0), (float(b.mean()) if len(b) else 0.0)
    return {
        "accuracy_ratio": round(acc_a / acc_b, 4) if acc_b else None,
        "accuracy_delta": round(acc_a - acc_b, 4),
        "wins": int(((a == 1) & (b == 0)).sum()),
        "losses": int(((a == 0) & (b == 1)).sum()),
        "ties": int((a == b).sum()),
    }


def run(
    items: Sequence[EvalItem],
    db_dir: str | Path,
    metadata_dir: str | Path | None,
    systems: Mapping[str, Generator],
    out_dir: str | Path,
    *,
    concurrency: int = 1,
    warmup: bool = True,
    timeout_s: float | None = None,
    max_rows: int | None = None,
    distinct: bool = True,
) -> dict[str, Any]:
    """Evaluate every system on the same items; write ``results.jsonl`` and ``summary.json``; return the summary.

    The system named ``pipeline`` provides the top-level metrics, every other system is a baseline. Items whose
    gold statements all fail to execute are dropped for every system and listed under ``gold_errors``.
    ``distinct=False`` compares rows as multisets (duplicates count) instead of defog's row sets.
    """
    settings = get_nl2sql_settings()
    timeout_s = timeout_s if timeout_s is not None else settings.eval_timeout_s
    max_rows = max_rows if max_rows is not None else settings.eval_max_rows
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    dbs = {name: sqlite_path(db_dir, name) for name in sorted({i.db_name for i in items})}
    metas = {name: metadata_for(metadata_dir, name) for name in dbs}
    gold = GoldCache(timeout_s, max_rows)
    usable = {item.id: gold.usable(item, dbs[item.db_name]) for item in items}
    gold_errors = [i.id for i in items if not usable[i.id]]
    scored = [i for i in items if usable[i.id]]

    per_system: dict[str, list[dict]] = {}
    wall: dict[str, float] = {}
    for name, generate in systems.items():
        if warmup and scored:  # load models outside the timed items; a new question, so no cache hit later
            first = scored[0]
            probe = dataclasses.replace(first, id="warm-up", question=f"{WARMUP_PREFIX}{first.question}")
            try:
                generate(probe, dbs[first.db_name], metas[first.db_name])
            except Exception as exc:
                log.warning("warm-up of %s failed: %s", name, exc)
        t0 = time.perf_counter()

        done = itertools.count(1)

        def one(item: EvalItem, name: str = name, generate: Generator = generate, done=done) -> dict:
            db = dbs[item.db_name]
            limits = {"timeout_s": timeout_s, "max_rows": max_rows, "distinct": distinct}
            row = evaluate_item(name, generate, item, db, metas[item.db_name], usable[item.id], **limits)
            if (k := next(done)) % 10 == 0:
                log.info("%s: %d/%d items", name, k, len(scored))
            return row

        if concurrency == 1:
            rows = [one(item) for item in scored]
        else:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"eval-{name}") as pool:
                rows = list(pool.map(one, scored))
        wall[name] = round(time.perf_counter() - t0, 2)
        per_system[name] = rows
        acc = summarise(rows)["execution_accuracy"]
        log.info("%s: execution accuracy %.4f on %d items in %.1f s", name, acc, len(rows), wall[name])

    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for rows in per_system.values():
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    summary = build_summary(per_system, wall, gold_errors, items, time.perf_counter() - started)
    summary["config"] = {"row_semantics": "set" if distinct else "bag", "timeout_s": timeout_s, "max_rows": max_rows}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def build_summary(
    per_system: Mapping[str, list[dict]],
    wall: Mapping[str, float],
    gold_errors: list[str],
    items: Sequence[EvalItem],
    total_s: float,
) -> dict[str, Any]:
    """Top level = the pipeline (null when it was not run), ``baselines`` = every other system."""
    primary = summarise(per_system[PRIMARY]) if PRIMARY in per_system else dict.fromkeys(METRIC_KEYS)
    summary: dict[str, Any] = {key: primary[key] for key in METRIC_KEYS}
    summary["baselines"] = {name: summarise(rows) for name, rows in per_system.items() if name != PRIMARY}
    if PRIMARY in per_system:
        summary["n_correct"], summary["n_errors"] = primary["n_correct"], primary["n_errors"]
        summary[f"{PRIMARY}_vs_naive"] = (
            paired(per_system[PRIMARY], per_system["naive"]) if "naive" in per_system else None
        )
    summary |= {
        "systems": list(per_system),
        "n_questions": len(items),
        "gold_errors": gold_errors,
        "timing": {"wall_s": wall, "total_s": round(total_s, 2)},
        "model": _model_id(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
    }
    return summary


def _model_id() -> str:
    from shared.settings import get_settings

    s = get_settings().serving
    return s.local_model if s.backend == "local" else f"{s.backend}:{s.openai_model}"


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m projects.nl2sql_analytics.eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=Path, required=True, help="defog sql-eval CSV")
    p.add_argument("--db-dir", type=Path, required=True, help="folder of <db_name>.sqlite files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--metadata-dir", type=Path, default=None, help="folder of <db_name>.json column descriptions")
    p.add_argument("--systems", nargs="+", default=["pipeline", "naive"], choices=sorted(SYSTEM_FACTORIES))
    p.add_argument("--no-baseline", action="store_true", help="pipeline only (same as --systems pipeline)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N questions")
    p.add_argument("--db", action="append", default=None, help="only these databases (repeatable)")
    p.add_argument("--category", action="append", default=None, help="only these query categories (repeatable)")
    p.add_argument("--concurrency", type=int, default=1, help="items in flight per system (the local model batches)")
    p.add_argument("--bag", action="store_true", help="duplicate rows count (Spider) instead of defog's row sets")
    p.add_argument("--no-warmup", action="store_true", help="time the first item too (model loading included)")
    p.add_argument("--require-beats-naive", action="store_true", help="exit 1 unless pipeline accuracy > naive")
    p.add_argument("--baseline", type=Path, default=None, help="gate summary.json against this baseline file")
    args = p.parse_args(argv)
    if args.no_baseline:
        args.systems = [s for s in args.systems if s != "naive"] or ["pipeline"]
    if args.require_beats_naive and not {"pipeline", "naive"} <= set(args.systems):
        p.error("--require-beats-naive needs both systems")
    return args


def select(items: list[EvalItem], args: argparse.Namespace) -> list[EvalItem]:
    if args.db:
        items = [i for i in items if i.db_name in set(args.db)]
    if args.category:
        items = [i for i in items if i.category in set(args.category)]
    return items[: args.limit] if args.limit is not None else items


def main(argv: list[str] | None = None, *, systems: Mapping[str, Generator] | None = None) -> int:
    """CLI entry; ``systems`` replaces the named factories (tests pass doubles, the CLI never does)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    items = select(read_questions(args.questions), args)
    if not items:
        print("no questions selected", file=sys.stderr)
        return 2
    if systems is None:
        try:
            systems = {name: SYSTEM_FACTORIES[name]() for name in dict.fromkeys(args.systems)}
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    warmup = not args.no_warmup
    options = {"concurrency": args.concurrency, "warmup": warmup, "distinct": not args.bag}
    summary = run(items, args.db_dir, args.metadata_dir, systems, args.out, **options)
    print(json.dumps({k: summary[k] for k in (*METRIC_KEYS, "baselines") if k in summary}, indent=2))
    return _gate(summary, args)


def _gate(summary: dict, args: argparse.Namespace) -> int:
    rc = 0
    if args.require_beats_naive:
        ours, naive = summary["execution_accuracy"], summary["baselines"]["naive"]["execution_accuracy"]
        verdict = "beats" if ours > naive else "does NOT beat"
        print(f"pipeline execution accuracy {ours:.4f} {verdict} naive {naive:.4f}")
        rc = 0 if ours > naive else 1
    if args.baseline is not None:
        from shared.eval.gate import compare, format_table

        rows = compare(summary, json.loads(args.baseline.read_text(encoding="utf-8")))
        print(format_table(rows))
        if any(r.status in ("REGRESSED", "MISSING") for r in rows):
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
