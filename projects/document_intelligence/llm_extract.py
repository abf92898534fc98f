"""LLM extraction with structured output, and the grounding step that keeps it honest.

The model gets the document's text in reading order (truncated to ``extract_max_chars``) and the JSON
Schema of the fields wanted; ``generate_structured`` validates (and constrains, where the backend can).
Every returned value is then located back in the document: a value whose text (or, for dates and
amounts, whose normalised value) is on a line gets that line's page and box and a confidence from the
match quality; a value found nowhere gets a low confidence and an issue — the hallucination guard.
"""

from __future__ import annotations

import difflib
import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from projects.document_intelligence.fields import FieldValue, LineItem
from projects.document_intelligence.geometry import group_rows, row_text
from projects.document_intelligence.model import Document, Line, SourceRef, union
from projects.document_intelligence.normalize import (
    find_amounts,
    find_dates,
    normalize_amount,
    normalize_value,
    text_key,
)
from projects.document_intelligence.schemas import HAS_LINE_ITEMS, LineItemFields, specs_for
from projects.document_intelligence.settings import DocIntSettings, get_docint_settings
from shared.serving.base import ChatModel, ServingError
from shared.serving.structured import generate_structured
from shared.serving.types import ChatMessage, ChatRequest

log = logging.getLogger(__name__)

NOT_FOUND_CONFIDENCE = 0.15  # an LLM value found nowhere in the text (text needs a ≥ 0.85 similarity to count)
LLM_BASE, LLM_SPAN = 0.3, 0.35  # grounded LLM value: 0.3 + 0.35 × match score
SYSTEM = (
    "You extract fields from a {doc_type}. Copy each value exactly as it is printed in the document text. "
    "Use null for a field the document does not show. Do not invent values."
)


def document_text(doc: Document, max_chars: int) -> str:
    """Rows in reading order (a label and its value on one line), pages separated, cut at ``max_chars``."""
    parts: list[str] = []
    size = 0
    for page in doc.pages:
        for row in group_rows(page.lines):
            text = row_text(row)
            if size + len(text) + 1 > max_chars:
                return "\n".join(parts)
            parts.append(text)
            size += len(text) + 1
    return "\n".join(parts)


MAX_CHARS = {"text": 160, "id": 60, "date": 40, "amount": 32, "number": 32, "currency": 8}


def request_model(doc_type: str, names: list[str]) -> type[BaseModel]:
    """A pydantic model with only the fields still wanted (a shorter answer decodes faster on a small CPU model).

    Each string has a ``maxLength`` by kind: constrained decoding then cannot loop inside a string until
    ``max_tokens`` cuts the JSON (on SROIE dev, before this cap, the 0.5B model repeated address fragments
    and a third of the answers were unparseable)."""
    specs = specs_for(doc_type)
    fields: dict = {
        n: (
            Annotated[str, StringConstraints(max_length=MAX_CHARS[specs[n].kind])] | None,
            Field(default=None, description=specs[n].description),
        )
        for n in names
        if n in specs
    }
    if doc_type in HAS_LINE_ITEMS and "line_items" in names:
        fields["line_items"] = (list[LineItemFields], Field(default_factory=list))
    return create_model(f"{doc_type.capitalize()}Request", __config__=ConfigDict(extra="ignore"), **fields)


class _Span:
    """A candidate place a value can come from: one line, or a few consecutive rows (a wrapped address)."""

    def __init__(self, page: int, lines: list[Line]) -> None:
        self.page = page
        self.lines = lines
        self.text = " ".join(ln.text for ln in lines)
        self.key = text_key(self.text)

    def source(self) -> SourceRef:
        return SourceRef(page=self.page, bbox=union([ln.bbox for ln in self.lines]), text=self.text)


def _spans(doc: Document, max_rows: int = 4) -> list[_Span]:
    spans: list[_Span] = []
    for page in doc.pages:
        rows = group_rows(page.lines)
        for ln in page.lines:
            spans.append(_Span(page.number, [ln]))
        for i in range(len(rows)):
            for n in range(1, max_rows + 1):
                if i + n <= len(rows):
                    spans.append(_Span(page.number, [ln for r in rows[i : i + n] for ln in r]))
    return spans


def locate(doc: Document, kind: str, value: str, *, day_first: bool = True, spans: list[_Span] | None = None):
    """Best place ``value`` occurs: ``(SourceRef, score 0..1)`` or ``(None, 0)``. Dates and amounts match by
    normalised value; text by whitespace/case-insensitive containment, else by difflib similarity."""
    spans = spans if spans is not None else _spans(doc)
    if kind == "date":
        iso = normalize_value("date", value, day_first=day_first)
        for sp in spans:
            if len(sp.lines) == 1 and iso and any(h[2] == iso for h in find_dates(sp.text, day_first=day_first)):
                return sp.source(), 1.0
        return None, 0.0
    if kind in ("amount", "number"):
        target = normalize_amount(value)
        hits = [sp for sp in spans if len(sp.lines) == 1 and any(a[2] == target for a in find_amounts(sp.text))]
        return (hits[-1].source(), 1.0) if hits and target is not None else (None, 0.0)
    key = text_key(value)
    if not key:
        return None, 0.0
    best: tuple[_Span | None, float] = (None, 0.0)
    for sp in spans:
        if key == sp.key:
            return sp.source(), 1.0
        if key in sp.key:
            score = 0.95 if len(sp.lines) == 1 else 0.9
        else:
            if abs(len(sp.key) - len(key)) > max(8, len(key) // 2):
                continue
            score = difflib.SequenceMatcher(None, key, sp.key, autojunk=False).ratio()
        if score > best[1] or (score == best[1] and best[0] is not None and len(sp.lines) < len(best[0].lines)):
            best = (sp, score)
    return (best[0].source(), best[1]) if best[0] is not None else (None, 0.0)


class LlmExtractor:
    """Structured-output extraction through the serving interface (local model or an OpenAI-compatible server)."""

    def __init__(self, chat_model: ChatModel, settings: DocIntSettings | None = None, *, max_retries: int = 1):
        self.chat_model = chat_model
        self.settings = settings or get_docint_settings()
        self.max_retries = max_retries

    def extract(
        self, doc: Document, doc_type: str, names: list[str] | None = None
    ) -> tuple[dict[str, FieldValue], list[LineItem], str | None]:
        """Fields (only ``names`` when given) located in the document, line items, and an error message when the
        model failed (the caller falls back to heuristics; a model outage must not fail the extraction)."""
        specs = specs_for(doc_type)
        wanted = list(names) if names is not None else [*specs, *(["line_items"] if doc_type in HAS_LINE_ITEMS else [])]
        if not wanted:
            return {}, [], None
        text = document_text(doc, self.settings.extract_max_chars)
        request = ChatRequest(
            system=SYSTEM.format(doc_type=doc_type),
            messages=[ChatMessage.user(f"Document text:\n{text}\n\nReturn the fields as JSON.")],
            temperature=0.0,
            max_tokens=self.settings.extract_llm_max_tokens,
        )
        try:
            answer = generate_structured(
                self.chat_model, request, request_model(doc_type, wanted), max_retries=self.max_retries
            )
        except (ServingError, ValueError) as exc:
            log.warning("LLM extraction failed for %s: %s", doc.id or doc.filename, exc)
            return {}, [], f"{type(exc).__name__}: {exc}"
        data = answer.model_dump()
        spans = _spans(doc)
        day_first = self.settings.extract_day_first
        out: dict[str, FieldValue] = {}
        for name in wanted:
            if name not in specs:
                continue
            raw = data.get(name)
            raw = None if raw is None or not str(raw).strip() or str(raw).strip().lower() == "null" else str(raw)
            if raw is None:
                out[name] = FieldValue(name=name, method="llm", confidence=0.0)
                continue
            kind = specs[name].kind
            value = normalize_value(kind, raw, day_first=day_first)
            source, score = locate(doc, kind, raw, day_first=day_first, spans=spans)
            issues: list[str] = []
            if kind == "currency":
                confidence = 0.6  # a code the model inferred (RM → MYR) need not be printed
            elif source is None or score < (0.85 if kind in ("text", "id") else 1.0):
                confidence, source = NOT_FOUND_CONFIDENCE, None
                issues.append("value not found in the document text (possible hallucination)")
            else:
                # at most 0.65: a small model's answer, even when found on a line, is weaker evidence than a layout
                # rule (on SROIE dev it picked a person's name or a registration number as often as the merchant)
                confidence = round(LLM_BASE + LLM_SPAN * score, 3)
            out[name] = FieldValue(
                name=name, value=value, raw=raw, confidence=confidence, source=source, method="llm", issues=issues
            )
        items = []
        for it in data.get("line_items") or []:
            desc = it.get("description")
            source, score = locate(doc, "text", desc, spans=spans) if desc else (None, 0.0)
            items.append(
                LineItem(
                    description=normalize_value("text", desc),
                    quantity=normalize_value("number", it.get("quantity")),
                    unit_price=normalize_value("amount", it.get("unit_price")),
                    amount=normalize_value("amount", it.get("amount")),
                    confidence=round(LLM_BASE + LLM_SPAN * score, 3) if source is not None else NOT_FOUND_CONFIDENCE,
                    source=source,
                )
            )
        return out, items, None
