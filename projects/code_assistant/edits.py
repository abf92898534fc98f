"""The model's edit format, applying edits to a working copy, and the unified diff the user sees.

Small models write unreliable unified diffs (wrong hunk headers, missing context; Aider's finding), so the model is
asked for SEARCH/REPLACE blocks (Aider's format) and, as a fallback, may answer with a whole rewritten function in a
fenced block. Either way the edit is applied as "find this text, put that text there": exactly first, then
tolerating whitespace differences (trailing spaces, a uniformly shifted indentation, blank lines), and the failure
messages (not found, ambiguous, path outside the repository) are written for the model to read and correct.

The user-facing result is always a standard unified diff computed by difflib from the before/after texts, so it is
well-formed whatever the model wrote, and ``git apply`` accepts it on the original repository.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from projects.code_assistant.paths import PathOutsideRepo, safe_relpath

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\b.*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\b.*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_FENCED_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_PATH_CHARS = re.compile(r"^[\w./\\-]+$")
_NUMBERED = re.compile(r"^\s*\d+ \|(?: |$)")
_DEF = re.compile(r"^([ \t]*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")

EDIT_FORMAT_PROMPT = """\
To change a file, answer with one or more SEARCH/REPLACE blocks in exactly this format:

path/to/file.py
<<<<<<< SEARCH
the exact lines to find, copied from the file
=======
the lines to put there instead
>>>>>>> REPLACE

The SEARCH part must match the current file exactly (same lines, same indentation) and should be short:
only the lines that change plus a line or two around them. Use one block per change."""


class EditError(ValueError):
    """An edit could not be parsed or applied; the message is meant to be shown to the model."""


@dataclass(slots=True, frozen=True)
class Edit:
    """Replace ``search`` by ``replace`` in ``path``; an empty ``search`` creates a new file."""

    path: str
    search: str
    replace: str


@dataclass(slots=True, frozen=True)
class FileChange:
    """One file before and after (``before`` is None for a file the edits created)."""

    path: str
    before: str | None
    after: str


# -- parsing --------------------------------------------------------------------------------------------------------


def _clean_path(line: str) -> str | None:
    """A filename line as models write it: ``path.py``, ```` `path.py` ````, ``**path.py**``, ``# File: path.py:``."""
    text = line.strip().strip("`*#").strip()
    for prefix in ("File:", "file:", "Path:", "path:", "Filename:", "filename:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    text = text.strip("`*").rstrip(":").strip()
    if not text or not _PATH_CHARS.match(text) or "." not in text.rsplit("/", 1)[-1]:
        return None
    return text


def _filename_before(lines: list[str], index: int) -> str | None:
    """The filename written just above a SEARCH marker (skipping blank lines and an opening code fence)."""
    for back in range(index - 1, max(index - 4, -1), -1):
        line = lines[back].strip()
        if not line:
            continue
        if line.startswith(("```", "~~~")):  # a fence, possibly ```path.py
            name = _clean_path(line[3:])
            if name:
                return name
            continue
        return _clean_path(line)
    return None


def parse_edits(text: str, *, default_path: str | None = None) -> list[Edit]:
    """Every SEARCH/REPLACE block in the model's answer.

    A block without a filename above it uses the previous block's file, else ``default_path`` (the debug loop passes
    the file it showed when it showed only one). Raises :class:`EditError` on an unterminated block or a block with
    no file at all; returns ``[]`` when there are no blocks.
    """
    lines = text.splitlines()
    edits: list[Edit] = []
    current = default_path
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        path = _filename_before(lines, i) or current
        if path is None:
            raise EditError("a SEARCH/REPLACE block has no file path: write the path on the line above <<<<<<< SEARCH")
        j = i + 1
        while j < len(lines) and not _DIVIDER.match(lines[j]):
            j += 1
        k = j + 1
        while k < len(lines) and not _REPLACE.match(lines[k]):
            k += 1
        if j >= len(lines) or k >= len(lines):
            raise EditError(f"unterminated SEARCH/REPLACE block for {path}: it needs ======= and >>>>>>> REPLACE")
        search, replace = _strip_line_numbers(lines[i + 1 : j]), _strip_line_numbers(lines[j + 1 : k])
        edits.append(Edit(path, _join(search), _join(replace)))
        current = path
        i = k + 1
    return edits


def _strip_line_numbers(lines: list[str]) -> list[str]:
    """Drop ``12 | `` prefixes when every non-blank line has one: the model copied the numbered code it was shown."""
    body = [line for line in lines if line.strip()]
    if not body or not all(_NUMBERED.match(line) for line in body):
        return lines
    return [_NUMBERED.sub("", line, count=1) if line.strip() else line for line in lines]


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def function_rewrites(text: str, functions: Mapping[str, tuple[str, str]]) -> list[Edit]:
    """Fallback: fenced code blocks that redefine a known function become edits replacing that function.

    ``functions`` maps a function name to ``(path, current source)`` (the regions the model was shown). A small model
    asked for SEARCH/REPLACE often answers with the corrected function instead; that is a usable edit. The new
    definition runs from its ``def`` line to the next line indented no deeper (decorators above it come along; if
    it has none, the original's are kept), and is re-indented to where the original sits (a method written at
    column 0 goes back into its class).
    """
    edits: list[Edit] = []
    for block in _FENCED_BLOCK.findall(text):
        lines = block.splitlines()
        for n, line in enumerate(lines):
            match = _DEF.match(line)
            if not match or match.group(2) not in functions:
                continue
            width = len(match.group(1))
            end = n + 1
            while end < len(lines) and (not lines[end].strip() or _width(lines[end]) > width):
                end += 1
            start = n
            while start > 0 and lines[start - 1].strip().startswith("@") and _width(lines[start - 1]) == width:
                start -= 1
            path, old_source = functions[match.group(2)]
            old_lines = old_source.splitlines()
            decorators = [] if start < n else [ln for ln in old_lines if ln.strip().startswith("@")][:5]
            new_lines = lines[start:end]
            while new_lines and not new_lines[-1].strip():
                new_lines.pop()
            first_code = next((ln for ln in old_lines if ln.strip()), "")
            indent = _indent(first_code)
            replacement = _join(decorators) + _reindent(new_lines, indent)  # kept decorators are already in place
            edits.append(Edit(path, old_source, replacement))
    return edits


def _width(line: str) -> int:
    return len(line) - len(line.lstrip())


def _reindent(lines: list[str], indent: str) -> str:
    """Shift a block so that its least-indented line starts at ``indent``."""
    widths = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(widths, default=0)
    return _join([indent + line[cut:] if line.strip() else "" for line in lines])


# -- applying -------------------------------------------------------------------------------------------------------


def apply_edit(content: str, edit: Edit) -> str:
    """``content`` with the edit applied: exact match first, then whitespace-tolerant; raises :class:`EditError`."""
    if not edit.search.strip():
        raise EditError(f"{edit.path}: the SEARCH part is empty; copy the lines to replace from the file")
    count = content.count(edit.search)
    if count == 1:
        return content.replace(edit.search, edit.replace)
    if count > 1:
        raise EditError(
            f"{edit.path}: the SEARCH text occurs {count} times; add surrounding lines so it matches exactly once"
        )
    return _apply_tolerant(content, edit)


def _apply_tolerant(content: str, edit: Edit) -> str:
    """Match line by line ignoring trailing whitespace, indentation shifts and blank lines; reindent the REPLACE."""
    lines = content.splitlines(keepends=True)
    search = [line for line in edit.search.splitlines() if line.strip()]
    stripped = [line.strip() for line in lines]
    wanted = [line.strip() for line in search]
    matches: list[tuple[int, int]] = []
    for start in range(len(lines)):
        if stripped[start] != wanted[0]:
            continue
        pos, k = start, 0
        while pos < len(lines) and k < len(wanted):
            if not stripped[pos]:
                pos += 1
                continue
            if stripped[pos] != wanted[k]:
                break
            pos, k = pos + 1, k + 1
        if k == len(wanted):
            matches.append((start, pos))
    if not matches:
        raise EditError(
            f"{edit.path}: the SEARCH text was not found; copy the lines exactly as they are in the file "
            f"(first SEARCH line: {search[0].strip()!r})"
        )
    if len(matches) > 1:
        raise EditError(
            f"{edit.path}: the SEARCH text matches {len(matches)} places; add surrounding lines to make it unique"
        )
    start, end = matches[0]
    file_indent = _indent(lines[start])
    search_indent = _indent(search[0])
    replacement = []
    for line in edit.replace.splitlines():
        if not line.strip():
            replacement.append("\n")
        elif line.startswith(search_indent):
            replacement.append(file_indent + line[len(search_indent) :] + "\n")
        else:
            replacement.append(file_indent + line.lstrip() + "\n")
    if end == len(lines) and not content.endswith("\n") and replacement:
        replacement[-1] = replacement[-1].rstrip("\n")
    return "".join(lines[:start] + replacement + lines[end:])


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def apply_edits(root: Path, edits: Iterable[Edit]) -> tuple[list[FileChange], list[str]]:
    """Apply edits to the files under ``root`` (a working copy), each independently.

    Returns the changed files (first ``before``, last ``after`` per path) and one error message per edit that
    failed; the edits that did apply stay applied, as Aider does, so one bad block does not waste the good ones.
    """
    originals: dict[str, str | None] = {}
    current: dict[str, str] = {}
    errors: list[str] = []
    for edit in edits:
        try:
            rel = safe_relpath(root, edit.path)
        except PathOutsideRepo as exc:
            errors.append(f"{edit.path}: refused, {exc}")
            continue
        target = root / rel
        try:
            if rel not in current:
                if target.is_file():
                    current[rel] = target.read_text(encoding="utf-8")
                    originals[rel] = current[rel]
                elif target.exists():
                    raise EditError(f"{rel}: not a regular file")
                elif edit.search.strip():
                    raise EditError(f"{rel}: no such file; to create it, leave the SEARCH part empty")
                else:
                    originals[rel] = None
                    current[rel] = ""
            if originals[rel] is None and current[rel] == "" and not edit.search.strip():
                current[rel] = edit.replace  # a new file
            else:
                current[rel] = apply_edit(current[rel], edit)
        except (EditError, UnicodeDecodeError) as exc:
            errors.append(str(exc))
    changes = []
    for rel, after in current.items():
        before = originals[rel]
        if after == before:
            continue
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(after, encoding="utf-8")
        changes.append(FileChange(rel, before, after))
    return changes, errors


def revert(root: Path, changes: Iterable[FileChange]) -> None:
    """Undo :func:`apply_edits` in the working copy: restore the old texts, delete the created files."""
    for change in changes:
        target = root / safe_relpath(root, change.path)
        if change.before is None:
            target.unlink(missing_ok=True)
        else:
            target.write_text(change.before, encoding="utf-8")


# -- the user-facing diff -------------------------------------------------------------------------------------------


def unified_diff(changes: Iterable[FileChange], *, context: int = 3) -> str:
    """A git-style unified diff (``a/path`` ``b/path``, ``/dev/null`` for new files) that ``git apply`` accepts."""
    out: list[str] = []
    for change in sorted(changes, key=lambda c: c.path):
        if (change.before or "") == change.after:
            continue
        out.append(f"diff --git a/{change.path} b/{change.path}\n")
        if change.before is None:
            out.append("new file mode 100644\n")
        out.append(file_diff(change.path, change.before, change.after, context=context))
    return "".join(out)


def file_diff(path: str, before: str | None, after: str, *, context: int = 3) -> str:
    """One file's ``--- a/path`` / ``+++ b/path`` hunks (``/dev/null`` when ``before`` is None). Lines split on
    ``\n`` only: ``str.splitlines`` also breaks at form feeds and other separators git does not, and the hunks would
    not apply."""
    lines = difflib.unified_diff(
        _keepends(before or ""),
        _keepends(after),
        fromfile="/dev/null" if before is None else f"a/{path}",
        tofile=f"b/{path}",
        n=context,
    )
    # the file's last line has no newline: git's marker, or the next line would be glued on
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _keepends(text: str) -> list[str]:
    return re.findall(r"[^\n]*\n|[^\n]+$", text)
