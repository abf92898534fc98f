"""Document intelligence benchmark: parsing pages/s, per-page latency p50/p95 and peak RSS, digital vs scanned.

    python scripts/bench/document_intelligence.py --out var/bench/document_intelligence.json \
        [--digital-docs 12] [--scanned-docs 8] [--long-pages 300]

Documents are the project's own synthetic corpus (``synthetic.generate`` + ``render``): invoices, letters,
contracts, forms (several multi-page) as digital PDFs, and the same kinds scanned (150 dpi, rotation, noise,
JPEG artefacts; receipts at 300 dpi) as image-only PDFs. Each scenario runs in its own process, so its peak
RSS (``ru_maxrss``) is its own. Baselines measured in the same run:

- ``digital_forced_ocr``: the same digital pages with the text layer ignored (every page OCR'd, what an
  OCR-everything pipeline pays) — the per-page text-layer decision is the ratio ``digital / forced_ocr``;
- ``long_pdf`` vs ``short_pdf``: peak RSS of streaming a ``--long-pages`` PDF against a 10-page one — bounded
  memory means the ratio stays near 1 whatever the page count.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.bench.retrieval import pct  # noqa: E402

DIGITAL_TYPES = ("invoice", "letter", "contract", "form")
SCANNED_TYPES = ("invoice", "receipt", "letter", "form")


def _digital_inputs(n: int) -> list[tuple[str, bytes]]:
    from projects.document_intelligence.render import render_pdf
    from projects.document_intelligence.synthetic import generate

    return [
        (f"d{i}.pdf", render_pdf(generate(DIGITAL_TYPES[i % len(DIGITAL_TYPES)], 9000 + i, long=i % 3 == 0)))
        for i in range(n)
    ]


def _scanned_inputs(n: int) -> list[tuple[str, bytes]]:
    from projects.document_intelligence.render import render_scan
    from projects.document_intelligence.synthetic import generate

    return [
        (f"s{i}.pdf", render_scan(generate(SCANNED_TYPES[i % len(SCANNED_TYPES)], 9100 + i), "pdf", seed=i))
        for i in range(n)
    ]


def _long_pdf(pages: int) -> tuple[str, bytes]:
    from pypdf import PdfReader, PdfWriter

    from projects.document_intelligence.render import render_pdf
    from projects.document_intelligence.synthetic import generate

    # one long contract's pages repeated: realistic text density per page, any page count
    one = render_pdf(generate("contract", 7, long=True))
    reader = PdfReader(io.BytesIO(one))
    writer = PdfWriter()
    while len(writer.pages) < pages:
        for p in reader.pages:
            if len(writer.pages) < pages:
                writer.add_page(p)
    buf = io.BytesIO()
    writer.write(buf)
    return f"long{pages}.pdf", buf.getvalue()


def _rss_now_mb() -> float:
    """Current resident set size (Linux ``/proc``): sampled after every page, unlike ``ru_maxrss``'s high-water
    mark, which the input generation before the timings would already have set."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _run(scenario: str, args: dict[str, Any], queue: mp.Queue) -> None:
    """One scenario in a fresh process: build inputs, warm the models on one page, then time every page."""
    from projects.document_intelligence.parser import DocumentParser
    from projects.document_intelligence.settings import DocIntSettings

    if scenario in ("digital", "digital_forced_ocr"):
        inputs = _digital_inputs(args["digital_docs"])
    elif scenario == "scanned":
        inputs = _scanned_inputs(args["scanned_docs"])
    elif scenario == "long_pdf":
        inputs = [_long_pdf(args["long_pages"])]
    else:
        inputs = [_long_pdf(10)]
    overrides = {"min_text_layer_chars": 10**9} if scenario == "digital_forced_ocr" else {}
    parser = DocumentParser(DocIntSettings(max_pages=100_000, **overrides))
    if scenario in ("scanned", "digital_forced_ocr"):
        warm = parser.open(*reversed(inputs[0]))
        next(parser.iter_parsed(warm), None)  # load OCR + layout sessions outside the timings
        warm.close()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_start = _rss_now_mb()
    rss_samples = [rss_start]
    per_page: list[float] = []
    sources: dict[str, int] = {}
    chars = 0
    started = time.perf_counter()
    for name, data in inputs:
        with parser.open(data, name) as source:
            t = time.perf_counter()
            for page in parser.iter_parsed(source):
                now = time.perf_counter()
                per_page.append(now - t)
                t = now
                sources[page.source] = sources.get(page.source, 0) + 1
                rss_samples.append(_rss_now_mb())
                chars += len(page.text)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # high-water mark: models + inputs + parsing
    queue.put(
        {
            "scenario": scenario,
            "documents": len(inputs),
            "pages": len(per_page),
            "page_sources": sources,
            "chars": chars,
            "pages_per_s": round(len(per_page) / wall, 3) if wall else None,
            "page_ms_p50": pct([1000 * x for x in per_page], 50),
            "page_ms_p95": pct([1000 * x for x in per_page], 95),
            "rss_before_timing_mb": round(rss_before, 1),
            "peak_rss_mb": round(peak, 1),
            "rss_sampled_max_while_parsing_mb": round(max(rss_samples), 1),
            "rss_growth_while_parsing_mb": round(max(rss_samples) - rss_start, 1),
        }
    )


def run_scenario(scenario: str, args: dict[str, Any]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(scenario, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--digital-docs", type=int, default=12)
    parser.add_argument("--scanned-docs", type=int, default=8)
    parser.add_argument("--forced-ocr-docs", type=int, default=2, help="digital docs OCR'd as the baseline")
    parser.add_argument("--long-pages", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    common = {"digital_docs": args.digital_docs, "scanned_docs": args.scanned_docs, "long_pages": args.long_pages}
    results = {
        "digital": run_scenario("digital", common),
        "scanned": run_scenario("scanned", common),
        "digital_forced_ocr": run_scenario("digital_forced_ocr", {**common, "digital_docs": args.forced_ocr_docs}),
        "short_pdf": run_scenario("short_pdf", common),
        "long_pdf": run_scenario("long_pdf", common),
    }
    d, f = results["digital"], results["digital_forced_ocr"]
    summary = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "scenarios": results,
        "ratios": {
            "text_layer_vs_forced_ocr_speedup_p50": round(f["page_ms_p50"] / d["page_ms_p50"], 1),
            "long_vs_short_pdf_max_rss_while_parsing": round(
                results["long_pdf"]["rss_sampled_max_while_parsing_mb"]
                / results["short_pdf"]["rss_sampled_max_while_parsing_mb"],
                2,
            ),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary["ratios"], indent=2))


if __name__ == "__main__":
    main()
