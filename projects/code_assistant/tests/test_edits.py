"""SEARCH/REPLACE parsing and applying, the function-rewrite fallback, and diffs that ``git apply`` accepts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from projects.code_assistant.edits import (
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

SOURCE = """def add(a, b):
    return a - b


class Box:
    def size(self):
        if self.items:
            return len(self.items)
        return 0
"""


def test_parse_blocks_with_paths_fences_and_inherited_path():
    answer = """Here is the fix:

```python
pkg/calc.py
<<<<<<< SEARCH
    return a - b
=======
    return a + b
>>>>>>> REPLACE
```

`pkg/calc.py`
<<<<<<< SEARCH
        return 0
=======
        return -1
>>>>>>> REPLACE

<<<<<<< SEARCH
x = 1
=======
x = 2
>>>>>>> REPLACE
"""
    edits = parse_edits(answer)
    assert edits == [
        Edit("pkg/calc.py", "    return a - b\n", "    return a + b\n"),
        Edit("pkg/calc.py", "        return 0\n", "        return -1\n"),
        Edit("pkg/calc.py", "x = 1\n", "x = 2\n"),
    ]


def test_parse_uses_default_path_and_reports_unterminated_or_pathless_blocks():
    block = "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n"
    assert parse_edits(block, default_path="m.py") == [Edit("m.py", "a\n", "b\n")]
    with pytest.raises(EditError, match="no file path"):
        parse_edits(block)
    with pytest.raises(EditError, match="unterminated"):
        parse_edits("m.py\n<<<<<<< SEARCH\na\n=======\nb\n")
    assert parse_edits("no edits here") == []


def test_apply_exact():
    out = apply_edit(SOURCE, Edit("m.py", "    return a - b\n", "    return a + b\n"))
    assert "return a + b" in out and "return a - b" not in out


def test_apply_whitespace_tolerant_reindents_replacement():
    # the model dropped the method's indentation, added trailing spaces and skipped the blank line
    edit = Edit("m.py", "if self.items:   \n    return len(self.items)\nreturn 0\n", "return len(self.items or [])\n")
    out = apply_edit(SOURCE, edit)
    assert "        return len(self.items or [])\n" in out
    assert "if self.items" not in out
    assert out.startswith("def add(a, b):\n")


def test_apply_not_found_and_ambiguous_errors_are_for_the_model():
    with pytest.raises(EditError, match=r"not found.*'return a \* b'"):
        apply_edit(SOURCE, Edit("m.py", "    return a * b\n", "x\n"))
    with pytest.raises(EditError, match="occurs 2 times"):
        apply_edit("x = 1\nx = 1\n", Edit("m.py", "x = 1\n", "x = 2\n"))
    with pytest.raises(EditError, match="matches 2 places"):
        apply_edit("x = 1\n  x = 1\n", Edit("m.py", "    x = 1\n", "x = 2\n"))
    with pytest.raises(EditError, match="empty"):
        apply_edit(SOURCE, Edit("m.py", "\n", "x\n"))


def test_apply_edits_refuses_path_escape_and_creates_new_files(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "m.py").write_text(SOURCE)
    secret = tmp_path / "secret.txt"
    secret.write_text("keep\n")
    changes, errors = apply_edits(
        repo,
        [
            Edit("../secret.txt", "keep\n", "gone\n"),
            Edit("/etc/passwd", "root", "x"),
            Edit("m.py", "    return a - b\n", "    return a + b\n"),
            Edit("pkg/new.py", "", "VALUE = 1\n"),
            Edit("missing.py", "a\n", "b\n"),
        ],
    )
    assert secret.read_text() == "keep\n"
    assert [e.split(":")[0] for e in errors] == ["../secret.txt", "/etc/passwd", "missing.py"]
    assert "escapes the repository" in errors[0]
    assert {c.path for c in changes} == {"m.py", "pkg/new.py"}
    assert (repo / "pkg/new.py").read_text() == "VALUE = 1\n"
    revert(repo, changes)
    assert (repo / "m.py").read_text() == SOURCE
    assert not (repo / "pkg/new.py").exists()


def test_function_rewrite_fallback_reindents_methods():
    old = "    def size(self):\n        if self.items:\n            return len(self.items)\n        return 0\n"
    answer = "Fixed:\n```python\ndef size(self):\n    return len(self.items)\n\nprint('demo')\n```\n"
    edits = function_rewrites(answer, {"size": ("m.py", old)})
    assert edits == [Edit("m.py", old, "    def size(self):\n        return len(self.items)\n")]
    assert function_rewrites(answer, {"other": ("m.py", old)}) == []


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_unified_diff_applies_with_git(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "m.py").write_text(SOURCE)
    (repo / "tail.txt").write_text("a\nb")  # no newline at the end
    assert _git(repo, "init", "-q").returncode == 0
    changes = [
        FileChange("m.py", SOURCE, SOURCE.replace("a - b", "a + b")),
        FileChange("tail.txt", "a\nb", "a\nc"),
        FileChange("pkg/new.py", None, "VALUE = 1\n"),
    ]
    diff = unified_diff(changes)
    assert "--- a/m.py\n+++ b/m.py\n" in diff
    assert "--- /dev/null\n+++ b/pkg/new.py\n" in diff
    assert "\\ No newline at end of file" in diff
    (tmp_path / "fix.diff").write_text(diff)
    check = _git(repo, "apply", "--check", str(tmp_path / "fix.diff"))
    assert check.returncode == 0, check.stderr
    assert _git(repo, "apply", str(tmp_path / "fix.diff")).returncode == 0
    assert (repo / "m.py").read_text() == SOURCE.replace("a - b", "a + b")
    assert (repo / "tail.txt").read_text() == "a\nc"
    assert (repo / "pkg/new.py").read_text() == "VALUE = 1\n"
    assert unified_diff([FileChange("m.py", SOURCE, SOURCE)]) == ""


def test_a_form_feed_does_not_split_a_line_of_the_diff(tmp_path: Path):
    """``str.splitlines`` breaks at \\x0c; git does not: the hunk must count lines the way git does."""
    repo = tmp_path / "repo"
    repo.mkdir()
    before = "a = 1\n\x0c\nb = 2\nc = 3\n"
    (repo / "m.py").write_text(before)
    assert _git(repo, "init", "-q").returncode == 0
    (tmp_path / "fix.diff").write_text(unified_diff([FileChange("m.py", before, before.replace("c = 3", "c = 4"))]))
    check = _git(repo, "apply", "--check", str(tmp_path / "fix.diff"))
    assert check.returncode == 0, check.stderr
