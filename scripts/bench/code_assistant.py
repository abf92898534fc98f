"""Code assistant benchmark: indexing throughput on a large real tree, and completion latency.

    python scripts/bench/code_assistant.py --out var/bench/code_assistant.json [--tree DIR] [--index-root DIR]
        [--max-parse-files N] [--completions N]

Measured in one run, each against a baseline measured in the same run:

- **parse** (walk + read + tree-sitter, no database) over ``--tree`` (default: this venv's site-packages, ~30k
  Python files): files/s, peak RSS growth (the walker streams: memory must not grow with the tree);
- **index** (parse + embed + write to PostgreSQL/pgvector, the full first run) of ``--index-root`` (default:
  the largest package under the tree with at most ``--index-max-files`` files): files/s and chunks/s, and the
  share of the time spent embedding; **re-index** of the unchanged tree (the incremental path: stat only, the
  baseline it is compared with is the first run) and after touching 20 files (re-hashed, not re-embedded);
- **completion** latency p50/p95 of FIM requests at cursor positions in the generated demo repository, with
  cross-file context from the index vs. without (the baseline: prefix/suffix only), on the configured model.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.bench.retrieval import pct  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_parse(tree: Path, max_files: int | None) -> dict:
    from projects.code_assistant.parsing import parse_source
    from projects.code_assistant.settings import get_code_settings
    from projects.code_assistant.walker import read_source, walk_repo

    settings = get_code_settings()
    if max_files:
        settings = settings.model_copy(update={"max_files": max_files})
    rss0 = rss_mb()
    t0 = time.perf_counter()
    files = symbols = chunks = refs = 0
    walk_s = 0.0
    report = walk_repo(tree, settings)
    it = iter(report)
    while True:
        t = time.perf_counter()
        src = next(it, None)
        walk_s += time.perf_counter() - t
        if src is None:
            break
        parsed = parse_source(src.path, read_source(src), src.language, settings)
        files += 1
        symbols += len(parsed.symbols)
        chunks += len(parsed.chunks)
        refs += len(parsed.references)
    wall = time.perf_counter() - t0
    return {
        "tree": str(tree),
        "files": files,
        "seconds": round(wall, 1),
        "files_per_s": round(files / wall, 1),
        "walk_only_files_per_s": round(files / walk_s, 1) if walk_s else None,  # the baseline: stat + filters
        "symbols": symbols,
        "chunks": chunks,
        "references": refs,
        "skipped": dict(report.skipped),
        "peak_rss_growth_mb": round(rss_mb() - rss0, 1),
    }


def largest_package(tree: Path, max_files: int) -> Path:
    best, best_n = tree, 0
    for child in sorted(tree.iterdir()):
        if not child.is_dir() or child.name.endswith((".dist-info", ".data")) or child.name.startswith(("_", ".")):
            continue
        n = sum(1 for _ in child.rglob("*.py"))
        if best_n < n <= max_files:
            best, best_n = child, n
    return best


def bench_index(url: str, root: Path) -> dict:
    from projects.code_assistant.indexer import RepoIndexer
    from projects.code_assistant.store import CodeIndexStore
    from shared.serving import get_embedder

    embedder = get_embedder()
    embedder.embed(["warm up"])
    embed_s = [0.0]
    real_embed = embedder.embed

    def timed_embed(texts):
        t = time.perf_counter()
        try:
            return real_embed(texts)
        finally:
            embed_s[0] += time.perf_counter() - t

    embedder.embed = timed_embed  # type: ignore[method-assign]
    try:
        store = CodeIndexStore(url, embedder)
        store.create_repo("bench", str(root), kind="folder")
        indexer = RepoIndexer(store)
        t0 = time.perf_counter()
        first = indexer.index("bench")
        first_s = time.perf_counter() - t0
        first_embed_s = embed_s[0]
        t0 = time.perf_counter()
        again = indexer.index("bench")
        again_s = time.perf_counter() - t0
        touched = sorted(root.rglob("*.py"))[:20]
        for path in touched:
            os.utime(path)
        t0 = time.perf_counter()
        after_touch = indexer.index("bench")
        touch_s = time.perf_counter() - t0
    finally:
        embedder.embed = real_embed  # type: ignore[method-assign]
    return {
        "root": str(root),
        "first_run": {
            "files": first.indexed,
            "chunks": first.chunks,
            "seconds": round(first_s, 1),
            "files_per_s": round(first.indexed / first_s, 2),
            "chunks_per_s": round(first.chunks / first_s, 1),
            "embedding_share": round(first_embed_s / first_s, 2),
            "skipped": first.skipped,
        },
        "unchanged_rerun": {
            "files_seen": again.seen,
            "files_indexed": again.indexed,
            "seconds": round(again_s, 2),
            "files_per_s": round(again.seen / again_s, 1),
            "speedup_vs_first_run": round(first_s / again_s, 1),
        },
        "after_touching_20_files": {
            "files_indexed": after_touch.indexed,
            "seconds": round(touch_s, 2),
        },
    }


def cursor_cases(repo: Path, n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(path, prefix, suffix) at the start of a random non-blank line inside a function body."""
    rng = random.Random(seed)
    files = sorted(p for p in repo.rglob("*.py") if "tests" not in p.parts and p.stat().st_size > 200)
    cases = []
    while len(cases) < n and files:
        path = rng.choice(files)
        lines = path.read_text().split("\n")
        body = [i for i, ln in enumerate(lines) if ln.startswith("        ") and ln.strip() and i > 3]
        if not body:
            continue
        i = rng.choice(body)
        indent = len(lines[i]) - len(lines[i].lstrip())
        prefix = "\n".join([*lines[:i], lines[i][:indent]])
        suffix = "\n".join([lines[i][indent:], *lines[i + 1 :]]).split("\n", 1)[1]  # the line itself is removed
        cases.append((str(path.relative_to(repo)), prefix, suffix))
    return cases


def bench_completion(url: str, n: int) -> dict:
    import tempfile

    from projects.code_assistant.complete import FimCompleter
    from projects.code_assistant.context import IndexContext
    from projects.code_assistant.demo_repo import generate_demo_repo
    from projects.code_assistant.indexer import RepoIndexer
    from projects.code_assistant.search import CodeSearch
    from projects.code_assistant.store import CodeIndexStore
    from shared.serving import get_chat_model, get_embedder

    chat = get_chat_model()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "demo"
        generate_demo_repo(repo)
        store = CodeIndexStore(url, get_embedder())
        store.create_repo("demo", str(repo), kind="git")
        RepoIndexer(store).index("demo")
        cases = cursor_cases(repo, n)
        plain = FimCompleter(chat)
        with_context = FimCompleter(chat, context=IndexContext(CodeSearch(store), "demo"))
        plain.complete("def add(a, b):\n    return ", "\n")  # warm the model
        out: dict = {}
        for name, completer in (("without_context", plain), ("with_context", with_context)):
            latencies, prompt_tokens, modes = [], [], []
            for path, prefix, suffix in cases:
                t = time.perf_counter()
                c = completer.complete(prefix, suffix, path=path, repo="demo")
                latencies.append((time.perf_counter() - t) * 1000)
                prompt_tokens.append(c.prompt_tokens)
                modes.append(c.mode)
            out[name] = {
                "n": len(latencies),
                "p50_ms": pct(latencies, 50),
                "p95_ms": pct(latencies, 95),
                "prompt_tokens_p50": pct(prompt_tokens, 50),
                "block_share": round(modes.count("block") / max(1, len(modes)), 2),
            }
        base = out["without_context"]["p50_ms"]
        out["context_latency_ratio_p50"] = round(out["with_context"]["p50_ms"] / base, 2) if base else None
        out["model"] = chat.model
    return out


def main(argv: list[str] | None = None) -> int:
    import site

    import psycopg

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tree", type=Path, default=Path(site.getsitepackages()[0]))
    ap.add_argument("--max-parse-files", type=int, default=None, help="cap the parse pass (default: the whole tree)")
    ap.add_argument("--index-root", type=Path, default=None)
    ap.add_argument("--index-max-files", type=int, default=400)
    ap.add_argument("--completions", type=int, default=20)
    args = ap.parse_args(argv)

    from shared.db import close_pools, database_url, with_dbname

    result: dict = {"cpu_count": os.cpu_count()}
    print("parse pass ...", file=sys.stderr)
    result["parse"] = bench_parse(args.tree, args.max_parse_files)
    print(json.dumps(result["parse"]), file=sys.stderr)
    admin = database_url()
    scratch = f"ca_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        url = with_dbname(admin, scratch)
        root = args.index_root or largest_package(args.tree, args.index_max_files)
        print(f"index pass on {root} ...", file=sys.stderr)
        result["index"] = bench_index(url, root)
        print(json.dumps(result["index"]), file=sys.stderr)
        if args.completions:
            print("completions ...", file=sys.stderr)
            result["completion"] = bench_completion(url, args.completions)
    finally:
        close_pools()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
