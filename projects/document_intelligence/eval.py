"""SROIE key-information evaluation: the extraction pipeline beside a regex/layout-only baseline, same items and run.

    python -m projects.document_intelligence.eval --sroie DIR --out OUT [--mode text|image] \
        [--limit N] [--no-llm] [--concurrency N] [--baseline FILE] [--require-beats-regex]

Data (``sroie.py``): ``DIR/key/<id>.json`` gold ``{company,date,address,total}``, ``DIR/box/<id>.csv`` OCR lines,
``DIR/img/<id>.jpg``. ``--mode text`` builds each receipt's one-page document from the gold OCR lines (all
receipts); ``--mode image`` parses the image through :func:`document_from_image` (receipts with an image)
and also reports ``ocr_cer`` against the box transcripts and ``seconds_per_page``.

Systems, on the same documents:
- ``pipeline`` (top-level keys): :func:`extraction.extract` — heuristics, the LLM (structured output) for fields
  the heuristics could not settle, validation. ``--no-llm`` turns the LLM off.
- ``baselines.regex``: :class:`heuristics.HeuristicExtractor` alone.

Scoring, per field, after normalisation (``normalize.values_equal``): text fields (company, address) equal
ignoring case and ALL whitespace; ``total`` numerically equal (``RM 9.00`` = ``9.0``); ``date`` equal as a
calendar date (day-first, ``25/12/18`` = ``2018-12-25``).

- ``accuracy[field]``: share of receipts where the prediction is right — equal to the gold, or both empty.
- ``f1[field]`` as SROIE defines it when a field can be empty: precision = correct / predicted non-empty,
  recall = correct / gold non-empty, F1 their harmonic mean; "correct" = a non-empty prediction equal to a
  non-empty gold. ``micro_f1``: the same counts summed over the four fields before dividing.
- ``seconds_per_doc`` p50/p95: wall time of one system call per receipt (with ``--concurrency`` > 1 the
  pipeline's LLM calls are batched by the local model, so its per-document time includes batch waits).

Outputs: ``results.jsonl`` (per receipt: id, gold, per system the predictions, per-field correctness,
confidences, review decision and seconds) and ``summary.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from projects.document_intelligence.geometry import group_rows, row_text
from projects.document_intelligence.heuristics import HeuristicExtractor
from projects.document_intelligence.model import Document
from projects.document_intelligence.normalize import values_equal
from projects.document_intelligence.parser import DocumentParser
from projects.document_intelligence.settings import get_docint_settings
from projects.document_intelligence.sroie import SROIE_FIELDS, SroieItem, load_items, load_text_document
from shared.eval.harness import git_commit

log = logging.getLogger("projects.document_intelligence.eval")

MAKE_EVAL_ARGS = [
    "--sroie",
    "../shared/data/doc-intelligence/sroie",
    "--out",
    "var/eval/document_intelligence_sroie_text",
    "--mode",
    "text",
    "--require-beats-regex",
    "--baseline",
    "projects/document_intelligence/baselines/sroie_text.json",
]

FIELD_KINDS = {"company": "text", "address": "text", "date": "date", "total": "amount"}
DOC_TYPE = "receipt"


# --------------------------------------------------------------------------- image-mode hooks


@functools.lru_cache(maxsize=1)
def _parser() -> DocumentParser:
    return DocumentParser(get_docint_settings())


def document_from_image(path: Path) -> Document:
    """The whole parsing pipeline on one image (type sniffing, limits, orientation, OCR, layout) → a ``Document``."""
    return _parser().parse(path.read_bytes(), path.name)


def _levenshtein(a: str, b: str) -> int:
    """Edit distance, two-row dynamic programme (O(len(a)·len(b)) time, O(len(b)) memory)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(pred_lines: list[str], gold_lines: list[str]) -> float:
    """Character error rate: edit distance between the texts (lines joined by one space, runs of whitespace
    collapsed, case folded) divided by the gold length. 0 = identical; can exceed 1 for long garbage.

    Case is folded because SROIE's transcripts are upper-cased ("DATE:" where the receipt prints "Date:"), so a
    case-sensitive CER would count correct reading as error. Lines the transcripts mask (Chinese text → "***")
    still count as errors: the number is pessimistic, not flattering."""
    pred = " ".join(" ".join(pred_lines).split()).casefold()
    gold = " ".join(" ".join(gold_lines).split()).casefold()
    if not gold:
        return 0.0 if not pred else 1.0
    return _levenshtein(pred, gold) / len(gold)


# --------------------------------------------------------------------------- scoring


def score_fields(predicted: dict[str, str | None], gold: dict[str, str]) -> dict[str, dict[str, bool]]:
    """Per field: ``pred`` (non-empty prediction), ``gold`` (non-empty gold), ``correct`` (both and equal),
    ``exact`` (correct, or both empty)."""
    out = {}
    for name, kind in FIELD_KINDS.items():
        p, g = (predicted.get(name) or "").strip(), (gold.get(name) or "").strip()
        correct = bool(p) and bool(g) and values_equal(kind, p, g)
        out[name] = {"pred": bool(p), "gold": bool(g), "correct": correct, "exact": correct or (not p and not g)}
    return out


def _prf(correct: int, pred: int, gold: int) -> dict[str, float]:
    precision = correct / pred if pred else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def aggregate(rows: list[dict], system: str) -> dict[str, Any]:
    """The issue's keys for one system over the rows where it ran."""
    ok = [r["systems"][system] for r in rows if system in r.get("systems", {}) and "error" not in r["systems"][system]]
    summary: dict[str, Any] = {"accuracy": {}, "f1": {}, "per_field": {}}
    totals = {"correct": 0, "pred": 0, "gold": 0}
    for name in FIELD_KINDS:
        scores = [s["scores"][name] for s in ok]
        c, p, g = (sum(x[k] for x in scores) for k in ("correct", "pred", "gold"))
        acc = sum(x["exact"] for x in scores) / len(scores) if scores else 0.0
        prf = _prf(c, p, g)
        summary["accuracy"][name] = round(acc, 4)
        summary["f1"][name] = prf["f1"]
        summary["per_field"][name] = {"accuracy": round(acc, 4), **prf, "correct": c, "predicted": p, "gold": g}
        totals["correct"] += c
        totals["pred"] += p
        totals["gold"] += g
    micro = _prf(totals["correct"], totals["pred"], totals["gold"])
    summary["micro_f1"] = micro["f1"]
    summary["micro_precision"] = micro["precision"]
    summary["micro_recall"] = micro["recall"]
    summary["n"] = len(ok)
    secs = [s["seconds"] for s in ok]
    summary["seconds_per_doc"] = _percentiles(secs)
    reviews = [s["needs_review"] for s in ok if "needs_review" in s]
    if reviews:
        summary["needs_review_rate"] = round(float(np.mean(reviews)), 4)
    return summary


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": round(float(np.percentile(values, 50)), 4), "p95": round(float(np.percentile(values, 95)), 4)}


# --------------------------------------------------------------------------- running


def _load(item: SroieItem, mode: str) -> tuple[Document, float | None]:
    if mode == "text":
        return load_text_document(item), None
    assert item.img_path is not None
    t0 = time.perf_counter()
    doc = document_from_image(item.img_path)
    return doc, time.perf_counter() - t0


def run_regex(doc: Document, gold: dict[str, str], day_first: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    fields, _ = HeuristicExtractor(day_first=day_first).extract(doc, DOC_TYPE)
    seconds = time.perf_counter() - t0
    predicted = {name: fields[name].value for name in SROIE_FIELDS}
    return {
        "predicted": predicted,
        "confidence": {name: fields[name].confidence for name in SROIE_FIELDS},
        "scores": score_fields(predicted, gold),
        "seconds": round(seconds, 4),
    }


def run_pipeline(doc: Document, gold: dict[str, str], chat_model, settings, use_llm: bool) -> dict[str, Any]:
    from projects.document_intelligence.extraction import extract

    t0 = time.perf_counter()
    result = extract(doc, DOC_TYPE, chat_model=chat_model, settings=settings, use_llm=use_llm)
    seconds = time.perf_counter() - t0
    predicted = {name: result.fields[name].value for name in SROIE_FIELDS}
    return {
        "predicted": predicted,
        "confidence": {name: result.fields[name].confidence for name in SROIE_FIELDS},
        "method": {name: result.fields[name].method for name in SROIE_FIELDS},
        "scores": score_fields(predicted, gold),
        "needs_review": result.needs_review,
        "issues": [i.code for i in result.issues],
        "seconds": round(seconds, 4),
    }


def evaluate_item(item: SroieItem, mode: str, chat_model, settings, use_llm: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"id": item.id, "gold": item.gold, "systems": {}}
    try:
        doc, parse_s = _load(item, mode)
    except Exception as exc:  # a failed parse is an error row, never a crashed run
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    if parse_s is not None:
        row["parse_seconds"] = round(parse_s, 4)
        # both sides in row-major order (rows top to bottom, left to right): CER measures recognition, not
        # the layout's block reading order (XY-cut reads a receipt's item columns column by column)
        gold_rows = [row_text(r) for r in group_rows(load_text_document(item).pages[0].lines)]
        pred_rows = [row_text(r) for p in doc.pages for r in group_rows(p.lines)]
        row["cer"] = round(cer(pred_rows, gold_rows), 4)
    for name, fn in (
        ("regex", lambda: run_regex(doc, item.gold, settings.extract_day_first)),
        ("pipeline", lambda: run_pipeline(doc, item.gold, chat_model, settings, use_llm)),
    ):
        try:
            row["systems"][name] = fn()
        except Exception as exc:
            log.warning("item %s, system %s failed: %s", item.id, name, exc)
            row["systems"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    return row


def build_summary(rows: list[dict], args: argparse.Namespace, use_llm: bool, model_name: str | None, wall: float):
    summary = aggregate(rows, "pipeline")
    summary["mode"] = args.mode
    if args.mode == "image":
        cers = [r["cer"] for r in rows if "cer" in r]
        summary["ocr_cer"] = round(float(np.mean(cers)), 4) if cers else None
        summary["seconds_per_page"] = _percentiles([r["parse_seconds"] for r in rows if "parse_seconds" in r])
    regex = aggregate(rows, "regex")
    if args.mode == "image":
        regex["ocr_cer"], regex["seconds_per_page"] = summary["ocr_cer"], summary["seconds_per_page"]
    regex["method"] = "HeuristicExtractor only: layout rules + regex, no LLM"
    summary["baselines"] = {"regex": regex}
    summary["micro_f1_delta_vs_regex"] = round(summary["micro_f1"] - regex["micro_f1"], 4)
    summary["n_errors"] = sum(1 for r in rows if "error" in r or any("error" in s for s in r["systems"].values()))
    summary["error_rate"] = round(summary["n_errors"] / len(rows), 4) if rows else 0.0
    summary["system"] = {"llm": use_llm, "model": model_name, "concurrency": args.concurrency}
    summary["timing"] = {"eval_wall_s": round(wall, 2)}
    summary["config"] = {"sroie": str(args.sroie), "limit": args.limit, "fields": list(FIELD_KINDS)}
    summary["git_commit"] = git_commit()
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m projects.document_intelligence.eval", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--sroie", type=Path, required=True, help="SROIE folder with key/, box/ and img/")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--mode", choices=["text", "image"], default="text")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N receipts (by id)")
    p.add_argument("--no-llm", action="store_true", help="pipeline without the LLM (heuristics + validation)")
    p.add_argument("--concurrency", type=int, default=4, help="receipts in flight (the local model batches them)")
    p.add_argument("--baseline", type=Path, default=None, help="gate summary.json against this baseline")
    p.add_argument("--require-beats-regex", action="store_true", help="exit 1 if micro-F1 < the regex baseline's")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from projects.document_intelligence.settings import get_docint_settings

    settings = get_docint_settings()
    items = load_items(args.sroie, need_image=args.mode == "image")
    if args.limit is not None:
        items = items[: args.limit]
    if not items:
        raise SystemExit(f"no SROIE items under {args.sroie} (need key/<id>.json with box/<id>.csv)")
    use_llm = settings.extract_llm and not args.no_llm
    chat_model = None
    if use_llm:
        from shared.serving.factory import get_chat_model

        chat_model = get_chat_model()
    model_name = getattr(chat_model, "model", None)
    if use_llm and items:  # warm-up: model load and first-call compilation stay out of the per-document timings
        evaluate_item(items[0], args.mode, chat_model, settings, use_llm)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        rows = list(pool.map(lambda it: evaluate_item(it, args.mode, chat_model, settings, use_llm), items))
    wall = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = build_summary(rows, args, use_llm, model_name, wall)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: summary[k] for k in ("micro_f1", "f1", "accuracy", "n", "seconds_per_doc")}, indent=2))
    print(json.dumps({"regex": {k: summary["baselines"]["regex"][k] for k in ("micro_f1", "f1", "accuracy")}}))
    return _gate(summary, args)


def _gate(summary: dict, args: argparse.Namespace) -> int:
    rc = 0
    if args.require_beats_regex:
        ours, regex = summary["micro_f1"], summary["baselines"]["regex"]["micro_f1"]
        if ours < regex:
            print(f"FAIL: pipeline micro-F1 {ours:.4f} < regex baseline {regex:.4f}", file=sys.stderr)
            rc = 1
        else:
            print(f"pipeline micro-F1 {ours:.4f} >= regex baseline {regex:.4f}")
    if args.baseline is not None:
        from shared.eval.gate import compare, format_table

        table = compare(summary, json.loads(args.baseline.read_text(encoding="utf-8")))
        print(format_table(table))
        if any(r.status in ("REGRESSED", "MISSING") for r in table):
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
