"""FAQ answers: retrieve from the knowledge base, then quote — never generate — with a citation.

Why extractive: a small local model asked to "answer from this passage" drops or changes numbers (the return
window, refund days), and a wrong policy answer is worse than none. So the answer is the passage's own
sentences that best match the question, followed by its citation ("[Returns policy § Return window]"); the
agent lets the model reword it only if every number and id survives (``agent._keeps_facts``). Below
``faq_min_relevance`` (cosine similarity of the best passage) the agent says it does not know and offers a human.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from projects.support_agent.knowledge import Hit, KnowledgeBase

_STOP_WORDS = (
    "a an the is are do does did can could i you we my your our of to in on for with it this that be how what "
    "when where which who why will would there any and or if me us at by from as"
)
_STOP = frozenset(re.findall(r"\S+", _STOP_WORDS))
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$])")
MAX_SENTENCES = 3


@dataclass
class FaqAnswer:
    """``answered`` False: nothing relevant enough (``text`` is empty); ``hits`` are recorded in the trace."""

    answered: bool
    text: str = ""
    citations: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    relevance: float = 0.0

    def as_event(self) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "relevance": round(self.relevance, 4),
            "citations": self.citations,
            "hits": [h.as_event() for h in self.hits],
        }


def _terms(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9$]+", text.lower()) if w not in _STOP}


def passage_body(text: str) -> str:
    """The passage without its markdown heading lines (the citation names the section)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def extract(question: str, passage: str, max_sentences: int = MAX_SENTENCES) -> str:
    """The passage's sentences that share the most terms with the question, in their original order."""
    body = passage_body(passage)
    sentences = [s.strip() for s in _SENTENCE.split(body) if s.strip()]
    if len(sentences) <= max_sentences:
        return body
    q = _terms(question)
    ranked = sorted(range(len(sentences)), key=lambda i: (-len(q & _terms(sentences[i])), i))
    keep = sorted(ranked[:max_sentences])
    return " ".join(sentences[i] for i in keep)


def answer(kb: KnowledgeBase, question: str, tenant_id: str, min_relevance: float) -> FaqAnswer:
    """Search, threshold the most relevant passage, quote it with its citation."""
    hits = [h for h in kb.search(question, tenant_id) if passage_body(h.text)]
    if not hits:
        return FaqAnswer(False)
    # Hybrid search gathers the candidates (dense + full text, RRF); among them the passage closest to the
    # question in embedding space is quoted: on a knowledge base of a few hundred short passages RRF's rank
    # arithmetic can put a passage that merely shares a word ("shipping address" for "standard shipping") first.
    best = max(hits, key=lambda h: h.relevance)
    if best.relevance < min_relevance:
        return FaqAnswer(False, hits=hits, relevance=best.relevance)
    return FaqAnswer(True, extract(question, best.text), [best.citation], hits, best.relevance)
