"""Generate documentation: a docstring for one definition (or a module), and a README section for a package.

The model writes prose only; everything structural is deterministic. For a docstring the model sees the
definition's code (plus the signatures of same-file functions it calls) and returns the text; this module cleans
that text (models wrap it in fences, quotes, restate the signature, keep talking afterwards), formats it in the
language's convention and inserts it at the one right place, so a review of the diff shows exactly the new lines.
The result is re-parsed and refused if the file no longer parses or the docstring did not land on the target.

For a README section the public API list comes from the parsed symbols (never invented); the model writes the
overview and the usage example from a bounded repo map.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tree_sitter import Node

from projects.code_assistant.edits import file_diff
from projects.code_assistant.languages import language_for_name, parser_for
from projects.code_assistant.parsing import parse_source
from projects.code_assistant.repomap import build_repo_map
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.types import Language, ParsedFile, Reference, Symbol
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest

DocStyle = Literal["google", "numpy", "rest", "plain", "jsdoc", "javadoc", "godoc"]

_CODE_LANGUAGES: frozenset[Language] = frozenset({"python", "javascript", "typescript", "tsx", "go", "java"})
_STYLE_HINTS: dict[DocStyle, str] = {
    "google": "Google style: first a sentence saying what it does; then, where they apply, an 'Args:' section with "
    "one indented 'name: description' line per parameter, and 'Returns:' and 'Raises:' sections.",
    "numpy": "NumPy style: first a sentence saying what it does; then 'Parameters' and 'Returns' sections, each "
    "underlined with dashes.",
    "rest": "reStructuredText style: first a sentence saying what it does; then ':param name:' and ':returns:' lines.",
    "plain": "One or two plain sentences saying what it does and why; no sections.",
    "jsdoc": "JSDoc: first a sentence saying what it does; then '@param {type} name description' and '@returns' "
    "lines where they apply. Do not write the /** */ markers.",
    "javadoc": "Javadoc: first a sentence saying what it does; then '@param name description', '@return' and "
    "'@throws' lines where they apply. Do not write the /** */ markers.",
    "godoc": "A Go doc comment: full sentences starting with the name being documented. Do not write the // markers.",
}
_SYSTEM = (
    "You write documentation comments for source code. Reply with the documentation text only: no code, no "
    "code fences, no quotes or comment markers, and do not repeat the signature."
)
_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_TRIPLE = re.compile(r'^[ \t]*[rRuU]?("""|\'\'\')(.*?)(?:\1|\Z)', re.DOTALL | re.MULTILINE)
_DECORATOR = re.compile(r"^@(?!(?:param|returns?|throws|type|see|deprecated|since|example|file)\b)[\w.]+(?:\(.*\))?$")
_PREAMBLE = re.compile(
    r"^(?:here(?:'s| is)\b.*|sure\b.*|certainly\b.*"
    r"|(?:the\s+)?(?:doc ?string|doc comment|documentation|comment)\s*:.*)$",
    re.IGNORECASE,
)
_SIGNATURE_LINE = re.compile(
    r"^\s*(?:(?:async\s+)?def\s|class\s|function[\s*]|func\s|(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b"
    r"|(?:public|private|protected|static|final|abstract)\s.*[({]\s*$|interface\s|type\s+\w+\s+(?:struct|interface))"
)
_CODE_AFTER = re.compile(r"^\s*(?:def |class |return\b|import |from \S+ import |func |function |\}|pass$|raise )")
_SECTION_STYLES: tuple[tuple[DocStyle, re.Pattern[str]], ...] = (
    ("numpy", re.compile(r"^\s*(?:Parameters|Returns|Raises|Yields|Examples)\s*\n\s*-{3,}", re.MULTILINE)),
    ("rest", re.compile(r"^\s*:(?:param|returns?|rtype|raises?|type)\b", re.MULTILINE)),
    ("google", re.compile(r"^\s*(?:Args|Arguments|Returns|Raises|Yields|Attributes|Examples?):\s*$", re.MULTILINE)),
)


class DocumentError(ValueError):
    """The docstring cannot be produced or placed: unknown target, unsupported file, or an unusable model answer."""


@dataclass(slots=True)
class DocResult:
    """A proposed docstring: the new file text and the diff a user accepts or not (their file is never written)."""

    path: str
    target: str | None  # qualname, or None for the module
    language: Language
    style: DocStyle
    docstring: str  # the cleaned text, without quotes or comment markers
    new_source: str
    diff: str  # unified diff a/path -> b/path
    start_line: int  # lines of the inserted block in the new file (1-based, inclusive)
    end_line: int
    replaced: bool  # an existing docstring/doc comment was replaced


@dataclass(slots=True)
class _Placement:
    """Where the block goes: lines ``first..last`` (0-based, ``last`` exclusive) are replaced by the block."""

    first: int
    last: int
    indent: str


class Documenter:
    """Docstrings and README sections from a chat model; pure functions of their input (no file is written)."""

    def __init__(self, chat: ChatModel, settings: CodeSettings | None = None) -> None:
        self.chat = chat
        self.settings = settings or get_code_settings()

    # -- docstrings -------------------------------------------------------------------------------------------

    def docstring(self, path: str, source: str, target: str | None = None) -> DocResult:
        """Generate and insert the docstring of ``target`` (a qualname such as ``Repo.save``; None: the module)."""
        language = language_for_name(path.rsplit("/", 1)[-1])
        if language not in _CODE_LANGUAGES:
            raise DocumentError(f"no grammar for {path!r}: docstrings need Python, JavaScript/TypeScript, Go or Java")
        parsed = parse_source(path, source, language, self.settings)
        if parsed.error:
            raise DocumentError(f"{path} does not parse ({parsed.error}); fix the syntax first")
        symbol = _find_symbol(parsed, target) if target is not None else None
        style = detect_style(parsed) if language == "python" else _LANGUAGE_STYLE[language]
        lines = source.split("\n")
        placement = _placement(language, source, lines, symbol)
        text = clean_docstring(self._ask(path, source, parsed, symbol, style), symbol, self.settings)
        block = format_docstring(
            text, language, placement.indent, symbol, _go_package(source) if language == "go" else ""
        )
        newline = "\r" if "\r\n" in source else ""  # keep a CRLF file CRLF
        block_lines = [line + newline for line in block]
        if language == "python" and symbol is None and placement.first == placement.last:
            following = lines[placement.first] if placement.first < len(lines) else ""
            if following.strip():  # a module docstring is followed by a blank line before the code
                block_lines.append(newline)
        new_lines = lines[: placement.first] + block_lines + lines[placement.last :]
        new_source = "\n".join(new_lines)
        _verify(path, source, new_source, language, symbol.qualname if symbol is not None else None)
        return DocResult(
            path=path,
            target=target,
            language=language,
            style=style,
            docstring=text,
            new_source=new_source,
            diff=file_diff(path, source, new_source),
            start_line=placement.first + 1,
            end_line=placement.first + len(block),
            replaced=placement.last > placement.first,
        )

    def _ask(self, path: str, source: str, parsed: ParsedFile, symbol: Symbol | None, style: DocStyle) -> str:
        fence = parsed.language if parsed.language != "tsx" else "typescript"
        if symbol is None:
            what = f"the module `{path}`"
            code = _module_outline(source, parsed, self.settings.doc_max_code_chars)
        else:
            what = f"the {symbol.kind} `{symbol.qualname}` in `{path}`"
            code = _definition_code(source, parsed, symbol, self.settings.doc_max_code_chars)
        parts = [f"Write the documentation comment for {what}.", f"Format: {_STYLE_HINTS[style]}"]
        callees = _callee_signatures(parsed, symbol, self.settings.doc_max_callee_signatures) if symbol else []
        if callees:
            parts.append("It calls these functions from the same file:\n" + "\n".join(callees))
        parts.append(f"```{fence}\n{code}\n```")
        request = ChatRequest(
            messages=[ChatMessage.system(_SYSTEM), ChatMessage.user("\n\n".join(parts))],
            max_tokens=self.settings.doc_max_tokens,
            temperature=0.0,
        )
        return self.chat.chat(request).text

    # -- README section ---------------------------------------------------------------------------------------

    def readme_section(self, package_path: str, files: Mapping[str, str]) -> str:
        """Markdown for a package: the model's overview and usage example, and the public API from parsing."""
        symbols: list[Symbol] = []
        references: list[Reference] = []
        module_docs: list[str] = []
        language_counts: Counter[Language] = Counter()
        for path in sorted(files):
            language = language_for_name(path.rsplit("/", 1)[-1])
            if language not in _CODE_LANGUAGES:
                continue
            parsed = parse_source(path, files[path], language, self.settings)
            language_counts[language] += 1
            symbols.extend(parsed.symbols)
            references.extend(parsed.references)
            doc = _module_docstring(files[path]) if language == "python" else None
            if doc:
                module_docs.append(f"{path}: {doc.splitlines()[0]}")
        public = [s for s in symbols if _is_public(s, files.get(s.path, ""))]
        language = language_counts.most_common(1)[0][0] if language_counts else "python"
        overview, example = self._readme_prose(package_path, symbols, references, module_docs, public, language)
        return render_readme(package_path, overview, public, example, language, self.settings.readme_max_symbols)

    def _readme_prose(
        self,
        package_path: str,
        symbols: list[Symbol],
        references: list[Reference],
        module_docs: list[str],
        public: list[Symbol],
        language: Language,
    ) -> tuple[str, str]:
        repo_map = build_repo_map(symbols, references, max_tokens=self.settings.readme_map_tokens)
        fence = "typescript" if language == "tsx" else language
        names = ", ".join(s.qualname for s in public[:20])
        prompt = "\n\n".join(
            p
            for p in (
                f"Package `{package_path}`. Its most important definitions (path, line, signature):\n{repo_map}",
                "Module docstrings:\n" + "\n".join(module_docs[:20]) if module_docs else "",
                f"Public names: {names}" if names else "",
                "Write two or three sentences saying what this package does, then one short usage example in a "
                f"```{fence} code block that uses only the names above.",
            )
            if p
        )
        request = ChatRequest(
            messages=[
                ChatMessage.system("You write concise README sections for code packages. Never invent APIs."),
                ChatMessage.user(prompt),
            ],
            max_tokens=self.settings.readme_max_tokens,
            temperature=0.0,
        )
        return split_readme_answer(self.chat.chat(request).text, language, {s.name for s in public})


# -- finding the target and its context -----------------------------------------------------------------------

_LANGUAGE_STYLE: dict[Language, DocStyle] = {
    "javascript": "jsdoc",
    "typescript": "jsdoc",
    "tsx": "jsdoc",
    "java": "javadoc",
    "go": "godoc",
}


def _find_symbol(parsed: ParsedFile, target: str) -> Symbol:
    exact = [s for s in parsed.symbols if s.qualname == target and s.kind != "constant"]
    if not exact:
        exact = [s for s in parsed.symbols if s.name == target and s.kind != "constant"]
    if not exact:
        known = ", ".join(s.qualname for s in parsed.symbols if s.kind != "constant")[:300]
        raise DocumentError(f"no function, class or method {target!r} in {parsed.path} (found: {known or 'none'})")
    if len(exact) > 1 and len({s.qualname for s in exact}) > 1:
        raise DocumentError(f"{target!r} is ambiguous in {parsed.path}: {', '.join(s.qualname for s in exact)}")
    return exact[0]  # redefinitions of one qualname: the first (what a reader finds first)


def detect_style(parsed: ParsedFile) -> DocStyle:
    """The Python docstring convention the file already uses: the most common sectioned style, else plain one-liners
    when the file has only those, else Google (the most common in the wild)."""
    votes: Counter[DocStyle] = Counter()
    plain = 0
    for symbol in parsed.symbols:
        if not symbol.docstring:
            continue
        for style, pattern in _SECTION_STYLES:
            if pattern.search(symbol.docstring):
                votes[style] += 1
                break
        else:
            plain += 1
    if votes:
        return votes.most_common(1)[0][0]
    return "plain" if plain >= 2 else "google"


def _definition_code(source: str, parsed: ParsedFile, symbol: Symbol, max_chars: int) -> str:
    lines = source.split("\n")
    code = "\n".join(line.rstrip("\r") for line in lines[symbol.start_line - 1 : symbol.end_line])
    if len(code) <= max_chars:
        return textwrap.dedent(code)
    members = [s for s in parsed.symbols if s.parent == symbol.qualname]
    if members:  # a large class: its header and its members' signatures
        outline = [symbol.signature, *(f"    {m.signature}  # line {m.start_line}" for m in members)]
        code = "\n".join(outline)
    return textwrap.dedent(code)[:max_chars]


def _module_outline(source: str, parsed: ParsedFile, max_chars: int) -> str:
    head = "\n".join(source.split("\n")[:30])
    signatures = "\n".join(s.signature for s in parsed.symbols if s.parent is None and s.kind != "constant")
    return (head + "\n...\n" + signatures)[:max_chars]


def _callee_signatures(parsed: ParsedFile, symbol: Symbol, limit: int) -> list[str]:
    by_name = {s.name: s for s in parsed.symbols if s.kind in ("function", "method") and s is not symbol}
    seen: list[str] = []
    for reference in sorted(parsed.references, key=lambda r: r.line):
        if not symbol.start_line <= reference.line <= symbol.end_line or reference.kind != "call":
            continue
        callee = by_name.get(reference.name)
        if callee is not None and callee.signature not in seen:
            seen.append(callee.signature)
        if len(seen) >= limit:
            break
    return seen


# -- cleaning and formatting ----------------------------------------------------------------------------------


def clean_docstring(raw: str, symbol: Symbol | None, settings: CodeSettings) -> str:
    """The documentation text in a model answer: unwrap fences and quotes, drop preambles, a restated signature,
    comment markers and trailing code; dedent, cap, and refuse when nothing usable is left."""
    text = raw.replace("\r\n", "\n").strip()
    fenced = _FENCE.search(text)
    if fenced and fenced.group(1).strip():
        text = fenced.group(1)
    else:
        text = "\n".join(line for line in text.split("\n") if not line.strip().startswith("```"))
    quoted = _TRIPLE.search(text)
    if quoted and quoted.group(2).strip():
        text = quoted.group(2)
    lines = _strip_comment_markers(text.strip("\n").split("\n"))
    while lines and (
        not lines[0].strip()
        or _PREAMBLE.match(lines[0].strip())
        or _DECORATOR.match(lines[0].strip())
        or _is_signature(lines[0], symbol)
    ):
        lines.pop(0)
    kept: list[str] = []
    for line in lines:
        if kept and (line.strip().startswith("```") or _CODE_AFTER.match(line) or _is_signature(line, symbol)):
            break
        kept.append(line.rstrip())
    text = _normalise_sections(inspect.cleandoc("\n".join(kept)))
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    capped = text.split("\n")[: settings.doc_max_lines]
    while capped and len("\n".join(capped)) > settings.doc_max_chars:
        capped.pop()
    text = "\n".join(capped).strip() if capped else text[: settings.doc_max_chars].strip()
    if not re.search(r"[A-Za-z]{2}", text):
        raise DocumentError(f"the model returned no usable documentation text: {raw[:200]!r}")
    return text


_LABEL = re.compile(r"^(?:an?\s+)?(?:one-line\s+|short\s+)?(?:summary|description)(?:\s+line)?\s*:\s*", re.IGNORECASE)
_SECTION = re.compile(r"^(?:Args|Arguments|Parameters|Params|Returns|Return|Yields|Raises|Attributes|Examples?)\s*:$")
_BULLET = re.compile(r"^\s*[-*]\s+`?(\w+)`?\s*(\([^)]*\))?\s*:\s*(.*)$")


def _normalise_sections(text: str) -> str:
    """Small models label the summary ("Summary: ...") and write Markdown bullets under ``Args:``; turn both into
    the docstring convention (indented ``name: description`` lines)."""
    lines = text.split("\n")
    lines[0] = _LABEL.sub("", lines[0], count=1)
    lines[0] = lines[0][:1].upper() + lines[0][1:]
    in_section = False
    for i, line in enumerate(lines):
        if _SECTION.match(line.strip()):
            in_section = True
            continue
        if not line.strip():
            in_section = False
            continue
        bullet = _BULLET.match(line) if in_section else None
        if bullet:
            name, kind, rest = bullet.groups()
            lines[i] = f"    {name}{' ' + kind if kind else ''}: {rest}".rstrip()
        elif in_section and re.match(r"^\s*[-*]\s+", line):
            lines[i] = "    " + re.sub(r"^\s*[-*]\s+", "", line)
        elif in_section and not line[:1].isspace():  # entries written flush with the section header
            lines[i] = "    " + line
    return "\n".join(lines).strip()


def _strip_comment_markers(lines: list[str]) -> list[str]:
    stripped = [line.strip() for line in lines if line.strip()]
    if not stripped:
        return lines
    if all(s.startswith("//") for s in stripped):
        return [re.sub(r"^(\s*)///?\s?", r"\1", line) for line in lines]
    if all(s.startswith("#") for s in stripped):
        return [re.sub(r"^(\s*)#\s?", r"\1", line) for line in lines]
    if stripped[0].startswith("/*"):
        out = []
        for line in lines:
            s = line.strip()
            if s in ("/**", "/*", "*/", "**/"):
                continue
            s = re.sub(r"^/\*\*?\s?", "", s)
            s = re.sub(r"\s*\*/$", "", s)
            s = re.sub(r"^\*\s?", "", s)
            out.append(s)
        return out
    return lines


def _is_signature(line: str, symbol: Symbol | None) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if symbol is not None:
        first = symbol.signature.split("\n", 1)[0].strip()
        if stripped == first or stripped.rstrip(":{ ") == first.rstrip(":{ "):
            return True
    return bool(_SIGNATURE_LINE.match(line))


def format_docstring(
    text: str, language: Language, indent: str, symbol: Symbol | None, go_package: str = ""
) -> list[str]:
    """The lines to insert: a Python docstring statement, a ``/** */`` block, or Go ``//`` lines."""
    lines = text.split("\n")
    if language == "python":
        escaped = [_escape_python(line) for line in lines]
        if escaped[-1].endswith('"'):
            escaped[-1] = escaped[-1][:-1] + '\\"'
        if len(escaped) == 1:
            return [f'{indent}"""{escaped[0]}"""']
        body = [f"{indent}{line}" if line.strip() else "" for line in escaped[1:]]
        return [f'{indent}"""{escaped[0]}', *body, f'{indent}"""']
    if language == "go":
        lines[0] = _go_lead(lines[0], symbol.name if symbol is not None else go_package, symbol is None)
        return [f"{indent}//" + (f" {line}" if line.strip() else "") for line in lines]
    escaped = [line.replace("*/", "*\\/") for line in lines]
    if len(escaped) == 1 and len(escaped[0]) <= 100:
        return [f"{indent}/** {escaped[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {line}".rstrip() for line in escaped), f"{indent} */"]


def _go_lead(first: str, name: str, package: bool) -> str:
    """Go doc comments start with the name (``// Add returns…``, ``// Package shop …``): fix the model's first
    words to say so without repeating the name."""
    if not name:
        return first
    lead = f"Package {name}" if package else name
    if re.match(rf"(?:A |An |The )?{re.escape(lead)}\b", first):
        return first
    head, _, rest = first.partition(" ")
    if head.lower() in (name.lower(), "package"):
        if package and head.lower() == "package" and rest.split(" ", 1)[0].lower() == name.lower():
            rest = rest.partition(" ")[2]
        return f"{lead} {rest}".rstrip()
    return f"{lead} {first[:1].lower()}{first[1:]}" if first[:1].isupper() else f"{lead} {first}"


def _escape_python(line: str) -> str:
    return line.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


# -- placement ------------------------------------------------------------------------------------------------


def _placement(language: Language, source: str, lines: list[str], symbol: Symbol | None) -> _Placement:
    if language == "python":
        return _python_placement(source, lines, symbol)
    if symbol is None:
        return _module_comment_placement(language, lines)
    row = symbol.start_line - 1
    indent = _indent(lines[row])
    first = _doc_comment_above(language, lines, row)
    return _Placement(first if first is not None else row, row, indent)


def _python_placement(source: str, lines: list[str], symbol: Symbol | None) -> _Placement:
    parser = parser_for("python")
    assert parser is not None
    root = parser.parse(source.encode("utf-8")).root_node
    if symbol is None:
        first_statement = next((c for c in root.named_children if c.type != "comment"), None)
        existing = _python_docstring_node(first_statement)
        if existing is not None:
            return _replace_string(lines, existing)
        row = 0
        while row < len(lines) and row < 2 and (lines[row].startswith("#!") or re.search(r"coding[:=]", lines[row])):
            row += 1
        return _Placement(row, row, "")
    node = _python_definition(root, symbol)
    body = node.child_by_field_name("body")
    colon = next((c for c in reversed(node.children) if c.type == ":"), None)
    if body is None or colon is None or body.start_point.row == colon.end_point.row:
        raise DocumentError(
            f"{symbol.qualname} has its body on the same line as its header; put the body on its own line first"
        )
    first = next((c for c in body.named_children if c.type != "comment"), None)
    existing = _python_docstring_node(first)
    if existing is not None:
        return _replace_string(lines, existing)
    row = colon.end_point.row + 1
    return _Placement(row, row, _indent(lines[body.start_point.row]))


def _python_definition(root: Node, symbol: Symbol) -> Node:
    """The function/class node of ``symbol``: named like it and starting (or decorated) at its first line."""
    row = symbol.start_line - 1
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_point.row < row or node.start_point.row > symbol.end_line:
            continue
        if node.type in ("function_definition", "class_definition"):
            name = node.child_by_field_name("name")
            outer = node.parent if node.parent is not None and node.parent.type == "decorated_definition" else node
            if name is not None and name.text == symbol.name.encode("utf-8") and outer.start_point.row == row:
                return node
        stack.extend(node.named_children)
    raise DocumentError(f"could not locate {symbol.qualname} in the syntax tree")


def _python_docstring_node(statement: Node | None) -> Node | None:
    if statement is None or statement.type != "expression_statement" or statement.named_child_count != 1:
        return None
    string = statement.named_child(0)
    return statement if string is not None and string.type in ("string", "concatenated_string") else None


def _replace_string(lines: list[str], node: Node) -> _Placement:
    first, last = node.start_point, node.end_point
    before = lines[first.row][: first.column]
    after = lines[last.row].encode("utf-8")[last.column :].decode("utf-8", "replace")
    if before.strip() or after.strip().lstrip(";").strip():
        raise DocumentError(f"the existing docstring on line {first.row + 1} shares its line with other code")
    return _Placement(first.row, last.row + 1, _indent(lines[first.row]))


def _doc_comment_above(language: Language, lines: list[str], row: int) -> int | None:
    """First row of the doc comment directly above ``row`` (``//`` lines for Go, a ``/** */`` block otherwise)."""
    above = row - 1
    if above < 0:
        return None
    if language == "go":
        first = None
        while above >= 0 and lines[above].strip().startswith("//") and not lines[above].strip().startswith("//go:"):
            first = above
            above -= 1
        return first
    if not lines[above].rstrip().endswith("*/"):
        return None
    for start in range(above, max(-1, above - 200), -1):
        stripped = lines[start].strip()
        if stripped.startswith("/*"):
            return start if stripped.startswith("/**") else None
    return None


def _module_comment_placement(language: Language, lines: list[str]) -> _Placement:
    if language == "go":
        row = next((i for i, line in enumerate(lines) if line.startswith("package ")), 0)
        first = _doc_comment_above(language, lines, row)
        return _Placement(first if first is not None else row, row, "")
    row = 1 if lines and lines[0].startswith("#!") else 0
    if row < len(lines) and lines[row].strip().startswith("/**"):
        end = next((i for i in range(row, len(lines)) if lines[i].rstrip().endswith("*/")), None)
        directly_above_code = end is not None and end + 1 < len(lines) and lines[end + 1].strip()
        if end is not None and not directly_above_code:  # else it documents the first definition, not the file
            return _Placement(row, end + 1, "")
    return _Placement(row, row, "")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _go_package(source: str) -> str:
    match = re.search(r"^package\s+(\w+)", source, re.MULTILINE)
    return match.group(1) if match else ""


# -- verification and diff ------------------------------------------------------------------------------------


def _verify(path: str, old: str, new: str, language: Language, target: str | None) -> None:
    """Refuse an edit that breaks the file or misses its target (the caller's file is never touched)."""
    if language == "python":
        try:
            ast.parse(old)
            old_ok = True
        except SyntaxError:
            old_ok = False
        if old_ok:
            try:
                ast.parse(new)
            except SyntaxError as exc:
                raise DocumentError(
                    f"inserting the docstring would break {path}: {exc.msg} (line {exc.lineno})"
                ) from exc
    parser = parser_for(language)
    assert parser is not None
    if (
        parser.parse(new.encode("utf-8")).root_node.has_error
        and not parser.parse(old.encode("utf-8")).root_node.has_error
    ):
        raise DocumentError(f"inserting the docstring would introduce a syntax error in {path}")
    parsed = parse_source(path, new, language)
    if target is None:
        if language == "python" and not _module_docstring(new):
            raise DocumentError(f"the module docstring did not land at the top of {path}")
        return
    found = [s for s in parsed.symbols if s.qualname == target and s.docstring]
    if not found:
        raise DocumentError(f"the docstring did not attach to {target} in {path}")


def _module_docstring(source: str) -> str | None:
    try:
        return ast.get_docstring(ast.parse(source))
    except (SyntaxError, ValueError):
        return None


# -- README rendering -----------------------------------------------------------------------------------------


def _is_public(symbol: Symbol, source: str) -> bool:
    if symbol.kind == "constant" or any(part.startswith("_") for part in symbol.qualname.split(".")):
        return False
    if symbol.parent is not None:
        return False  # the list names top-level definitions; their members are in the code
    if any(part.startswith("_") and part != "__init__.py" for part in symbol.path.split("/")):
        return False  # a private module (``_impl.py``) is not API even when its names are public
    if symbol.path.endswith(".go"):
        return symbol.name[:1].isupper()
    if symbol.path.endswith(".py"):
        exported = _python_all(source)
        return exported is None or symbol.name in exported
    return True


def _python_all(source: str) -> set[str] | None:
    match = re.search(r"^__all__\s*=\s*[\[(]([^\])]*)[\])]", source, re.MULTILINE)
    if not match:
        return None
    return set(re.findall(r"[\"'](\w+)[\"']", match.group(1)))


def split_readme_answer(answer: str, language: Language, public_names: set[str]) -> tuple[str, str]:
    """(overview prose, example code) from a model answer; the example is dropped unless it is plausible code
    (Python: it parses) that uses at least one public name — a README must not show an invented API."""
    fenced = _FENCE.search(answer)
    prose = answer[: fenced.start()] if fenced else answer
    prose = re.sub(r"^#+\s.*$", "", prose, flags=re.MULTILINE).strip()
    prose = re.sub(r"\n{3,}", "\n\n", prose)
    example = textwrap.dedent(fenced.group(1)).strip() if fenced else ""
    if example and language == "python":
        try:
            ast.parse(example)
        except SyntaxError:
            example = ""
    if example and not any(re.search(rf"\b{re.escape(name)}\b", example) for name in public_names):
        example = ""
    return prose, example


def render_readme(
    package_path: str, overview: str, public: list[Symbol], example: str, language: Language, max_symbols: int
) -> str:
    out = [f"## `{package_path}`", ""]
    if overview:
        out += [overview, ""]
    out += ["### Public API", ""]
    if not public:
        out.append("_No public definitions found._")
    for symbol in public[:max_symbols]:
        header = [line for line in symbol.signature.split("\n") if not line.strip().startswith(("#", "//"))]
        signature = " ".join(" ".join(header).split())
        summary = (symbol.docstring or "").strip().split("\n", 1)[0]
        line = f"- `{signature}` ({symbol.path}:{symbol.start_line})"
        out.append(f"{line} — {summary}" if summary else line)
    if len(public) > max_symbols:
        out.append(f"- … and {len(public) - max_symbols} more")
    if example:
        fence = "typescript" if language == "tsx" else language
        out += ["", "### Usage", "", f"```{fence}", example, "```"]
    return "\n".join(out) + "\n"
