"""Which language a file is, and the tree-sitter grammar for it.

The extension tables decide what the walker indexes at all: a grammar language gets symbol-aware chunks, an
allow-listed text format gets line windows, anything else (images, archives, data dumps) is skipped by name
without being read. Grammars are loaded lazily, once per thread (a ``Parser`` is not thread-safe).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tree_sitter import Language as TSLanguage
from tree_sitter import Parser, Query

from projects.code_assistant.types import Language, SymbolKind


def word_set(text: str) -> frozenset[str]:
    """A whitespace-separated table (easier to read and extend than a list of quoted strings)."""
    return frozenset(text.split())


EXTENSION_LANGUAGES: dict[str, Language] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
}

# text we index as line windows: source in languages without an installed grammar, configuration and docs
TEXT_EXTENSIONS = word_set(
    """
    .md .markdown .rst .txt .adoc .org .tex
    .toml .yaml .yml .json .jsonc .json5 .ini .cfg .conf .properties .env .editorconfig .xml .csv .tsv
    .sh .bash .zsh .fish .ps1 .bat .cmd .mk .cmake .gradle .bazel .bzl .nix .dockerfile .tf .hcl
    .c .h .cc .cpp .cxx .hpp .hh .cu .m .mm .rs .rb .php .pl .pm .lua .r .scala .kt .kts .swift .cs .fs .fsx
    .dart .ex .exs .erl .hrl .hs .ml .mli .clj .cljs .elm .jl .zig .nim .v .sv .vhd .groovy .sql .proto
    .graphql .gql .thrift .html .htm .css .scss .sass .less .vue .svelte .pyx .pxd .pyw .ipynb .lock
    """
)

# extensionless names that are text by convention (other extensionless files are indexed if their head decodes)
TEXT_FILENAMES = word_set(
    "Makefile GNUmakefile Dockerfile Containerfile Jenkinsfile Procfile Gemfile Rakefile Vagrantfile Justfile "
    "LICENSE LICENCE COPYING NOTICE AUTHORS CHANGELOG README CODEOWNERS .gitignore .gitattributes .dockerignore "
    ".editorconfig .env.example"
)

# skipped by name, never opened: reading a 2 GB model checkpoint to find its NUL byte is wasted I/O
BINARY_EXTENSIONS = word_set(
    """
    .png .jpg .jpeg .gif .bmp .ico .icns .webp .tiff .psd .svgz .mp3 .mp4 .wav .flac .ogg .avi .mov .mkv .webm
    .zip .gz .tgz .bz2 .xz .zst .7z .rar .tar .jar .war .whl .egg .deb .rpm .dmg .iso .apk
    .so .dylib .dll .exe .o .a .lib .obj .pyc .pyo .pyd .class .wasm .bin .dat .db .sqlite .sqlite3 .parquet
    .arrow .feather .npy .npz .pkl .pickle .pt .pth .ckpt .safetensors .onnx .gguf .h5 .hdf5 .tflite .pb
    .pdf .doc .docx .xls .xlsx .ppt .pptx .odt .ttf .otf .woff .woff2 .eot .mo
    """
)

_SHEBANGS: dict[str, Language] = {"python": "python", "node": "javascript", "deno": "typescript"}


def language_for_name(name: str) -> Language | None:
    """The language a file name implies, ``"text"`` for allow-listed text, ``None`` if its extension is unknown.

    Extensionless names return ``"text"`` (the walker then checks that the content really is text, and a shebang
    can upgrade it, see :func:`language_from_shebang`).
    """
    dot = name.rfind(".")
    if dot <= 0:  # no extension, or a dotfile like ".bashrc"
        return "text" if dot < 0 or name in TEXT_FILENAMES or name.count(".") == 1 else None
    ext = name[dot:].lower()
    lang = EXTENSION_LANGUAGES.get(ext)
    if lang is not None:
        return lang
    if ext in TEXT_EXTENSIONS or name in TEXT_FILENAMES:
        return "text"
    return None


def language_from_shebang(first_line: str) -> Language | None:
    """``#!/usr/bin/env python3`` makes an extensionless script Python (bin/ scripts are real code)."""
    if not first_line.startswith("#!"):
        return None
    interpreter = first_line[2:].strip().split()
    if not interpreter:
        return None
    program = interpreter[-1] if interpreter[0].endswith("/env") and len(interpreter) > 1 else interpreter[0]
    program = program.rsplit("/", 1)[-1]
    for prefix, lang in _SHEBANGS.items():
        if program.startswith(prefix):
            return lang
    return None


def _grammar_loaders() -> dict[Language, Callable[[], object]]:
    import tree_sitter_go
    import tree_sitter_java
    import tree_sitter_javascript
    import tree_sitter_python
    import tree_sitter_typescript

    return {
        "python": tree_sitter_python.language,
        "javascript": tree_sitter_javascript.language,
        "typescript": tree_sitter_typescript.language_typescript,
        "tsx": tree_sitter_typescript.language_tsx,
        "go": tree_sitter_go.language,
        "java": tree_sitter_java.language,
    }


_languages: dict[Language, TSLanguage] = {}
_languages_lock = threading.Lock()
_parsers = threading.local()


def grammar(language: Language) -> TSLanguage | None:
    """The tree-sitter ``Language`` for ``language``, or ``None`` when no grammar is installed for it."""
    if language in _languages:
        return _languages[language]
    with _languages_lock:
        if language not in _languages:
            loader = _grammar_loaders().get(language)
            if loader is None:
                return None
            _languages[language] = TSLanguage(loader())
    return _languages[language]


def parser_for(language: Language) -> Parser | None:
    """A ``Parser`` for ``language`` owned by the calling thread (parsers keep state between parses)."""
    cache: dict[Language, Parser] = _parsers.__dict__.setdefault("by_language", {})
    parser = cache.get(language)
    if parser is None:
        lang = grammar(language)
        if lang is None:
            return None
        parser = cache[language] = Parser(lang)
    return parser


# -- what each grammar's definitions and references look like ------------------------------------------------


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    """Node types and queries for one grammar; :mod:`parsing` holds the one algorithm that uses them.

    ``definitions`` map a node type (with a ``name`` field) to its symbol kind ("function" becomes "method" inside
    a class). ``members`` are the definitions whose ``body`` holds further definitions (classes). ``wrappers``
    put something around a definition that belongs to its range (decorators, ``export``): field name of the inner
    definition. ``transparent`` nodes are descended into at statement level (``if TYPE_CHECKING:``, namespaces).
    The reference query captures ``@call``/``@call.member`` (``obj.m()``: never filtered by ``ignore_names``),
    ``@name``/``@name.member``, ``@import`` (a module path), ``@import_name`` and ``@skip``
    (binding positions that are not uses: parameters, assignment targets).
    """

    definitions: dict[str, SymbolKind]
    members: frozenset[str]
    wrappers: dict[str, str]
    transparent: frozenset[str]
    comments: frozenset[str]
    references: str
    ignore_names: frozenset[str] = frozenset()
    comment_prefix: str = "//"


_PY_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_")) | {"self", "cls", "__name__", "__file__"}

PYTHON = LanguageSpec(
    definitions={"function_definition": "function", "class_definition": "class"},
    members=frozenset({"class_definition"}),
    wrappers={"decorated_definition": "definition"},
    transparent=frozenset(
        {"if_statement", "else_clause", "elif_clause", "try_statement", "except_clause", "finally_clause", "block"}
    ),
    comments=frozenset({"comment"}),
    references="""
    (call function: (identifier) @call)
    (call function: (attribute attribute: (identifier) @call.member))
    (attribute attribute: (identifier) @name.member)
    (import_statement name: (dotted_name) @import)
    (import_statement name: (aliased_import name: (dotted_name) @import))
    (import_from_statement module_name: (_) @import)
    (import_from_statement name: (dotted_name) @import_name)
    (import_from_statement name: (aliased_import name: (dotted_name) @import_name))
    (aliased_import alias: (identifier) @skip)
    (identifier) @name
    (parameters (identifier) @skip)
    (lambda_parameters (identifier) @skip)
    (default_parameter name: (identifier) @skip)
    (typed_parameter (identifier) @skip)
    (typed_default_parameter name: (identifier) @skip)
    (keyword_argument name: (identifier) @skip)
    (assignment left: (identifier) @skip)
    (for_statement left: (identifier) @skip)
    (for_in_clause left: (identifier) @skip)
    """,
    ignore_names=_PY_BUILTINS,
    comment_prefix="#",
)

_JS_REFERENCES = """
    (call_expression function: (identifier) @call)
    (call_expression function: (member_expression property: (property_identifier) @call.member))
    (new_expression constructor: (identifier) @call)
    (import_statement source: (string (string_fragment) @import))
    (export_statement source: (string (string_fragment) @import))
    (import_specifier name: (identifier) @import_name)
    (import_clause (identifier) @import_name)
    ((call_expression function: (identifier) @_require arguments: (arguments (string (string_fragment) @import)))
      (#eq? @_require "require"))
    (identifier) @name
    (member_expression property: (property_identifier) @name.member)
    (variable_declarator name: (identifier) @skip)
"""
_TS_REFERENCES = (
    _JS_REFERENCES
    + """
    (type_identifier) @name
    (required_parameter pattern: (identifier) @skip)
    (optional_parameter pattern: (identifier) @skip)
"""
)
_JS_IGNORE = frozenset({"require", "module", "exports", "console", "undefined", "window", "document"})
_JS_DEFINITIONS: dict[str, SymbolKind] = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "method_definition": "function",
}
_TS_DEFINITIONS: dict[str, SymbolKind] = {
    **_JS_DEFINITIONS,
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "function_signature": "function",
    "abstract_method_signature": "function",
}
_JS_TRANSPARENT = frozenset(
    {"expression_statement", "internal_module", "module", "statement_block", "ambient_declaration"}
)

JAVASCRIPT = LanguageSpec(
    definitions=_JS_DEFINITIONS,
    members=frozenset({"class_declaration", "class"}),
    wrappers={"export_statement": "declaration"},
    transparent=_JS_TRANSPARENT,
    comments=frozenset({"comment"}),
    references=_JS_REFERENCES + "(formal_parameters (identifier) @skip)",
    ignore_names=_JS_IGNORE,
)
TYPESCRIPT = LanguageSpec(
    definitions=_TS_DEFINITIONS,
    members=frozenset({"class_declaration", "abstract_class_declaration"}),
    wrappers={"export_statement": "declaration"},
    transparent=_JS_TRANSPARENT,
    comments=frozenset({"comment"}),
    references=_TS_REFERENCES,
    ignore_names=_JS_IGNORE,
)

GO = LanguageSpec(
    definitions={"function_declaration": "function", "method_declaration": "method"},
    members=frozenset(),
    wrappers={},
    transparent=frozenset(),
    comments=frozenset({"comment"}),
    references="""
    (call_expression function: (identifier) @call)
    (call_expression function: (selector_expression field: (field_identifier) @call.member))
    (import_spec path: (interpreted_string_literal (interpreted_string_literal_content) @import))
    (identifier) @name
    (type_identifier) @name
    (selector_expression field: (field_identifier) @name.member)
    (parameter_declaration name: (identifier) @skip)
    (short_var_declaration left: (expression_list (identifier) @skip))
    (import_spec name: (package_identifier) @skip)
    """,
    ignore_names=word_set(
        "nil true false iota err ok append cap close complex copy delete imag len make new panic print println "
        "real recover string int int64 int32 uint8 byte rune bool float64 error any"
    ),
)

JAVA = LanguageSpec(
    definitions={
        "class_declaration": "class",
        "record_declaration": "class",
        "interface_declaration": "interface",
        "annotation_type_declaration": "interface",
        "enum_declaration": "enum",
        "method_declaration": "function",
        "constructor_declaration": "function",
    },
    members=frozenset({"class_declaration", "record_declaration", "interface_declaration", "enum_declaration"}),
    wrappers={},
    transparent=frozenset({"enum_body_declarations"}),
    comments=frozenset({"line_comment", "block_comment"}),
    references="""
    (method_invocation name: (identifier) @call.member)
    (object_creation_expression type: (type_identifier) @call)
    (import_declaration (scoped_identifier) @import)
    (import_declaration (scoped_identifier name: (identifier) @import_name))
    (scoped_identifier scope: (identifier) @skip)
    (identifier) @name
    (type_identifier) @name
    (formal_parameter name: (identifier) @skip)
    (variable_declarator name: (identifier) @skip)
    """,
    ignore_names=frozenset({"String", "Object", "Integer", "Override", "System", "out", "println"}),
)

SPECS: dict[Language, LanguageSpec] = {
    "python": PYTHON,
    "javascript": JAVASCRIPT,
    "typescript": TYPESCRIPT,
    "tsx": TYPESCRIPT,
    "go": GO,
    "java": JAVA,
}

_queries: dict[Language, Query] = {}


def reference_query(language: Language) -> Query:
    """The compiled reference query for ``language`` (compiled once: compiling costs milliseconds)."""
    query = _queries.get(language)
    if query is None:
        lang = grammar(language)
        assert lang is not None, language
        query = _queries[language] = Query(lang, SPECS[language].references)
    return query
