"""Fill-in-the-middle completion with repository context (Qwen2.5-Coder's repo-level FIM format).

The prompt is what the model was trained on for repository completion::

    <|repo_name|>{repo}
    <|file_sep|>{context path}
    {imported signatures / similar code}
    <|file_sep|>{current path}
    <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>

sent as a *raw* completion (``ChatRequest.completion``: no chat template), so it works the same on the local
backend and on a vLLM server's ``/v1/completions``. Context comes from a :class:`ContextProvider` (the repository
index: signatures of the symbols the file imports, and code similar to the lines around the cursor), packed into
a token budget after the prefix and suffix have taken theirs: the cursor's own file always wins.

Post-processing is where completions "break across providers" (Tabby's experience): the model does not reliably
stop, so the middle is cut where it starts repeating the suffix, at the end of the cursor's block (a line
indented less than the cursor's line), at the end of the line when the cursor is mid-line, and at a line cap.

Secrets (``rails.py``): context from the index is scrubbed of credentials before it goes into the prompt, and a
completion that contains one is not offered at all (empty text, ``finish_reason: content_filter``, as the OpenAI
API reports a filtered completion): a placeholder inserted in the user's editor would be worse than nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from projects.code_assistant.rails import CodeRails
from projects.code_assistant.settings import CodeSettings, get_code_settings
from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, Usage

FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE = "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"
REPO_NAME, FILE_SEP = "<|repo_name|>", "<|file_sep|>"
_CONTROL = re.compile(r"<\|(?:fim_prefix|fim_suffix|fim_middle|fim_pad|file_sep|repo_name|endoftext)\|>")

Mode = Literal["line", "block"]


def strip_control(text: str) -> str:
    """``text`` without the model's control tokens: user or repository text must not smuggle them into a prompt."""
    return _CONTROL.sub("", text)


@dataclass(frozen=True, slots=True)
class ContextSnippet:
    """Code shown to the model before the current file: where it came from and why."""

    path: str
    text: str
    reason: Literal["import", "similar", "definition"]
    start_line: int | None = None
    end_line: int | None = None


class ContextProvider(Protocol):
    def snippets(self, path: str, prefix: str, suffix: str, language: str | None) -> list[ContextSnippet]:
        """Cross-file context for a cursor in ``path``, most useful first."""
        ...


@dataclass(slots=True)
class Completion:
    text: str
    mode: Mode
    finish_reason: str
    raw: str  # the model's middle before post-processing (debugging provider differences)
    context: list[ContextSnippet] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    prompt_tokens: int = 0


def cursor_mode(prefix: str, suffix: str) -> Mode:
    """Mid-line (text on both sides of the cursor on its line, or code before it) → one line; else a block."""
    before = prefix.rsplit("\n", 1)[-1]
    after = suffix.split("\n", 1)[0]
    if after.strip() and after.strip() not in {")", "]", "}", "):", "]:", "},", "),", "];", ");"}:
        return "line"
    if before.strip() and not before.rstrip().endswith((":", "{", "(", "[", "=>", ",")):
        return "line"
    return "block"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def postprocess(middle: str, prefix: str, suffix: str, mode: Mode, max_lines: int) -> str:
    """Cut the raw middle to what should be inserted at the cursor (see module docstring)."""
    text = _CONTROL.split(middle, maxsplit=1)[0]
    if mode == "line":
        return text.split("\n", 1)[0].rstrip()
    suffix_lines = [ln for ln in suffix.split("\n") if ln.strip()]
    first_suffix = suffix_lines[0].strip() if suffix_lines else None
    cursor_line = prefix.rsplit("\n", 1)[-1]
    # the block's indentation: the cursor's line if it has code, else the indentation the cursor sits at
    block_indent = _indent(cursor_line) if cursor_line.strip() else len(cursor_line)
    out: list[str] = []
    for i, line in enumerate(text.split("\n")):
        if i >= max_lines:
            break
        stripped = line.strip()
        if i > 0 and first_suffix and stripped == first_suffix:
            break  # the model is re-typing what comes after the cursor
        if i > 0 and stripped and _indent(line) < block_indent:
            break  # dedented past the cursor's block: that code belongs to the suffix
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


class FimCompleter:
    """Builds the repo-level FIM prompt within budgets, calls the model, and post-processes the middle."""

    def __init__(
        self,
        chat: ChatModel,
        settings: CodeSettings | None = None,
        context: ContextProvider | None = None,
    ) -> None:
        self.chat = chat
        self.settings = settings or get_code_settings()
        self.context = context
        self.rails = CodeRails(self.settings)

    # -- budgets ------------------------------------------------------------------------------------------
    def _tail_tokens(self, text: str, budget: int) -> str:
        """The end of ``text`` within ``budget`` tokens, cut at a line start (the cursor's line kept whole)."""
        if self.chat.count_tokens(text) <= budget:
            return text
        lines = text.split("\n")
        kept: list[str] = []
        used = 0
        for line in reversed(lines):
            cost = self.chat.count_tokens(line + "\n")
            if kept and used + cost > budget:
                break
            kept.append(line)
            used += cost
        return "\n".join(reversed(kept))

    def _head_tokens(self, text: str, budget: int) -> str:
        if self.chat.count_tokens(text) <= budget:
            return text
        kept: list[str] = []
        used = 0
        for line in text.split("\n"):
            cost = self.chat.count_tokens(line + "\n")
            if used + cost > budget:
                break
            kept.append(line)
            used += cost
        return "\n".join(kept)

    def _pack_context(self, snippets: Sequence[ContextSnippet], budget: int) -> list[ContextSnippet]:
        chosen: list[ContextSnippet] = []
        used = 0
        for s in snippets:
            cost = self.chat.count_tokens(s.text) + 8
            if used + cost > budget:
                continue
            chosen.append(s)
            used += cost
        return chosen

    def build_prompt(
        self, prefix: str, suffix: str, *, path: str = "", repo: str = "", language: str | None = None
    ) -> tuple[str, list[ContextSnippet]]:
        s = self.settings
        prefix, suffix = strip_control(prefix), strip_control(suffix)
        prefix = self._tail_tokens(prefix, s.fim_prefix_tokens)
        suffix = self._head_tokens(suffix, s.fim_suffix_tokens)
        snippets: list[ContextSnippet] = []
        if self.context is not None and s.fim_context_tokens > 0:
            snippets = self._pack_context(self.context.snippets(path, prefix, suffix, language), s.fim_context_tokens)
        parts = [f"{REPO_NAME}{repo or 'repo'}\n"] if (snippets or path) else []
        by_path: dict[str, list[str]] = {}
        for snip in snippets:
            by_path.setdefault(snip.path, []).append(self.rails.scrub(strip_control(snip.text)))
        for p, texts in by_path.items():
            parts.append(f"{FILE_SEP}{p}\n" + "\n...\n".join(texts) + "\n")
        if parts:
            parts.append(f"{FILE_SEP}{path or 'current'}\n")
        parts.append(f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}")
        return "".join(parts), snippets

    def complete(
        self,
        prefix: str,
        suffix: str = "",
        *,
        path: str = "",
        repo: str = "",
        language: str | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        mode: Mode | None = None,
    ) -> Completion:
        t0 = time.perf_counter()
        mode = mode or cursor_mode(prefix, suffix)
        prompt, snippets = self.build_prompt(prefix, suffix, path=path, repo=repo, language=language)
        limit = max_tokens or (self.settings.fim_line_max_tokens if mode == "line" else self.settings.fim_max_tokens)
        stops = list(stop or [])
        if mode == "line":
            stops.append("\n")
        result = self.chat.chat(ChatRequest.completion(prompt, max_tokens=limit, temperature=temperature, stop=stops))
        text = postprocess(result.text, prefix, suffix, mode, self.settings.fim_max_lines)
        finish_reason = result.finish_reason
        if text and self.rails.inserts_secret(prefix, text, suffix):
            text, finish_reason = "", "content_filter"
        return Completion(
            text=text,
            mode=mode,
            finish_reason=finish_reason,
            raw=result.text,
            context=snippets,
            usage=result.usage,
            latency_s=time.perf_counter() - t0,
            prompt_tokens=result.usage.prompt_tokens,
        )
