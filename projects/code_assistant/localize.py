"""Fault localisation: from failing-test output to the few code regions worth showing the model.

A small model fixes what it is shown, so the choice of regions matters more than the prompt. The signals, strongest
first (scores in :data:`SCORES`):

1. **traceback frames** in the repository's own (non-test) code — the innermost one is where the error surfaced;
2. the **failing tests'** own source (what was expected);
3. the functions a failing test **calls** (an assertion in the test itself has no frame in the code under test:
   ``assert bulk_discount_rate(10) == 5`` fails in the test file, the bug is in ``bulk_discount_rate``);
4. identifiers the user's **description** names;
5. one hop further: the functions the frame functions call (a missing ``return`` in ``subtotal`` surfaces as a
   TypeError in ``total``, which calls it).

Definitions are looked up through ``find_definitions(name) -> [(path, start, end)]``; the default parses the
repository on the fly with tree-sitter (:class:`RepoDefinitions`), and the lead can plug in the persistent index.
Only files inside the repository are ever read: every path from the output goes through ``safe_relpath``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from projects.code_assistant.languages import language_for_name
from projects.code_assistant.parsing import parse_source
from projects.code_assistant.paths import PathOutsideRepo, is_test_path, safe_relpath
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.types import ParsedFile, Symbol
from projects.code_assistant.walker import read_source, walk_repo

FindDefinitions = Callable[[str], list[tuple[str, int, int]]]

SCORES = {
    "raised": 100.0,
    "frame": 90.0,
    "test": 80.0,
    "called": 60.0,
    "description": 55.0,
    "callee": 45.0,
    "test_helper": 30.0,
}
MAX_DEFINITIONS_PER_NAME = 3  # a name defined in more places than this (get, run, __init__) is no signal
MAX_TESTS = 3
SMALL_CLASS_LINES = 15  # a dataclass's fields are worth showing whole; a 60-line class is not
_CLASS_KINDS = frozenset({"class", "interface", "struct", "type", "enum"})

_PY_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>[\w<>.]+))?')
_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:][^:\n]*?\.[A-Za-z0-9]+):(?P<line>\d+): (?P<rest>.*)$")
_NODE_ID = re.compile(r"^(?:FAILED|ERROR) (?P<node>\S+?\.py::\S+)")
_SECTION = re.compile(r"^_{3,} (?:ERROR at \w+ of )?(?P<name>[\w.\[\]-]+) _{3,}$")
_IDENT = re.compile(r"`([A-Za-z_][\w.]*)`|\b([a-z]+_[a-z0-9_]+|[A-Z][a-z0-9]+[A-Z]\w*|[A-Za-z_]\w*(?=\())")


@dataclass(slots=True, frozen=True)
class Frame:
    path: str  # relative to the repository root
    line: int
    function: str | None


@dataclass(slots=True)
class FailureReport:
    """What the output says: failing test node ids, frames inside the repository, error lines.

    ``sections`` keeps pytest's per-test grouping (one ``____ test_name ____`` block each; a bare traceback is one
    unnamed section), frames outermost first, so the first failure's innermost frame is not confused with another's.
    """

    tests: list[str] = field(default_factory=list)
    sections: list[tuple[str | None, list[Frame]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def frames(self) -> list[Frame]:
        return [frame for _, frames in self.sections for frame in frames]


@dataclass(slots=True)
class Region:
    """A span of a file to show the model, and why."""

    path: str
    start_line: int
    end_line: int
    reason: str
    score: float
    symbol: str | None = None

    @property
    def lines(self) -> int:
        return self.end_line - self.start_line + 1


# -- reading the output ---------------------------------------------------------------------------------------------


def to_repo_path(root: Path, raw: str) -> str | None:
    """A path from tool output as a repository-relative path, or None when it is not a file of this repository.

    Absolute paths under ``root`` are made relative; other absolute paths (site-packages, the standard library)
    are dropped, unless their tail names an existing repository file (a traceback from the user's own checkout at
    another location, while the tests run in a sandboxed copy).
    """
    raw = raw.strip()
    candidate: str | None = None
    if raw.startswith("/"):
        path = Path(raw)
        for form in (root, root.resolve()):
            if path.is_relative_to(form):
                candidate = path.relative_to(form).as_posix()
                break
        if candidate is None:
            if "site-packages" in path.parts or "dist-packages" in path.parts:
                return None
            parts = path.parts[1:]
            for i in range(max(0, len(parts) - 6), len(parts) - 1):  # longest existing tail of >= 2 parts
                tail = "/".join(parts[i:])
                if (root / tail).is_file():
                    candidate = tail
                    break
    else:
        candidate = raw
    if candidate is None:
        return None
    try:
        rel = safe_relpath(root, candidate)
    except PathOutsideRepo:
        return None
    return rel if (root / rel).is_file() else None


def parse_failure(output: str, root: Path) -> FailureReport:
    """Failing tests, repository frames (per failing test) and error lines from pytest output or a traceback."""
    report = FailureReport()
    section_names: list[str] = []
    frames: list[Frame] = []
    name: str | None = None

    def close() -> None:
        if frames:
            report.sections.append((name, list(frames)))
        frames.clear()

    for line in output.splitlines():
        if m := _NODE_ID.match(line):
            if m.group("node") not in report.tests:
                report.tests.append(m.group("node"))
            continue
        if m := _SECTION.match(line.strip()):
            close()
            name = m.group("name")
            section_names.append(name)
            continue
        m = _PY_FRAME.match(line) or _PYTEST_FRAME.match(line)
        if m:
            groups = m.groupdict()
            func, rest = groups.get("func"), groups.get("rest")
            if rest is not None and rest.startswith("in "):  # else the exception's name; its E lines say more
                func = rest[3:].strip()
            path = to_repo_path(root, m.group("path"))
            frame = Frame(path, int(m.group("line")), func if func != "<module>" else None) if path else None
            if frame is not None and frame not in frames:
                frames.append(frame)
            continue
        stripped = line.strip()
        if line.startswith("E ") or re.match(r"^[A-Z]\w*(Error|Exception|Exit)\b.*", stripped):
            report.errors.append(stripped[1:].strip() if line.startswith("E ") else stripped)
    close()
    if not report.tests:  # no summary (e.g. -rN): the section headers name the tests
        report.tests = [n for n in section_names if "test" in n.lower()]
    return report


# -- definitions ----------------------------------------------------------------------------------------------------


class RepoDefinitions:
    """Symbols of the repository, parsed with tree-sitter on first use (capped at ``debug_max_parse_files``).

    A stand-in for the persistent index: fine for the repositories a debug session works on, and the parse cache is
    shared with localisation's own per-file lookups.
    """

    def __init__(self, root: Path, settings: CodeSettings | None = None) -> None:
        self.root = Path(root)
        self.settings = settings or get_code_settings()
        self._parsed: dict[str, ParsedFile | None] = {}
        self._by_name: dict[str, list[Symbol]] | None = None

    def parsed(self, path: str) -> ParsedFile | None:
        if path not in self._parsed:
            language = language_for_name(PurePosixPath(path).name)
            target = self.root / path
            if language is None or not target.is_file():
                self._parsed[path] = None
            else:
                self._parsed[path] = parse_source(path, read_source(target), language, self.settings)
        return self._parsed[path]

    def symbols(self, path: str) -> list[Symbol]:
        parsed = self.parsed(path)
        return parsed.symbols if parsed else []

    def _index(self) -> dict[str, list[Symbol]]:
        if self._by_name is None:
            by_name: dict[str, list[Symbol]] = defaultdict(list)
            for n, source in enumerate(walk_repo(self.root, self.settings)):
                if n >= self.settings.debug_max_parse_files:
                    break
                if source.language == "text":
                    continue
                for symbol in self.symbols(source.path):
                    by_name[symbol.name].append(symbol)
            self._by_name = dict(by_name)
        return self._by_name

    def __call__(self, name: str) -> list[tuple[str, int, int]]:
        return [(s.path, s.start_line, s.end_line) for s in self._index().get(name, [])]


def enclosing_symbol(symbols: list[Symbol], line: int) -> Symbol | None:
    """The innermost function/method/class whose lines contain ``line``."""
    best: Symbol | None = None
    for symbol in symbols:
        if symbol.start_line <= line <= symbol.end_line and (
            best is None or symbol.end_line - symbol.start_line < best.end_line - best.start_line
        ):
            best = symbol
    return best


def _references_in(parsed: ParsedFile | None, start: int, end: int, *, calls_only: bool = False) -> list[str]:
    """Names used in ``start..end``; ``calls_only`` drops bare names (parameters and locals share names with
    unrelated definitions: ``amount`` the parameter is not ``Money.amount``)."""
    if parsed is None:
        return []
    kinds = ("call",) if calls_only else ("call", "name")
    names = [r.name for r in parsed.references if start <= r.line <= end and r.kind in kinds]
    return list(dict.fromkeys(names))


# -- ranking --------------------------------------------------------------------------------------------------------


def localize(
    root: Path,
    failure_output: str,
    *,
    description: str | None = None,
    find_definitions: FindDefinitions | None = None,
    max_lines: int | None = None,
    settings: CodeSettings | None = None,
) -> list[Region]:
    """Ranked, non-overlapping regions (best first) whose lines add up to at most ``max_lines``."""
    settings = settings or get_code_settings()
    root = Path(root)
    budget = max_lines if max_lines is not None else settings.debug_context_lines
    repo = RepoDefinitions(root, settings)
    find = find_definitions or repo
    report = parse_failure(failure_output, root)
    candidates: list[Region] = []
    seen_defs: set[tuple[str, int]] = set()

    def add_symbol(path: str, symbol: Symbol | None, line: int, reason: str, score: float, *, around: int = 0) -> None:
        if symbol is not None:
            if (path, symbol.start_line) in seen_defs:
                return
            seen_defs.add((path, symbol.start_line))
            start, end = _clip(symbol.start_line, symbol.end_line, line, settings.debug_max_region_lines)
            candidates.append(Region(path, start, end, reason, score, symbol.qualname))
        else:  # module-level code, or a file without a grammar: a window around the line
            start = max(1, line - around)
            candidates.append(Region(path, start, line + around, reason, score))

    def add_definitions(name: str, reason: str, score: float) -> list[tuple[str, Symbol]]:
        """Regions for the definitions of ``name`` (functions, and classes small enough to read whole)."""
        found = [d for d in find(name) if _inside(root, d[0])]
        if not found or len(found) > MAX_DEFINITIONS_PER_NAME:
            return []
        added = []
        for path, start, end in found:
            rel = safe_relpath(root, path)
            symbol = next((s for s in repo.symbols(rel) if s.start_line == start), None)
            if symbol is None:
                symbol = Symbol(name, name, "function", rel, start, end, "")
            if symbol.kind in _CLASS_KINDS and symbol.end_line - symbol.start_line >= SMALL_CLASS_LINES:
                continue  # a big class says little; the methods the code calls are looked up by their own names
            add_symbol(rel, symbol, start, reason, SCORES["test_helper"] if is_test_path(rel) else score)
            added.append((rel, symbol))
        return added

    callers: list[tuple[str, Symbol, float]] = []  # code on the failing path whose callees are worth a look
    for n, (_, frames) in enumerate(report.sections[:MAX_TESTS]):
        code_frames = [f for f in frames if not is_test_path(f.path)]
        for depth, frame in enumerate(reversed(code_frames)):
            symbol = enclosing_symbol(repo.symbols(frame.path), frame.line)
            if depth == 0:
                reason, score = f"traceback: the error surfaced at line {frame.line}", SCORES["raised"] - 5 * n
            else:
                reason, score = f"traceback: line {frame.line} is on the failing call path", SCORES["frame"] - 5 * n
            add_symbol(frame.path, symbol, frame.line, reason, score - depth, around=5)
            if symbol is not None:
                callers.append((frame.path, symbol, SCORES["callee"] - n))

    tests = _failing_tests(report, root)[:MAX_TESTS]
    for n, (path, name) in enumerate(tests):
        symbol = next((s for s in repo.symbols(path) if s.qualname == name or s.name == name), None)
        if symbol is None:
            continue
        add_symbol(path, symbol, symbol.start_line, f"failing test {name}", SCORES["test"] - n)
        for ref in _references_in(repo.parsed(path), symbol.start_line, symbol.end_line):
            for rel, called in add_definitions(ref, f"called by the failing test {name}", SCORES["called"] - n):
                if not is_test_path(rel):
                    callers.append((rel, called, SCORES["callee"] - 1 - n))

    for name in _description_identifiers(description or ""):
        add_definitions(name, "named in the description", SCORES["description"])

    for path, symbol, score in callers:  # one hop further along the call graph
        for ref in _references_in(repo.parsed(path), symbol.start_line, symbol.end_line, calls_only=True):
            add_definitions(ref, f"called by {symbol.qualname}", score)

    return _select(candidates, budget)


def _inside(root: Path, path: str) -> bool:
    try:
        rel = safe_relpath(root, path)
    except PathOutsideRepo:
        return False
    return (root / rel).is_file()


def _clip(start: int, end: int, focus: int, limit: int) -> tuple[int, int]:
    """At most ``limit`` lines of ``start..end``, keeping the head and the ``focus`` line in view."""
    if end - start + 1 <= limit:
        return start, end
    if focus - start < limit - 5:
        return start, start + limit - 1
    half = limit // 2
    return focus - half, min(end, focus - half + limit - 1)


def _failing_tests(report: FailureReport, root: Path) -> list[tuple[str, str]]:
    """(path, qualname) of each failing test; node ids like ``tests/test_x.py::TestA::test_b[param]``."""
    out: list[tuple[str, str]] = []
    for node in report.tests:
        if "::" not in node:
            continue
        raw_path, _, rest = node.partition("::")
        path = to_repo_path(root, raw_path)
        if path is None:
            continue
        name = rest.split("[", 1)[0].replace("::", ".")
        if (path, name) not in out:
            out.append((path, name))
    if not out:  # bare section names: find the test in the test frames
        test_frames = [f for f in report.frames if is_test_path(f.path)]
        for name in report.tests:
            for frame in test_frames:
                out.append((frame.path, name.split("[", 1)[0].split(".")[-1]))
                break
    return out


def _description_identifiers(text: str) -> list[str]:
    names = []
    for m in _IDENT.finditer(text):
        name = (m.group(1) or m.group(2)).split(".")[-1]
        if name not in names:
            names.append(name)
    return names[:10]


def _select(candidates: list[Region], budget: int) -> list[Region]:
    """Best first within the line budget; overlapping regions of one file merge (keeping the better score)."""
    chosen: list[Region] = []
    used = 0
    for region in sorted(candidates, key=lambda r: (-r.score, r.path, r.start_line)):
        overlap = next(
            (
                c
                for c in chosen
                if c.path == region.path and region.start_line <= c.end_line + 1 and c.start_line <= region.end_line + 1
            ),
            None,
        )
        if overlap is not None:
            start, end = min(overlap.start_line, region.start_line), max(overlap.end_line, region.end_line)
            extra = (end - start + 1) - overlap.lines
            if used + extra <= budget:
                overlap.start_line, overlap.end_line = start, end
                used += extra
            continue
        if used + region.lines > budget:
            continue
        chosen.append(
            Region(region.path, region.start_line, region.end_line, region.reason, region.score, region.symbol)
        )
        used += region.lines
    return chosen


def render_regions(root: Path, regions: Iterable[Region]) -> str:
    """The regions as the model sees them: a header per region, then the numbered code (``12 | code``)."""
    blocks = []
    for region in regions:
        lines = read_source(root / safe_relpath(root, region.path)).split("\n")
        end = min(region.end_line, len(lines))
        body = lines[region.start_line - 1 : end]
        width = len(str(end))
        body = [f"{n:>{width}} | {text}" for n, text in enumerate(body, start=region.start_line)]
        header = f"{region.path} lines {region.start_line}-{end} ({region.reason})"
        blocks.append(f"{header}\n```\n" + "\n".join(body) + "\n```")
    return "\n\n".join(blocks)
