"""What indexing produces: source files, the symbols and references in them, and the chunks that get embedded.

Plain slotted dataclasses rather than pydantic models: indexing a large repository creates hundreds of thousands
of these, and they never cross an API boundary as-is (the API has its own response models).

Lines are 1-based and inclusive everywhere (``path:start-end`` is what citations show).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# languages with a tree-sitter grammar installed; everything else indexable is "text" (line chunks)
Language = Literal["python", "javascript", "typescript", "tsx", "go", "java", "text"]
SymbolKind = Literal["function", "method", "class", "interface", "struct", "type", "enum", "constant"]
ChunkKind = Literal["function", "method", "class", "module", "lines"]
ReferenceKind = Literal["call", "import", "name"]


@dataclass(slots=True, frozen=True)
class SourceFile:
    """A file the walker decided to index (text, not ignored, not vendored/generated, under the size cap)."""

    path: str  # POSIX path relative to the repository root; never absolute, never contains ".."
    abs_path: Path
    size: int
    mtime_ns: int
    language: Language


@dataclass(slots=True)
class Symbol:
    """A definition: where it is, what it is called, and what a caller needs to know about it."""

    name: str  # "save"
    qualname: str  # "Repository.save" (enclosing classes joined by '.')
    kind: SymbolKind
    path: str
    start_line: int
    end_line: int
    signature: str  # the header line(s) up to the body: "def save(self, item: Item) -> None:"
    docstring: str | None = None
    parent: str | None = None  # qualname of the enclosing class, if any


@dataclass(slots=True)
class Reference:
    """A use of a name (call, import, or bare identifier) at one line; feeds "where is X used" and the repo map."""

    name: str
    path: str
    line: int
    kind: ReferenceKind


@dataclass(slots=True)
class CodeChunk:
    """One embedded/searchable unit: a whole function/method/class, a module header, or a window of lines."""

    path: str
    start_line: int
    end_line: int
    text: str
    kind: ChunkKind
    language: Language
    symbol: str | None = None  # qualname when the chunk is a definition
    signature: str | None = None


@dataclass(slots=True)
class ParsedFile:
    """Everything indexing extracts from one file. ``error`` is set when parsing fell back to line chunks."""

    path: str
    language: Language
    symbols: list[Symbol] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    chunks: list[CodeChunk] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # imported module paths as written ("pkg.mod", "./util")
    error: str | None = None
