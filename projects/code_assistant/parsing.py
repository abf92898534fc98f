"""Turn one file's text into symbols, references, imports and symbol-aware chunks with tree-sitter.

One algorithm for every grammar, driven by the tables in :mod:`languages`:

* **Definitions** are found by walking statement-level nodes only (module, class bodies, ``if``/``try`` blocks,
  namespaces), never function bodies, so the walk costs little more than the number of top-level statements.
  Definitions nested in functions are part of their function, not symbols of their own.
* **References** come from one compiled query per language, matched in C; Python only filters the captures
  (binding positions, builtins, the definitions' own names) and keeps one reference per (name, line).
* **Chunks**: one per function/method; a class that fits in ``chunk_max_lines`` is one chunk, a larger one gets an
  *outline* chunk (its header, docstring and attributes plus its methods' signatures) and one chunk per method;
  top-level code outside definitions becomes ``module`` windows; anything longer than ``chunk_max_lines`` is split
  into windows that keep their ``symbol``. A definition's chunk starts at its leading comment block.

Chunk text is always the file's exact lines ``start_line..end_line`` (joined by ``\\n``), with one exception: the
class outline, whose lines are a subsequence of the class's lines, in order. The context header that helps
embedding retrieval (``# path · Class.method · def save(...)``) is *not* part of the text, so citations, FIM
context and full-text search see real code; :func:`embedding_text` prepends it for the embedder.

Text files, languages without a grammar, and files that fail to parse (the root is an error node, top-level
errors cover most of the file, or tree-sitter raised) get line windows; a failure sets ``ParsedFile.error``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from tree_sitter import Node, QueryCursor

from projects.code_assistant.languages import SPECS, LanguageSpec, parser_for, reference_query
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.types import (
    ChunkKind,
    CodeChunk,
    Language,
    ParsedFile,
    Reference,
    ReferenceKind,
    Symbol,
    SymbolKind,
)

SIGNATURE_MAX_LINES = 8
SIGNATURE_MAX_CHARS = 400
DOCSTRING_MAX_CHARS = 2000
_HEADER_SIGNATURE_CHARS = 160
_CLASS_KINDS: frozenset[SymbolKind] = frozenset({"class", "interface", "struct", "enum", "type"})
_ELLIPSIS = " …"


class _ParseFailure(Exception):
    """The tree is too broken for its structure to mean anything: fall back to line windows."""


@dataclass(slots=True)
class _Definition:
    symbol: Symbol
    chunk_start: int  # first line of the chunk: the leading comment block, else the symbol's first line
    header_end: int  # last line of the header (signature); the outline of a large class shows these lines
    children: list[_Definition] = field(default_factory=list)


def parse_source(path: str, text: str, language: Language, settings: CodeSettings | None = None) -> ParsedFile:
    """Parse ``text`` (already decoded, ``\\n`` newlines) of the file at repository-relative ``path``."""
    settings = settings or get_code_settings()
    lines = _split_lines(text)
    if not lines:
        return ParsedFile(path=path, language=language)
    spec = SPECS.get(language)
    parser = parser_for(language) if spec is not None else None
    if spec is None or parser is None:
        return ParsedFile(path=path, language=language, chunks=line_chunks(path, lines, language, settings))
    try:
        source = text.encode("utf-8")
        tree = parser.parse(source)
        _check_tree(tree.root_node, len(lines))
        return _Extractor(path, source, lines, language, spec, settings).run(tree.root_node)
    except Exception as exc:  # any failure in a grammar or in extraction must not lose the file
        message = f"{type(exc).__name__}: {exc}"[:300]
        return ParsedFile(
            path=path, language=language, chunks=line_chunks(path, lines, language, settings), error=message
        )


def line_chunks(path: str, lines: list[str], language: Language, settings: CodeSettings) -> list[CodeChunk]:
    """Overlapping windows of ``line_chunk_lines`` (the fallback for text and unparseable files)."""
    chunks = []
    for start, end in _windows(1, len(lines), settings.line_chunk_lines, settings.line_chunk_overlap):
        body = lines[start - 1 : end]
        if any(line.strip() for line in body):
            chunks.append(CodeChunk(path, start, end, "\n".join(body), "lines", language))
    return chunks


def chunk_header(chunk: CodeChunk) -> str:
    """One comment line naming where a chunk comes from: ``# pkg/repo.py · Repository.save · def save(self):``."""
    prefix = "#" if chunk.language in ("python", "text") else "//"
    parts = [chunk.path]
    if chunk.symbol:
        parts.append(chunk.symbol)
        if chunk.signature:
            first = " ".join(chunk.signature.split())
            parts.append(first if len(first) <= _HEADER_SIGNATURE_CHARS else first[:_HEADER_SIGNATURE_CHARS] + "…")
    elif chunk.kind == "module":
        parts.append(f"module, lines {chunk.start_line}-{chunk.end_line}")
    else:
        parts.append(f"lines {chunk.start_line}-{chunk.end_line}")
    return f"{prefix} {' · '.join(parts)}"


def embedding_text(chunk: CodeChunk) -> str:
    """What to embed for a chunk: its context header, then its text (the header names the file and the symbol,
    which the code itself often does not)."""
    return f"{chunk_header(chunk)}\n{chunk.text}"


# -- internals ----------------------------------------------------------------------------------------------


def _split_lines(text: str) -> list[str]:
    """Lines as editors and tree-sitter count them: split on ``\\n`` only (``str.splitlines`` also splits on form
    feeds and U+2028, which would shift every line number after them)."""
    if not text.strip():
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _check_tree(root: Node, line_count: int) -> None:
    if root.is_error or root.type == "ERROR":
        raise _ParseFailure("the whole file is a syntax error")
    if not root.has_error:
        return
    broken = 0
    for child in root.children:
        if child.type == "ERROR":
            broken += child.end_point.row - child.start_point.row + 1
    if broken * 2 > line_count:
        raise _ParseFailure(f"syntax errors cover {broken} of {line_count} lines at the top level")


def _start_line(node: Node) -> int:
    return node.start_point.row + 1


def _end_line(node: Node) -> int:
    row, column = node.end_point
    if column == 0 and row > node.start_point.row:  # ends just after a newline: the last line is the one before
        row -= 1
    return row + 1


def _windows(start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    step = max(1, size - min(overlap, size - 1))
    spans = []
    first = start
    while True:
        last = min(end, first + size - 1)
        spans.append((first, last))
        if last >= end:
            return spans
        first += step


def _cap_signature(raw: str) -> str:
    lines = [line.rstrip() for line in raw.strip().split("\n")]
    capped = len(lines) > SIGNATURE_MAX_LINES
    signature = "\n".join(lines[:SIGNATURE_MAX_LINES])
    if len(signature) > SIGNATURE_MAX_CHARS:
        signature, capped = signature[:SIGNATURE_MAX_CHARS], True
    return signature + _ELLIPSIS if capped else signature


def _clean_comment(raw: str) -> str:
    text = raw.strip()
    if text.startswith("/*"):
        text = text[3:] if text.startswith("/**") else text[2:]
        text = text.removesuffix("*/")
        cleaned = []
        for line in text.split("\n"):
            stripped = line.strip()
            cleaned.append(stripped[1:].strip() if stripped.startswith("*") else stripped)
        return "\n".join(cleaned).strip()
    if text.startswith("//"):
        return text.lstrip("/").strip()
    if text.startswith("#"):
        return text.lstrip("#").strip()
    return text


def _python_string(raw: str) -> str:
    body = raw.lstrip("rRbBuUfF")
    for quote in ('"""', "'''", '"', "'"):
        if body.startswith(quote) and body.endswith(quote) and len(body) >= 2 * len(quote):
            body = body[len(quote) : -len(quote)]
            break
    return inspect.cleandoc(body)


class _Extractor:
    """Extraction state for one parse: the source, its lines, and the definitions' name positions."""

    def __init__(
        self,
        path: str,
        source: bytes,
        lines: list[str],
        language: Language,
        spec: LanguageSpec,
        settings: CodeSettings,
    ) -> None:
        self.path = path
        self.source = source
        self.lines = lines
        self.language = language
        self.spec = spec
        self.settings = settings
        self.name_bytes: set[int] = set()  # start bytes of definitions' names: not references

    def run(self, root: Node) -> ParsedFile:
        definitions: list[_Definition] = []
        self._collect(root, [], False, definitions)
        result = ParsedFile(path=self.path, language=self.language)
        _flatten(definitions, result.symbols)
        result.references, result.imports = self._references(root)
        result.chunks = self._chunks(definitions)
        return result

    # -- definitions ----------------------------------------------------------------------------------------

    def _collect(self, node: Node, scope: list[str], in_class: bool, out: list[_Definition]) -> None:
        for child in node.named_children:
            found = self._definitions(child, scope, in_class)
            if found:
                out.extend(found)
            elif child.type in self.spec.transparent:
                self._collect(child, scope, in_class, out)

    def _definitions(self, outer: Node, scope: list[str], in_class: bool) -> list[_Definition]:
        node = outer
        inner_field = self.spec.wrappers.get(node.type)
        if inner_field is not None:
            inner = node.child_by_field_name(inner_field)
            if inner is None:
                return []
            node = inner
        kind = self.spec.definitions.get(node.type)
        if kind is not None:
            return self._named_definition(outer, node, kind, scope, in_class)
        if self.language == "python" and node.type == "expression_statement" and not scope:
            return self._python_constant(outer, node)
        if self.language in ("javascript", "typescript", "tsx") and node.type in (
            "lexical_declaration",
            "variable_declaration",
        ):
            return self._js_declarators(outer, node, scope)
        if self.language == "go" and node.type in ("type_declaration", "const_declaration"):
            return self._go_declaration(node)
        return []

    def _named_definition(
        self, outer: Node, node: Node, kind: SymbolKind, scope: list[str], in_class: bool
    ) -> list[_Definition]:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return []
        name = name_node.text.decode("utf-8", "replace")
        if self.language == "go" and node.type == "method_declaration":
            receiver = _go_receiver_type(node.child_by_field_name("receiver"))
            scope = [receiver] if receiver else scope
        elif kind == "function" and in_class:
            kind = "method"
        body = node.child_by_field_name("body")
        definition = self._make(outer, node, name_node, name, kind, scope, body)
        if node.type in self.spec.members and body is not None:
            self._collect(body, [*scope, name], True, definition.children)
        return [definition]

    def _python_constant(self, outer: Node, node: Node) -> list[_Definition]:
        assignment = node.named_child(0)
        if assignment is None or assignment.type != "assignment":
            return []
        target = assignment.child_by_field_name("left")
        if target is None or target.type != "identifier":
            return []
        name = target.text.decode("utf-8", "replace")
        if name == "__all__":
            return []
        return [self._make(outer, node, target, name, "constant", [], None)]

    def _js_declarators(self, outer: Node, node: Node, scope: list[str]) -> list[_Definition]:
        found = []
        top_level = outer.parent is not None and outer.parent.type in ("program", "statement_block")
        for declarator in node.named_children:
            if declarator.type != "variable_declarator":
                continue
            name_node = declarator.child_by_field_name("name")
            value = declarator.child_by_field_name("value")
            if name_node is None or name_node.type != "identifier" or value is None:
                continue
            name = name_node.text.decode("utf-8", "replace")
            if value.type in ("arrow_function", "function_expression", "function", "generator_function"):
                body = value.child_by_field_name("body")
                found.append(self._make(outer, node, name_node, name, "function", scope, body))
            elif top_level and name.isupper() and len(name) > 1:
                found.append(self._make(outer, node, name_node, name, "constant", scope, None))
        return found

    def _go_declaration(self, node: Node) -> list[_Definition]:
        specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias", "const_spec")]
        found = []
        for spec in specs:
            outer = node if len(specs) == 1 else spec
            if spec.type == "const_spec":
                for name_node in spec.children_by_field_name("name"):
                    name = name_node.text.decode("utf-8", "replace")
                    found.append(self._make(outer, outer, name_node, name, "constant", [], None))
                continue
            name_node = spec.child_by_field_name("name")
            if name_node is None:
                continue
            type_node = spec.child_by_field_name("type")
            kind: SymbolKind = "type"
            body = None
            if spec.type == "type_spec" and type_node is not None:
                if type_node.type == "struct_type":
                    kind = "struct"
                    body = next((c for c in type_node.named_children if c.type == "field_declaration_list"), None)
                elif type_node.type == "interface_type":
                    kind = "interface"
            name = name_node.text.decode("utf-8", "replace")
            found.append(self._make(outer, outer, name_node, name, kind, [], body))
        return found

    def _make(
        self, outer: Node, node: Node, name_node: Node, name: str, kind: SymbolKind, scope: list[str], body: Node | None
    ) -> _Definition:
        self.name_bytes.add(name_node.start_byte)
        start, end = _start_line(outer), _end_line(outer)
        if body is not None and body.start_byte > node.start_byte:
            raw = self.source[node.start_byte : body.start_byte].decode("utf-8", "replace")
            body_row, body_col = body.start_point
            before_body = self.lines[body_row][:body_col] if body_row < len(self.lines) else ""
            header_end = body_row + 1 if before_body.strip() else max(_start_line(node), body_row)
        else:
            # no body (an interface, an abstract method, a type alias): the definition's first line
            raw = self.source[node.start_byte : node.end_byte].split(b"\n", 1)[0].decode("utf-8", "replace")
            raw = raw.rstrip().removesuffix("{")
            header_end = node.start_point.row + 1
        signature = _cap_signature(raw)
        docstring, comment_start = self._docstring(outer, body)
        qualname = ".".join([*scope, name])
        symbol = Symbol(
            name=name,
            qualname=qualname,
            kind=kind,
            path=self.path,
            start_line=start,
            end_line=end,
            signature=signature,
            docstring=docstring,
            parent=".".join(scope) or None,
        )
        return _Definition(symbol=symbol, chunk_start=min(start, comment_start), header_end=min(header_end, end))

    def _docstring(self, outer: Node, body: Node | None) -> tuple[str | None, int]:
        """The Python docstring, or the comment block right above the definition; and where that block starts."""
        start = _start_line(outer)
        if self.language == "python":
            if body is None or body.type != "block":
                return None, start
            first = body.named_child(0)
            if first is not None and first.type == "expression_statement" and first.named_child_count == 1:
                string = first.named_child(0)
                if string is not None and string.type == "string":
                    text = _python_string(string.text.decode("utf-8", "replace"))
                    return (text[:DOCSTRING_MAX_CHARS] or None), start
            return None, start
        comments: list[str] = []
        expected_row = outer.start_point.row
        sibling = outer.prev_sibling
        while sibling is not None and sibling.type in self.spec.comments:
            row = sibling.start_point.row
            if sibling.end_point.row < expected_row - 1 or self.lines[row][: sibling.start_point.column].strip():
                break  # a blank line in between, or a trailing comment of the previous statement
            comments.append(_clean_comment(sibling.text.decode("utf-8", "replace")))
            start = row + 1
            expected_row = row
            sibling = sibling.prev_sibling
        text = "\n".join(reversed(comments)).strip()
        return (text[:DOCSTRING_MAX_CHARS] or None), start

    # -- references -----------------------------------------------------------------------------------------

    def _references(self, root: Node) -> tuple[list[Reference], list[str]]:
        captures = QueryCursor(reference_query(self.language)).captures(root)
        skip = self.name_bytes | {node.start_byte for node in captures.get("skip", ())}
        ignore = self.spec.ignore_names
        found: dict[tuple[str, int], ReferenceKind] = {}
        imports: list[str] = []
        for node in captures.get("import", ()):
            module = node.text.decode("utf-8", "replace")
            if module not in imports:
                imports.append(module)
            found.setdefault((module, node.start_point.row + 1), "import")
        for node in captures.get("import_name", ()):
            found.setdefault((node.text.decode("utf-8", "replace"), node.start_point.row + 1), "import")
        for capture, kind, filtered in (
            ("call.member", "call", False),
            ("call", "call", True),
            ("name.member", "name", False),
            ("name", "name", True),
        ):
            for node in captures.get(capture, ()):
                if node.start_byte in skip:
                    continue
                name = node.text.decode("utf-8", "replace")
                if filtered and (name in ignore or len(name) < 2):
                    continue
                found.setdefault((name, node.start_point.row + 1), kind)
        return [Reference(name, self.path, line, kind) for (name, line), kind in found.items()], imports

    # -- chunks ---------------------------------------------------------------------------------------------

    def _chunks(self, definitions: list[_Definition]) -> list[CodeChunk]:
        covered = bytearray(len(self.lines) + 2)
        chunks: list[CodeChunk] = []
        for definition in definitions:
            self._emit(definition, chunks, covered)
        chunks.extend(self._module_chunks(covered))
        chunks.sort(key=lambda c: (c.start_line, -c.end_line))
        return chunks

    def _emit(self, definition: _Definition, chunks: list[CodeChunk], covered: bytearray) -> None:
        symbol = definition.symbol
        if symbol.kind == "constant":
            return  # constants stay in the module chunks around them
        start, end = definition.chunk_start, symbol.end_line
        kind: ChunkKind = "class" if symbol.kind in _CLASS_KINDS else symbol.kind  # type: ignore[assignment]
        covered[start : end + 1] = b"\x01" * (end - start + 1)
        too_long = end - start + 1 > self.settings.chunk_max_lines
        members = [c for c in definition.children if c.symbol.kind != "constant"]
        if kind == "class" and too_long and members:
            chunks.append(self._outline(definition, members))
            for member in members:
                self._emit(member, chunks, covered)
            return
        for first, last in _windows(start, end, self.settings.chunk_max_lines, self.settings.line_chunk_overlap):
            text = "\n".join(self.lines[first - 1 : last])
            chunk = CodeChunk(self.path, first, last, text, kind, self.language, symbol.qualname, symbol.signature)
            chunks.append(chunk)

    def _outline(self, definition: _Definition, members: list[_Definition]) -> CodeChunk:
        """A large class in one chunk: the lines before its first member, then each member's header lines."""
        symbol = definition.symbol
        picked = list(range(definition.chunk_start, members[0].chunk_start))
        for member in members:
            picked.extend(range(member.symbol.start_line, member.header_end + 1))
        picked = picked[: self.settings.chunk_max_lines]
        text = "\n".join(self.lines[i - 1] for i in picked if self.lines[i - 1].strip())
        start, end = definition.chunk_start, symbol.end_line
        return CodeChunk(self.path, start, end, text, "class", self.language, symbol.qualname, symbol.signature)

    def _module_chunks(self, covered: bytearray) -> list[CodeChunk]:
        chunks = []
        line, total = 1, len(self.lines)
        while line <= total:
            if covered[line]:
                line += 1
                continue
            run_start = line
            while line <= total and not covered[line]:
                line += 1
            first, last = run_start, line - 1
            while first <= last and not self.lines[first - 1].strip():
                first += 1
            while last >= first and not self.lines[last - 1].strip():
                last -= 1
            if first > last:
                continue
            size, overlap = self.settings.line_chunk_lines, self.settings.line_chunk_overlap
            for start, end in _windows(first, last, size, overlap):
                text = "\n".join(self.lines[start - 1 : end])
                chunks.append(CodeChunk(self.path, start, end, text, "module", self.language))
        return chunks


def _flatten(definitions: list[_Definition], out: list[Symbol]) -> None:
    for definition in definitions:
        out.append(definition.symbol)
        _flatten(definition.children, out)


def _go_receiver_type(receiver: Node | None) -> str | None:
    """``(s *Server[T])`` → ``Server``: the type a Go method belongs to (its qualname's first part)."""
    if receiver is None:
        return None
    for parameter in receiver.named_children:
        type_node = parameter.child_by_field_name("type")
        while type_node is not None and type_node.type in ("pointer_type", "generic_type", "parenthesized_type"):
            inner = type_node.child_by_field_name("type")
            type_node = inner if inner is not None else type_node.named_child(0)
        if type_node is not None:
            return type_node.text.decode("utf-8", "replace")
    return None
