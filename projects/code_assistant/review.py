"""Review a unified diff: model comments per hunk, anchored to lines that exist, plus rules that need no model.

Every comment is anchored to a line of the *new* file that the diff shows (an added or context line), because a
comment on a line the reviewer cannot see, or that does not exist, is worse than none. The model is asked for
structured JSON per hunk (``response_schema``, constrained decoding where the backend has it) with the hunk shown
with its new-file line numbers; an anchor outside the hunk is moved to the nearest added line (and counted), a
hunk without added lines drops it. Deterministic rules catch what a small model misses or phrases vaguely:
source changed without tests, debugging leftovers, a removed test, new TODOs, a bare ``except:``, and strings
that look like credentials (``shared.guardrails.secrets``: named, never repeated, and redacted from what the
model is shown and says; a review must not copy the secret anywhere).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from posixpath import normpath
from typing import Any, Literal

from pydantic import BaseModel, Field
from unidiff import Hunk, PatchedFile, PatchSet, UnidiffParseError

from projects.code_assistant.languages import language_for_name
from projects.code_assistant.parsing import parse_source
from projects.code_assistant.paths import is_test_path
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.types import Language, Symbol
from shared.guardrails.secrets import detect_secrets, redact_secrets
from shared.serving.base import ChatModel, ServingError
from shared.serving.structured import generate_structured
from shared.serving.types import ChatMessage, ChatRequest

Severity = Literal["info", "warning", "error"]
Category = Literal["bug", "risk", "missing_test", "style", "docs"]
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_CODE_LANGUAGES: frozenset[Language] = frozenset({"python", "javascript", "typescript", "tsx", "go", "java"})
_MESSAGE_MAX_CHARS = 400

_SYSTEM = (
    "You are a careful code reviewer. You are shown one hunk of a diff: added lines start with their line number "
    "and '+', removed lines with '-', unchanged context lines with spaces only. Report real problems in the added "
    "lines: bugs (wrong logic, off-by-one, wrong operator, unhandled None), risks (security, error handling), "
    "missing tests, unclear names or missing docs. For each problem give the number of the added line it is on and "
    "one short sentence. If the added lines are fine, answer with an empty list of comments."
)


class InvalidDiff(ValueError):
    """The text is not a usable unified diff (malformed, empty, too large, or a path outside the repository)."""


class ModelComment(BaseModel):
    """One comment as the model must write it (the JSON schema of the structured request)."""

    line: int = Field(description="new-file line number shown at the left of the line the comment is about")
    severity: Severity
    category: Category
    message: str


class ModelComments(BaseModel):
    comments: list[ModelComment] = Field(default_factory=list)


@dataclass(slots=True)
class ReviewComment:
    path: str
    line: int
    severity: Severity
    category: Category
    message: str
    source: Literal["model", "rule"]
    side: Literal["new", "old"] = "new"  # "old" only for a removed file, which has no new lines
    reanchored_from: int | None = None  # the model's line when it was outside the hunk

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Review:
    comments: list[ReviewComment]
    summary: str
    files: list[str]  # reviewed paths (new names)
    skipped: list[str] = field(default_factory=list)  # "path (why)"
    reanchored: int = 0
    dropped: int = 0
    model_errors: list[str] = field(default_factory=list)
    model_calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "comments": [c.to_dict() for c in self.comments]}


@dataclass(slots=True)
class _HunkJob:
    path: str
    hunk: Hunk
    context: str  # the enclosing definition's signature, when the new file was given


class Reviewer:
    """Comments on a diff from a chat model and deterministic rules; nothing is applied or written."""

    def __init__(self, chat: ChatModel, settings: CodeSettings | None = None) -> None:
        self.chat = chat
        self.settings = settings or get_code_settings()

    def review(self, diff: str, *, files: Mapping[str, str] | None = None) -> Review:
        """Review ``diff``; ``files`` (new-file path → text) adds each hunk's enclosing definition as context."""
        patch = parse_diff(diff, self.settings.review_max_diff_chars)
        files = files or {}
        comments: list[ReviewComment] = []
        skipped: list[str] = []
        reviewed: list[str] = []
        jobs: list[_HunkJob] = []
        symbols: dict[str, list[Symbol]] = {}  # new-file path -> its definitions, parsed once
        for patched in patch:
            path = patched.path
            if patched.is_binary_file:
                skipped.append(f"{path} (binary)")
                continue
            reviewed.append(path)
            comments.extend(rule_comments(patched))
            if patched.is_removed_file:
                continue
            for hunk in patched:
                if any(line.is_added for line in hunk):
                    jobs.append(_HunkJob(path, hunk, _enclosing(path, hunk, files.get(path), symbols)))
        comments.extend(missing_test_comments(patch))
        if len(jobs) > self.settings.review_max_hunks:
            for job in jobs[self.settings.review_max_hunks :]:
                skipped.append(f"{job.path}:{job.hunk.target_start} (hunk over the model budget; rules only)")
            jobs = jobs[: self.settings.review_max_hunks]
        review = Review(comments=[], summary="", files=reviewed, skipped=skipped)
        for job, outcome in zip(jobs, self._ask_all(jobs), strict=True):
            review.model_calls += 1
            if isinstance(outcome, str):
                review.model_errors.append(f"{job.path}:{job.hunk.target_start}: {outcome}")
                continue
            comments.extend(self._anchor(job, outcome, review))
        review.comments = dedupe(comments)
        review.summary = summarise(review)
        return review

    def _ask_all(self, jobs: list[_HunkJob]) -> list[ModelComments | str]:
        if not jobs:
            return []
        workers = min(self.settings.review_concurrency, len(jobs))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # the local backend batches concurrent requests
            return list(pool.map(self._ask, jobs))

    def _ask(self, job: _HunkJob) -> ModelComments | str:
        request = ChatRequest(
            messages=[ChatMessage.system(_SYSTEM), ChatMessage.user(hunk_prompt(job, self.settings))],
            max_tokens=self.settings.review_max_tokens,
            temperature=0.0,
        )
        try:
            return generate_structured(self.chat, request, ModelComments, self.settings.review_structured_retries)
        except (ServingError, ValueError) as exc:  # one hunk's failure must not lose the rest of the review
            return f"{type(exc).__name__}: {exc}"[:300]

    def _anchor(self, job: _HunkJob, answer: ModelComments, review: Review) -> list[ReviewComment]:
        visible = {line.target_line_no for line in job.hunk if not line.is_removed}
        added = [line.target_line_no for line in job.hunk if line.is_added]
        out: list[ReviewComment] = []
        for comment in answer.comments[: self.settings.review_max_comments_per_hunk]:
            message = redact_secrets(" ".join(comment.message.split()))[:_MESSAGE_MAX_CHARS]
            if not message:
                review.dropped += 1
                continue
            line, moved = comment.line, None
            if line not in visible:
                if not added:
                    review.dropped += 1
                    continue
                line, moved = min(added, key=lambda n: (abs(n - comment.line), n)), comment.line
                review.reanchored += 1
            out.append(
                ReviewComment(job.path, line, comment.severity, comment.category, message, "model", "new", moved)
            )
        return out


# -- diff parsing and prompts ---------------------------------------------------------------------------------


def parse_diff(diff: str, max_chars: int) -> PatchSet:
    """The parsed diff, or :class:`InvalidDiff` saying what is wrong with it."""
    if not isinstance(diff, str) or not diff.strip():
        raise InvalidDiff("the diff is empty")
    if len(diff) > max_chars:
        raise InvalidDiff(f"the diff has {len(diff)} characters; the limit is {max_chars} (review it in parts)")
    try:
        patch = PatchSet(diff)
    except UnidiffParseError as exc:
        raise InvalidDiff(f"malformed unified diff: {exc}") from exc
    if not len(patch):
        raise InvalidDiff("no file changes found: expected a unified diff (--- a/path, +++ b/path, @@ hunks)")
    for patched in patch:
        path = patched.path
        normalised = normpath(path) if path else ""
        if not path or path.startswith("/") or normalised == ".." or normalised.startswith("../") or "\x00" in path:
            raise InvalidDiff(f"the diff names a path outside the repository: {path!r}")
    return patch


def hunk_prompt(job: _HunkJob, settings: CodeSettings) -> str:
    lines = []
    for line in list(job.hunk)[: settings.review_hunk_max_lines]:
        text = line.value.rstrip("\r\n")
        if line.is_added:
            lines.append(f"{line.target_line_no:>5} + {text}")
        elif line.is_removed:
            lines.append(f"      - {text}")
        else:  # no number: the model anchors its comments on the numbered (added) lines
            lines.append(f"        {text}")
    if len(job.hunk) > settings.review_hunk_max_lines:
        lines.append(f"      … {len(job.hunk) - settings.review_hunk_max_lines} more lines not shown")
    header = f"File: {job.path}"
    if job.context:
        header += f"\nInside: {job.context}"
    return redact_secrets(f"{header}\n\n" + "\n".join(lines))  # the rules flag them; the model needs no copy


def _enclosing(path: str, hunk: Hunk, text: str | None, cache: dict[str, list[Symbol]]) -> str:
    """The innermost definition around the hunk's first added line in the new file (one signature line)."""
    language = language_for_name(path.rsplit("/", 1)[-1])
    if text is None or language not in _CODE_LANGUAGES:
        return ""
    if path not in cache:
        cache[path] = parse_source(path, text, language).symbols
    first = next(line.target_line_no for line in hunk if line.is_added)
    around = [s for s in cache[path] if s.start_line <= first <= s.end_line and s.kind != "constant"]
    if not around:
        return ""
    inner = max(around, key=lambda s: s.start_line)
    return f"{inner.qualname}: {' '.join(inner.signature.split())}"[:200]


# -- rules ----------------------------------------------------------------------------------------------------

_PY_RULES: tuple[tuple[re.Pattern[str], Severity, Category, str], ...] = (
    (re.compile(r"^\s*print\("), "warning", "style", "print() left in the code: use logging, or remove it"),
    (
        re.compile(r"\bbreakpoint\(\)"),
        "error",
        "bug",
        "breakpoint() left in: it stops the program waiting for a debugger",
    ),
    (
        re.compile(r"^\s*(?:import\s+i?pdb\b|from\s+i?pdb\s+import\b)|\bi?pdb\.set_trace\("),
        "error",
        "bug",
        "pdb debugging code left in: it stops the program waiting for a debugger",
    ),
    (
        re.compile(r"^\s*except\s*:"),
        "warning",
        "risk",
        "bare 'except:' also catches KeyboardInterrupt and SystemExit and hides bugs: catch a specific exception",
    ),
)
_JS_RULES: tuple[tuple[re.Pattern[str], Severity, Category, str], ...] = (
    (re.compile(r"^\s*debugger\s*;?\s*$"), "error", "bug", "'debugger' statement left in"),
)
_TODO = re.compile(r"\b(TODO|FIXME|XXX)\b")
_TEST_DEFINITION = re.compile(
    r"^\s*(?:(?:async\s+)?def\s+test\w*\s*\(|func\s+Test\w*\s*\(|@Test\b|(?:it|test)\s*\(\s*[\"'`])"
)


def is_source_path(path: str) -> bool:
    return language_for_name(path.rsplit("/", 1)[-1]) in _CODE_LANGUAGES and not is_test_path(path)


def rule_comments(patched: PatchedFile) -> list[ReviewComment]:
    """Deterministic comments on one file's added and removed lines."""
    path = patched.path
    language = language_for_name(path.rsplit("/", 1)[-1])
    rules = _PY_RULES if language == "python" else _JS_RULES if language in ("javascript", "typescript", "tsx") else ()
    test_file = is_test_path(path)
    out: list[ReviewComment] = []
    for hunk in patched:
        hunk_lines = list(hunk)
        for index, line in enumerate(hunk_lines):
            text = line.value.rstrip("\r\n")
            if line.is_added:
                number = line.target_line_no
                for pattern, severity, category, message in rules:
                    if pattern.search(text) and not (test_file and category == "style"):
                        out.append(ReviewComment(path, number, severity, category, message, "rule"))
                marker = _TODO.search(text)
                if marker:
                    message = f"new {marker.group(1)}: track it in an issue or resolve it before merging"
                    out.append(ReviewComment(path, number, "info", "risk", message, "rule"))
                secrets = detect_secrets(text)
                if secrets:
                    what = secrets[0].description
                    message = f"this line looks like it contains {what}: load it from the environment or a vault"
                    out.append(ReviewComment(path, number, "error", "risk", message, "rule"))
            elif line.is_removed and test_file and _TEST_DEFINITION.match(text):
                name = re.search(r"(test\w*|Test\w*)", text)
                label = f"'{name.group(1)}'" if name else "a test"
                message = f"test {label} removed: make sure what it covered is still tested"
                anchor = _nearest_new_line(hunk_lines, index)
                if anchor is None:
                    out.append(
                        ReviewComment(path, line.source_line_no, "warning", "missing_test", message, "rule", "old")
                    )
                else:
                    out.append(ReviewComment(path, anchor, "warning", "missing_test", message, "rule"))
    return out


def missing_test_comments(patch: PatchSet) -> list[ReviewComment]:
    """One ``missing_test`` comment per changed source file when the diff changes no test file at all."""
    if any(is_test_path(patched.path) for patched in patch):
        return []
    out = []
    for patched in patch:
        if patched.is_removed_file or patched.is_binary_file or not is_source_path(patched.path):
            continue
        added = [line.target_line_no for hunk in patched for line in hunk if line.is_added]
        if added:
            message = f"{len(added)} line(s) of source changed but no test was added or updated in this diff"
            out.append(ReviewComment(patched.path, added[0], "warning", "missing_test", message, "rule"))
    return out


def _nearest_new_line(lines: list[Any], index: int) -> int | None:
    for step in range(1, len(lines)):
        for candidate in (index + step, index - step):
            if 0 <= candidate < len(lines) and not lines[candidate].is_removed:
                return lines[candidate].target_line_no
    return None


# -- merging and rendering ------------------------------------------------------------------------------------


def dedupe(comments: list[ReviewComment]) -> list[ReviewComment]:
    """One comment per (path, line, category, message); a rule beats a model comment of the same category on the
    same line (the rule's wording is checked, the model's is not); stable order by path, line, severity."""
    ordered = sorted(comments, key=lambda c: (c.path, c.side, c.line, _SEVERITY_ORDER[c.severity], c.source != "rule"))
    kept: list[ReviewComment] = []
    seen: set[tuple[str, str, int, str, str]] = set()
    ruled: set[tuple[str, str, int, str]] = set()
    for comment in ordered:
        where = (comment.path, comment.side, comment.line, comment.category)
        key = (*where, comment.message.lower().rstrip("."))
        if key in seen or (comment.source == "model" and where in ruled and comment.category != "bug"):
            continue
        seen.add(key)
        if comment.source == "rule":
            ruled.add(where)
        kept.append(comment)
    return kept


def summarise(review: Review) -> str:
    counts = {s: sum(1 for c in review.comments if c.severity == s) for s in ("error", "warning", "info")}
    by_model = sum(1 for c in review.comments if c.source == "model")
    files = len({c.path for c in review.comments})
    parts = [
        f"{len(review.comments)} comment(s) on {files} of {len(review.files)} file(s): "
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s); "
        f"{by_model} from the model, {len(review.comments) - by_model} from rules."
    ]
    if review.reanchored or review.dropped:
        parts.append(f"{review.reanchored} model comment(s) moved onto a changed line, {review.dropped} dropped.")
    if review.skipped:
        parts.append(f"Skipped: {', '.join(review.skipped[:10])}{' …' if len(review.skipped) > 10 else ''}.")
    if review.model_errors:
        parts.append(f"The model failed on {len(review.model_errors)} hunk(s); those have rule comments only.")
    return " ".join(parts)


def render_markdown(review: Review) -> str:
    """The review as Markdown for the UI: the summary, then comments grouped by file."""
    out = ["### Review", "", review.summary]
    current = None
    for comment in review.comments:
        if comment.path != current:
            current = comment.path
            out += ["", f"#### `{comment.path}`", ""]
        side = "" if comment.side == "new" else " (removed file)"
        origin = "model" if comment.source == "model" else "rule"
        moved = f", moved from line {comment.reanchored_from}" if comment.reanchored_from is not None else ""
        out.append(
            f"- **L{comment.line}**{side} · {comment.severity} · {comment.category} — {comment.message} "
            f"_({origin}{moved})_"
        )
    return "\n".join(out) + "\n"


def render_github(review: Review, commit_id: str | None = None) -> dict[str, Any]:
    """A body for GitHub's "create a review" API (``POST /repos/{o}/{r}/pulls/{n}/reviews``)."""
    body: dict[str, Any] = {
        "body": review.summary,
        "event": "REQUEST_CHANGES" if any(c.severity == "error" for c in review.comments) else "COMMENT",
        "comments": [
            {
                "path": c.path,
                "line": c.line,
                "side": "RIGHT" if c.side == "new" else "LEFT",
                "body": f"**{c.category}** ({c.severity}): {c.message}",
            }
            for c in review.comments
        ],
    }
    if commit_id:
        body["commit_id"] = commit_id
    return body
