"""Cross-file context for completion, from the repository index (what an editor plugin cannot see by itself).

Two sources, most useful first:

* **imported symbols**: the names the current file imports (``from shop.money import round_cents``) or calls
  that the index defines elsewhere, shown as their signature + docstring, never their bodies (the model needs
  the contract, and bodies would eat the budget);
* **similar code**: chunks of *other* files that look like the lines just above the cursor (hybrid code search
  on that window), the way Tabby and Continue retrieve "snippets like this one".

Everything comes from the index (never the file system), so a completion request cannot read files the index
does not hold.
"""

from __future__ import annotations

import logging

from projects.code_assistant.complete import ContextSnippet
from projects.code_assistant.languages import language_for_name
from projects.code_assistant.parsing import parse_source
from projects.code_assistant.search import CodeSearch

log = logging.getLogger(__name__)

_MAX_NAMES = 12
_WINDOW_LINES = 12


class IndexContext:
    """A :class:`~projects.code_assistant.complete.ContextProvider` over one indexed repository."""

    def __init__(self, search: CodeSearch, repo_id: str, *, similar_k: int = 2) -> None:
        self.search = search
        self.repo_id = repo_id
        self.similar_k = similar_k

    def _names(self, path: str, prefix: str, suffix: str, language: str | None) -> list[str]:
        lang = language or (language_for_name(path.rsplit("/", 1)[-1]) if path else None) or "text"
        parsed = parse_source(path or "current", prefix + suffix, lang)  # type: ignore[arg-type]
        own = {s.name for s in parsed.symbols}
        seen: dict[str, None] = {}
        # imports first (the file chose them), then calls nearest the cursor
        for ref in sorted(parsed.references, key=lambda r: (r.kind != "import", -r.line)):
            if ref.kind in ("import", "call") and ref.name not in own and len(ref.name) > 2:
                seen.setdefault(ref.name)
        return list(seen)[:_MAX_NAMES]

    def snippets(self, path: str, prefix: str, suffix: str, language: str | None) -> list[ContextSnippet]:
        out: list[ContextSnippet] = []
        try:
            for name in self._names(path, prefix, suffix, language):
                for d in self.search.find_definitions(self.repo_id, name, limit=2):
                    if d.path == path or d.match == "fuzzy":
                        continue
                    doc = f'\n    """{d.docstring.strip().splitlines()[0]}"""' if d.docstring else ""
                    out.append(ContextSnippet(d.path, d.signature.strip() + doc, "import", d.start_line, d.end_line))
                    break
            window = "\n".join(prefix.split("\n")[-_WINDOW_LINES:]).strip()
            if window and self.similar_k:
                for hit in self.search.search(self.repo_id, window, k=self.similar_k + 2):
                    if hit.path != path and len(out) < _MAX_NAMES + self.similar_k:
                        out.append(ContextSnippet(hit.path, hit.text, "similar", hit.start_line, hit.end_line))
        except Exception:  # context is an optimisation: a completion without it beats no completion
            log.exception("completion context lookup failed for %s", path)
        return out
