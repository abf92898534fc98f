"""Shared fixtures: the packaged embedder (loaded once), a code index store on a fresh database, and a builder of
hand-made parsed files (the store's unit is storage and search, not parsing)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from projects.code_assistant.types import CodeChunk, ParsedFile, Reference, SourceFile, Symbol

FileItem = tuple[SourceFile, str, ParsedFile]


def build_file(
    path: str,
    text: str,
    defs: Sequence[tuple[str, str, int, int]] = (),
    refs: Sequence[tuple[str, int, str]] = (),
    *,
    language: str = "python",
    mtime_ns: int = 1,
) -> FileItem:
    """A file as the walker and parser would hand it over. ``defs``: (qualname, kind, start, end); each becomes a
    symbol (signature = its first line) and a chunk of exactly those lines. ``refs``: (name, line, kind)."""
    lines = text.split("\n")
    symbols, chunks = [], []
    for qualname, kind, start, end in defs:
        parent = qualname.rsplit(".", 1)[0] if "." in qualname else None
        signature = lines[start - 1].strip()
        name = qualname.rsplit(".", 1)[-1]
        symbols.append(Symbol(name, qualname, kind, path, start, end, signature, None, parent))  # type: ignore[arg-type]
        chunks.append(
            CodeChunk(path, start, end, "\n".join(lines[start - 1 : end]), kind, language, qualname, signature)  # type: ignore[arg-type]
        )
    if not defs and text:
        chunks.append(CodeChunk(path, 1, len(lines), text, "lines", language))  # type: ignore[arg-type]
    references = [Reference(name, path, line, kind) for name, line, kind in refs]  # type: ignore[arg-type]
    src = SourceFile(path, Path("/nonexistent") / path, len(text.encode()), mtime_ns, language)  # type: ignore[arg-type]
    parsed = ParsedFile(path, language, symbols, references, chunks)  # type: ignore[arg-type]
    return src, hashlib.sha256(text.encode()).hexdigest(), parsed


@pytest.fixture(scope="module")
def embedder():
    from shared.serving import get_embedder

    return get_embedder()


@pytest.fixture
def store(database_url: str, embedder):
    from projects.code_assistant.store import CodeIndexStore

    return CodeIndexStore(database_url, embedder)


@pytest.fixture
def make_file() -> Callable[..., FileItem]:
    return build_file
