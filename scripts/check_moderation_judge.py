"""Measure the LLM judge (tier 2) on the dev texts the cheaper tiers leave uncertain: seconds per judged item and
whether it improves F1 on those items.

    PYTHONPATH=. python -m scripts.check_moderation_judge --data ../shared/data/moderation/openai_moderation_dev.jsonl

Three decisions per uncertain item, item level (gold = any known OpenAI label is 1; predicted = any category at or
above its flag threshold, in the categories the labels cover): the cascade without the judge; with the judge as
wired (its unsafe categories scored 0.8, max-combined); and "judge decides" (its verdict replaces the uncertain
scores), which the max rule does not allow but tells whether a "safe" would be worth trusting.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from shared.moderation.judge import JudgeDetector
from shared.moderation.normalize import normalize
from shared.moderation.pipeline import build_cascade
from shared.serving.factory import get_chat_model
from shared.settings import ModerationSettings, get_settings

LABELS = {
    "S": "sexual", "H": "hate", "V": "violence", "HR": "harassment", "SH": "self-harm", "S3": "sexual/minors",
    "H2": "hate", "V2": "violence",
}  # fmt: skip


def f1(gold: list[bool], pred: list[bool]) -> dict[str, float]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--n", type=int, default=40, help="uncertain items to judge")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    settings = ModerationSettings(judge="none")
    cascade = build_cascade(settings, tiers="full")
    t0 = time.perf_counter()
    verdicts = cascade.moderate([r["prompt"] for r in rows])
    tier01_s = time.perf_counter() - t0
    lo, hi = settings.uncertain_low, settings.uncertain_high
    uncertain = [
        (r, v) for r, v in zip(rows, verdicts, strict=True) if lo <= max(c.score for c in v.categories.values()) < hi
    ][: args.n]
    rules = cascade.policy.rules()
    chat_settings = get_settings()
    t0 = time.perf_counter()
    chat = get_chat_model(chat_settings)
    chat.chat(JudgeDetector(chat, cascade.policy).request("warm-up"))
    load_s = time.perf_counter() - t0
    judge = JudgeDetector(chat, cascade.policy, max_tokens=settings.judge_max_tokens, concurrency=8)
    t0 = time.perf_counter()
    judged = judge.detect([normalize(r["prompt"]) for r, _ in uncertain])
    judge_s = time.perf_counter() - t0

    gold, before, wired, decides, examples = [], [], [], [], []
    for (row, verdict), signals in zip(uncertain, judged, strict=True):
        cats = {LABELS[k] for k in LABELS if k in row}
        gold.append(any(row[k] == 1 for k in LABELS if k in row))
        before.append(any(verdict.categories[c].action != "allow" for c in cats))
        judge_cats = {s.category for s in signals}
        wired.append(
            any(max(verdict.categories[c].score, 0.8 if c in judge_cats else 0) >= rules[c].flag for c in cats)
        )
        decides.append(bool(judge_cats & cats))
        examples.append({"text": row["prompt"][:120], "gold": gold[-1], "judge": sorted(judge_cats)})
    report = {
        "dev_rows": len(rows),
        "uncertain_in_dev": sum(lo <= max(c.score for c in v.categories.values()) < hi for v in verdicts),
        "judged": len(uncertain),
        "tier0_1_s_all_rows": round(tier01_s, 1),
        "llm_load_s": round(load_s, 1),
        "judge_s_total": round(judge_s, 1),
        "judge_s_per_item": round(judge_s / max(1, len(uncertain)), 2),
        "model": f"{chat.backend}:{chat.model}",
        "positives": sum(gold),
        "without_judge": f1(gold, before),
        "with_judge_max": f1(gold, wired),
        "judge_decides": f1(gold, decides),
        "judge_unsafe": sum(bool(s) for s in judged),
        "examples": examples[:10],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
