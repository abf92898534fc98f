"""Request and response models of the code-assistant API (the OpenAPI schema the UI, the CLI and editors use)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

REPO_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"


# -- repositories ---------------------------------------------------------------------------------------------
class RepoIn(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=48, description="display name; id = its slug")
    path: str | None = Field(
        default=None, min_length=1, max_length=4096, description="a folder or git work tree on the server, under "
        "CODE__REPO_ROOTS",
    )  # fmt: skip
    git_url: str | None = Field(
        default=None, min_length=1, max_length=2048, description="clone this repository (CODE__GIT_URL_SCHEMES)"
    )


class RunOut(BaseModel):
    status: str
    started_at: str
    finished_at: str | None
    files_seen: int
    files_indexed: int
    files_unchanged: int
    files_deleted: int
    files_failed: int
    chunks_written: int
    skipped: dict[str, int] = Field(description="files left out, by reason (binary, too_large, ignored, ...)")
    error: str | None
    duration_s: float | None


class RepoOut(BaseModel):
    id: str
    name: str
    root_path: str
    kind: Literal["git", "folder"]
    status: Literal["empty", "indexing", "ready", "failed"]
    error: str | None
    head_commit: str | None
    files: int
    symbols: int
    chunks: int
    indexed_at: str | None
    last_run: RunOut | None = None
    job_id: int | None = Field(default=None, description="the index job queued by this request, if any")


class IndexIn(BaseModel):
    full: bool = Field(default=False, description="re-hash every file (unchanged content is still not re-embedded)")


class JobOut(BaseModel):
    id: int
    task: str
    status: str = Field(description="queued | running | succeeded | failed | cancelled")
    attempts: int
    done: int
    total: int | None
    message: str | None
    error: str | None
    args: dict[str, Any]


class FileOut(BaseModel):
    path: str
    language: str
    size: int
    n_symbols: int
    n_chunks: int


class SnippetOut(BaseModel):
    path: str
    start_line: int
    end_line: int
    text: str


class DefinitionOut(BaseModel):
    name: str
    qualname: str
    kind: str
    path: str
    start_line: int
    end_line: int
    location: str = Field(description="path:start-end")
    signature: str
    docstring: str | None
    match: Literal["exact", "qualified", "case", "fuzzy"]


class ReferenceOut(BaseModel):
    path: str
    lines: list[int]
    kinds: list[str]


class RepoMapOut(BaseModel):
    map: str = Field(description="Aider-style map: top-ranked files with their key signatures and line numbers")


# -- ask ------------------------------------------------------------------------------------------------------
class AskIn(BaseModel):
    question: str = Field(description="a question about the repository (limit CODE__MAX_QUESTION_CHARS: 413)")
    paths: list[str] = Field(default_factory=list, max_length=50, description="restrict retrieval to these")
    stream: bool = Field(default=False, description="answer as server-sent events: sources, delta…, done")


class CitationOut(BaseModel):
    n: int
    path: str
    start_line: int
    end_line: int
    location: str
    symbol: str | None
    inferred: bool = Field(description="attached because the answer names it, not cited as [n] by the model")


class SourceOut(BaseModel):
    n: int
    path: str
    start_line: int
    end_line: int
    symbol: str | None
    kind: str
    language: str | None
    score: float
    text: str


class AnswerOut(BaseModel):
    answer: str
    mode: Literal["symbol", "search"] = Field(description="symbol: answered from the symbol index, no model call")
    citations: list[CitationOut]
    sources: list[SourceOut]
    latency_s: float
    usage: dict[str, Any]
    redacted_secrets: list[str] = Field(
        default_factory=list, description="kinds of credentials the output rail replaced with <SECRET:kind>"
    )
    withheld: dict[str, Any] | None = Field(
        default=None, description="set when the output rail stopped the answer: categories, reason, evidence"
    )


# -- completion (OpenAI completions shape) -------------------------------------------------------------------
class CompletionIn(BaseModel):
    """The OpenAI ``/v1/completions`` request, with ``suffix`` (fill-in-the-middle) and two extensions."""

    model: str | None = Field(default=None, description="ignored: the configured model answers (reported back)")
    prompt: str = Field(description="the code before the cursor")
    suffix: str = Field(default="", description="the code after the cursor")
    max_tokens: int | None = Field(default=None, ge=1, le=1024)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stop: str | list[str] | None = None
    stream: bool = False
    n: Literal[1] = 1
    repo_id: str | None = Field(default=None, pattern=REPO_ID_PATTERN, description="indexed repo for context")
    path: str | None = Field(default=None, max_length=4096, description="the file being edited (in repo_id)")
    language: str | None = Field(default=None, max_length=32)


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str
    logprobs: None = None


class CompletionOut(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: dict[str, Any]
    mode: Literal["line", "block"] = Field(description="extension: single-line or block completion")
    context: list[dict[str, Any]] = Field(description="extension: cross-file snippets shown to the model")


# -- document and review --------------------------------------------------------------------------------------
class DocumentIn(BaseModel):
    repo_id: str = Field(pattern=REPO_ID_PATTERN)
    path: str = Field(min_length=1, max_length=4096, description="an indexed file of the repository")
    target: str | None = Field(
        default=None, max_length=300, description="qualname of the function/class (Invoice.total); null = the module"
    )


class DocumentOut(BaseModel):
    path: str
    target: str | None
    language: str
    style: str = Field(description="docstring style detected from the file (google, numpy, rest, plain, jsdoc...)")
    docstring: str
    diff: str = Field(description="unified diff to apply with `git apply`; the file itself is not modified")
    replaced: bool = Field(description="an existing docstring was replaced")
    start_line: int
    end_line: int


class ReadmeIn(BaseModel):
    repo_id: str = Field(pattern=REPO_ID_PATTERN)
    path: str = Field(min_length=1, max_length=4096, description="a package folder of the repository")


class ReadmeOut(BaseModel):
    markdown: str


class ReviewIn(BaseModel):
    diff: str = Field(description="a unified diff (git diff); limit CODE__REVIEW_MAX_DIFF_CHARS: 413")
    repo_id: str | None = Field(default=None, pattern=REPO_ID_PATTERN, description="for enclosing-definition context")


class ReviewCommentOut(BaseModel):
    path: str
    line: int
    side: Literal["new", "old"]
    severity: Literal["info", "warning", "error"]
    category: str
    message: str
    source: Literal["model", "rule"]
    reanchored_from: int | None = None


class ReviewOut(BaseModel):
    summary: str
    comments: list[ReviewCommentOut]
    files_reviewed: list[str]
    skipped: list[str]
    markdown: str
    github: dict[str, Any] = Field(description="the body of GitHub's create-review API for these comments")


# -- debug loop (fix) ----------------------------------------------------------------------------------------
class FixIn(BaseModel):
    test_command: str | None = Field(
        default=None, max_length=2000, description="shell-quoted command run in the sandbox (default: pytest -x -q)"
    )
    failure_output: str | None = Field(
        default=None, description="a pasted traceback or test output to start from (CODE__MAX_FIX_INPUT_CHARS: 413)"
    )
    description: str | None = Field(default=None, description="what is wrong, in the user's words")


class FixOut(BaseModel):
    id: str
    repo_id: str
    status: Literal["queued", "running", "fixed", "not_fixed", "no_failure", "error", "failed"]
    job_id: int | None
    message: str | None
    diff: str = Field(description="unified diff against the repository (git apply); the repository is not modified")
    best_attempt: int | None
    attempts: list[dict[str, Any]]
    tests_before: dict[str, Any] | None
    tests_after: dict[str, Any] | None
    regions: list[dict[str, Any]] = Field(description="code regions the failure was localised to")
    events: list[dict[str, Any]] = Field(description="progress events of the run (bounded)")
    request: dict[str, Any]
    created_at: str
    finished_at: str | None
