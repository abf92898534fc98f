"""One gate for every user-supplied path: the API, the CLI and the tools all call :func:`safe_relpath`.

A path from a request is untrusted (``../../etc/passwd``, ``/etc/shadow``, a NUL byte that truncates in C code, a
symlink inside the repository pointing at ``~/.ssh``); normalising it here, once, means no caller has to remember
the cases.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

_DRIVE = re.compile(r"^[A-Za-z]:")


class PathOutsideRepo(ValueError):
    """The path is absolute, escapes the repository root, contains a NUL byte, or resolves outside via a symlink."""


def safe_relpath(root: Path, user_path: str) -> str:
    """Return ``user_path`` as a normalised POSIX path relative to ``root`` (``"."`` for the root itself).

    Backslashes are treated as separators (a Windows client's ``src\\app.py`` means ``src/app.py``). The path need
    not exist, but every existing prefix is resolved, so a symlink whose target lies outside ``root`` is rejected.
    """
    if not isinstance(user_path, str):
        raise PathOutsideRepo(f"path must be a string, got {type(user_path).__name__}")
    if "\x00" in user_path:
        raise PathOutsideRepo("path contains a NUL byte")
    candidate = user_path.replace("\\", "/").strip()
    if candidate.startswith("/") or _DRIVE.match(candidate):
        raise PathOutsideRepo(f"absolute paths are not accepted: {user_path!r}")
    normalised = posixpath.normpath(candidate) if candidate else "."
    if normalised == ".." or normalised.startswith("../"):
        raise PathOutsideRepo(f"path escapes the repository: {user_path!r}")
    real_root = root.resolve()
    resolved = (real_root / normalised).resolve()  # strict=False: follows the symlinks that exist
    if resolved != real_root and not resolved.is_relative_to(real_root):
        raise PathOutsideRepo(f"path resolves outside the repository: {user_path!r}")
    return normalised


_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing"})
_TEST_NAME = re.compile(
    r"^(?:test_.*\.py|.*_test\.py|conftest\.py|.*_test\.go|.*\.(?:test|spec)\.[cm]?[jt]sx?|.*Tests?\.java)$"
)


def is_test_path(path: str) -> bool:
    """A test file by the conventions of pytest, Go, Jest/Vitest and JUnit (its directory or its name); review's
    rules, the debug loop's localisation and its edit guard all ask this one question."""
    parts = path.split("/")
    return any(part in _TEST_DIRS for part in parts[:-1]) or bool(_TEST_NAME.match(parts[-1]))
