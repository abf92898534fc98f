"""NL-to-SQL benchmark: latency per pipeline stage (linking, generation, validation, execution, insight), p50/p95.

    python scripts/bench/nl2sql_analytics.py --out var/bench/nl2sql_analytics.json [--questions 12] [--repeats 1]

The full production pipeline (``pipeline.build_pipeline``: real local chat model, real embedder and
schema linker on PostgreSQL, the seeded verified examples, row-level policies of user ``analyst``) on the
generated demo database, over business questions that are *not* among the seeded examples. The baseline,
measured in the same run on the same questions, is the naive single call: the whole schema dumped into one
prompt and sent to the same model (what "just prompt the LLM" costs), so the pipeline's overhead is a ratio.
Statuses are reported next to the timings: a fast failure is not a fast answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


from projects.nl2sql_analytics.demo import CONNECTION, load_demo_data  # noqa: E402
from projects.nl2sql_analytics.evaluation.dataset import EvalItem  # noqa: E402
from projects.nl2sql_analytics.evaluation.naive import NaiveGenerator  # noqa: E402
from projects.nl2sql_analytics.pipeline import build_pipeline  # noqa: E402
from projects.nl2sql_analytics.service import Nl2SqlService  # noqa: E402
from projects.nl2sql_analytics.settings import Nl2SqlSettings  # noqa: E402
from scripts.bench.retrieval import close_database, open_database, pct  # noqa: E402
from shared.api.context import ServiceContext  # noqa: E402
from shared.db import with_dbname  # noqa: E402

QUESTIONS = [
    "What was the total revenue in 2023?",
    "How many orders were placed per month in 2025?",
    "Which product category sold the most units?",
    "Average order value per region",
    "How many customers are in each segment?",
    "Total refunded amount by payment method",
    "Top 3 regions by number of orders",
    "Revenue by year",
    "How many orders were cancelled each year?",
    "Which 5 products have the highest list price?",
    "Number of failed payments per month in 2024",
    "Share of revenue by customer segment",
]
STAGES = ("linking", "generation", "validation", "execution", "insight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--repeats", type=int, default=1, help="passes over the questions after one warm-up")
    args = parser.parse_args()
    questions = QUESTIONS[: args.questions]

    admin, dbname, _ = open_database(keep=False)
    url = with_dbname(admin, dbname)
    work = Path(tempfile.mkdtemp(prefix="nl2sql-bench-"))
    settings = Nl2SqlSettings(data_dir=work)
    ctx = ServiceContext(database_url=url)
    result: dict = {"questions": len(questions), "repeats": args.repeats}
    try:
        t0 = time.perf_counter()
        load_demo_data(ctx, settings)
        result["setup_s"] = round(time.perf_counter() - t0, 1)
        from projects.nl2sql_analytics.examples import ExampleStore

        service = Nl2SqlService(url, settings, examples=ExampleStore(url, ctx.embedder(), settings))
        pipeline = build_pipeline(ctx, service, settings)
        pipeline.ask("How many customers are there?", CONNECTION, user="analyst")  # warm-up: model, index, plans

        stages: dict[str, list[float]] = {s: [] for s in STAGES}
        total, statuses, rows = [], {}, []
        for _ in range(args.repeats):
            for q in questions:
                t0 = time.perf_counter()
                answer = pipeline.ask(q, CONNECTION, user="analyst")
                total.append((time.perf_counter() - t0) * 1000)
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                for s in STAGES:
                    if s in answer.timings_ms:
                        stages[s].append(answer.timings_ms[s])
                rows.append(
                    {
                        "question": q,
                        "status": answer.status,
                        "sql": answer.sql,
                        "attempts": len(answer.attempts),
                        "timings_ms": answer.timings_ms,
                        "chart": answer.chart.kind if answer.chart else None,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)

        naive = NaiveGenerator(pipeline.chat, max_tokens=settings.naive_max_tokens)
        db_path = service.connection(CONNECTION).sqlite_path
        naive_ms, naive_valid = [], 0
        for _ in range(args.repeats):
            for i, q in enumerate(questions):
                item = EvalItem(id=f"bench-{i}", db_name=CONNECTION, category="bench", question=q, gold=())
                t0 = time.perf_counter()
                generated = naive(item, db_path, None)
                naive_ms.append((time.perf_counter() - t0) * 1000)
                naive_valid += bool(generated.sql)

        result["pipeline"] = {
            "end_to_end_ms": {"p50": pct(total, 50), "p95": pct(total, 95)},
            "stages_ms": {s: {"p50": pct(v, 50), "p95": pct(v, 95), "n": len(v)} for s, v in stages.items() if v},
            "statuses": statuses,
            "mean_attempts": round(sum(r["attempts"] for r in rows) / len(rows), 2),
        }
        result["baseline_naive_generation_ms"] = {"p50": pct(naive_ms, 50), "p95": pct(naive_ms, 95),
                                                  "replies_with_sql": naive_valid}  # fmt: skip
        result["pipeline_vs_naive_p50"] = round(pct(total, 50) / pct(naive_ms, 50), 2)
        result["answers"] = rows
        result["machine"] = f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "answers"}, indent=2))
    finally:
        close_database(admin, dbname)


if __name__ == "__main__":
    main()
