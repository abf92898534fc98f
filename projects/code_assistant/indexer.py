"""One index run of a repository: walk → compare with the stored file states → read/hash → parse → write.

Incremental by construction. The walk only ``stat``s; a file whose (mtime, size) match the stored state is not
read at all. A file whose stat changed is read and hashed, and parsed only when its hash changed (a ``touch`` or
a checkout that rewrote identical bytes costs one read). For git repositories the paths ``git diff`` names
between the last indexed commit and ``HEAD`` (plus uncommitted changes) are re-hashed even when their stat
matches, which covers tools that preserve mtimes. Stored paths the walk no longer yields (deleted, now ignored,
now too large) are removed.

Memory stays bounded on large repositories: files stream from the walker and are parsed, embedded and written
in batches of ``index_batch_files``; only the per-path state map (a few hundred bytes a file) is held whole.

A run that raises marks the repository ``failed`` with the error and the run row ``failed``; what was written
stays written and the next run (a retry) continues from the stored states.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from projects.code_assistant.parsing import parse_source
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.store import CodeIndexStore, FileState, RunStats
from projects.code_assistant.types import ParsedFile, SourceFile
from projects.code_assistant.walker import read_source, walk_repo
from shared.observability.tracing import span

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None, str], None]  # (files done, files total if known, message)


class RepoRootMissing(RuntimeError):
    """The run could not proceed (the root is gone, not a directory); the repository is marked failed."""


def git_head(root: Path) -> str | None:
    """The checked-out commit, or None for a folder that is not a git work tree (or has no commits)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    head = out.stdout.strip()
    return head if out.returncode == 0 and len(head) == 40 else None


def git_changed_paths(root: Path, since: str | None) -> set[str]:
    """Paths changed between ``since`` and HEAD plus uncommitted ones; empty when git cannot say."""
    paths: set[str] = set()
    commands = [["git", "-C", str(root), "status", "--porcelain", "-z", "--untracked-files=all"]]
    if since:
        commands.append(["git", "-C", str(root), "diff", "--name-only", "-z", since, "HEAD"])
    for cmd in commands:
        try:
            out = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return set()
        if out.returncode != 0:
            return set()
        for item in out.stdout.decode("utf-8", "replace").split("\0"):
            item = item[3:] if cmd[3] == "status" and len(item) > 3 else item
            if item:
                paths.add(item)
    return paths


class RepoIndexer:
    """Runs index passes for repositories registered in a :class:`CodeIndexStore`."""

    def __init__(self, store: CodeIndexStore, settings: CodeSettings | None = None) -> None:
        self.store = store
        self.settings = settings or get_code_settings()

    def index(self, repo_id: str, *, progress: Progress | None = None, full: bool = False) -> RunStats:
        """One run; ``full`` re-hashes every file (the stat shortcut is skipped, unchanged hashes still skip)."""
        repo = self.store.require_repo(repo_id)
        root = Path(repo.root_path)
        run_id = self.store.start_run(repo_id)
        self.store.set_status(repo_id, "indexing")
        stats = RunStats()
        started = time.perf_counter()
        try:
            if not root.is_dir():
                raise RepoRootMissing(f"the repository root {root} is not a directory (moved or deleted?)")
            head = git_head(root) if repo.kind == "git" else None
            with span("code.index", repo=repo_id):
                self._run(repo_id, root, repo.head_commit if head else None, head, stats, progress, full)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"[:1000]
            log.exception("index run of %s failed", repo_id)
            self.store.finish_run(run_id, "failed", stats, error=message)
            self.store.set_status(repo_id, "failed", error=message)
            raise
        self.store.finish_run(run_id, "succeeded", stats)
        self.store.set_status(repo_id, "ready", head_commit=head)
        log.info(
            "indexed %s: %d files seen, %d indexed, %d unchanged, %d deleted, %d failed in %.1f s",
            repo_id, stats.seen, stats.indexed, stats.unchanged, stats.deleted, stats.failed,
            time.perf_counter() - started,
        )  # fmt: skip
        return stats

    def _run(
        self,
        repo_id: str,
        root: Path,
        last_head: str | None,
        head: str | None,
        stats: RunStats,
        progress: Progress | None,
        full: bool,
    ) -> None:
        states = self.store.file_states(repo_id)
        suspects = git_changed_paths(root, last_head) if head else set()
        total = len(states) or None
        report = walk_repo(root, self.settings)
        batch: list[tuple[SourceFile, str, ParsedFile]] = []
        seen: set[str] = set()
        for src in report:
            seen.add(src.path)
            stats.seen += 1
            state = states.get(src.path)
            if not full and _stat_unchanged(state, src) and src.path not in suspects:
                stats.unchanged += 1
            else:
                item = self._prepare(src, state)
                if item is not None:
                    batch.append(item)
            if len(batch) >= self.settings.index_batch_files:
                self._write(repo_id, batch, stats)
                batch = []
                if progress:
                    progress(stats.seen, total, f"{stats.indexed} files indexed")
        if batch:
            self._write(repo_id, batch, stats)
        stats.skipped = dict(report.skipped)
        gone = [p for p in states if p not in seen]
        if gone:
            stats.deleted = self.store.delete_files(repo_id, gone)
        if progress:
            progress(stats.seen, stats.seen, f"done: {stats.indexed} indexed, {stats.deleted} removed")

    def _prepare(self, src: SourceFile, state: FileState | None) -> tuple[SourceFile, str, ParsedFile] | None:
        """Read and hash; parse only when the content changed."""
        try:
            text = read_source(src)
        except OSError as exc:  # vanished or unreadable between the walk and the read
            log.warning("cannot read %s: %s", src.path, exc)
            return None
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if state is not None and state.sha256 == sha:
            return src, sha, ParsedFile(path=src.path, language=src.language)  # the store only refreshes the stat
        return src, sha, parse_source(src.path, text, src.language, self.settings)

    def _write(self, repo_id: str, batch: list[tuple[SourceFile, str, ParsedFile]], stats: RunStats) -> None:
        result = self.store.write_files(repo_id, batch)
        stats.indexed += len(result.written)
        stats.unchanged += len(result.unchanged) + len(result.touched)
        stats.failed += len(result.failed)
        stats.chunks += result.chunks
        for path, error in result.failed.items():
            log.warning("could not index %s: %s", path, error)


def _stat_unchanged(state: FileState | None, src: SourceFile) -> bool:
    return state is not None and state.sha256 is not None and (state.mtime_ns, state.size) == (src.mtime_ns, src.size)
