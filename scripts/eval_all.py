"""`make eval`: run every project's dev evaluation, then the platform self-evaluation, each gated.

A project takes part by shipping ``projects/<name>/eval.py`` that runs as ``python -m projects.<name>.eval``
and exits non-zero when its regression gate fails. It may declare ``MAKE_EVAL_ARGS`` (a list of CLI
arguments, e.g. ``["--split", "dev", "--limit", "50"]``) at module level; it is read without importing
the module (no model loads just to discover it). Each evaluation runs in its own process so one project's
models, settings or crash cannot affect another's.

    python -m scripts.eval_all [--only NAME ...] [--out var/eval]
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def discover(projects_dir: Path = REPO_ROOT / "projects") -> dict[str, list[str]]:
    """Project name -> the arguments its eval declares in ``MAKE_EVAL_ARGS`` (default: none)."""
    found: dict[str, list[str]] = {}
    for eval_py in sorted(projects_dir.glob("*/eval.py")):
        args: list[str] = []
        for node in ast.parse(eval_py.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "MAKE_EVAL_ARGS" for t in node.targets
            ):
                args = [str(a) for a in ast.literal_eval(node.value)]
        found[eval_py.parent.name] = args
    return found


def _run(label: str, cmd: list[str]) -> tuple[str, int, float]:
    print(f"\n=== {label}: {' '.join(cmd)}", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    rc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=False).returncode
    return label, rc, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.eval_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="project names to run (and 'platform' for the self-eval)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "eval")
    args = parser.parse_args(argv)
    wanted = set(args.only) if args.only else None

    results = []
    for name, extra in discover().items():
        if wanted is None or name in wanted:
            results.append(_run(name, [sys.executable, "-m", f"projects.{name}.eval", *extra]))
    if wanted is None or "platform" in wanted:
        out = args.out / "platform_retrieval"
        results.append(_run("platform", [sys.executable, "-m", "shared.eval.selfeval", "--out", str(out)]))

    print("\n=== eval summary")
    for label, rc, secs in results:
        print(f"{label:<24} {'PASS' if rc == 0 else f'FAIL (exit {rc})':<16} {secs:6.1f} s")
    return 0 if all(rc == 0 for _, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
