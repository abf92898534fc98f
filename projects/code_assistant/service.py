"""The code assistant's use cases behind the API, the UI and the CLI: one object, no HTTP in it.

Long work runs on the shared job queue (``shared.retrieval.jobs``): indexing a repository and the debug loop take
minutes on CPU, so the API answers 202 with a job id and the UI polls its progress. Everything else (ask,
complete, document, review, lookups) answers in the request.

Repositories are registered by server-side path (under ``CODE__REPO_ROOTS``: an API that indexes any path it is
given is an arbitrary-file-read vulnerability) or cloned from a git URL (``CODE__GIT_URL_SCHEMES``) into the
first root. Every path a caller names inside a repository goes through :func:`paths.safe_relpath`, and code is
read back from the index, never from the file system, except by the debug loop, which works on a sandboxed copy.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from projects.code_assistant.ask import Answer, Asker, AskEvent
from projects.code_assistant.complete import Completion, FimCompleter
from projects.code_assistant.context import IndexContext
from projects.code_assistant.document import DocResult, Documenter
from projects.code_assistant.indexer import RepoIndexer
from projects.code_assistant.paths import PathOutsideRepo, safe_relpath
from projects.code_assistant.repomap import build_repo_map
from projects.code_assistant.review import Review, Reviewer
from projects.code_assistant.search import CodeSearch, Definition, ReferenceGroup, Snippet
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.store import CodeIndexStore, RepoInfo, RepoNotFoundError, RunInfo, slugify
from projects.code_assistant.walker import read_source
from shared.api.problems import RequestRefused
from shared.db import connection
from shared.retrieval.jobs import JobNotFoundError, JobQueue, JobStatus, Progress
from shared.serving.base import ChatModel, Embedder

log = logging.getLogger(__name__)

INDEX_TASK = "code_assistant.index"
FIX_TASK = "code_assistant.fix"
_MAX_FIX_EVENTS = 200


class FixNotFound(LookupError):
    """No debug run with this id."""


InputError = RequestRefused  # a request the service refuses before doing anything (the API kit's refusal)


@dataclass(frozen=True, slots=True)
class RepoView:
    repo: RepoInfo
    last_run: RunInfo | None
    job_id: int | None = None


class CodeAssistantService:
    def __init__(
        self,
        url: str,
        chat: ChatModel,
        embedder: Embedder,
        settings: CodeSettings | None = None,
        queue: JobQueue | None = None,
    ) -> None:
        self.url = url
        self.chat = chat
        self.settings = settings or get_code_settings()
        self.store = CodeIndexStore(url, embedder, self.settings)
        self.search = CodeSearch(self.store, embedder)
        self.indexer = RepoIndexer(self.store, self.settings)
        self.asker = Asker(chat, self.search, self.settings)
        self.queue = queue or JobQueue(url)
        self.queue.task(INDEX_TASK, queue=self.settings.job_queue, max_attempts=1)(self._index_job)
        self.queue.task(FIX_TASK, queue=self.settings.job_queue, max_attempts=1)(self._fix_job)

    # -- workers ---------------------------------------------------------------------------------------------
    def start_inline_worker(self) -> None:
        """With ``inline_worker`` a daemon thread runs the queue in this process (single-machine setups)."""
        if self.settings.inline_worker:
            self.queue.serve_in_thread(self.settings.job_queue, "ca-inline")

    def drain(self) -> None:
        """Run queued jobs to completion in this thread (tests, scripts, the demo loader)."""
        self.queue.drain(self.settings.job_queue)

    # -- repositories ----------------------------------------------------------------------------------------
    def roots(self) -> list[Path]:
        return [Path(r).resolve() for r in self.settings.repo_roots]

    def _allowed(self, path: Path) -> Path:
        resolved = path.expanduser().resolve()
        if not any(resolved == r or r in resolved.parents for r in self.roots()):
            roots = ", ".join(str(r) for r in self.roots())
            detail = f"{path} is not under an allowed root ({roots}; CODE__REPO_ROOTS)"
            raise InputError(403, "path-not-allowed", detail)
        if not resolved.is_dir():
            raise InputError(422, "not-a-directory", f"{path} is not a directory on the server")
        return resolved

    def add_repo(self, name: str | None = None, path: str | None = None, git_url: str | None = None) -> RepoView:
        """Register a folder or git work tree (or clone ``git_url``) and queue its first index run."""
        if bool(path) == bool(git_url):
            raise InputError(422, "path-or-git-url", "give exactly one of `path` (on the server) or `git_url`")
        if git_url:
            scheme = git_url.split("://", 1)[0].lower() if "://" in git_url else ""
            if scheme not in self.settings.git_url_schemes:
                allowed = ", ".join(self.settings.git_url_schemes)
                raise InputError(422, "git-url-scheme", f"git_url must use one of: {allowed}")
            repo_name = name or re.sub(r"\.git$", "", git_url.rstrip("/").rsplit("/", 1)[-1]) or "repo"
            target = self.roots()[0] / slugify(repo_name)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                self._clone(git_url, target)
            root = self._allowed(target)
        else:
            root = self._allowed(Path(path or ""))
            repo_name = name or root.name
        kind = "git" if (root / ".git").exists() else "folder"
        try:
            repo = self.store.create_repo(repo_name, str(root), kind=kind)
        except ValueError as exc:
            raise InputError(422, "invalid-repo-name", str(exc)) from None
        job_id = self.reindex(repo.id)
        return RepoView(self.store.require_repo(repo.id), self.store.last_run(repo.id), job_id)

    def _clone(self, url: str, target: Path) -> None:
        try:
            out = subprocess.run(
                ["git", "-c", "protocol.ext.allow=never", "clone", "--quiet", "--", url, str(target)],
                capture_output=True, text=True, timeout=self.settings.git_clone_timeout_s, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise InputError(422, "git-clone-failed", f"cloning {url} took longer than the limit") from None
        if out.returncode != 0:
            raise InputError(422, "git-clone-failed", f"git clone failed: {out.stderr.strip()[-500:]}")

    def list_repos(self) -> list[RepoView]:
        return [RepoView(r, self.store.last_run(r.id)) for r in self.store.list_repos()]

    def get_repo(self, repo_id: str) -> RepoView:
        return RepoView(self.store.require_repo(repo_id), self.store.last_run(repo_id))

    def delete_repo(self, repo_id: str) -> None:
        if not self.store.delete_repo(repo_id):
            raise RepoNotFoundError(f"no repository {repo_id!r}")

    def reindex(self, repo_id: str, *, full: bool = False) -> int:
        """Queue an index run; a run already queued or running for the repository is returned instead."""
        self.store.require_repo(repo_id)
        for job_id in self.queue.open_jobs(INDEX_TASK, repo_id=repo_id):
            return job_id
        return self.queue.enqueue(INDEX_TASK, repo_id=repo_id, full=full)

    def _index_job(self, repo_id: str, full: bool = False, progress: Progress | None = None) -> dict[str, Any]:
        def report(done: int, total: int | None, message: str) -> None:
            if progress is not None:
                progress.update(done, total, message)

        stats = self.indexer.index(repo_id, progress=report, full=full)
        return {"indexed": stats.indexed, "deleted": stats.deleted, "failed": stats.failed}

    def job(self, job_id: int) -> JobStatus:
        status = self.queue.status(job_id)
        if not status.task.startswith("code_assistant."):
            raise JobNotFoundError(f"no code-assistant job {job_id}")
        return status

    # -- reading the index -----------------------------------------------------------------------------------
    def relpath(self, repo_id: str, path: str) -> str:
        repo = self.store.require_repo(repo_id)
        try:
            return safe_relpath(Path(repo.root_path), path)
        except PathOutsideRepo as exc:
            raise InputError(400, "path-outside-repo", str(exc)) from None

    def files(self, repo_id: str, prefix: str = "", limit: int = 1000) -> list[dict[str, Any]]:
        self.store.require_repo(repo_id)
        rel = self.relpath(repo_id, prefix) if prefix else ""

        with connection(self.url, dict_row) as conn:
            return conn.execute(
                "SELECT path, language, size, n_symbols, n_chunks FROM ca_files WHERE repo_id = %s "
                "AND (%s = '' OR path = %s OR path LIKE %s) ORDER BY path LIMIT %s",
                (repo_id, rel, rel, rel.rstrip("/") + "/%", limit),
            ).fetchall()

    def snippet(self, repo_id: str, path: str, start: int, end: int) -> Snippet:
        rel = self.relpath(repo_id, path)
        if start < 1 or end < start:
            raise InputError(422, "invalid-line-range", f"lines must satisfy 1 <= start <= end (got {start}-{end})")
        found = self.search.get_snippet(repo_id, rel, start, end)
        if found is None:
            raise InputError(404, "not-indexed", f"{rel}:{start}-{end} is not in the index")
        return found

    def definitions(self, repo_id: str, name: str, kind: str | None = None) -> list[Definition]:
        self.store.require_repo(repo_id)
        return self.search.find_definitions(repo_id, name, kind=kind)

    def references(self, repo_id: str, name: str) -> list[ReferenceGroup]:
        self.store.require_repo(repo_id)
        return self.search.find_references(repo_id, name)

    def repo_map(self, repo_id: str, focus_paths: Sequence[str] = (), max_tokens: int = 1024) -> str:
        self.store.require_repo(repo_id)
        focus = [self.relpath(repo_id, p) for p in focus_paths]
        return build_repo_map(
            self.search.symbols_for_map(repo_id),
            self.search.references_for_map(repo_id),
            focus_paths=focus,
            max_tokens=max_tokens,
            count_tokens=self.chat.count_tokens,
        )

    # -- ask and complete ------------------------------------------------------------------------------------
    def _question(self, question: str) -> str:
        question = question.strip()
        if not question:
            raise InputError(422, "empty-question", "the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise InputError(
                413, "question-too-long", f"questions are limited to {self.settings.max_question_chars} characters"
            )
        return question

    def ask(self, repo_id: str, question: str, paths: Sequence[str] = ()) -> Answer:
        return self.asker.ask(repo_id, *self._ask_args(repo_id, question, paths), screened=True)

    def ask_stream(self, repo_id: str, question: str, paths: Sequence[str] = ()) -> Iterator[AskEvent]:
        args = self._ask_args(repo_id, question, paths)  # validated and screened before the first event is sent
        return self.asker.stream(repo_id, *args, screened=True)

    def _ask_args(self, repo_id: str, question: str, paths: Sequence[str]) -> tuple[str, list[str] | None]:
        question = self._question(question)
        self.store.require_repo(repo_id)
        rels = [self.relpath(repo_id, p) for p in paths] or None
        return self.asker.rails.check_question(question), rels  # QuestionRefused: 422, nothing spent

    def complete(
        self,
        prefix: str,
        suffix: str = "",
        *,
        repo_id: str | None = None,
        path: str | None = None,
        language: str | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        if len(prefix) + len(suffix) > self.settings.max_completion_chars:
            raise InputError(
                413, "prompt-too-large", f"prompt + suffix over {self.settings.max_completion_chars} characters"
            )
        context = None
        rel = ""
        repo_name = ""
        if repo_id:
            repo = self.store.require_repo(repo_id)
            repo_name = repo.name
            rel = self.relpath(repo_id, path) if path else ""
            context = IndexContext(self.search, repo_id)
        completer = FimCompleter(self.chat, self.settings, context)
        return completer.complete(
            prefix, suffix, path=rel, repo=repo_name, language=language, max_tokens=max_tokens,
            temperature=temperature, stop=stop,
        )  # fmt: skip

    # -- document and review ---------------------------------------------------------------------------------
    def _indexed_file(self, repo_id: str, path: str) -> tuple[str, str]:
        """(relative path, text) of a file the index holds; the path is confined to the repository first."""
        rel = self.relpath(repo_id, path)
        found = self.files(repo_id, rel, limit=1)
        if not found or found[0]["path"] != rel:
            raise InputError(404, "not-indexed", f"{rel} is not an indexed file of {repo_id}")
        root = Path(self.store.require_repo(repo_id).root_path)
        try:
            return rel, read_source(root / rel)
        except OSError as exc:
            raise InputError(404, "not-indexed", f"{rel} cannot be read any more ({exc}); re-index") from None

    def document(self, repo_id: str, path: str, target: str | None = None) -> DocResult:
        """A docstring for ``target`` (a qualname; None = the module) as a diff; the file is not written."""
        rel, text = self._indexed_file(repo_id, path)
        return Documenter(self.chat, self.settings).docstring(rel, text, target)

    def readme(self, repo_id: str, package: str) -> str:
        rel = self.relpath(repo_id, package)
        entries = [f for f in self.files(repo_id, rel, limit=self.settings.readme_max_files) if f["language"] != "text"]
        if not entries:
            raise InputError(404, "not-indexed", f"no indexed source files under {rel}")
        root = Path(self.store.require_repo(repo_id).root_path)
        files = {}
        for f in entries:
            try:
                files[f["path"]] = read_source(root / f["path"])
            except OSError:
                continue
        return Documenter(self.chat, self.settings).readme_section(rel, files)

    def review(self, diff: str, repo_id: str | None = None) -> Review:
        """Comments on a unified diff; with ``repo_id`` the reviewer also sees the enclosing definitions."""
        if not diff.strip():
            raise InputError(422, "empty-diff", "the diff is empty")
        if len(diff) > self.settings.review_max_diff_chars:
            raise InputError(
                413, "diff-too-large", f"diffs are limited to {self.settings.review_max_diff_chars:,} characters"
            )
        files: dict[str, str] = {}
        if repo_id:
            self.store.require_repo(repo_id)
            for path in sorted(set(re.findall(r"^\+\+\+ b/(\S+)", diff, re.MULTILINE)))[:50]:
                try:
                    files[path] = self._indexed_file(repo_id, path)[1]
                except InputError:
                    continue  # a new or unindexed file: reviewed from the diff alone
        return Reviewer(self.chat, self.settings).review(diff, files=files or None)

    # -- debug loop (fix) ------------------------------------------------------------------------------------
    def start_fix(
        self,
        repo_id: str,
        *,
        test_command: str | None = None,
        failure_output: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Queue a debug run on a sandboxed copy of the repository; the result is a diff, never an edit."""
        import shlex
        import uuid

        repo = self.store.require_repo(repo_id)
        if not Path(repo.root_path).is_dir():
            raise InputError(409, "repo-unavailable", f"the repository root {repo.root_path} is gone; re-register it")
        limit = self.settings.max_fix_input_chars
        for name, value in (("failure_output", failure_output), ("description", description)):
            if value is not None and len(value) > limit:
                code = f"{name.replace('_', '-')}-too-long"
                raise InputError(413, code, f"{name} is limited to {limit:,} characters")
        argv = None
        if test_command is not None and test_command.strip():
            try:
                argv = shlex.split(test_command)
            except ValueError as exc:
                raise InputError(422, "invalid-test-command", f"test_command: {exc}") from None
        fix_id = uuid.uuid4().hex
        request = {"test_command": argv, "failure_output": failure_output, "description": description}
        with connection(self.url) as conn:
            conn.execute(
                "INSERT INTO ca_fixes (id, repo_id, request) VALUES (%s, %s, %s)", (fix_id, repo_id, Jsonb(request))
            )
        job_id = self.queue.enqueue(FIX_TASK, fix_id=fix_id)
        with connection(self.url) as conn:
            conn.execute("UPDATE ca_fixes SET job_id = %s WHERE id = %s", (job_id, fix_id))
        return self.get_fix(fix_id)

    def retry_fix(self, fix_id: str) -> dict[str, Any]:
        """Run a failed (or errored) fix again with the same request."""

        fix = self.get_fix(fix_id)
        if fix["status"] not in ("failed", "error"):
            raise InputError(409, "fix-not-retriable", f"fix {fix_id} is {fix['status']}; only failed runs are retried")
        job_id = self.queue.enqueue(FIX_TASK, fix_id=fix_id)
        with connection(self.url) as conn:
            conn.execute(
                "UPDATE ca_fixes SET status = 'queued', job_id = %s, result = NULL, message = NULL, "
                "events = '[]'::jsonb, finished_at = NULL WHERE id = %s",
                (job_id, fix_id),
            )
        return self.get_fix(fix_id)

    def get_fix(self, fix_id: str) -> dict[str, Any]:

        with connection(self.url, dict_row) as conn:
            row = conn.execute("SELECT * FROM ca_fixes WHERE id = %s", (fix_id,)).fetchone()
        if row is None:
            raise FixNotFound(f"no fix {fix_id!r}")
        return row

    def list_fixes(self, repo_id: str, limit: int = 20) -> list[dict[str, Any]]:

        self.store.require_repo(repo_id)
        with connection(self.url, dict_row) as conn:
            return conn.execute(
                "SELECT * FROM ca_fixes WHERE repo_id = %s ORDER BY created_at DESC LIMIT %s", (repo_id, limit)
            ).fetchall()

    def _fix_job(self, fix_id: str, progress: Progress | None = None) -> dict[str, Any]:

        from projects.code_assistant.debug import DebugLoop

        fix = self.get_fix(fix_id)
        repo = self.store.require_repo(fix["repo_id"])
        request = fix["request"]
        with connection(self.url) as conn:
            conn.execute("UPDATE ca_fixes SET status = 'running', events = '[]'::jsonb WHERE id = %s", (fix_id,))
        steps = [0]

        def on_event(kind: str, data: dict[str, Any]) -> None:
            steps[0] += 1
            event = Jsonb([{"kind": kind, "data": data}])
            with connection(self.url) as conn:
                conn.execute(
                    "UPDATE ca_fixes SET events = CASE WHEN jsonb_array_length(events) >= %s THEN events "
                    "ELSE events || %s END WHERE id = %s",
                    (_MAX_FIX_EVENTS, event, fix_id),
                )
            if progress is not None:
                progress.update(steps[0], None, f"{kind}: {str(data)[:150]}")

        def find_definitions(name: str) -> list[tuple[str, int, int]]:
            return [(d.path, d.start_line, d.end_line) for d in self.search.find_definitions(repo.id, name, limit=5)]

        try:
            result = DebugLoop(self.chat, self.settings, find_definitions=find_definitions).run(
                Path(repo.root_path),
                test_command=request.get("test_command"),
                failure_output=request.get("failure_output"),
                description=request.get("description"),
                on_event=on_event,
            )
        except Exception as exc:  # marked failed (retriable); the queue records the error too
            with connection(self.url) as conn:
                conn.execute(
                    "UPDATE ca_fixes SET status = 'failed', message = %s, finished_at = now() WHERE id = %s",
                    (f"{type(exc).__name__}: {exc}"[:1000], fix_id),
                )
            raise
        with connection(self.url) as conn:
            conn.execute(
                "UPDATE ca_fixes SET status = %s, result = %s, message = %s, finished_at = now() WHERE id = %s",
                (result.status, Jsonb(result.model_dump(mode="json")), result.message, fix_id),
            )
        return {"status": result.status, "attempts": len(result.attempts)}
