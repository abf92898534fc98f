"""Moderation evaluation on the OpenAI moderation set, HateCheck and Tensor Trust, against a keyword-list baseline.

    python -m projects.content_moderation.eval --openai-mod FILE.jsonl --hatecheck FILE.csv --out OUT \
        [--injection FILE.jsonl]

Category mapping onto the OpenAI moderation labels (a missing key = unknown: that text is skipped for that label):
S → sexual, H → hate, V → violence, HR → harassment, SH → self-harm, S3 → sexual/minors, H2 (hate/threatening)
→ hate, V2 (violence/graphic) → violence. A label is predicted positive when the category's action under the
policy is not ``allow`` (score ≥ its ``flag`` threshold); AUPRC uses the raw category score.

HateCheck: a case is predicted hateful when ``hate`` or ``harassment`` is flagged; accuracy overall and per
functionality, and the false-positive rate on the non-hateful identity functionalities (``ident_neutral_nh``,
``ident_pos_nh``...), where identity-term bias shows. Injection (surface ``llm_input``): recall on the Tensor
Trust attacks, false-positive rate on the OpenAI set's texts with every label 0.

Each text is moderated alone (a guardrail's real call) for the latency percentiles per tier; ``texts_per_s``
is the sequential throughput. The ``keywords`` baseline is tier 0 alone, with the same policy and rules.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from shared.eval.harness import git_commit
from shared.eval.metrics import auprc, classification_report, percentile

log = logging.getLogger("projects.content_moderation.eval")

MAKE_EVAL_ARGS = [
    "--openai-mod",
    "../shared/data/moderation/openai_moderation_dev.jsonl",
    "--hatecheck",
    "../shared/data/moderation/hatecheck_dev.csv",
    "--injection",
    "../shared/data/moderation/tensor_trust_hijacking_dev.jsonl",
    "--out",
    "var/eval/content_moderation",
    "--require-beats-keywords",
]
OPENAI_LABELS = {
    "S": "sexual", "H": "hate", "V": "violence", "HR": "harassment", "SH": "self-harm", "S3": "sexual/minors",
    "H2": "hate", "V2": "violence",
}  # fmt: skip


def load_openai(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"text": r["prompt"], "labels": {k: int(r[k]) for k in OPENAI_LABELS if k in r}} for r in rows]


def load_hatecheck(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            {"text": r["test_case"], "hateful": r["label_gold"] == "hateful", "functionality": r["functionality"]}
            for r in csv.DictReader(fh)
        ]


def load_injection(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["attack"] for r in rows if r.get("attack")]


def run_cascade(cascade: Any, texts: list[str], surface: str | None = None) -> tuple[list[Any], dict[str, list]]:
    """One text per call; per-tier latencies of every call."""
    verdicts, timings = [], defaultdict(list)
    for text in texts:
        t0 = time.perf_counter()
        verdict = cascade.moderate([text], surface=surface)[0]
        timings["total"].append((time.perf_counter() - t0) * 1000)
        for tier, ms in verdict.timings_ms.items():
            timings[tier].append(ms)
        verdicts.append(verdict)
    return verdicts, timings


def prf(y: list[int], pred: list[int]) -> dict[str, float]:
    """Precision/recall/F1 of the positive class (shared definitions: 0 when undefined, also for no rows)."""
    if not y:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    positive = classification_report(y, pred, labels=[1])["per_class"]["1"]
    return {k: round(positive[k], 4) for k in ("precision", "recall", "f1")}


def evaluate(cascade: Any, data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    started = time.perf_counter()
    n = 0
    openai_verdicts, timings = run_cascade(cascade, [r["text"] for r in data["openai"]])
    n += len(openai_verdicts)
    per_label: dict[str, Any] = {}
    for key, category in OPENAI_LABELS.items():
        pairs = [
            (r["labels"][key], v) for r, v in zip(data["openai"], openai_verdicts, strict=True) if key in r["labels"]
        ]
        y = [a for a, _ in pairs]
        scores = [v.score(category) for _, v in pairs]
        pred = [int(v.categories[category].action != "allow") for _, v in pairs]
        entry: dict[str, Any] = {"category": category, "n": len(y), "positives": sum(y), **prf(y, pred)}
        entry["auprc"] = round(auprc(y, scores), 4) if 0 < sum(y) < len(y) else None
        per_label[key] = entry
    f1s = [e["f1"] for e in per_label.values() if e["positives"]]
    auprcs = [e["auprc"] for e in per_label.values() if e["auprc"] is not None]

    hate_verdicts, hate_timings = run_cascade(cascade, [r["text"] for r in data["hatecheck"]])
    n += len(hate_verdicts)
    for k, v in hate_timings.items():
        timings[k].extend(v)
    correct: dict[str, list[int]] = defaultdict(list)
    identity_fp: list[int] = []
    for row, v in zip(data["hatecheck"], hate_verdicts, strict=True):
        predicted = v.categories["hate"].action != "allow" or v.categories["harassment"].action != "allow"
        correct[row["functionality"]].append(int(predicted == row["hateful"]))
        if row["functionality"].startswith("ident_") and not row["hateful"]:
            identity_fp.append(int(predicted))
    all_correct = [c for cs in correct.values() for c in cs]

    injection: dict[str, Any] = {}
    if data.get("injection"):
        attacks, inj_timings = run_cascade(cascade, data["injection"], surface="llm_input")
        n += len(attacks)
        benign_texts = [r["text"] for r in data["openai"] if r["labels"] and not any(r["labels"].values())]
        benign, _ = run_cascade(cascade, benign_texts, surface="llm_input")
        n += len(benign)

        def flagged_share(verdicts: list[Any]) -> float:
            return round(float(np.mean([v.categories["prompt_injection"].action != "allow" for v in verdicts])), 4)

        for k, v in inj_timings.items():
            timings[k].extend(v)
        injection = {
            "injection_recall": flagged_share(attacks),
            "injection_fpr": flagged_share(benign),
            "injection_n": len(attacks),
            "benign_n": len(benign),
        }  # fmt: skip
    seconds = time.perf_counter() - started
    summary = {
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "macro_auprc": round(float(np.mean(auprcs)), 4) if auprcs else 0.0,
        "hatecheck_accuracy": round(float(np.mean(all_correct)), 4),
        "hatecheck_identity_fpr": round(float(np.mean(identity_fp)), 4) if identity_fp else None,
        "injection_recall": injection.get("injection_recall"),
        "injection_fpr": injection.get("injection_fpr"),
        "texts_per_s": round(n / seconds, 2),
        "latency_ms": {
            t: {"p50": percentile(ms, 50, 3), "p95": percentile(ms, 95, 3), "calls": len(ms)}
            for t, ms in timings.items()
        },
        "n": {
            "openai": len(data["openai"]),
            "hatecheck": len(data["hatecheck"]),
            **{k: v for k, v in injection.items() if k.endswith("_n")},
        },
        "openai_labels": per_label,
        "hatecheck_per_functionality": {f: round(float(np.mean(c)), 4) for f, c in sorted(correct.items())},
        "policy": cascade.policy.version_id,
        "detectors": [d.name for d in cascade.detectors],
    }  # fmt: skip
    rows = [
        {"set": "openai", "text": r["text"][:200], "labels": r["labels"], "action": v.action,
         "scores": {c: v.score(c) for c in set(OPENAI_LABELS.values())}}
        for r, v in zip(data["openai"], openai_verdicts, strict=True)
    ] + [
        {"set": "hatecheck", "text": r["text"], "hateful": r["hateful"], "functionality": r["functionality"],
         "action": v.action, "hate": v.score("hate"), "harassment": v.score("harassment")}
        for r, v in zip(data["hatecheck"], hate_verdicts, strict=True)
    ]  # fmt: skip
    return summary, rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m projects.content_moderation.eval", description=__doc__.split("\n")[0])
    p.add_argument("--openai-mod", type=Path, required=True, help="OpenAI moderation eval JSONL")
    p.add_argument("--hatecheck", type=Path, required=True, help="HateCheck CSV")
    p.add_argument("--injection", type=Path, default=None, help="Tensor Trust hijacking JSONL (attack = positive)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int, default=None, help="first N rows of each set")
    p.add_argument("--require-beats-keywords", action="store_true", help="exit 1 unless macro AUPRC beats the baseline")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from shared.moderation.pipeline import build_cascade

    data: dict[str, Any] = {"openai": load_openai(args.openai_mod), "hatecheck": load_hatecheck(args.hatecheck)}
    if args.injection:
        data["injection"] = load_injection(args.injection)
    if args.limit:
        data = {k: v[: args.limit] for k, v in data.items()}
    full = build_cascade(tiers="full")
    full.moderate(["warm-up text"])  # model loading stays out of the timings
    summary, rows = evaluate(full, data)
    baseline, _ = evaluate(build_cascade(tiers="keywords"), data)
    summary["baselines"] = {"keywords": {k: v for k, v in baseline.items() if k != "openai_labels"}}
    summary["baselines"]["keywords"]["openai_labels"] = baseline["openai_labels"]
    summary["commit"] = git_commit()
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    keys = (
        "macro_f1",
        "macro_auprc",
        "hatecheck_accuracy",
        "hatecheck_identity_fpr",
        "injection_recall",
        "injection_fpr",
        "texts_per_s",
    )
    print(json.dumps({k: summary[k] for k in keys}))
    print(json.dumps({"keywords": {k: summary["baselines"]["keywords"][k] for k in keys}}))
    if args.require_beats_keywords and summary["macro_auprc"] <= summary["baselines"]["keywords"]["macro_auprc"]:
        print("FAIL: macro AUPRC does not beat the keyword baseline", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
