"""The debug loop: orchestration with scripted models, and the real local model fixing a planted bug end to end.

Every test hashes the user's repository before and after: the loop works in a sandboxed copy and must never write
to the original.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from projects.code_assistant.debug import DebugLoop, trim_output
from projects.code_assistant.demo_repo import BUGS, generate_demo_repo
from projects.code_assistant.settings import CodeSettings
from projects.code_assistant.tests.conftest import FIX_ANSWER
from shared.serving import ChatRequest, ChatResult
from shared.testing.doubles import RecordingChat

WRONG = """invoicing/discounts.py
<<<<<<< SEARCH
    return Decimal("0")
=======
    return Decimal("0.0")
>>>>>>> REPLACE
"""
RIGHT = FIX_ANSWER  # fixes the demo's bulk-threshold bug
EXPECTED_DIFF_LINES = ["-        if quantity > threshold:", "+        if quantity >= threshold:"]


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def chat_settings(**kw) -> CodeSettings:
    return CodeSettings(debug_strategies=["chat"], **kw)


@pytest.fixture
def bulk_repo(tmp_path: Path) -> Path:
    return generate_demo_repo(tmp_path / "repo", bugs=["bulk-threshold"]).root


def git_apply_check(repo: Path, diff: str) -> subprocess.CompletedProcess:
    patch = repo.parent / "fix.diff"
    patch.write_text(diff)
    return subprocess.run(["git", "apply", "--check", str(patch)], cwd=repo, capture_output=True, text=True)


def test_wrong_then_right_answer_is_fixed_in_two_attempts(bulk_repo: Path):
    before = tree_hash(bulk_repo)
    chat = RecordingChat(WRONG, RIGHT)
    events: list[str] = []
    result = DebugLoop(chat, chat_settings()).run(
        bulk_repo, description=BUGS["bulk-threshold"].description, on_event=lambda kind, _data: events.append(kind)
    )
    assert result.status == "fixed", result.message
    assert [a.number for a in result.attempts] == [1, 2] and result.best_attempt == 2
    first, second = result.attempts
    assert first.edits and first.tests is not None and first.tests.failed > 0 and first.apply_errors == []
    assert second.tests is not None and second.tests.ok and second.tests.passed == 29
    assert result.tests_before is not None and result.tests_before.failed == 6
    assert result.tests_after == second.tests
    assert [line for line in result.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] == (
        EXPECTED_DIFF_LINES
    )
    check = git_apply_check(bulk_repo, result.diff)
    assert check.returncode == 0, check.stderr
    # the second request carried the first answer and what the tests said about it
    retry = chat.calls[1].messages
    assert retry[-2].content == WRONG
    assert "still fail" in retry[-1].content and "bulk_discount_rate" in retry[-1].content
    # the prompt showed the buggy function with line numbers and the bug report
    prompt = chat.calls[0].messages[2].content
    assert "20 |         if quantity > threshold:" in prompt and "Ordering exactly 10 units" in prompt
    assert events[0] == "tests_before" and events[1] == "localized" and events[-1] == "done"
    assert events.count("attempt_done") == 2
    assert tree_hash(bulk_repo) == before


def test_garbage_answers_end_not_fixed_after_max_attempts(bulk_repo: Path, tmp_path: Path):
    before = tree_hash(bulk_repo)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    escape = "../outside.txt\n<<<<<<< SEARCH\nkeep\n=======\ngone\n>>>>>>> REPLACE\n"
    chat = RecordingChat("I think the code is fine.", escape, "```python\nprint('hello')\n```")
    result = DebugLoop(chat, chat_settings(debug_max_attempts=3)).run(bulk_repo)
    assert result.status == "not_fixed"
    assert len(result.attempts) == 3 and len(chat.calls) == 3
    assert result.diff == "" and result.best_attempt is None
    assert "no SEARCH/REPLACE block" in result.attempts[0].apply_errors[0]
    assert "escapes the repository" in result.attempts[1].apply_errors[0]
    assert all(a.tests is None for a in result.attempts)  # nothing applied, nothing to test
    assert "could not be applied" in chat.calls[1].messages[-1].content
    assert outside.read_text() == "keep\n"
    assert tree_hash(bulk_repo) == before


def test_unmatched_search_error_goes_back_to_the_model(bulk_repo: Path):
    bad = (
        "invoicing/discounts.py\n<<<<<<< SEARCH\n    if qty > limit:\n=======\n    if qty >= limit:\n>>>>>>> REPLACE\n"
    )
    chat = RecordingChat(bad, RIGHT)
    result = DebugLoop(chat, chat_settings()).run(bulk_repo)
    assert result.status == "fixed" and result.best_attempt == 2
    assert "SEARCH text was not found" in result.attempts[0].apply_errors[0]
    assert "if qty > limit" in chat.calls[1].messages[-1].content


def test_edits_to_the_tests_are_refused(bulk_repo: Path):
    cheat = (
        "tests/test_discounts.py\n<<<<<<< SEARCH\n"
        '    assert bulk_discount_rate(10) == Decimal("5")\n=======\n\n>>>>>>> REPLACE'
    )
    result = DebugLoop(RecordingChat(cheat, RIGHT), chat_settings()).run(bulk_repo)
    assert "change the code under test" in result.attempts[0].apply_errors[0]
    assert result.attempts[0].tests is None and result.status == "fixed" and result.best_attempt == 2


def test_pathless_block_and_function_rewrite_are_resolved(bulk_repo: Path):
    pathless = (
        "<<<<<<< SEARCH\n        if quantity > threshold:\n=======\n        if quantity >= threshold:\n>>>>>>> REPLACE"
    )
    assert DebugLoop(RecordingChat(pathless), chat_settings()).run(bulk_repo).status == "fixed"
    rewrite = (
        "```python\ndef bulk_discount_rate(quantity: int) -> Decimal:\n    for threshold, rate in BULK_TIERS:\n"
        "        if quantity >= threshold:\n            return rate\n    return Decimal('0')\n```"
    )
    result = DebugLoop(RecordingChat(rewrite), chat_settings()).run(bulk_repo)
    assert result.status == "fixed" and "+        if quantity >= threshold:" in result.diff


def test_passing_repo_is_no_failure_without_calling_the_model(tmp_path: Path):
    repo = generate_demo_repo(tmp_path / "clean").root
    chat = RecordingChat(RIGHT)
    result = DebugLoop(chat, chat_settings()).run(repo, failure_output="Traceback ...\nValueError: boom")
    assert result.status == "no_failure" and "reproduces" in result.message
    assert chat.calls == [] and result.tests_before is not None and result.tests_before.passed == 29


class InfillOnly(RecordingChat):
    """Answers every FIM request with one fixed line (only the masked `if` line makes it right)."""

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls.append(request)
        assert request.prompt is not None and request.prompt.startswith("<|fim_prefix|>")
        return ChatResult(text="        if quantity >= threshold:", model=self.model, backend=self.backend)


def test_infill_strategy_tests_candidates_until_one_passes(bulk_repo: Path):
    before = tree_hash(bulk_repo)
    chat = InfillOnly()
    result = DebugLoop(chat, CodeSettings(debug_strategies=["infill", "chat"])).run(bulk_repo)
    assert result.status == "fixed", result.message
    winner = result.attempts[result.best_attempt - 1]
    assert winner.strategy == "infill" and winner.edits[0].replace == "        if quantity >= threshold:"
    assert winner is result.attempts[-1]  # stopped at the first fix
    assert all(a.tests is not None for a in result.attempts)  # only compiling candidates were run
    assert git_apply_check(bulk_repo, result.diff).returncode == 0
    assert tree_hash(bulk_repo) == before


def test_trim_output_keeps_head_assertions_and_summary():
    noise = [f"noise line {i} " + "x" * 60 for i in range(400)]
    text = "\n".join(
        ["head of the run", *noise[:200], "E       assert 5 == 6", *noise[200:], "short summary", "1 failed in 0.1s"]
    )
    out = trim_output(text, 2000)
    assert len(out) <= 2000
    assert out.startswith("head of the run") and "E       assert 5 == 6" in out
    assert out.endswith("short summary\n1 failed in 0.1s")
    assert trim_output("short", 2000) == "short"


@pytest.mark.slow
def test_default_local_model_fixes_a_planted_bug_end_to_end(tmp_path: Path):
    """The acceptance test: Qwen2.5-Coder-0.5B (greedy) fixes the demo's bulk-threshold bug in the sandbox."""
    from shared.serving import get_chat_model

    repo = generate_demo_repo(tmp_path / "repo", bugs=["bulk-threshold"]).root
    before = tree_hash(repo)
    result = DebugLoop(get_chat_model()).run(repo, description=BUGS["bulk-threshold"].description)
    assert result.status == "fixed", [(a.strategy, a.answer, a.tests and a.tests.summary) for a in result.attempts]
    assert result.tests_after is not None and result.tests_after.passed == 29
    check = git_apply_check(repo, result.diff)
    assert check.returncode == 0, check.stderr
    assert "+        if quantity >= threshold:" in result.diff
    assert tree_hash(repo) == before


def test_infill_sites_skip_docstrings_and_add_block_ends():
    from projects.code_assistant.infill_repair import InfillSite, fim_prompt, infill_sites

    lines = [
        "def rate(quantity):",
        '    """Percent off.',
        "",
        '    More words."""',
        "    # a comment",
        "    for threshold, value in TIERS:",
        "        if quantity >= threshold:",
        "            return value",
        "    return 0",
    ]
    sites = [(s.line, s.insert) for s in infill_sites("m.py", lines, 1, 9)]
    assert sites == [(1, False), (6, False), (7, False), (8, False), (8, True), (9, False), (9, True)]
    prompt = fim_prompt(lines, InfillSite("m.py", 7, False), before=2, after=1)
    assert prompt == (
        "<|fim_prefix|>    # a comment\n    for threshold, value in TIERS:\n"
        "<|fim_suffix|>\n            return value<|fim_middle|>"
    )
    insert = fim_prompt(lines, InfillSite("m.py", 8, True), before=1, after=5)
    assert insert == "<|fim_prefix|>            return value\n<|fim_suffix|>\n    return 0<|fim_middle|>"
    # a definition keeps its name: only the parameters and defaults are re-predicted
    assert fim_prompt(lines, InfillSite("m.py", 1, False), before=5, after=0).startswith(
        "<|fim_prefix|>def rate(<|fim_suffix|>"
    )
