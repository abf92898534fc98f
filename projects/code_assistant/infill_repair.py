"""Infill repair: re-predict single lines of the suspect functions with the model's fill-in-the-middle mode.

Small code models are far better at completing code than at explaining or diffing it: asked for SEARCH/REPLACE
edits, Qwen2.5-Coder-0.5B copies the buggy line unchanged or rewrites the wrong function, but asked to fill in a
masked line it writes the line a typical codebase would have, which for a planted bug is usually the correct one
(``if quantity >= threshold:``, ``return total``). This is the zero-shot infilling approach to program repair
(AlphaRepair, Xia & Zhang 2022): mask each line of the localised code in turn, let the model infill it, and keep
the candidates that differ from the original; the test suite then decides. Insertion points at the ends of blocks
are masked too (an empty line to fill), which is how a missing ``return`` is found.

Every candidate is one line, so a batch of them costs little (short outputs, batched decoding), and Python
candidates that do not compile are dropped before any test run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from projects.code_assistant.complete import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, strip_control
from projects.code_assistant.edits import FileChange
from projects.code_assistant.localize import Region
from shared.serving import ChatModel, ChatRequest

_BATCH = 8  # the local backend batches up to 8 concurrent requests
_DEF_HEAD = re.compile(r"^\s*(?:async\s+def|def|function|func)\s+[A-Za-z_$][\w$]*\s*\(")


@dataclass(slots=True, frozen=True)
class InfillSite:
    """A line to re-predict (``insert=False``) or a new line to fill in after ``line`` (``insert=True``)."""

    path: str
    line: int  # 1-based
    insert: bool


@dataclass(slots=True, frozen=True)
class Candidate:
    site: InfillSite
    completion: str  # the model's raw infill
    new_line: str
    change: FileChange

    @property
    def old_line(self) -> str:
        return "" if self.site.insert else (self.change.before or "").split("\n")[self.site.line - 1]


def infill_sites(path: str, lines: list[str], start: int, end: int) -> list[InfillSite]:
    """Code lines of ``start..end`` (skipping blanks, comments, docstrings and decorators), plus an insertion point
    after each line that ends a block (the next code line is indented less, or the region ends)."""
    sites: list[InfillSite] = []
    code: list[int] = []
    in_docstring = False
    for number in range(start, min(end, len(lines)) + 1):
        text = lines[number - 1].strip()
        if in_docstring:
            in_docstring = '"""' not in text and "'''" not in text
            continue
        if text.startswith(('"""', "'''")):
            in_docstring = text.count(text[:3]) == 1  # opened, not closed on this line
            continue
        if text and not text.startswith(("#", "@", "//")):
            code.append(number)
    for n, number in enumerate(code):
        sites.append(InfillSite(path, number, False))
        if n == 0:
            continue  # never insert between a def line and its body
        width = _width(lines[number - 1])
        following = code[n + 1] if n + 1 < len(code) else None
        if following is None or _width(lines[following - 1]) < width:
            sites.append(InfillSite(path, number, True))
    return sites


def _width(line: str) -> int:
    return len(line) - len(line.lstrip())


def kept_head(lines: list[str], site: InfillSite) -> str:
    """The start of the masked line that stays fixed: a definition keeps ``def name(`` (callers use the name, so
    only the parameters, defaults and annotations are re-predicted); any other line is re-predicted whole."""
    if site.insert:
        return ""
    match = _DEF_HEAD.match(lines[site.line - 1])
    return match.group(0) if match else ""


def fim_prompt(lines: list[str], site: InfillSite, *, before: int, after: int) -> str:
    """Qwen2.5-Coder FIM prompt masking the site, with up to ``before``/``after`` lines of the file around it."""
    cut = site.line if site.insert else site.line - 1  # lines[:cut] stay before the hole
    prefix = "".join(line + "\n" for line in lines[max(0, cut - before) : cut]) + kept_head(lines, site)
    suffix = "\n".join(lines[site.line : site.line + after])  # the masked line itself is lines[site.line - 1]
    return f"{FIM_PREFIX}{strip_control(prefix)}{FIM_SUFFIX}\n{strip_control(suffix)}{FIM_MIDDLE}"


def candidates(
    chat: ChatModel,
    files: dict[str, str],
    regions: Iterable[Region],
    *,
    max_candidates: int,
    before: int = 60,
    after: int = 30,
    max_tokens: int = 48,
) -> Iterator[Candidate]:
    """Infill candidates for the regions (in their order), deduplicated, differing from the original, compiling.

    ``files`` maps each region's path to its current text. Generated lazily, one batch of ``_BATCH`` masked lines
    at a time, so a caller that finds its fix in the best-ranked function never pays for the rest.
    """
    sites: list[InfillSite] = []
    for region in regions:
        lines = files[region.path].split("\n")
        sites += infill_sites(region.path, lines, region.start_line, region.end_line)
    sites = list(dict.fromkeys(sites))[:max_candidates]
    seen: set[str] = set()
    with ThreadPoolExecutor(max_workers=_BATCH) as pool:
        for first in range(0, len(sites), _BATCH):
            batch = sites[first : first + _BATCH]
            requests = [
                ChatRequest.completion(
                    fim_prompt(files[s.path].split("\n"), s, before=before, after=after),
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stop=["\n"],
                )
                for s in batch
            ]
            for site, reply in zip(batch, pool.map(chat.chat, requests), strict=True):
                head = kept_head(files[site.path].split("\n"), site)
                candidate = _candidate(site, head + reply.text, files[site.path])
                if candidate is not None and candidate.change.after not in seen:
                    seen.add(candidate.change.after)
                    yield candidate


def _candidate(site: InfillSite, completion: str, before_text: str) -> Candidate | None:
    """The file with the infilled line, or None when the line is empty, unchanged, or does not compile."""
    new_line = completion.split("\n", 1)[0].rstrip()
    lines = before_text.split("\n")
    if not new_line.strip() or (not site.insert and new_line.strip() == lines[site.line - 1].strip()):
        return None
    keep_from = site.line if site.insert else site.line - 1
    patched = [*lines[:keep_from], new_line, *lines[site.line :]]
    after_text = "\n".join(patched)
    if not _compiles(site.path, after_text):
        return None
    return Candidate(site, completion, new_line, FileChange(site.path, before_text, after_text))


def _compiles(path: str, text: str) -> bool:
    """Python candidates must at least compile (``compile`` parses, it does not run anything)."""
    if not path.endswith(".py"):
        return True
    try:
        compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True
