"""Schema-linking latency and recall: the 6-table demo schema and the same tables among 120 distractors.

    python scripts/bench/nl2sql_linking.py --out var/bench/nl2sql_linking.json [--repeats 5]

``SchemaLinker.link`` end to end (question embedding by the real local embedder, hybrid search, value matching,
join completion, prompt rendering) on the scale test's questions (``scale_schema.py``), each asked
``--repeats`` times after one warm-up pass; indexing time (embedding every schema document) is reported beside.
The last run drops the semantic layer (no descriptions, synonyms or metrics): what linking does on a raw schema.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


from projects.nl2sql_analytics.connections import Connection, introspect  # noqa: E402
from projects.nl2sql_analytics.demo_data import generate, write_sqlite  # noqa: E402
from projects.nl2sql_analytics.linking import SchemaLinker  # noqa: E402
from projects.nl2sql_analytics.scale_schema import SCALE_QUESTIONS, distractor_tables  # noqa: E402
from projects.nl2sql_analytics.semantic import load  # noqa: E402
from projects.nl2sql_analytics.settings import PROJECT_DIR, Nl2SqlSettings  # noqa: E402
from scripts.bench.retrieval import close_database, open_database, pct  # noqa: E402
from shared.db import ensure_extensions, with_dbname  # noqa: E402
from shared.serving.embeddings import LocalEmbedder  # noqa: E402


def measure(linker: SchemaLinker, name: str, schema, layer, repeats: int) -> dict:
    started = time.perf_counter()
    report = linker.index(name, schema, layer)
    index_s = time.perf_counter() - started
    for question, _ in SCALE_QUESTIONS:  # warm-up: model, pool, plans
        linker.link(name, question, schema, layer)
    latencies, found, total, chars = [], 0, 0, []
    for _ in range(repeats):
        for question, gold in SCALE_QUESTIONS:
            t0 = time.perf_counter()
            linked = linker.link(name, question, schema, layer)
            latencies.append((time.perf_counter() - t0) * 1000)
            found += len(gold & set(linked.tables))
            total += len(gold)
            chars.append(len(linked.prompt))
    return {
        "tables": len(schema.tables),
        "documents": report.documents,
        "values": report.values,
        "index_s": round(index_s, 2),
        "link_ms_p50": pct(latencies, 50),
        "link_ms_p95": pct(latencies, 95),
        "gold_table_recall": round(found / total, 3),
        "prompt_chars_max": max(chars),
        "n": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    admin, dbname, _ = open_database(keep=False)
    url = with_dbname(admin, dbname)
    ensure_extensions(url)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = write_sqlite(Path(tmp) / "demo.sqlite", generate(n_customers=300))
            connection = Connection(name="demo", target=str(path))
            demo = introspect(connection)
        layer = load(PROJECT_DIR / "semantic" / "demo.yaml")
        big = demo.model_copy(deep=True)
        big.tables += distractor_tables()
        linker = SchemaLinker(url, LocalEmbedder(), Nl2SqlSettings())
        results = {
            "machine": platform.platform(),
            "demo": measure(linker, "demo", demo, layer, args.repeats),
            "scale": measure(linker, "big", big, layer, args.repeats),
            "scale_without_semantic_layer": measure(linker, "big-raw", big, None, args.repeats),
        }
    finally:
        close_database(admin, dbname)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
