"""Retrieval accuracy on questions the project generates about its own repository (``eval --repo-qa``).

Questions come from the repository's own docstrings, deterministically: for a sample of functions and classes
whose docstring opens with a descriptive sentence, the question is that sentence phrased as "Where is the code
that …?" with the symbol's own name removed (a question that names the function would test the identifier
boost, not retrieval). The expected answer is the file that defines the symbol. Test files and files without a
docstring are left out; each file contributes at most one question, so large files do not dominate.

Measured: ``recall@1/5/10`` (the expected file among the first k distinct files of
:meth:`CodeSearch.search`), MRR, and, as a separate number, the symbol-lookup path: "where is ``name``
defined?" answered from the symbol table (exact ``path:line``), which should be near 1.0 and is reported so a
regression in the index shows.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from projects.code_assistant.types import Symbol
from shared.eval.metrics import percentile, recall_at_k, reciprocal_rank

log = logging.getLogger(__name__)

_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.DOTALL)
_SKIP_PATH = re.compile(r"(^|/)(tests?|testing)(/|$)|(^|/)test_[^/]*$|conftest\.py$")


@dataclass(frozen=True, slots=True)
class RepoQuestion:
    question: str
    expected_path: str
    symbol: str
    line: int


def questions_from_symbols(symbols: Iterable[Symbol], *, n: int, seed: int = 0) -> list[RepoQuestion]:
    """At most one question per file, from docstrings that describe (≥ 6 words), sampled deterministically."""
    per_file: dict[str, list[RepoQuestion]] = {}
    for s in symbols:
        if s.kind not in ("function", "method", "class") or not s.docstring or _SKIP_PATH.search(s.path):
            continue
        m = _FIRST_SENTENCE.match(" ".join(s.docstring.split()))
        if not m:
            continue
        sentence = m.group(1).rstrip(".!?")
        if not sentence[:1].isalpha() or "``" in sentence or sentence.endswith(("e.g", "i.e", "etc")):
            continue  # reference-style docs ("``x``: ...", "(n, dim) float32 ...") are not questions
        sentence = re.sub(rf"`*\b{re.escape(s.name)}\b`*", "it", sentence)
        if len(sentence.split()) < 6 or sentence.lower().startswith(("see ", "alias", "deprecated")):
            continue
        question = f"Where is the code that does this: {sentence[0].lower()}{sentence[1:]}?"
        per_file.setdefault(s.path, []).append(RepoQuestion(question, s.path, s.qualname, s.start_line))
    rng = random.Random(seed)
    picked = [rng.choice(sorted(qs, key=lambda q: q.line)) for _, qs in sorted(per_file.items())]
    rng.shuffle(picked)
    return picked[:n]


def run_repo_qa(repo_root: Path, *, n: int = 50, seed: int = 0, database_url: str | None = None) -> tuple[dict, list]:
    """Index ``repo_root`` into a scratch database, ask the generated questions, drop the database."""
    from shared.db import close_pools, with_dbname
    from shared.db import database_url as default_url

    admin = database_url or default_url()
    scratch = f"ca_repoqa_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        return _run(repo_root, with_dbname(admin, scratch), n, seed)
    finally:
        close_pools()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def _run(repo_root: Path, url: str, n: int, seed: int) -> tuple[dict, list]:
    from projects.code_assistant.indexer import RepoIndexer
    from projects.code_assistant.search import CodeSearch
    from projects.code_assistant.store import CodeIndexStore
    from shared.serving import get_embedder

    store = CodeIndexStore(url, get_embedder())
    store.create_repo("self", str(repo_root), kind="folder")
    t0 = time.perf_counter()
    stats = RepoIndexer(store).index("self")
    index_s = time.perf_counter() - t0
    search = CodeSearch(store)
    questions = questions_from_symbols(search.symbols_for_map("self"), n=n, seed=seed)
    rows: list[dict[str, Any]] = []
    latencies = []
    for q in questions:
        t = time.perf_counter()
        hits = search.search("self", q.question, k=20)
        latencies.append(time.perf_counter() - t)
        files = list(dict.fromkeys(h.path for h in hits))
        relevant = {q.expected_path}
        lookup = search.find_definitions("self", q.symbol.rsplit(".", 1)[-1], limit=50)
        rows.append(
            {
                **asdict(q),
                "retrieved": files[:10],
                "rank": files.index(q.expected_path) + 1 if q.expected_path in files else None,
                "recall@1": recall_at_k(files, relevant, 1),
                "recall@5": recall_at_k(files, relevant, 5),
                "recall@10": recall_at_k(files, relevant, 10),
                "rr": reciprocal_rank(files, relevant),
                "symbol_lookup_hit": any(d.path == q.expected_path and d.start_line == q.line for d in lookup),
            }
        )
    count = max(1, len(rows))
    summary = {
        "n": len(rows),
        "recall@1": round(sum(r["recall@1"] for r in rows) / count, 3),
        "recall@5": round(sum(r["recall@5"] for r in rows) / count, 3),
        "recall@10": round(sum(r["recall@10"] for r in rows) / count, 3),
        "mrr": round(sum(r["rr"] for r in rows) / count, 3),
        "symbol_lookup_accuracy": round(sum(r["symbol_lookup_hit"] for r in rows) / count, 3),
        "search_latency_ms": {
            "p50": percentile([x * 1000 for x in latencies], 50, 1),
            "p95": percentile([x * 1000 for x in latencies], 95, 1),
        },
        "index": {
            "files": stats.indexed,
            "chunks": stats.chunks,
            "seconds": round(index_s, 1),
            "files_per_s": round(stats.indexed / index_s, 1) if index_s else None,
            "skipped": stats.skipped,
        },
        "repo": str(repo_root),
    }
    return summary, rows
