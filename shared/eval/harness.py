"""Run a dataset through any system and score it: per-item results, a summary, and a readable report.

A *system* is any callable ``item -> output dict`` (a project's service function, an HTTP client...);
a *scorer* is ``(item, output) -> float | dict``. A dict scorer contributes one metric per numeric key
(``"<scorer>.<key>"``) and keeps its non-numeric values (e.g. unsupported claims) in the item's details.
One failing item never stops the run: its exception becomes an error row and is counted.

Outputs in ``out_dir``: ``results.jsonl`` (one row per item, in dataset order whatever the concurrency),
``summary.json`` (what the regression gate reads) and ``report.md``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

System = Callable[[dict], Any]
Scorer = Callable[[dict, dict], Any]


def load_jsonl(path: str | Path) -> list[dict]:
    """Read a JSONL dataset, skipping blank lines; a malformed line raises with its line number."""
    items = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON: {exc}") from exc
    return items


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The current commit, so a summary can be traced to the code that produced it; None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and np.isfinite(float(v))


def _score_item(item: dict, output: dict, scorers: Mapping[str, Scorer]) -> tuple[dict, dict]:
    scores: dict[str, float] = {}
    details: dict[str, Any] = {}
    for name, scorer in scorers.items():
        value = scorer(item, output)
        if isinstance(value, Mapping):
            for key, v in value.items():
                if _is_number(v) or isinstance(v, bool):
                    scores[f"{name}.{key}"] = float(v)
                else:
                    details[f"{name}.{key}"] = v
        elif _is_number(value) or isinstance(value, bool):
            scores[name] = float(value)
        else:
            raise TypeError(f"scorer {name!r} returned {type(value).__name__}, expected a number or a dict")
    return scores, details


def _run_one(index: int, item: dict, system: System, scorers: Mapping[str, Scorer]) -> dict:
    item_id = item.get("id", index)
    start = time.perf_counter()
    row: dict[str, Any] = {"id": item_id, "input": item, "output": None, "scores": {}, "error": None}
    stage = "system"
    try:
        output = system(item)
        row["latency_s"] = time.perf_counter() - start
        row["output"] = output if isinstance(output, dict) else {"output": output}
        stage = "score"
        row["scores"], details = _score_item(item, row["output"], scorers)
        if details:
            row["details"] = details
    except Exception as exc:
        row.setdefault("latency_s", time.perf_counter() - start)
        row["error"] = {"stage": stage, "type": type(exc).__name__, "message": str(exc)}
        log.warning("eval item %s failed in %s: %s\n%s", item_id, stage, exc, traceback.format_exc(limit=3))
    return row


def _summarise(name: str, rows: list[dict], wall_s: float) -> dict:
    metric_names = sorted({k for r in rows for k in r["scores"]})
    metrics = {}
    for m in metric_names:
        values = [r["scores"][m] for r in rows if m in r["scores"]]
        metrics[m] = {"mean": float(np.mean(values)), "n": len(values)}
    latencies = [r["latency_s"] for r in rows if r["error"] is None]
    n_errors = sum(r["error"] is not None for r in rows)
    return {
        "name": name,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "n_items": len(rows),
        "n_errors": n_errors,
        "error_rate": n_errors / len(rows) if rows else 0.0,
        "wall_time_s": round(wall_s, 3),
        "latency_s": {
            "p50": float(np.percentile(latencies, 50)) if latencies else None,
            "p95": float(np.percentile(latencies, 95)) if latencies else None,
            "mean": float(np.mean(latencies)) if latencies else None,
        },
        "metrics": metrics,
    }


def _preview(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"


def _error_text(row: dict) -> str:
    return f"{row['error']['type']}: {row['error']['message']}"


def render_report(summary: dict, rows: list[dict], worst_k: int = 5, primary_metric: str | None = None) -> str:
    """Markdown: metric table, latency, errors, and the worst items on the primary metric."""
    lines = [
        f"# Evaluation: {summary['name']}",
        "",
        f"- items: {summary['n_items']}, errors: {summary['n_errors']} ({summary['error_rate']:.1%})",
        f"- latency p50/p95: {_fmt(summary['latency_s']['p50'])} / {_fmt(summary['latency_s']['p95'])} s;"
        f" wall time {summary['wall_time_s']:.2f} s",
        f"- commit: {summary['git_commit'] or 'unknown'}; at {summary['timestamp']}",
        "",
        "| metric | mean | n |",
        "|---|---:|---:|",
    ]
    lines += [f"| {m} | {v['mean']:.4f} | {v['n']} |" for m, v in summary["metrics"].items()]
    errors = [r for r in rows if r["error"]]
    if errors:
        lines += ["", "## Errors", "", "| id | stage | error |", "|---|---|---|"]
        lines += [f"| {_preview(r['id'])} | {r['error']['stage']} | {_preview(_error_text(r))} |" for r in errors[:20]]
    metric = primary_metric or next(iter(summary["metrics"]), None)
    scored = [r for r in rows if metric and metric in r["scores"]]
    if scored:
        worst = sorted(scored, key=lambda r: r["scores"][metric])[:worst_k]
        lines += ["", f"## Worst {len(worst)} items by {metric}", ""]
        lines += ["| id | score | input | output |", "|---|---:|---|---|"]
        lines += [
            f"| {_preview(r['id'])} | {r['scores'][metric]:.4f} | {_preview(r['input'])} | {_preview(r['output'])} |"
            for r in worst
        ]
    return "\n".join(lines) + "\n"


def run_eval(
    items: Iterable[dict] | str | Path,
    system: System,
    scorers: Mapping[str, Scorer],
    out_dir: str | Path,
    *,
    concurrency: int = 1,
    limit: int | None = None,
    name: str = "eval",
    primary_metric: str | None = None,
) -> dict:
    """Run every item through ``system``, score it, write results/summary/report; return the summary.

    ``concurrency`` > 1 runs items on a thread pool (for I/O-bound systems such as HTTP clients); results
    keep dataset order. ``limit`` evaluates only the first N items (smoke runs).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if isinstance(items, str | Path):
        items = load_jsonl(items)
    dataset = list(islice(items, limit) if limit is not None else items)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    if concurrency == 1:
        rows = [_run_one(i, item, system, scorers) for i, item in enumerate(dataset)]
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval") as pool:
            rows = list(pool.map(lambda p: _run_one(p[0], p[1], system, scorers), enumerate(dataset)))
    summary = _summarise(name, rows, time.perf_counter() - start)

    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_report(summary, rows, primary_metric=primary_metric), encoding="utf-8")
    log.info("eval %s: %d items, %d errors -> %s", name, summary["n_items"], summary["n_errors"], out)
    return summary
