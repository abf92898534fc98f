"""``code-assistant``: the assistant from a terminal, on a local checkout.

    code-assistant index PATH [--full]
    code-assistant ask PATH "where is the invoice total computed?"
    code-assistant complete FILE --line 12 --col 8 [--repo PATH]
    code-assistant fix PATH [--test "python -m pytest -x -q"] [--traceback FILE] [--describe TEXT] [--apply]
    code-assistant doc FILE [--symbol Invoice.total] [--readme] [--apply]
    code-assistant review [DIFF_FILE | -] [--git REV] [--json]

The CLI works on the user's own files, so it does not apply the API's ``CODE__REPO_ROOTS`` restriction; it
still never writes them without ``--apply`` (the debug loop runs in a sandboxed copy and prints a diff). The
index lives in the same database as the API (``DATABASE_URL`` or the embedded server under ``var/``), so a
repository indexed here is searchable from the UI and re-indexing is incremental.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from projects.code_assistant.settings import get_code_settings

log = logging.getLogger("code-assistant")


def _store():
    from projects.code_assistant.store import CodeIndexStore
    from shared.db import database_url
    from shared.serving import get_embedder

    return CodeIndexStore(database_url(), get_embedder())


def ensure_indexed(path: Path, *, full: bool = False, quiet: bool = False) -> tuple[object, str]:
    """Register ``path`` (once) and bring its index up to date; returns (store, repo id)."""
    from projects.code_assistant.indexer import RepoIndexer
    from projects.code_assistant.store import slugify

    root = path.resolve()
    if not root.is_dir():
        raise SystemExit(f"code-assistant: {path} is not a directory")
    store = _store()
    existing = next((r for r in store.list_repos() if r.root_path == str(root)), None)
    if existing is None:
        repo_id = slugify(root.name)
        if store.get_repo(repo_id) is not None:  # another checkout with the same folder name
            repo_id = f"{repo_id[:38]}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"
        kind = "git" if (root / ".git").exists() else "folder"
        existing = store.create_repo(root.name, str(root), kind=kind, repo_id=repo_id)

    def progress(done: int, total: int | None, message: str) -> None:
        if not quiet:
            print(f"\rindexing {existing.id}: {done} files ({message})", end="", file=sys.stderr, flush=True)

    stats = RepoIndexer(store).index(existing.id, progress=progress, full=full)
    if not quiet:
        print(
            f"\rindexed {existing.id}: {stats.indexed} changed, {stats.unchanged} unchanged, {stats.deleted} removed, "
            f"skipped {stats.skipped}",
            file=sys.stderr,
        )
    return store, existing.id


def cmd_index(args: argparse.Namespace) -> int:
    ensure_indexed(Path(args.path), full=args.full)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from projects.code_assistant.ask import Asker
    from projects.code_assistant.search import CodeSearch
    from shared.serving import get_chat_model

    store, repo_id = ensure_indexed(Path(args.path), quiet=args.quiet)
    asker = Asker(get_chat_model(), CodeSearch(store))
    answer = None
    for event in asker.stream(repo_id, args.question):
        if event.kind == "delta":
            print(event.delta, end="", flush=True)
        elif event.answer is not None:
            answer = event.answer
    print()
    if answer and answer.citations:
        print("\nSources:")
        for c in answer.citations:
            note = " (inferred)" if c.inferred else ""
            print(f"  [{c.n}] {c.location}{' ' + c.symbol if c.symbol else ''}{note}")
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    from projects.code_assistant.complete import FimCompleter
    from projects.code_assistant.context import IndexContext
    from projects.code_assistant.search import CodeSearch
    from shared.serving import get_chat_model

    file = Path(args.file)
    lines = file.read_text(encoding="utf-8", errors="replace").split("\n")
    if not 1 <= args.line <= len(lines):
        raise SystemExit(f"code-assistant: --line must be within 1..{len(lines)}")
    line = lines[args.line - 1]
    col = min(max(args.col, 0), len(line))
    prefix = "\n".join([*lines[: args.line - 1], line[:col]])
    suffix = "\n".join([line[col:], *lines[args.line :]])
    context, rel, repo_name = None, file.name, ""
    if args.repo:
        store, repo_id = ensure_indexed(Path(args.repo), quiet=True)
        rel = str(file.resolve().relative_to(Path(args.repo).resolve()))
        context, repo_name = IndexContext(CodeSearch(store), repo_id), repo_id
    result = FimCompleter(get_chat_model(), get_code_settings(), context).complete(
        prefix, suffix, path=rel, repo=repo_name
    )
    print(result.text)
    return 0


def cmd_fix(args: argparse.Namespace) -> int:
    import shlex

    from projects.code_assistant.debug import DebugLoop
    from shared.serving import get_chat_model

    repo = Path(args.path).resolve()
    traceback = Path(args.traceback).read_text(encoding="utf-8", errors="replace") if args.traceback else None

    def on_event(kind: str, data: dict) -> None:
        if not args.quiet:
            print(f"[{kind}] {json.dumps(data, default=str)[:200]}", file=sys.stderr)

    result = DebugLoop(get_chat_model()).run(
        repo,
        test_command=shlex.split(args.test) if args.test else None,
        failure_output=traceback,
        description=args.describe,
        on_event=on_event,
    )
    print(f"status: {result.status} ({len(result.attempts)} attempt(s), {result.duration_s:.0f} s) {result.message}")
    if result.diff:
        print(result.diff)
        if args.apply:
            return _apply(repo, result.diff)
    return 0 if result.status in ("fixed", "no_failure") else 1


def _apply(repo: Path, diff: str) -> int:
    out = subprocess.run(["git", "apply", "-"], cwd=repo, input=diff, text=True, capture_output=True, check=False)
    if out.returncode != 0:
        print(f"git apply failed: {out.stderr}", file=sys.stderr)
        return 1
    print(f"applied to {repo}", file=sys.stderr)
    return 0


def cmd_doc(args: argparse.Namespace) -> int:
    from projects.code_assistant.document import Documenter
    from shared.serving import get_chat_model

    file = Path(args.file)
    documenter = Documenter(get_chat_model())
    if args.readme:
        files = {
            str(p.relative_to(file.parent)): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(file.rglob("*"))
            if p.is_file() and p.suffix in {".py", ".js", ".ts", ".go", ".java"}
        }
        print(documenter.readme_section(file.name, files))
        return 0
    result = documenter.docstring(file.name, file.read_text(encoding="utf-8"), args.symbol)
    print(result.diff)
    if args.apply:
        return _apply(file.parent, result.diff)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from projects.code_assistant.review import Reviewer, render_github, render_markdown
    from shared.serving import get_chat_model

    if args.git:
        diff = subprocess.run(["git", "diff", args.git], capture_output=True, text=True, check=True).stdout
    elif args.diff in (None, "-"):
        diff = sys.stdin.read()
    else:
        diff = Path(args.diff).read_text(encoding="utf-8", errors="replace")
    review = Reviewer(get_chat_model()).review(diff)
    print(json.dumps(render_github(review), indent=2) if args.json else render_markdown(review))
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="code-assistant", description="The code assistant on a local checkout.")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("index", help="index (or re-index incrementally) a repository")
    p.add_argument("path")
    p.add_argument("--full", action="store_true", help="re-hash every file")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("ask", help="ask a question about a repository")
    p.add_argument("path")
    p.add_argument("question")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("complete", help="complete code at a cursor position (fill in the middle)")
    p.add_argument("file")
    p.add_argument("--line", type=int, required=True, help="1-based line of the cursor")
    p.add_argument("--col", type=int, required=True, help="0-based column of the cursor")
    p.add_argument("--repo", help="repository root for cross-file context")
    p.set_defaults(func=cmd_complete)
    p = sub.add_parser("fix", help="make failing tests pass: a diff from a sandboxed debug loop")
    p.add_argument("path")
    p.add_argument("--test", help="test command (default: python -m pytest -x -q)")
    p.add_argument("--traceback", help="a file holding the failure output to start from")
    p.add_argument("--describe", help="what is wrong, in your words")
    p.add_argument("--apply", action="store_true", help="apply the diff to PATH with git apply (your consent)")
    p.set_defaults(func=cmd_fix)
    p = sub.add_parser("doc", help="generate a docstring (or a README section for a package folder)")
    p.add_argument("file")
    p.add_argument("--symbol", help="qualname of the function/class (default: the module)")
    p.add_argument("--readme", action="store_true", help="FILE is a package folder: write a README section")
    p.add_argument("--apply", action="store_true", help="apply the diff with git apply")
    p.set_defaults(func=cmd_doc)
    p = sub.add_parser("review", help="review a unified diff")
    p.add_argument("diff", nargs="?", help="a diff file, or - for stdin (default)")
    p.add_argument("--git", help="review `git diff REV` of the current directory instead")
    p.add_argument("--json", action="store_true", help="GitHub-review-like JSON instead of Markdown")
    p.set_defaults(func=cmd_review)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
