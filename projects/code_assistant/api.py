"""HTTP layer of the code assistant (mounted by the platform under ``/code``; standalone via ``app.py``).

Routes translate HTTP to :class:`CodeAssistantService` calls and its exceptions to RFC 7807 problems in one
place (:func:`service_problems`). Long work (indexing, the debug loop) answers 202 with a job to poll.
``POST /v1/completions`` has the OpenAI completions shape (plus ``suffix``), so editor plugins that speak it
(Continue, Tabby-compatible clients) can point at this service.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from projects.code_assistant.ask import Answer, AskEvent
from projects.code_assistant.document import DocumentError
from projects.code_assistant.models import (
    REPO_ID_PATTERN,
    AnswerOut,
    AskIn,
    CompletionIn,
    CompletionOut,
    DefinitionOut,
    DocumentIn,
    DocumentOut,
    FileOut,
    FixIn,
    FixOut,
    IndexIn,
    JobOut,
    ReadmeIn,
    ReadmeOut,
    ReferenceOut,
    RepoIn,
    RepoMapOut,
    RepoOut,
    ReviewIn,
    ReviewOut,
    SnippetOut,
)
from projects.code_assistant.rails import QuestionRefused
from projects.code_assistant.review import InvalidDiff, render_github, render_markdown
from projects.code_assistant.service import CodeAssistantService, FixNotFound, InputError, RepoView
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.store import RepoConflictError, RepoNotFoundError
from shared.api.context import ServiceContext, lazy_service
from shared.api.problems import coded_problem, problem_responses
from shared.api.sse import sse_response
from shared.retrieval.jobs import JobNotFoundError

SSE_MEDIA_TYPE = "text/event-stream"
RepoId = Annotated[str, Query(pattern=REPO_ID_PATTERN)]


@contextmanager
def service_problems() -> Iterator[None]:
    """The service's exceptions as RFC 7807 problems: one mapping for every route."""
    try:
        yield
    except InputError as exc:
        raise coded_problem(exc.status, exc.code, str(exc)) from None
    except RepoNotFoundError as exc:
        raise coded_problem(404, "repo-not-found", str(exc)) from None
    except JobNotFoundError as exc:
        raise coded_problem(404, "job-not-found", str(exc)) from None
    except FixNotFound as exc:
        raise coded_problem(404, "fix-not-found", str(exc)) from None
    except RepoConflictError as exc:
        raise coded_problem(409, "repo-conflict", str(exc)) from None
    except DocumentError as exc:
        raise coded_problem(422, "cannot-document", str(exc)) from None
    except InvalidDiff as exc:
        raise coded_problem(422, "invalid-diff", str(exc)) from None
    except QuestionRefused as exc:
        raise coded_problem(
            422, "input-refused", str(exc), reasons=exc.reasons, categories=exc.categories,
            policy_version=exc.policy_version,
        ) from None  # fmt: skip


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def repo_out(view: RepoView) -> dict[str, Any]:
    r, run = view.repo, view.last_run
    last = None
    if run is not None:
        last = {
            "status": run.status, "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
            "files_seen": run.files_seen, "files_indexed": run.files_indexed, "files_unchanged": run.files_unchanged,
            "files_deleted": run.files_deleted, "files_failed": run.files_failed,
            "chunks_written": run.chunks_written, "skipped": run.skipped, "error": run.error,
            "duration_s": run.duration_s,
        }  # fmt: skip
    return {
        "id": r.id, "name": r.name, "root_path": r.root_path, "kind": r.kind, "status": r.status, "error": r.error,
        "head_commit": r.head_commit, "files": r.n_files, "symbols": r.n_symbols, "chunks": r.n_chunks,
        "indexed_at": _iso(r.indexed_at), "last_run": last, "job_id": view.job_id,
    }  # fmt: skip


def answer_out(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "mode": answer.mode,
        "citations": [citation_out(c) for c in answer.citations],
        "sources": [source_out(i, h) for i, h in enumerate(answer.sources, 1)],
        "latency_s": round(answer.latency_s, 3),
        "usage": answer.usage.model_dump(),
        "redacted_secrets": answer.redacted_secrets,
        "withheld": answer.withheld,
    }


def citation_out(c: Any) -> dict[str, Any]:
    return {
        "n": c.n, "path": c.path, "start_line": c.start_line, "end_line": c.end_line, "location": c.location,
        "symbol": c.symbol, "inferred": c.inferred,
    }  # fmt: skip


def source_out(n: int, h: Any) -> dict[str, Any]:
    return {
        "n": n, "path": h.path, "start_line": h.start_line, "end_line": h.end_line, "symbol": h.symbol,
        "kind": h.kind, "language": h.language, "score": round(float(h.score), 4), "text": h.text,
    }  # fmt: skip


def _ask_events(events: Iterator[AskEvent]) -> Iterator[tuple[str, Any]]:
    for event in events:
        if event.kind == "sources":
            yield "sources", [source_out(i, h) for i, h in enumerate(event.sources, 1)]
        elif event.kind == "delta":
            yield "delta", {"text": event.delta}
        elif event.answer is not None:
            yield "done", answer_out(event.answer)


def create_router(
    ctx: ServiceContext, settings: CodeSettings | None = None, service: CodeAssistantService | None = None
) -> APIRouter:
    """Build the router; the service (schema, models, inline worker) starts on the first request."""
    settings = settings or get_code_settings()

    def build() -> CodeAssistantService:
        svc = CodeAssistantService(ctx.db_url(), ctx.chat_model(), ctx.embedder(), settings)
        svc.start_inline_worker()
        return svc

    get_service = lazy_service(build, service)
    router = APIRouter(tags=["code-assistant"])
    router.get_code_service = get_service  # type: ignore[attr-defined]

    # -- repositories ----------------------------------------------------------------------------------------
    @router.post(
        "/repos",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RepoOut,
        responses=problem_responses(400, 401, 403, 409, 422),
        summary="Register a repository (server path or git URL) and queue its first index run",
        description="`path` must be a directory under CODE__REPO_ROOTS (403 `path-not-allowed`, 422 "
        "`not-a-directory`); `git_url` is cloned into the first root (422 `git-url-scheme`, `git-clone-failed`). "
        "Exactly one of them (422 `path-or-git-url`). The same id for another root is 409 `repo-conflict`. Poll "
        "`job_id` (GET /jobs/{id}) or the repository's `status`.",
    )
    def add_repo(body: RepoIn) -> dict[str, Any]:
        with service_problems():
            return repo_out(get_service().add_repo(body.name, body.path, body.git_url))

    @router.get("/repos", response_model=list[RepoOut], summary="Registered repositories with their last index run")
    def list_repos() -> list[dict[str, Any]]:
        return [repo_out(v) for v in get_service().list_repos()]

    @router.get("/repos/{repo_id}", response_model=RepoOut, responses=problem_responses(404, 422))
    def get_repo(repo_id: str) -> dict[str, Any]:
        with service_problems():
            return repo_out(get_service().get_repo(repo_id))

    @router.delete(
        "/repos/{repo_id}", status_code=204, responses=problem_responses(404), summary="Forget a repository's index"
    )
    def delete_repo(repo_id: str) -> Response:
        with service_problems():
            get_service().delete_repo(repo_id)
        return Response(status_code=204)

    @router.post(
        "/repos/{repo_id}/index",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=JobOut,
        responses=problem_responses(404),
        summary="Re-index incrementally (only changed files are parsed and embedded)",
        description="A run already queued or running for the repository is returned instead of a second one.",
    )
    def reindex(repo_id: str, body: IndexIn | None = None) -> dict[str, Any]:
        with service_problems():
            svc = get_service()
            return job_out(svc.job(svc.reindex(repo_id, full=bool(body and body.full))))

    @router.get("/jobs/{job_id}", response_model=JobOut, responses=problem_responses(404))
    def get_job(job_id: int) -> dict[str, Any]:
        with service_problems():
            return job_out(get_service().job(job_id))

    # -- reading the index -----------------------------------------------------------------------------------
    @router.get("/repos/{repo_id}/files", response_model=list[FileOut], responses=problem_responses(400, 404))
    def files(
        repo_id: str,
        prefix: Annotated[str, Query(max_length=4096, description="a folder or file inside the repo")] = "",
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[dict[str, Any]]:
        with service_problems():
            return get_service().files(repo_id, prefix, limit)

    @router.get(
        "/repos/{repo_id}/snippet",
        response_model=SnippetOut,
        responses=problem_responses(400, 404, 422),
        summary="Lines of an indexed file, read from the index (never the file system)",
        description="`path` outside the repository (`../../etc/passwd`, absolute paths) is 400 `path-outside-repo`.",
    )
    def snippet(
        repo_id: str,
        path: Annotated[str, Query(min_length=1, max_length=4096)],
        start: Annotated[int, Query(ge=1)] = 1,
        end: Annotated[int, Query(ge=1)] = 200,
    ) -> dict[str, Any]:
        with service_problems():
            s = get_service().snippet(repo_id, path, start, end)
        return {"path": s.path, "start_line": s.start_line, "end_line": s.end_line, "text": s.text}

    @router.get(
        "/repos/{repo_id}/definitions",
        response_model=list[DefinitionOut],
        responses=problem_responses(404),
        summary="Where a symbol is defined (exact, qualified, case-insensitive, then fuzzy)",
    )
    def definitions(
        repo_id: str,
        name: Annotated[str, Query(min_length=1, max_length=200)],
        kind: Annotated[str | None, Query(max_length=20)] = None,
    ) -> list[dict[str, Any]]:
        with service_problems():
            found = get_service().definitions(repo_id, name, kind)
        return [
            {"name": d.name, "qualname": d.qualname, "kind": d.kind, "path": d.path, "start_line": d.start_line,
             "end_line": d.end_line, "location": d.location, "signature": d.signature, "docstring": d.docstring,
             "match": d.match}
            for d in found
        ]  # fmt: skip

    @router.get(
        "/repos/{repo_id}/references",
        response_model=list[ReferenceOut],
        responses=problem_responses(404),
        summary="Where a name is used (calls, imports, other uses), grouped by file",
    )
    def references(repo_id: str, name: Annotated[str, Query(min_length=1, max_length=200)]) -> list[dict[str, Any]]:
        with service_problems():
            groups = get_service().references(repo_id, name)
        return [{"path": g.path, "lines": list(g.lines), "kinds": list(g.kinds)} for g in groups]

    @router.get("/repos/{repo_id}/map", response_model=RepoMapOut, responses=problem_responses(400, 404))
    def repo_map(
        repo_id: str,
        focus: Annotated[list[str], Query(max_length=50, description="files to rank around")] = [],  # noqa: B006
        max_tokens: Annotated[int, Query(ge=64, le=8192)] = 1024,
    ) -> dict[str, Any]:
        with service_problems():
            return {"map": get_service().repo_map(repo_id, focus, max_tokens)}

    # -- ask -------------------------------------------------------------------------------------------------
    @router.post(
        "/repos/{repo_id}/ask",
        response_model=AnswerOut,
        responses={
            **problem_responses(400, 404, 413, 422),
            200: {"content": {SSE_MEDIA_TYPE: {}}, "description": "JSON, or SSE (sources, delta…, done)"},
        },
        summary="Answer a question about the repository with path:line citations",
        description="'Where is X defined / who calls X' is answered from the symbol index (mode `symbol`, no "
        "model call); other questions from retrieved snippets (mode `search`). `stream: true` (or Accept: "
        "text/event-stream) streams `sources`, `delta` and `done` events. Empty question: 422 `empty-question`; "
        "over CODE__MAX_QUESTION_CHARS: 413 `question-too-long`; a path outside the repo: 400; a question the "
        "input rail blocks (profanity, moderation on llm_input): 422 `input-refused` with the reasons. Credentials "
        "in snippets never reach the model, and any in the answer come back as `<SECRET:kind>`.",
    )
    def ask(repo_id: str, body: AskIn, request: Request) -> Any:
        with service_problems():
            svc = get_service()
            if body.stream or SSE_MEDIA_TYPE in request.headers.get("accept", ""):
                return sse_response(_ask_events(svc.ask_stream(repo_id, body.question, body.paths)))
            return answer_out(svc.ask(repo_id, body.question, body.paths))

    # -- completion ------------------------------------------------------------------------------------------
    @router.post(
        "/v1/completions",
        response_model=CompletionOut,
        responses=problem_responses(400, 404, 413, 422),
        summary="Fill-in-the-middle code completion, OpenAI completions shaped (prompt = before the cursor)",
        description="`prompt` is the code before the cursor and `suffix` the code after it. With `repo_id` (and "
        "`path`) the prompt gets cross-file context from the index: the signatures of imported symbols and "
        "similar code. Mid-line cursors get one line, others a block. `stream: true` sends OpenAI-style SSE "
        "chunks (one, after post-processing: a block is only known once cut).",
    )
    def completions(body: CompletionIn) -> Any:
        with service_problems():
            svc = get_service()
            stop = [body.stop] if isinstance(body.stop, str) else body.stop
            c = svc.complete(
                body.prompt, body.suffix, repo_id=body.repo_id, path=body.path, language=body.language,
                max_tokens=body.max_tokens, temperature=body.temperature, stop=stop,
            )  # fmt: skip
        out = {
            "id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": getattr(svc.chat, "model", "local"),
            "choices": [{"index": 0, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}],
            "usage": c.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}),
            "mode": c.mode,
            "context": [{"path": s.path, "reason": s.reason, "start_line": s.start_line, "end_line": s.end_line}
                        for s in c.context],
        }  # fmt: skip
        if not body.stream:
            return out

        def events() -> Iterator[tuple[str, Any]]:
            yield "completion", {**out, "object": "text_completion.chunk"}

        return _openai_sse(events())

    # -- debug loop ------------------------------------------------------------------------------------------
    @router.post(
        "/repos/{repo_id}/fix",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=FixOut,
        responses=problem_responses(404, 409, 413, 422),
        summary="Make failing tests pass: a sandboxed debug loop whose result is a diff (your files are not touched)",
        description="Runs `test_command` (default `python -m pytest -x -q`) on a sandboxed copy of the repository "
        "(or starts from `failure_output`), localises the failure, asks the model for edits, applies them to the "
        "copy, re-runs the tests and iterates (CODE__DEBUG_MAX_ATTEMPTS). Poll GET /fixes/{id}. A pasted "
        "traceback over CODE__MAX_FIX_INPUT_CHARS: 413; an unparsable command: 422 `invalid-test-command`.",
    )
    def start_fix(repo_id: str, body: FixIn) -> dict[str, Any]:
        with service_problems():
            fix = get_service().start_fix(
                repo_id, test_command=body.test_command, failure_output=body.failure_output,
                description=body.description,
            )  # fmt: skip
        return fix_out(fix)

    @router.get("/fixes/{fix_id}", response_model=FixOut, responses=problem_responses(404))
    def get_fix(fix_id: str) -> dict[str, Any]:
        with service_problems():
            return fix_out(get_service().get_fix(fix_id))

    @router.post(
        "/fixes/{fix_id}/retry",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=FixOut,
        responses=problem_responses(404, 409),
        summary="Run a failed debug run again with the same request",
    )
    def retry_fix(fix_id: str) -> dict[str, Any]:
        with service_problems():
            return fix_out(get_service().retry_fix(fix_id))

    @router.get("/repos/{repo_id}/fixes", response_model=list[FixOut], responses=problem_responses(404))
    def list_fixes(repo_id: str, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[dict[str, Any]]:
        with service_problems():
            return [fix_out(f) for f in get_service().list_fixes(repo_id, limit)]

    # -- document and review ---------------------------------------------------------------------------------
    @router.post(
        "/document",
        response_model=DocumentOut,
        responses=problem_responses(400, 404, 422),
        summary="Generate a docstring for a function, class or module: a diff, the file is not modified",
        description="The docstring follows the file's existing style and is verified to parse and attach to the "
        "target before it is returned. Unknown or ambiguous target, a file without a grammar, or an unusable "
        "model answer: 422 `cannot-document`; a path outside the repo: 400; a file not in the index: 404.",
    )
    def document(body: DocumentIn) -> dict[str, Any]:
        with service_problems():
            r = get_service().document(body.repo_id, body.path, body.target)
        return {
            "path": r.path, "target": r.target, "language": r.language, "style": r.style, "docstring": r.docstring,
            "diff": r.diff, "replaced": r.replaced, "start_line": r.start_line, "end_line": r.end_line,
        }  # fmt: skip

    @router.post(
        "/readme",
        response_model=ReadmeOut,
        responses=problem_responses(400, 404, 422),
        summary="A README section for a package: its public API (parsed, not generated) and a usage example",
    )
    def readme(body: ReadmeIn) -> dict[str, Any]:
        with service_problems():
            return {"markdown": get_service().readme(body.repo_id, body.path)}

    @router.post(
        "/review",
        response_model=ReviewOut,
        responses=problem_responses(400, 404, 413, 422),
        summary="Review a unified diff: bugs, risks, missing tests, with line anchors in the new file",
        description="Model comments are anchored on added or context lines of their hunk (re-anchored to the "
        "nearest added line otherwise); rule checks (debug prints, bare except, secrets, removed tests, no test "
        "changes) need no model. Empty diff: 422 `empty-diff`; malformed: 422 `invalid-diff`; over "
        "CODE__REVIEW_MAX_DIFF_CHARS: 413 `diff-too-large`.",
    )
    def review(body: ReviewIn) -> dict[str, Any]:
        with service_problems():
            r = get_service().review(body.diff, body.repo_id)
        return {
            "summary": r.summary, "comments": [c.to_dict() for c in r.comments], "files_reviewed": r.files,
            "skipped": r.skipped, "markdown": render_markdown(r), "github": render_github(r),
        }  # fmt: skip

    return router


def _openai_sse(events: Iterator[tuple[str, Any]]) -> Any:
    """OpenAI-style ``data:`` lines ending in ``[DONE]`` (editor clients parse these, not named events)."""
    import json

    from fastapi.responses import StreamingResponse

    def lines() -> Iterator[str]:
        for _, data in events:
            yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(lines(), media_type=SSE_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


def fix_out(row: dict[str, Any]) -> dict[str, Any]:
    result = row.get("result") or {}
    return {
        "id": row["id"], "repo_id": row["repo_id"], "status": row["status"], "job_id": row["job_id"],
        "message": row["message"], "diff": result.get("diff", ""), "best_attempt": result.get("best_attempt"),
        "attempts": result.get("attempts", []), "tests_before": result.get("tests_before"),
        "tests_after": result.get("tests_after"), "regions": result.get("regions", []), "events": row["events"],
        "request": row["request"], "created_at": _iso(row["created_at"]), "finished_at": _iso(row["finished_at"]),
    }  # fmt: skip


def job_out(job: Any) -> dict[str, Any]:
    return {
        "id": job.id, "task": job.task, "status": job.status, "attempts": job.attempts, "done": job.done,
        "total": job.total, "message": job.message, "error": job.error, "args": job.args,
    }  # fmt: skip
