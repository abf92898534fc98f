"""An Aider-style repository map: the definitions that matter most, ranked by how the rest of the code uses them.

Files are nodes; every reference to a name creates an edge from the referencing file to each file that defines the
name. Edge weights follow Aider's heuristics — a long ``snake_case``/``camelCase`` name is a more specific signal
than ``run`` (×10), a name the user mentioned counts ×10, a private ``_name`` ×0.1, a name defined in many files
×0.1 — plus an IDF-like damping for names that every file references, and ``sqrt`` of the reference count so one
chatty file cannot dominate. Personalised PageRank (networkx) with the focus files as the teleport set ranks the
files; each file's rank then flows along its out-edges to the (file, name) definitions they point at, which ranks
the symbols. The map lists the top symbols' signatures per file, as many as fit in the token budget (binary search
on the count).

Names defined in more than ``MAX_DEFINERS`` files (``get``, ``__init__``, ``run``) are dropped from the graph: they
say nothing about which file matters and their edges grow as definers × referencers, which is what would make a
50k-symbol repository slow.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

import networkx as nx

from projects.code_assistant.types import Reference, Symbol

MAX_DEFINERS = 25
_SPECIFIC_NAME = re.compile(r"^(?=.{8,})(?:[a-z0-9]+(?:_[a-z0-9]+)+|[A-Za-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+)$")
_LINE_CHARS = 160


def default_count_tokens(text: str) -> int:
    """About four characters per token: close enough for a budget, and free (no tokenizer load)."""
    return (len(text) + 3) // 4


def rank_symbols(
    symbols: Iterable[Symbol],
    references: Iterable[Reference],
    *,
    focus_paths: Iterable[str] = (),
    focus_names: Iterable[str] = (),
) -> list[tuple[Symbol, float]]:
    """Every symbol with its score, best first (ties broken by path and line, so the order is stable)."""
    symbols = list(symbols)
    focus_path_set = set(focus_paths)
    focus_name_set = set(focus_names)
    defines: dict[str, set[str]] = defaultdict(set)
    by_definition: dict[tuple[str, str], list[Symbol]] = defaultdict(list)
    for symbol in symbols:
        defines[symbol.name].add(symbol.path)
        by_definition[(symbol.path, symbol.name)].append(symbol)

    referenced: dict[str, Counter[str]] = defaultdict(Counter)  # name -> referencing file -> count
    for reference in references:
        definers = defines.get(reference.name)
        if definers is not None and len(definers) <= MAX_DEFINERS:
            referenced[reference.name][reference.path] += 1

    graph = nx.DiGraph()
    graph.add_nodes_from({s.path for s in symbols} | focus_path_set)
    contributions: dict[str, list[tuple[str, str, float]]] = defaultdict(list)  # src -> (dst, name, weight)
    for name, referrers in referenced.items():
        definers = defines[name]
        multiplier = _name_weight(name, len(definers), len(referrers), name in focus_name_set)
        for referrer, count in referrers.items():
            graph.add_node(referrer)
            weight = multiplier * math.sqrt(count)
            for definer in definers:
                contributions[referrer].append((definer, name, weight))
                if graph.has_edge(referrer, definer):
                    graph[referrer][definer]["weight"] += weight
                else:
                    graph.add_edge(referrer, definer, weight=weight)

    if graph.number_of_nodes() == 0:
        return []
    personalization = {path: 1.0 for path in focus_path_set if path in graph} or None
    try:
        file_rank = nx.pagerank(graph, weight="weight", personalization=personalization, dangling=personalization)
    except nx.PowerIterationFailedConvergence:
        file_rank = {node: 1.0 / graph.number_of_nodes() for node in graph}

    definition_rank: dict[tuple[str, str], float] = defaultdict(float)
    for source, edges in contributions.items():
        total = sum(weight for _, _, weight in edges)
        for destination, name, weight in edges:
            definition_rank[(destination, name)] += file_rank[source] * weight / total

    scored = []
    for (path, name), group in by_definition.items():
        # a sliver of the file's own rank keeps unreferenced definitions ordered (focus files first) behind the rest
        score = (definition_rank.get((path, name), 0.0) + 1e-3 * file_rank.get(path, 0.0)) / len(group)
        if name in focus_name_set:
            score *= 10
        scored.extend((symbol, score) for symbol in group)
    scored.sort(key=lambda item: (-item[1], item[0].path, item[0].start_line))
    return scored


def build_repo_map(
    symbols: Iterable[Symbol],
    references: Iterable[Reference],
    *,
    focus_paths: Iterable[str] = (),
    focus_names: Iterable[str] = (),
    max_tokens: int = 1024,
    count_tokens: Callable[[str], int] = default_count_tokens,
) -> str:
    """The map text: ``path:`` then ``  line│ signature`` for the top-ranked symbols, within ``max_tokens``."""
    ranking = rank_symbols(symbols, references, focus_paths=focus_paths, focus_names=focus_names)
    ranked = [symbol for symbol, _ in ranking]
    if not ranked or max_tokens <= 0:
        return ""
    low, high, best = 1, len(ranked), ""
    while low <= high:  # the largest prefix of the ranking whose rendering fits
        middle = (low + high) // 2
        text = render_map(ranked[:middle])
        if count_tokens(text) <= max_tokens:
            best, low = text, middle + 1
        else:
            high = middle - 1
    return best


def render_map(symbols: Sequence[Symbol]) -> str:
    """Files in order of their best symbol; within a file, symbols by line, indented by nesting depth."""
    by_file: dict[str, list[Symbol]] = {}
    for symbol in symbols:
        by_file.setdefault(symbol.path, []).append(symbol)
    blocks = []
    for path, group in by_file.items():
        width = len(str(max(s.start_line for s in group)))
        lines = [f"{path}:"]
        for symbol in sorted(group, key=lambda s: s.start_line):
            signature = " ".join(symbol.signature.split()) or symbol.name
            if len(signature) > _LINE_CHARS:
                signature = signature[:_LINE_CHARS] + "…"
            indent = "    " * symbol.qualname.count(".")
            lines.append(f"  {symbol.start_line:>{width}}│ {indent}{signature}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n" if blocks else ""


def _name_weight(name: str, n_definers: int, n_referrers: int, focused: bool) -> float:
    weight = 1.0
    if _SPECIFIC_NAME.match(name):
        weight *= 10
    if name.startswith("_"):
        weight *= 0.1
    if n_definers > 5:
        weight *= 0.1
    if focused:
        weight *= 10
    return weight / math.log2(2 + n_referrers)  # referenced from everywhere = less informative per use
