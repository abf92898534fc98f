"""The debug loop: reproduce a failure in a sandboxed copy, localise it, ask the model for edits, test, iterate.

The user's repository is only ever read: it is copied with ``shared.sandbox.working_copy`` and every test run and
every edit happens in the copy. What comes back is a unified diff against the original, which the user may apply
(``git apply``); nothing is written to their files without that consent.

Two strategies, in the order ``settings.debug_strategies`` gives (default: infill, then chat):

* **infill** (:mod:`infill_repair`): each line of the best-ranked suspect functions is masked and re-predicted
  with fill-in-the-middle; every candidate that compiles is tested. Cheap (one-line outputs, batched) and what a
  0.5B model is actually good at: on the demo repository it fixes bugs that its chat answers never do.
* **chat**: the model gets the failure (trimmed), the localised code and the bug report, with one worked example,
  and answers with SEARCH/REPLACE blocks (or a rewritten function); the loop applies, tests and feeds the result
  back, up to ``debug_max_attempts`` answers. This is the strategy that scales with a stronger model.

Each attempt starts from the original code (edits from a failed attempt are reverted), so one bad answer cannot
poison the next; the model instead sees its previous answer and what happened to it (apply errors, the new test
output) and is asked for a different fix. The best attempt (most passing tests, then fewest failing) is kept, so a
partial fix is still offered when no attempt makes the suite pass.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from projects.code_assistant import infill_repair
from projects.code_assistant.edits import (
    EDIT_FORMAT_PROMPT,
    Edit,
    EditError,
    FileChange,
    apply_edit,
    apply_edits,
    function_rewrites,
    parse_edits,
    revert,
    unified_diff,
)
from projects.code_assistant.localize import (
    FindDefinitions,
    Region,
    RepoDefinitions,
    is_test_path,
    localize,
    render_regions,
)
from projects.code_assistant.paths import PathOutsideRepo, safe_relpath
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.walker import read_source
from shared.sandbox import SandboxError, SandboxLimits, SandboxResult, run_command, working_copy
from shared.serving import ChatMessage, ChatModel, ChatRequest, ServingError

log = logging.getLogger(__name__)

DebugStatus = Literal["fixed", "not_fixed", "no_failure", "error"]
EventCallback = Callable[[str, dict[str, Any]], None]

_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|xfailed|xpassed|skipped)")
_IMPORTANT = re.compile(r"^(E |>|FAILED |ERROR |\S+\.\w+:\d+: |\s*File \"|[A-Z]\w*(Error|Exception)\b)")
_PATHLESS = "\x00pathless"  # placeholder path for a block the model wrote without a file name
_MAX_LINE_CHARS = 240
_OUTPUT_KEEP_CHARS = 20_000  # test output kept in the result for the UI (the model sees much less)

SYSTEM_PROMPT = (
    "You are an expert software engineer fixing a bug in a repository. Tests fail; find the bug in the code "
    "under test and fix it with the smallest change. Do not change the tests.\n\n"
    + EDIT_FORMAT_PROMPT
    + "\n\nAnswer with the SEARCH/REPLACE blocks and one sentence saying what was wrong; nothing else."
)
# one worked example as a prior exchange: small models follow a shown answer far better than a described format
EXAMPLE_USER = """Bug report: area() of a 2 by 3 rectangle returns 5, expected 6.

Test output:
```
>       assert area(2, 3) == 6
E       assert 5 == 6
```

The code that is probably wrong:

geometry.py lines 1-3 (called by the failing test test_area)
```
1 | def area(width, height):
2 |     \"\"\"The area of a rectangle.\"\"\"
3 |     return width + height
```"""
EXAMPLE_ANSWER = """geometry.py
<<<<<<< SEARCH
    return width + height
=======
    return width * height
>>>>>>> REPLACE

The area is the product of the sides, not the sum."""


class TestRun(BaseModel):
    """One sandboxed run of the test command."""

    __test__ = False  # not a pytest class

    status: str = Field(description="sandbox status: ok | error | timeout | memory | output_limit | killed")
    exit_code: int | None
    passed: int = 0
    failed: int = Field(default=0, description="failed tests plus collection/setup errors")
    summary: str = Field(default="", description="pytest's last line, e.g. '1 failed, 28 passed in 0.2s'")
    output: str = Field(default="", description="stdout+stderr, the head kept when very long")
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class AttemptEdit(BaseModel):
    path: str
    search: str
    replace: str


class Attempt(BaseModel):
    number: int
    strategy: Literal["infill", "chat"] = "chat"
    answer: str = Field(description="the model's raw answer (for infill: the filled-in line)")
    edits: list[AttemptEdit] = Field(default_factory=list, description="the edits that applied")
    apply_errors: list[str] = Field(default_factory=list)
    diff: str = ""
    tests: TestRun | None = None
    model_s: float = 0.0
    duration_s: float = 0.0


class RegionInfo(BaseModel):
    path: str
    start_line: int
    end_line: int
    reason: str
    symbol: str | None = None


class DebugResult(BaseModel):
    status: DebugStatus
    diff: str = Field(default="", description="unified diff against the original repository (git apply-able)")
    message: str = ""
    attempts: list[Attempt] = Field(default_factory=list)
    best_attempt: int | None = Field(default=None, description="number of the attempt the diff comes from")
    tests_before: TestRun | None = None
    tests_after: TestRun | None = None
    regions: list[RegionInfo] = Field(default_factory=list)
    model_s: float = Field(default=0.0, description="time spent waiting for the model (all strategies)")
    duration_s: float = 0.0


def default_test_command(settings: CodeSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--maxfail={settings.debug_max_failures}",
    ]


def summarize(result: SandboxResult) -> TestRun:
    """Counts from pytest's summary line; for other commands, exit 0 = pass and anything else = one failure."""
    output = (result.stdout + ("\n" + result.stderr if result.stderr.strip() else "")).strip("\n")
    lines = [line for line in output.splitlines() if line.strip()]
    summary = next((line.strip("= ") for line in reversed(lines) if _COUNTS.search(line)), "")
    counts: dict[str, int] = {}
    for number, word in _COUNTS.findall(summary):
        counts[word.rstrip("s") if word.startswith("error") else word] = int(number)
    passed = counts.get("passed", 0)
    failed = counts.get("failed", 0) + counts.get("error", 0)
    if result.status != "ok" and failed == 0:
        failed = 1  # crashed, timed out, no tests collected, or not pytest
    if len(output) > _OUTPUT_KEEP_CHARS:
        output = output[:_OUTPUT_KEEP_CHARS] + "\n... (output truncated)"
    return TestRun(
        status=result.status,
        exit_code=result.exit_code,
        passed=passed,
        failed=failed,
        summary=summary or (lines[-1][:_MAX_LINE_CHARS] if lines else ""),
        output=output,
        duration_s=result.duration_s,
    )


def trim_output(text: str, max_chars: int) -> str:
    """Bounded test output for the prompt: the head, then the lines that carry the failure (``E`` assertion lines,
    ``>`` source lines, ``file:line`` frames, FAILED lines), then the summary; long lines are cut."""
    lines = [line if len(line) <= _MAX_LINE_CHARS else line[:_MAX_LINE_CHARS] + " ..." for line in text.splitlines()]
    if sum(len(line) + 1 for line in lines) <= max_chars:
        return "\n".join(lines)
    body, tail = lines[:-2], lines[-2:]
    budget = max_chars - sum(len(line) + 1 for line in tail) - 40
    keep: list[int] = []
    used = 0
    i = 0
    while i < len(body) and used + len(body[i]) + 1 <= budget // 3:  # the head: the first failure in full
        keep.append(i)
        used += len(body[i]) + 1
        i += 1
    for j in range(i, len(body)):  # then only the lines that say what failed where
        if _IMPORTANT.match(body[j]):
            if used + len(body[j]) + 5 > budget:
                break
            keep.append(j)
            used += len(body[j]) + 5
    out: list[str] = []
    for n, index in enumerate(keep):
        if n and index > keep[n - 1] + 1:
            out.append("...")
        out.append(body[index])
    return "\n".join([*out, "... (output trimmed)", *tail])


class DebugLoop:
    """Reproduce, localise, edit, test, repeat (at most ``settings.debug_max_attempts`` model answers)."""

    def __init__(
        self,
        chat: ChatModel,
        settings: CodeSettings | None = None,
        *,
        find_definitions: FindDefinitions | None = None,
    ) -> None:
        self.chat = chat
        self.settings = settings or get_code_settings()
        self.find_definitions = find_definitions
        timeout = self.settings.debug_test_timeout_s
        self.limits = SandboxLimits(wall_s=timeout, cpu_s=timeout, max_output_bytes=4_000_000)

    # -- the loop -----------------------------------------------------------------------------------------------

    def run(
        self,
        repo: Path,
        *,
        test_command: Sequence[str] | None = None,
        failure_output: str | None = None,
        description: str | None = None,
        on_event: EventCallback | None = None,
    ) -> DebugResult:
        """Try to make ``test_command`` (default: pytest) pass; ``failure_output`` (a traceback the user pasted)
        replaces the first run's output as what the model is shown. Never raises for what the code or the model
        does: problems become ``status="error"`` with a message."""
        started = time.monotonic()
        emit = on_event or (lambda _kind, _data: None)
        command = list(test_command) if test_command else default_test_command(self.settings)
        try:
            with working_copy(Path(repo)) as copy:
                result = self._run_in(copy, command, failure_output, description, emit)
        except (SandboxError, ServingError, OSError) as exc:
            log.warning("debug run failed: %s", exc)
            result = DebugResult(status="error", message=f"{type(exc).__name__}: {exc}")
        result.duration_s = round(time.monotonic() - started, 3)
        emit("done", {"status": result.status, "best_attempt": result.best_attempt, "message": result.message})
        return result

    def _run_in(
        self,
        copy: Path,
        command: list[str],
        failure_output: str | None,
        description: str | None,
        emit: EventCallback,
    ) -> DebugResult:
        before = self._test(copy, command)
        emit("tests_before", before.model_dump(exclude={"output"}))
        if before.status in ("timeout", "memory", "output_limit", "killed"):
            return DebugResult(
                status="error", tests_before=before, message=f"the test command ended with {before.status}"
            )
        if before.ok:
            message = "the tests pass"
            if failure_output:
                message += "; give a test command that reproduces the pasted failure, so a fix can be verified"
            return DebugResult(status="no_failure", tests_before=before, message=message)

        failure = failure_output or before.output
        regions = localize(
            copy,
            failure,
            description=description,
            find_definitions=self.find_definitions,
            settings=self.settings,
        )
        emit("localized", {"regions": [_region_info(r).model_dump() for r in regions]})
        shown = list(dict.fromkeys(r.path for r in regions if not is_test_path(r.path)))

        attempts: list[Attempt] = []
        best: Attempt | None = None
        model_s = 0.0

        def record(attempt: Attempt, changes: list[FileChange]) -> bool:
            """Keep the attempt if it is the best so far, undo its edits; True when it fixed the tests."""
            nonlocal best
            attempts.append(attempt)
            emit("attempt_done", attempt.model_dump(exclude={"tests": {"output"}}))
            if attempt.tests is not None and _better(attempt.tests, best.tests if best else before):
                best = attempt
            revert(copy, changes)
            return attempt.tests is not None and attempt.tests.ok

        fixed = False
        for strategy in self.settings.debug_strategies:
            if fixed:
                break
            if strategy == "infill" and self.settings.debug_infill_candidates:
                found = self._infill_candidates(copy, regions)
                while not fixed:
                    started = time.monotonic()
                    candidate = next(found, None)  # generation happens here, a batch at a time
                    model_s += time.monotonic() - started
                    if candidate is None:
                        break
                    number = len(attempts) + 1
                    emit("attempt_started", {"attempt": number, "strategy": "infill"})
                    fixed = record(*self._infill_attempt(copy, command, number, candidate))
                found.close()  # stop generating once fixed (and release its thread pool)
            elif strategy == "chat":
                prompt = self._prompt(copy, regions, failure, description)  # only when a chat attempt runs
                functions = self._functions(copy, regions)
                history: list[ChatMessage] = []
                for _ in range(self.settings.debug_max_attempts):
                    number = len(attempts) + 1
                    emit("attempt_started", {"attempt": number, "strategy": "chat"})
                    attempt, changes = self._attempt(copy, command, number, prompt, history, functions, shown)
                    model_s += attempt.model_s
                    if fixed := record(attempt, changes):
                        break
                    history += [ChatMessage.assistant(attempt.answer), ChatMessage.user(self._feedback(attempt))]
                    history = history[-4:]  # the last two exchanges: enough to avoid repeating, bounded in tokens

        regions_info = [_region_info(r) for r in regions]
        if best is None:
            return DebugResult(
                status="not_fixed",
                attempts=attempts,
                tests_before=before,
                regions=regions_info,
                model_s=round(model_s, 3),
                message=f"no attempt reduced the failures in {len(attempts)} tries",
            )
        attempt = best
        fixed = attempt.tests is not None and attempt.tests.ok
        return DebugResult(
            status="fixed" if fixed else "not_fixed",
            diff=attempt.diff,
            attempts=attempts,
            best_attempt=attempt.number,
            tests_before=before,
            tests_after=attempt.tests,
            regions=regions_info,
            model_s=round(model_s, 3),
            message=f"fixed in attempt {attempt.number}"
            if fixed
            else f"partial: attempt {attempt.number} reduced the failures from {before.failed} to "
            f"{attempt.tests.failed if attempt.tests else '?'}",
        )

    def _attempt(
        self,
        copy: Path,
        command: list[str],
        number: int,
        prompt: str,
        history: list[ChatMessage],
        functions: dict[str, tuple[str, str]],
        shown: list[str],
    ) -> tuple[Attempt, list[FileChange]]:
        started = time.monotonic()
        request = ChatRequest(
            system=SYSTEM_PROMPT,
            messages=[
                ChatMessage.user(EXAMPLE_USER),
                ChatMessage.assistant(EXAMPLE_ANSWER),
                ChatMessage.user(prompt),
                *history,
            ],
            temperature=0.0,
            max_tokens=self.settings.debug_max_tokens,
        )
        reply = self.chat.chat(request)
        attempt = Attempt(number=number, answer=reply.text, model_s=round(time.monotonic() - started, 3))
        try:
            edits = parse_edits(reply.text, default_path=_PATHLESS)
        except EditError as exc:
            edits, attempt.apply_errors = [], [str(exc)]
        if not edits:
            edits = function_rewrites(reply.text, functions)
        edits = [_resolve_path(copy, edit, shown) for edit in edits]
        had_edits = bool(edits)
        for edit in [e for e in edits if e.path == _PATHLESS or is_test_path(e.path)]:
            edits.remove(edit)
            attempt.apply_errors.append(
                "a SEARCH/REPLACE block has no file path: write the path on the line above <<<<<<< SEARCH"
                if edit.path == _PATHLESS
                else f"{edit.path}: the tests are the specification; change the code under test, not the tests"
            )
        changes: list[FileChange] = []
        if not had_edits and not attempt.apply_errors:
            attempt.apply_errors.append("no SEARCH/REPLACE block found in the answer")
        else:
            changes, errors = apply_edits(copy, edits)
            attempt.apply_errors += errors
            applied = {c.path for c in changes}
            attempt.edits = [AttemptEdit(path=e.path, search=e.search, replace=e.replace) for e in edits
                             if e.path in applied]  # fmt: skip
            attempt.diff = unified_diff(changes)
        if changes:
            attempt.tests = self._test(copy, command)
        attempt.duration_s = round(time.monotonic() - started, 3)
        return attempt, changes

    def _infill_candidates(self, copy: Path, regions: list[Region]) -> Iterator[infill_repair.Candidate]:
        code = [r for r in regions if not is_test_path(r.path) and r.symbol][: self.settings.debug_infill_regions]
        files = {r.path: read_source(copy / r.path) for r in code}
        return infill_repair.candidates(self.chat, files, code, max_candidates=self.settings.debug_infill_candidates)

    def _infill_attempt(
        self, copy: Path, command: list[str], number: int, candidate: infill_repair.Candidate
    ) -> tuple[Attempt, list[FileChange]]:
        started = time.monotonic()
        change = candidate.change
        target = copy / safe_relpath(copy, change.path)
        target.write_text(change.after, encoding="utf-8")
        site = candidate.site
        attempt = Attempt(
            number=number,
            strategy="infill",
            answer=candidate.completion,
            edits=[AttemptEdit(path=change.path, search=candidate.old_line, replace=candidate.new_line)],
            diff=unified_diff([change]),
            apply_errors=[],
        )
        attempt.tests = self._test(copy, command)
        attempt.duration_s = round(time.monotonic() - started, 3)
        log.debug("infill %s:%d%s -> %s", site.path, site.line, "+" if site.insert else "", attempt.tests.summary)
        return attempt, [change]

    # -- pieces ---------------------------------------------------------------------------------------------------

    def _test(self, copy: Path, command: list[str]) -> TestRun:
        env = {} if self.settings.debug_pytest_plugins else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        return summarize(run_command(command, cwd=copy, limits=self.limits, env=env))

    def _prompt(self, copy: Path, regions: list[Region], failure: str, description: str | None) -> str:
        code = [r for r in regions if not is_test_path(r.path)]
        tests = [r for r in regions if is_test_path(r.path)]
        parts = []
        if description:
            parts.append(f"Bug report: {description.strip()}")
        parts.append("Test output:\n```\n" + trim_output(failure.strip(), self.settings.debug_failure_chars) + "\n```")
        if code:
            parts.append("The code that is probably wrong:\n\n" + render_regions(copy, code))
        if tests:
            parts.append("The failing tests:\n\n" + render_regions(copy, tests))
        parts.append("Fix the bug with SEARCH/REPLACE blocks.")
        return "\n\n".join(parts)

    def _feedback(self, attempt: Attempt) -> str:
        budget = self.settings.debug_failure_chars
        if attempt.apply_errors and attempt.tests is None:
            errors = "\n".join(f"- {e}" for e in attempt.apply_errors)
            return f"Your edits could not be applied:\n{errors}\nTry again: the SEARCH text must be copied exactly."
        tests = attempt.tests
        output = trim_output(tests.output, budget) if tests else ""
        note = "\n".join(f"- {e}" for e in attempt.apply_errors)
        return (
            ("Some edits could not be applied:\n" + note + "\n" if note else "")
            + f"The tests still fail after your edit ({tests.summary if tests else 'not run'}):\n```\n{output}\n```\n"
            "That was not the right fix. Look again at the code and propose a different fix."
        )

    def _functions(self, copy: Path, regions: list[Region]) -> dict[str, tuple[str, str]]:
        """name -> (path, source) of the whole functions the model was shown (for the function-rewrite fallback)."""
        definitions = RepoDefinitions(copy, self.settings)
        functions: dict[str, tuple[str, str]] = {}
        for region in regions:
            if is_test_path(region.path):
                continue
            lines = read_source(copy / region.path).split("\n")
            for symbol in definitions.symbols(region.path):
                inside = region.start_line <= symbol.start_line and symbol.end_line <= region.end_line
                if inside and symbol.kind in ("function", "method") and symbol.name not in functions:
                    source = "".join(line + "\n" for line in lines[symbol.start_line - 1 : symbol.end_line])
                    functions[symbol.name] = (region.path, source)
        return functions


def _better(candidate: TestRun, reference: TestRun) -> bool:
    """More passing tests, then fewer failures. Passes come first because an edit that breaks an import turns the
    whole suite into one collection error ("1 error", nothing passed): fewer *reported* failures, yet worse."""
    return (-candidate.passed, candidate.failed) < (-reference.passed, reference.failed)


def _resolve_path(root: Path, edit: Edit, shown: list[str]) -> Edit:
    """Small models drop the directory (``discounts.py``) or the file name altogether: map such an edit onto the
    shown file it fits (same name, or the only shown file where the SEARCH text is found). Paths that exist, and
    paths outside the repository (refused later), are left alone."""
    if edit.path != _PATHLESS:
        try:
            if (root / safe_relpath(root, edit.path)).exists() or not edit.search.strip():
                return edit
        except PathOutsideRepo:
            return edit
        same_name = [p for p in shown if p.rsplit("/", 1)[-1] == edit.path.rsplit("/", 1)[-1]]
        if len(same_name) == 1:
            return Edit(same_name[0], edit.search, edit.replace)
    fits = []
    for path in shown:  # distinct already
        try:
            apply_edit(read_source(root / path), Edit(path, edit.search, edit.replace))
            fits.append(path)
        except EditError:
            continue
    if len(fits) == 1:
        return Edit(fits[0], edit.search, edit.replace)
    return Edit(shown[0] if edit.path == _PATHLESS and shown else edit.path, edit.search, edit.replace)  # may fail


def _region_info(region: Region) -> RegionInfo:
    return RegionInfo.model_validate(region, from_attributes=True)


def measure_demo_bugs(chat: ChatModel, bug_ids: Sequence[str], settings: CodeSettings | None = None) -> Iterator[dict]:
    """Plant each bug in a fresh demo repository and run the loop: which bugs does this model fix, how fast.
    One row per bug, yielded as soon as it is measured."""
    import tempfile

    from projects.code_assistant.demo_repo import BUGS, generate_demo_repo

    for bug_id in bug_ids:
        with tempfile.TemporaryDirectory() as tmp:
            repo = generate_demo_repo(Path(tmp) / "demo", bugs=[bug_id])
            result = DebugLoop(chat, settings).run(repo.root, description=BUGS[bug_id].description)
        yield {
            "bug": bug_id,
            "status": result.status,
            "attempts": len(result.attempts),
            "best_attempt": result.best_attempt,
            "strategy": result.attempts[result.best_attempt - 1].strategy if result.best_attempt else None,
            "seconds": result.duration_s,
            "model_seconds": result.model_s,
            "diff": result.diff,
        }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m projects.code_assistant.debug [BUG ...]``: measure the default model on the demo's planted bugs."""
    import argparse
    import json

    from projects.code_assistant.demo_repo import BUGS
    from shared.serving import get_chat_model

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("bugs", nargs="*", default=list(BUGS), help=f"bug ids (default: all of {', '.join(BUGS)})")
    parser.add_argument("--diffs", action="store_true", help="print each diff")
    args = parser.parse_args(argv)
    for row in measure_demo_bugs(get_chat_model(), args.bugs):
        diff = row.pop("diff")
        print(json.dumps(row), flush=True)
        if args.diffs and diff:
            print(diff)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
