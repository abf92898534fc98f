"""Real tree-sitter on small sources per language: symbols, signatures, docstrings, references, imports, and
chunks whose line ranges are exact; fallbacks for text, broken and empty files."""

from __future__ import annotations

from pathlib import Path

import pytest

from projects.code_assistant.parsing import chunk_header, embedding_text, parse_source
from projects.code_assistant.settings import CodeSettings
from projects.code_assistant.types import ParsedFile
from projects.code_assistant.walker import read_source, walk_repo

SETTINGS = CodeSettings()

PYTHON_SOURCE = '''"""Storage for items."""
import os
from pkg.models import Item as ItemModel, Base

MAX_ITEMS = 10


@cached
def load(path: str,
         strict: bool = False) -> list[str]:
    """Load lines from path."""
    return read_lines(os.path.join(path))


class Repository(Base):
    """Keeps items."""

    backend = "memory"

    def save(self, item: ItemModel) -> None:
        """Persist one item."""
        self.items.append(item)
        validate_item(item)

    class Cursor:
        def advance(self):
            return load("x")


if __name__ == "__main__":
    load("main")
'''


def _symbols(parsed: ParsedFile) -> dict[str, tuple[str, int, int, str, str | None]]:
    return {s.qualname: (s.kind, s.start_line, s.end_line, s.signature, s.docstring) for s in parsed.symbols}


def _assert_chunks_exact(parsed: ParsedFile, text: str) -> None:
    lines = text.split("\n")
    for chunk in parsed.chunks:
        expected = lines[chunk.start_line - 1 : chunk.end_line]
        if chunk.kind == "class" and chunk.text != "\n".join(expected):  # a large class's outline: a subsequence
            it = iter(expected)
            assert all(line in it for line in chunk.text.split("\n")), chunk
        else:
            assert chunk.text == "\n".join(expected), chunk


def test_python_symbols_signatures_docstrings() -> None:
    parsed = parse_source("pkg/repo.py", PYTHON_SOURCE, "python", SETTINGS)
    assert parsed.error is None
    symbols = _symbols(parsed)
    assert symbols["MAX_ITEMS"] == ("constant", 5, 5, "MAX_ITEMS = 10", None)
    assert symbols["load"] == (
        "function",
        8,
        12,
        "def load(path: str,\n         strict: bool = False) -> list[str]:",
        "Load lines from path.",
    )
    assert symbols["Repository"] == ("class", 15, 27, "class Repository(Base):", "Keeps items.")
    assert symbols["Repository.save"] == (
        "method",
        20,
        23,
        "def save(self, item: ItemModel) -> None:",
        "Persist one item.",
    )
    assert symbols["Repository.Cursor"][:3] == ("class", 25, 27)
    assert symbols["Repository.Cursor.advance"][0] == "method"
    save = next(s for s in parsed.symbols if s.qualname == "Repository.save")
    assert save.parent == "Repository" and save.name == "save" and save.path == "pkg/repo.py"


def test_python_references_and_imports() -> None:
    parsed = parse_source("pkg/repo.py", PYTHON_SOURCE, "python", SETTINGS)
    assert parsed.imports == ["os", "pkg.models"]
    refs = {(r.name, r.line, r.kind) for r in parsed.references}
    assert {
        ("read_lines", 12, "call"),
        ("join", 12, "call"),
        ("validate_item", 23, "call"),
        ("load", 27, "call"),
        ("append", 22, "call"),
        ("load", 31, "call"),
    } <= refs
    assert {("Item", 3, "import"), ("Base", 3, "import"), ("Base", 15, "name"), ("ItemModel", 20, "name")} <= refs
    names = {r.name for r in parsed.references}
    assert "Repository" not in names and "save" not in names  # definitions are not uses of themselves
    assert "self" not in names and "len" not in names and "strict" not in names  # noise and parameters


def test_python_chunks_are_exact_and_cover_module_code() -> None:
    parsed = parse_source("pkg/repo.py", PYTHON_SOURCE, "python", SETTINGS)
    _assert_chunks_exact(parsed, PYTHON_SOURCE)
    spans = [(c.kind, c.start_line, c.end_line, c.symbol) for c in parsed.chunks]
    assert spans == [
        ("module", 1, 5, None),
        ("function", 8, 12, "load"),
        ("class", 15, 27, "Repository"),  # small class: one chunk, methods inside it
        ("module", 30, 31, None),
    ]


def test_large_class_gets_an_outline_and_method_chunks_and_long_methods_are_windowed() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(30))
    methods = "\n\n".join(f'    def m{i}(self, a):\n        """M{i}."""\n{body}' for i in range(6))
    source = f'class Big:\n    """A big class."""\n\n    limit = 3\n\n{methods}\n'
    settings = CodeSettings(chunk_max_lines=40, line_chunk_overlap=5)
    parsed = parse_source("big.py", source, "python", settings)
    _assert_chunks_exact(parsed, source)
    outline = next(c for c in parsed.chunks if c.kind == "class")
    assert outline.symbol == "Big" and (outline.start_line, outline.end_line) == (1, len(source.split("\n")) - 1)
    assert "limit = 3" in outline.text and "    def m5(self, a):" in outline.text and "x0 = 0" not in outline.text
    methods_chunks = [c for c in parsed.chunks if c.kind == "method"]
    assert {c.symbol for c in methods_chunks} == {f"Big.m{i}" for i in range(6)}
    assert all(c.end_line - c.start_line + 1 <= 40 for c in methods_chunks)
    windows = [c for c in methods_chunks if c.symbol == "Big.m0"]
    assert len(windows) == 1  # 32 lines fit
    long_source = "def f():\n" + "\n".join(f"    y{i} = {i}" for i in range(100)) + "\n"
    long = parse_source("long.py", long_source, "python", settings)
    spans = [(c.start_line, c.end_line, c.symbol) for c in long.chunks]
    assert spans == [(1, 40, "f"), (36, 75, "f"), (71, 101, "f")]


def test_javascript_functions_classes_arrows_and_imports() -> None:
    source = """import thing, {alpha as beta} from "./util";
const fs = require("fs");

/** Adds two numbers. */
export const addNumbers = (left, right) => {
  return combine(left, right);
};

export default class Widget extends BaseWidget {
  // Draws it.
  render(target) {
    new Painter(target).paint();
    return this.layout();
  }
}

function* counter() {}
"""
    parsed = parse_source("src/widget.js", source, "javascript", SETTINGS)
    symbols = _symbols(parsed)
    assert symbols["addNumbers"] == ("function", 5, 7, "const addNumbers = (left, right) =>", "Adds two numbers.")
    assert symbols["Widget"][:4] == ("class", 9, 15, "class Widget extends BaseWidget")
    assert symbols["Widget.render"] == ("method", 11, 14, "render(target)", "Draws it.")
    assert symbols["counter"][0] == "function"
    assert parsed.imports == ["./util", "fs"]
    refs = {(r.name, r.line, r.kind) for r in parsed.references}
    assert {
        ("combine", 6, "call"),
        ("Painter", 12, "call"),
        ("paint", 12, "call"),
        ("layout", 13, "call"),
        ("alpha", 1, "import"),
        ("thing", 1, "import"),
        ("BaseWidget", 9, "name"),
    } <= refs
    _assert_chunks_exact(parsed, source)
    arrow_chunks = [(c.kind, c.start_line, c.symbol) for c in parsed.chunks if c.symbol == "addNumbers"]
    assert arrow_chunks == [("function", 4, "addNumbers")]  # starts at its JSDoc comment


def test_typescript_interfaces_types_enums_and_tsx() -> None:
    source = """/** A shape. */
export interface Shape<T> extends Base {
  area(): number;
}
type Id = string | number;
enum Color { Red, Green }
abstract class Square implements Shape<number> {
  constructor(private side: number) { super(); }
  area(): number { return computeArea(this.side); }
}
export function makeSquare(side: number): Square { return new Unit(side); }
"""
    parsed = parse_source("src/shape.ts", source, "typescript", SETTINGS)
    symbols = _symbols(parsed)
    assert symbols["Shape"] == ("interface", 2, 4, "interface Shape<T> extends Base", "A shape.")
    assert symbols["Id"][:2] == ("type", 5) and symbols["Color"][0] == "enum"
    assert symbols["Square"][0] == "class" and symbols["Square.area"][:3] == ("method", 9, 9)
    assert symbols["makeSquare"][3] == "function makeSquare(side: number): Square"  # the export stays outside
    refs = {(r.name, r.kind) for r in parsed.references}
    assert {("computeArea", "call"), ("Unit", "call"), ("Base", "name")} <= refs
    tsx = parse_source(
        "src/App.tsx", "export function App(props: Props) {\n  return <div>{props.title}</div>;\n}\n", "tsx", SETTINGS
    )
    assert tsx.error is None and _symbols(tsx)["App"][:3] == ("function", 1, 3)


def test_go_structs_interfaces_methods_with_receiver() -> None:
    source = """package store

import (
\t"fmt"
\tdb "example.com/db"
)

// Store keeps rows.
type Store struct {
\tconn *db.Conn
}

type Reader interface {
\tRead() ([]byte, error)
}

const MaxRows = 10

// Save writes one row.
func (s *Store) Save(row Row) error {
\treturn fmt.Errorf("save %v", s.conn.Exec(row))
}

func NewStore() *Store { return &Store{} }
"""
    parsed = parse_source("store/store.go", source, "go", SETTINGS)
    symbols = _symbols(parsed)
    assert symbols["Store"] == ("struct", 9, 11, "type Store struct", "Store keeps rows.")
    assert symbols["Reader"][:2] == ("interface", 13)
    assert symbols["MaxRows"][0] == "constant"
    assert symbols["Store.Save"] == ("method", 20, 22, "func (s *Store) Save(row Row) error", "Save writes one row.")
    assert symbols["NewStore"][:2] == ("function", 24)
    assert parsed.imports == ["fmt", "example.com/db"]
    refs = {(r.name, r.line, r.kind) for r in parsed.references}
    assert {("Errorf", 21, "call"), ("Exec", 21, "call"), ("Row", 20, "name")} <= refs
    _assert_chunks_exact(parsed, source)
    assert next(c for c in parsed.chunks if c.symbol == "Store.Save").start_line == 19  # includes its comment


def test_java_classes_interfaces_enums_methods() -> None:
    source = """package app;

import java.util.List;

/** A user service. */
public class UserService extends Base {
  public UserService() {}

  /** Finds users. */
  public List<User> find(String name) {
    return repository.findAll(new Query(name));
  }

  interface Listener { void onUser(User user); }

  enum Role { ADMIN, USER }
}
"""
    parsed = parse_source("src/UserService.java", source, "java", SETTINGS)
    symbols = _symbols(parsed)
    assert symbols["UserService"] == ("class", 6, 17, "public class UserService extends Base", "A user service.")
    assert symbols["UserService.UserService"][0] == "method"
    assert symbols["UserService.find"] == ("method", 10, 12, "public List<User> find(String name)", "Finds users.")
    assert symbols["UserService.Listener"][0] == "interface"
    assert symbols["UserService.Listener.onUser"][3] == "void onUser(User user);"
    assert symbols["UserService.Role"][0] == "enum"
    assert parsed.imports == ["java.util.List"]
    refs = {(r.name, r.kind) for r in parsed.references}
    assert {("findAll", "call"), ("Query", "call"), ("List", "import"), ("User", "name")} <= refs


def test_text_and_language_without_grammar_fall_back_to_line_windows() -> None:
    source = "\n".join(f"line {i}" for i in range(1, 131)) + "\n"
    settings = CodeSettings(line_chunk_lines=60, line_chunk_overlap=10)
    parsed = parse_source("notes.rs", source, "text", settings)
    assert parsed.error is None and parsed.symbols == []
    assert [(c.kind, c.start_line, c.end_line) for c in parsed.chunks] == [
        ("lines", 1, 60),
        ("lines", 51, 110),
        ("lines", 101, 130),
    ]
    _assert_chunks_exact(parsed, source)


def test_a_file_that_fails_to_parse_falls_back_with_an_error() -> None:
    source = "def broken(:\n  ???\n  )))\n"
    parsed = parse_source("bad.py", source, "python", SETTINGS)
    assert parsed.error is not None and parsed.symbols == []
    assert [(c.kind, c.start_line, c.end_line) for c in parsed.chunks] == [("lines", 1, 3)]


def test_a_small_syntax_error_keeps_the_symbols() -> None:
    source = "def good():\n    return 1\n\n\ndef other(:\n    pass\n\n\ndef fine():\n    return 2\n" * 3
    parsed = parse_source("mostly_ok.py", source, "python", SETTINGS)
    assert parsed.error is None and {"good", "fine"} <= {s.name for s in parsed.symbols}


def test_empty_and_whitespace_files_have_no_chunks() -> None:
    for text in ("", "\n\n   \n"):
        parsed = parse_source("empty.py", text, "python", SETTINGS)
        assert parsed.chunks == [] and parsed.symbols == [] and parsed.error is None


def test_line_numbers_survive_form_feeds_and_unicode_separators() -> None:
    source = "x = 1\n\x0c\ns = 'a\u2028b'\n\n\ndef after():\n    return x\n"
    parsed = parse_source("ff.py", source, "python", SETTINGS)
    assert _symbols(parsed)["after"][1:3] == (6, 7)
    _assert_chunks_exact(parsed, source)


def test_cp1252_source_is_walked_read_and_parsed(tmp_path: Path) -> None:
    source = 'def café():\r\n    """Crème brûlée – naïve."""\r\n    return 1\r\n'
    (tmp_path / "legacy.py").write_bytes(source.encode("cp1252"))
    [source_file] = list(walk_repo(tmp_path, SETTINGS))
    text = read_source(source_file)
    parsed = parse_source(source_file.path, text, source_file.language, SETTINGS)
    assert _symbols(parsed)["café"] == ("function", 1, 3, "def café():", "Crème brûlée – naïve.")


def test_chunk_header_names_path_symbol_and_signature() -> None:
    parsed = parse_source("pkg/repo.py", PYTHON_SOURCE, "python", SETTINGS)
    load = next(c for c in parsed.chunks if c.symbol == "load")
    assert chunk_header(load) == "# pkg/repo.py · load · def load(path: str, strict: bool = False) -> list[str]:"
    assert embedding_text(load) == chunk_header(load) + "\n" + load.text
    module = parsed.chunks[0]
    assert chunk_header(module) == "# pkg/repo.py · module, lines 1-5"


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "tsx", "go", "java"])
def test_every_grammar_survives_garbage(language: str) -> None:
    parsed = parse_source("junk", "\x01\x02 {{{{ ]]]] ((((\n" * 5, language, SETTINGS)
    assert parsed.chunks and all(c.kind == "lines" for c in parsed.chunks)
