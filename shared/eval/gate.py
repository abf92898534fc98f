"""Regression gate for CI: compare an eval summary with a stored baseline and fail on regression.

Baseline format (JSON)::

    {"metrics": {"recall@5": {"value": 0.92, "direction": "higher", "tolerance": 0.02},
                 "error_rate": {"value": 0.0, "direction": "lower", "tolerance": 0.0}}}

A metric is looked up in the summary's ``metrics[name].mean`` first, then as a dotted path into the summary
(``error_rate``, ``latency_s.p95``). A metric regresses when it is worse than ``value`` by more than
``tolerance`` (absolute); a metric missing from the summary fails too, so a silently dropped scorer
cannot pass the gate.

    python -m shared.eval.gate --summary var/eval/x/summary.json --baseline shared/eval/baselines/x.json
    python -m shared.eval.gate --summary ... --baseline ... --update   # accept the summary as the new baseline
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DEFAULT_TOLERANCE = 0.01


@dataclass
class GateRow:
    metric: str
    baseline: float
    actual: float | None
    direction: Literal["higher", "lower"]
    tolerance: float

    @property
    def delta(self) -> float | None:
        return None if self.actual is None else self.actual - self.baseline

    @property
    def status(self) -> Literal["ok", "improved", "REGRESSED", "MISSING"]:
        if self.actual is None:
            return "MISSING"
        worse_by = self.baseline - self.actual if self.direction == "higher" else self.actual - self.baseline
        if worse_by > self.tolerance + 1e-12:
            return "REGRESSED"
        return "improved" if worse_by < -self.tolerance else "ok"


def lookup(summary: dict, metric: str) -> float | None:
    """The metric's mean from ``summary['metrics']``, else a dotted path into the summary; None if absent."""
    entry = summary.get("metrics", {}).get(metric)
    if isinstance(entry, dict) and entry.get("mean") is not None:
        return float(entry["mean"])
    node: Any = summary
    for part in metric.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def compare(summary: dict, baseline: dict) -> list[GateRow]:
    rows = []
    for metric, spec in baseline.get("metrics", {}).items():
        direction = spec.get("direction", "higher")
        if direction not in ("higher", "lower"):
            raise ValueError(f"baseline metric {metric!r}: direction must be 'higher' or 'lower'")
        rows.append(
            GateRow(metric, float(spec["value"]), lookup(summary, metric), direction, float(spec.get("tolerance", 0)))
        )
    return rows


def format_table(rows: list[GateRow]) -> str:
    def num(v: float | None, sign: bool = False) -> str:
        return "–" if v is None else (f"{v:+.4f}" if sign else f"{v:.4f}")

    header = ("metric", "baseline", "actual", "delta", "tolerance", "better", "status")
    body = [
        (r.metric, num(r.baseline), num(r.actual), num(r.delta, True), f"{r.tolerance:.4f}", r.direction, r.status)
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths)), *(fmt.format(*b) for b in body)])


def baseline_from_summary(summary: dict, previous: dict | None = None) -> dict:
    """A new baseline with the summary's values, keeping each metric's direction and tolerance.

    With no previous baseline every metric in ``summary['metrics']`` is gated, higher-is-better, with the
    default tolerance, plus ``error_rate`` (lower is better, no tolerance).
    """
    if previous and previous.get("metrics"):
        specs = previous["metrics"]
    else:
        specs = {m: {"direction": "higher", "tolerance": DEFAULT_TOLERANCE} for m in summary.get("metrics", {})}
        specs["error_rate"] = {"direction": "lower", "tolerance": 0.0}
    metrics = {}
    for metric, spec in specs.items():
        value = lookup(summary, metric)
        if value is None:
            raise ValueError(f"cannot update baseline: metric {metric!r} is missing from the summary")
        metrics[metric] = {**spec, "value": round(value, 6)}
    return {"name": summary.get("name"), "git_commit": summary.get("git_commit"), "metrics": metrics}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.eval.gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", required=True, type=Path, help="summary.json written by run_eval")
    parser.add_argument("--baseline", required=True, type=Path, help="baseline JSON (metrics with tolerances)")
    parser.add_argument("--update", action="store_true", help="write the summary as the new baseline and exit 0")
    args = parser.parse_args(argv)

    summary = json.loads(args.summary.read_text(encoding="utf-8"))
    previous = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline.exists() else None
    if args.update:
        new = baseline_from_summary(summary, previous)
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        args.baseline.write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
        print(f"baseline updated: {args.baseline} ({len(new['metrics'])} metrics)")
        return 0
    if previous is None:
        print(f"baseline not found: {args.baseline} (create it with --update)", file=sys.stderr)
        return 2
    rows = compare(summary, previous)
    print(format_table(rows))
    failed = [r for r in rows if r.status in ("REGRESSED", "MISSING")]
    if failed:
        print(
            f"\nGATE FAILED: {len(failed)} of {len(rows)} metrics regressed or missing: "
            + ", ".join(f"{r.metric} ({r.status})" for r in failed)
        )
        return 1
    print(f"\ngate passed: {len(rows)} metrics within tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
