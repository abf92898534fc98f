"""Questions about a repository, answered from its index with ``path:start-end`` citations.

Two paths, chosen by the question's shape:

* **Symbol lookups** ("where is ``parse_config`` defined", "who calls ``Invoice.total``", "where is X used") are
  answered from the symbol and reference tables, deterministically: exact locations, every use, no model call.
  Vectors are the wrong tool for "where is X": an embedding of a name finds code *about* similar things.
* **Everything else** retrieves snippets with hybrid code search (dense + full text + identifier boosting: a
  named identifier's definition is always among the sources), numbers them, and asks the model to answer from
  them citing ``[n]``. Citations are mapped back to ``path:start-end``; a number that is not a shown snippet is
  dropped. Small models often forget to cite, so when the answer cites nothing, the sources whose symbol or
  path the answer mentions are attached as citations, marked ``inferred`` (the UI says so).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from projects.code_assistant.rails import CodeRails, OutputCheck
from projects.code_assistant.search import CodeHit, CodeSearch, identifiers
from projects.code_assistant.settings import CodeSettings, get_code_settings
from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest, Usage

SYSTEM = (
    "You answer questions about a code repository. Use only the numbered snippets below; each is a file excerpt "
    "with line numbers. After each statement, cite the snippet it comes from as [n]. Mention function and file "
    "names exactly as written. If the snippets do not answer the question, say that the indexed code does not "
    "show it. Be concise."
)
_CITE = re.compile(r"\[(\d{1,2})\]")
_DEFINED = re.compile(
    r"^\s*(?:where\s+(?:is|are)|in\s+which\s+file\s+is|which\s+file\s+(?:defines|has)|find(?:\s+the)?)\s+"
    r"(?:the\s+)?(?:definition\s+of\s+)?`?(?P<name>[A-Za-z_][\w.]*)`?(?:\(\))?\s*(?:class|function|method)?\s*"
    r"(?P<verb>defined|declared|implemented|used|called|referenced|imported)?\s*\??\s*$",
    re.IGNORECASE,
)
_USES = re.compile(
    r"^\s*(?:who|what|which\s+\w+)\s+(?:calls|uses|imports|references)\s+`?(?P<name>[A-Za-z_][\w.]*)`?(?:\(\))?\s*\??\s*$",
    re.IGNORECASE,
)

LookupKind = Literal["definition", "usages"]


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    path: str
    start_line: int
    end_line: int
    symbol: str | None = None
    inferred: bool = False  # attached because the answer named it, not because the model wrote [n]

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


@dataclass(slots=True)
class Answer:
    text: str
    citations: list[Citation]
    sources: list[CodeHit] = field(default_factory=list)
    mode: Literal["symbol", "search"] = "search"
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    redacted_secrets: list[str] = field(default_factory=list)  # kinds of credentials taken out of the answer
    withheld: dict | None = None  # the output rail stopped the answer here: categories, reason, evidence


@dataclass(frozen=True, slots=True)
class AskEvent:
    """A streamed piece: ``sources`` first, then ``delta``s, then ``done`` carrying the final :class:`Answer`."""

    kind: Literal["sources", "delta", "done"]
    delta: str = ""
    sources: tuple[CodeHit, ...] = ()
    answer: Answer | None = None


def symbol_lookup(question: str) -> tuple[LookupKind, str] | None:
    """("definition" | "usages", name) when the question is a pure symbol lookup, else None."""
    m = _USES.match(question)
    if m:
        return "usages", m.group("name")
    m = _DEFINED.match(question)
    if m and (m.group("verb") or "").lower() in ("", "defined", "declared", "implemented"):
        name = m.group("name")
        if identifiers(f"x {name}") or "`" in question or m.group("verb"):
            return "definition", name
        return None
    if m:
        return "usages", m.group("name")
    return None


def number_lines(text: str, start: int) -> str:
    return "\n".join(f"{start + i:>5} {line}" for i, line in enumerate(text.split("\n")))


class Asker:
    """Answers questions about one indexed repository (see the module docstring)."""

    def __init__(self, chat: ChatModel, search: CodeSearch, settings: CodeSettings | None = None) -> None:
        self.chat = chat
        self.search = search
        self.settings = settings or get_code_settings()
        self.rails = CodeRails(self.settings)

    # -- symbol lookups --------------------------------------------------------------------------------------
    def lookup(self, repo_id: str, kind: LookupKind, name: str) -> Answer | None:
        t0 = time.perf_counter()
        definitions = self.search.find_definitions(repo_id, name, limit=10)
        if kind == "definition":
            if not definitions:
                return None
            lines = [f"`{name}` is defined in:" if len(definitions) > 1 else f"`{name}` is defined in"]
            cites = []
            for i, d in enumerate(definitions, 1):
                fuzzy = " (closest match)" if d.match == "fuzzy" else ""
                lines.append(f"- `{d.qualname}` ({d.kind}) at {d.location} [{i}]{fuzzy}: `{d.signature.strip()}`")
                cites.append(Citation(i, d.path, d.start_line, d.end_line, d.qualname))
            text = "\n".join(lines) if len(definitions) > 1 else f"{lines[0]} {lines[1][2:]}"
            return Answer(text, cites, mode="symbol", latency_s=time.perf_counter() - t0)
        groups = self.search.find_references(repo_id, name.rsplit(".", 1)[-1], limit=50)
        if not groups:
            return None
        n_uses = sum(len(g.lines) for g in groups)
        lines = [f"`{name}` is used {n_uses} time{'s' * (n_uses != 1)} in {len(groups)} file(s):"]
        cites = []
        for i, g in enumerate(groups, 1):
            shown = ", ".join(str(x) for x in g.lines[:12]) + (" …" if len(g.lines) > 12 else "")
            lines.append(f"- {g.path} lines {shown} ({', '.join(g.kinds)}) [{i}]")
            cites.append(Citation(i, g.path, g.lines[0], g.lines[-1]))
        if definitions:
            d = definitions[0]
            lines.append(f"Defined at {d.location}.")
        return Answer("\n".join(lines), cites, mode="symbol", latency_s=time.perf_counter() - t0)

    # -- retrieval + generation ------------------------------------------------------------------------------
    def sources(self, repo_id: str, question: str, paths: Sequence[str] | None = None) -> list[CodeHit]:
        """Search hits packed into the context budget, best first (a long chunk is cut, not dropped)."""
        hits = self.search.search(repo_id, question, k=self.settings.ask_k, paths=list(paths) if paths else None)
        chosen: list[CodeHit] = []
        used = 0
        for hit in hits:
            cost = self.chat.count_tokens(hit.text) + 24
            budget = self.settings.ask_context_tokens
            if used + cost > budget and chosen:
                continue
            if cost > budget:  # the best hit alone is too long: keep its head
                keep = max(1, len(hit.text.split("\n")) * budget // cost)
                lines = hit.text.split("\n")[:keep]
                hit = replace(hit, text="\n".join(lines), end_line=hit.start_line + len(lines) - 1)
                cost = budget
            chosen.append(hit)
            used += cost
        return chosen

    def request(self, question: str, sources: Sequence[CodeHit]) -> ChatRequest:
        blocks = []
        for i, hit in enumerate(sources, 1):
            label = f" ({hit.symbol})" if hit.symbol else ""
            lang = hit.language if hit.language and hit.language != "text" else ""
            code = self.rails.scrub(number_lines(hit.text, hit.start_line))  # numbered first: lines keep numbers
            blocks.append(f"[{i}] {hit.location}{label}\n```{lang}\n{code}\n```")
        user = "Snippets:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
        return ChatRequest(messages=[ChatMessage.user(user)], system=SYSTEM, max_tokens=self.settings.ask_max_tokens)

    def cite(self, text: str, sources: Sequence[CodeHit]) -> list[Citation]:
        numbers = sorted({int(n) for n in _CITE.findall(text) if 1 <= int(n) <= len(sources)})
        if numbers:
            return [_citation(n, sources[n - 1]) for n in numbers]
        inferred = []
        lowered = text.lower()
        for i, hit in enumerate(sources, 1):
            names = [hit.symbol.rsplit(".", 1)[-1]] if hit.symbol else []
            if any(re.search(rf"\b{re.escape(n.lower())}\b", lowered) for n in names) or hit.path.lower() in lowered:
                inferred.append(_citation(i, hit, inferred=True))
        if not inferred and sources:
            inferred.append(_citation(1, sources[0], inferred=True))
        return inferred

    def ask(self, repo_id: str, question: str, paths: Sequence[str] | None = None, *, screened: bool = False) -> Answer:
        answer = None
        for event in self.stream(repo_id, question, paths, stream=False, screened=screened):
            answer = event.answer or answer
        assert answer is not None
        return answer

    def stream(
        self,
        repo_id: str,
        question: str,
        paths: Sequence[str] | None = None,
        *,
        stream: bool = True,
        screened: bool = False,
    ) -> Iterator[AskEvent]:
        """``screened``: the caller already passed ``question`` through ``self.rails.check_question`` (the service
        does, so that a refusal is a 422 before a stream starts); otherwise it happens here, and may raise
        :class:`~projects.code_assistant.rails.QuestionRefused`."""
        t0 = time.perf_counter()
        if not screened:
            question = self.rails.check_question(question)
        planned = symbol_lookup(question) if not paths else None
        if planned is not None:
            answer = self.lookup(repo_id, *planned)
            if answer is not None:
                yield AskEvent("sources")
                yield AskEvent("delta", delta=answer.text)
                yield AskEvent("done", answer=answer)
                return
        sources = self.sources(repo_id, question, paths)
        yield AskEvent("sources", sources=tuple(sources))
        if not sources:
            text = "The index has no code matching this question (is the repository indexed?)."
            yield AskEvent("delta", delta=text)
            yield AskEvent("done", answer=Answer(text, [], [], latency_s=time.perf_counter() - t0))
            return
        request = self.request(question, sources)
        parts: list[str] = []
        usage = [Usage()]
        check = OutputCheck()
        raw = self._deltas(request, usage) if stream else self._whole(request, usage)
        for delta in self.rails.stream_answer(raw, check):
            parts.append(delta)
            yield AskEvent("delta", delta=delta)
        if check.blocked is not None:
            what = "The rest of this answer was" if "".join(parts).strip() else "This answer was"
            notice = f"\n\n({what} withheld by the output rail.)"
            parts.append(notice)
            yield AskEvent("delta", delta=notice)
        text = "".join(parts).strip()
        answer = Answer(
            text, self.cite(text, sources), list(sources), "search", usage[0], time.perf_counter() - t0,
            redacted_secrets=check.secrets, withheld=check.blocked,
        )  # fmt: skip
        yield AskEvent("done", answer=answer)

    def _deltas(self, request: ChatRequest, usage: list[Usage]) -> Iterator[str]:
        for chunk in self.chat.stream(request):
            if chunk.usage is not None:
                usage[0] = chunk.usage
            if chunk.delta:
                yield chunk.delta

    def _whole(self, request: ChatRequest, usage: list[Usage]) -> Iterator[str]:
        result = self.chat.chat(request)
        usage[0] = result.usage
        yield result.text


def _citation(n: int, hit: CodeHit, *, inferred: bool = False) -> Citation:
    return Citation(n, hit.path, hit.start_line, hit.end_line, hit.symbol, inferred)
