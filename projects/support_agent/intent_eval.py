"""Intent-router accuracy on Banking77-format data (``text,category``): ``--intents FILE.csv`` of the eval.

Only a train file exists in the dev data, so the file is split here (seeded, stratified, 80/20): the router is
fitted on one part and scored on the other, never on what it saw. Reported: accuracy and macro F1 of the top
intent, accuracy among the messages at or above the confidence threshold with their share (coverage — what the
agent would act on without a clarification question), expected calibration error (does "0.9" mean 90 %?),
single-message latency p50/p95 (what a turn pays) and batched texts/s.

    python -m projects.support_agent.intent_eval --intents banking77/train.csv --out out/intents [--method both]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shared.eval.metrics import classification_report, percentile
from shared.serving.base import Embedder

TEST_FRACTION = 0.2


class _MemoEmbedder(Embedder):
    """Embeds each distinct text once per run, so comparing two heads does not embed the train split twice."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.backend, self.model, self.dim = inner, inner.backend, inner.model, inner.dim
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            for t, v in zip(todo, self.inner.embed(todo), strict=True):
                self._memo[t] = v
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def read_intents_csv(path: Path) -> tuple[list[str], list[str]]:
    """``text,category`` rows (header required); blank texts are dropped."""
    texts, labels = [], []
    with Path(path).open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            text, label = (row.get("text") or "").strip(), (row.get("category") or "").strip()
            if text and label:
                texts.append(text)
                labels.append(label)
    if not texts:
        raise ValueError(f"{path}: no rows with text and category")
    return texts, labels


def split(texts: list[str], labels: list[str], seed: int) -> tuple[list[int], list[int]]:
    """Stratified train/test indices; classes too small to stratify fall back to a plain shuffle split."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(texts))
    counts = np.unique(labels, return_counts=True)[1]
    strat = labels if counts.min() >= 2 and len(counts) <= len(texts) * TEST_FRACTION else None
    tr, te = train_test_split(idx, test_size=TEST_FRACTION, random_state=seed, stratify=strat)
    return sorted(tr.tolist()), sorted(te.tolist())


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE (Guo et al. 2017): Σ_b |B_b|/n · |accuracy(B_b) − mean confidence(B_b)| over equal-width bins."""
    conf, ok = np.asarray(confidence, float), np.asarray(correct, float)
    if not len(conf):
        return 0.0
    which = np.minimum((conf * bins).astype(int), bins - 1)
    return float(
        sum(
            abs(ok[which == b].mean() - conf[which == b].mean()) * (which == b).mean()
            for b in range(bins)
            if (which == b).any()
        )
    )


def _score_method(method: str, embedder: Embedder, real: Embedder, data, cache_dir: Path | None) -> tuple[dict, list]:
    from projects.support_agent.router import IntentRouter
    from projects.support_agent.settings import get_support_settings

    (tr_x, tr_y), (te_x, te_y) = data
    settings = get_support_settings().router.model_copy(update={"method": method})
    router = IntentRouter(embedder=embedder, settings=settings, cache_dir=cache_dir)
    start = time.perf_counter()
    router.fit(tr_x, tr_y)
    fit_s = time.perf_counter() - start
    router.embedder = real  # latency is measured on real embedding calls, never on the memo

    start = time.perf_counter()
    router.predict(te_x)
    texts_per_s = len(te_x) / max(time.perf_counter() - start, 1e-9)

    preds, lat = [], []
    for text in te_x:  # one message per call: what a conversation turn pays
        t0 = time.perf_counter()
        preds.append(router.predict_one(text))
        lat.append((time.perf_counter() - t0) * 1000)

    best = [p.best for p in preds]
    report = classification_report(te_y, best, labels=sorted(set(tr_y) | set(te_y)))
    correct = [b == g for b, g in zip(best, te_y, strict=True)]
    covered = [p.confidence >= settings.threshold for p in preds]
    n_cov = sum(covered)
    summary = {
        "method": method,
        "n": len(te_x),
        "n_train": len(tr_x),
        "intents": len(set(tr_y)),
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro_f1"], 4),
        "threshold": settings.threshold,
        "coverage": round(n_cov / len(preds), 4),
        "accuracy_at_threshold": round(sum(c for c, k in zip(correct, covered, strict=True) if k) / max(n_cov, 1), 4),
        "ece": round(expected_calibration_error([p.confidence for p in preds], correct), 4),
        "latency_ms_p50": percentile(lat, 50),
        "latency_ms_p95": percentile(lat, 95),
        "texts_per_s": round(texts_per_s, 1),
        "fit_s": round(fit_s, 2),
        "fit_loaded_from_cache": router.loaded_from_cache,
    }
    rows = [
        {
            "text": x, "gold": g, "predicted": p.best, "intent": p.intent, "confidence": round(p.confidence, 4),
            "runner_up": p.runner_up, "margin": round(p.margin, 4), "correct": c, "latency_ms": round(ms, 3),
        }
        for x, g, p, c, ms in zip(te_x, te_y, preds, correct, lat, strict=True)
    ]  # fmt: skip
    return summary, rows


def evaluate_intents(
    path: str | Path,
    out_dir: str | Path,
    seed: int = 0,
    methods: Sequence[str] | None = None,
    embedder: Embedder | None = None,
    cache_dir: Path | None = None,
) -> dict:
    """Split ``path`` (seeded, stratified), fit and score each head; write summary.json and results.jsonl.

    The summary's top-level keys are the first method's (the configured one by default); with several methods,
    ``by_method`` holds each, and results.jsonl has a ``method`` field per row.
    """
    from projects.support_agent.settings import get_support_settings

    if embedder is None:
        from shared.serving.factory import get_embedder

        embedder = get_embedder()
    methods = list(methods or [get_support_settings().router.method])
    texts, labels = read_intents_csv(Path(path))
    tr, te = split(texts, labels, seed)
    data = ([texts[i] for i in tr], [labels[i] for i in tr]), ([texts[i] for i in te], [labels[i] for i in te])
    memo = _MemoEmbedder(embedder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_method: dict[str, dict] = {}
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for m in methods:
            summary, rows = _score_method(m, memo, embedder, data, cache_dir)
            by_method[m] = summary
            for row in rows:
                f.write(json.dumps({"method": m, **row}) + "\n")
    summary = {
        **by_method[methods[0]],
        "seed": seed,
        "data": str(path),
        "embedder": f"{embedder.backend}:{embedder.model}",
    }
    if len(methods) > 1:
        summary["by_method"] = by_method
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--intents", required=True, type=Path, help="CSV with text,category columns")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", choices=["lr", "knn", "both"], default=None, help="default: SUPPORT__ROUTER__METHOD")
    args = ap.parse_args(argv)
    methods = ["lr", "knn"] if args.method == "both" else ([args.method] if args.method else None)
    print(json.dumps(evaluate_intents(args.intents, args.out, args.seed, methods), indent=2))


if __name__ == "__main__":
    main()
