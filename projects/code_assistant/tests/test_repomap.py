"""The repo map on symbols and references parsed by real tree-sitter from a small repository."""

from __future__ import annotations

from projects.code_assistant.parsing import parse_source
from projects.code_assistant.repomap import build_repo_map, rank_symbols, render_map
from projects.code_assistant.settings import CodeSettings
from projects.code_assistant.types import Reference, Symbol

_IMPORT = "from core.storage import StorageBackend\n\n\n"
FILES = {
    "core/storage.py": '''
class StorageBackend:
    """Where everything is kept."""

    def write_record(self, key, value):
        return None


def rarely_needed_helper():
    return 1
''',
    "core/util.py": "def unused_utility_function(x):\n    return x\n",
    "app/api.py": f"{_IMPORT}def handle(req):\n    StorageBackend().write_record(1, 2)\n",
    "app/jobs.py": f"{_IMPORT}def nightly():\n    StorageBackend().write_record(3, 4)\n",
    "app/cli.py": "from core.storage import StorageBackend\n\n\ndef main():\n    return StorageBackend()\n",
    "app/report.py": "from core.util import unused_utility_function\n\n\ndef weekly_report_builder():\n    return 1\n",
}


def _parsed() -> tuple[list[Symbol], list[Reference]]:
    symbols: list[Symbol] = []
    references: list[Reference] = []
    for path, text in FILES.items():
        parsed = parse_source(path, text, "python", CodeSettings())
        symbols += parsed.symbols
        references += parsed.references
    return symbols, references


def test_heavily_referenced_definition_outranks_unreferenced_ones() -> None:
    symbols, references = _parsed()
    ranked = [symbol.qualname for symbol, _ in rank_symbols(symbols, references)]
    assert ranked[0] == "StorageBackend"
    assert ranked.index("StorageBackend.write_record") < ranked.index("rarely_needed_helper")
    assert ranked.index("StorageBackend") < ranked.index("weekly_report_builder")
    scores = dict((s.qualname, score) for s, score in rank_symbols(symbols, references))
    assert scores["StorageBackend"] > 10 * scores["rarely_needed_helper"]


def test_map_lists_paths_with_signatures_and_line_numbers() -> None:
    symbols, references = _parsed()
    text = build_repo_map(symbols, references, max_tokens=10_000)
    assert text.startswith("core/storage.py:\n")
    assert "   2│ class StorageBackend:" in text or "  2│ class StorageBackend:" in text
    assert "│     def write_record(self, key, value):" in text  # a method is indented under its class
    assert "app/report.py:" in text  # a big budget shows everything


def test_map_respects_the_token_budget() -> None:
    symbols, references = _parsed()
    full = build_repo_map(symbols, references, max_tokens=10_000)
    small = build_repo_map(symbols, references, max_tokens=20, count_tokens=lambda s: len(s) // 4)
    assert 0 < len(small) // 4 <= 20 and len(small) < len(full)
    assert "StorageBackend" in small  # the budget keeps the best-ranked symbol
    assert build_repo_map(symbols, references, max_tokens=1) == ""


def test_focus_paths_and_names_change_the_ranking() -> None:
    symbols, references = _parsed()
    focus_file = [s.qualname for s, _ in rank_symbols(symbols, references, focus_paths=["app/report.py"])]
    assert focus_file.index("unused_utility_function") < focus_file.index("StorageBackend.write_record")
    focus_name = [s.qualname for s, _ in rank_symbols(symbols, references, focus_names=["rarely_needed_helper"])]
    assert focus_name.index("rarely_needed_helper") < focus_name.index("weekly_report_builder")


def test_private_and_generic_names_weigh_less() -> None:
    symbols = [
        Symbol("_internal_thing", "_internal_thing", "function", "a.py", 1, 2, "def _internal_thing():"),
        Symbol("public_thing", "public_thing", "function", "b.py", 1, 2, "def public_thing():"),
    ]
    references = [Reference("_internal_thing", "c.py", 1, "call"), Reference("public_thing", "c.py", 2, "call")]
    ranked = [s.name for s, _ in rank_symbols(symbols, references)]
    assert ranked == ["public_thing", "_internal_thing"]


def test_large_inputs_stay_bounded() -> None:
    symbols = [
        Symbol(f"function_{i}", f"function_{i}", "function", f"pkg/m{i % 2000}.py", i, i + 3, f"def function_{i}():")
        for i in range(50_000)
    ]
    symbols += [Symbol("run", f"C{i}.run", "method", f"pkg/m{i}.py", 1, 2, "def run(self):") for i in range(2000)]
    references = [Reference(f"function_{(i * 7) % 50_000}", f"pkg/m{i % 1999}.py", i, "call") for i in range(200_000)]
    references += [Reference("run", f"pkg/m{i}.py", 3, "call") for i in range(2000)]  # dropped: 2000 definers
    text = build_repo_map(symbols, references, max_tokens=512)
    assert text and len(text) // 4 <= 512


def test_render_map_groups_by_file_in_rank_order() -> None:
    a = Symbol("f", "f", "function", "z.py", 10, 12, "def f():")
    b = Symbol("g", "g", "function", "a.py", 3, 4, "def g():")
    c = Symbol("h", "h", "function", "z.py", 2, 4, "def h(\n    x,\n):")
    assert render_map([a, b, c]) == "z.py:\n   2│ def h( x, ):\n  10│ def f():\na.py:\n  3│ def g():\n"
