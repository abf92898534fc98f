"""``extract(doc, doc_type)``: heuristics first, the LLM for what they could not settle, then validation and review.

Order of trust: a heuristic value at or above ``extract_accept_confidence`` (a labelled value, a legal-form
company line) is kept and the LLM is not asked for it — cheaper, and grounded by construction. The LLM is
asked only for the remaining fields; when both have a value, agreement raises confidence and a
disagreement goes to the more confident side, except for field kinds listed in
``extract_prefer_heuristics`` (measured on SROIE: a small model can lose to the rules on some kinds).
Validation then runs on the normalised values and decides whether a person must review the document.
"""

from __future__ import annotations

from projects.document_intelligence.fields import ExtractionResult, FieldValue, LineItem, ValidationIssue
from projects.document_intelligence.heuristics import HeuristicExtractor
from projects.document_intelligence.llm_extract import LlmExtractor
from projects.document_intelligence.model import Document
from projects.document_intelligence.normalize import values_equal
from projects.document_intelligence.schemas import HAS_LINE_ITEMS, FieldSpec, specs_for
from projects.document_intelligence.settings import DocIntSettings, get_docint_settings
from projects.document_intelligence.validation import validate
from shared.observability.tracing import span
from shared.serving.base import ChatModel

AGREEMENT_BONUS = 0.1


def combine(h: FieldValue, llm: FieldValue | None, spec: FieldSpec, prefer_heuristics: set[str]) -> FieldValue:
    """One value from a heuristic candidate and an LLM candidate (either may be empty)."""
    if llm is None or (llm.value is None and not llm.raw):
        return h
    if h.value is None:
        if llm.value is not None and llm.source is None and spec.kind != "currency":
            # hallucination guard: a value printed nowhere in the document is never reported as extracted;
            # the suggestion stays visible to the reviewer as an issue on the (empty, required → review) field
            return h.model_copy(update={"issues": [*h.issues, f"llm suggested {llm.raw!r}, not found in the document"]})
        return llm  # an unparseable LLM answer is kept too: validation flags it with its raw text
    if llm.value is None:
        return h
    if values_equal(spec.kind, h.value, llm.value):
        agreed = min(1.0, max(h.confidence, llm.confidence) + AGREEMENT_BONUS)
        return h.model_copy(update={"confidence": round(agreed, 3)})
    note = f"llm said {llm.value!r}"
    if spec.kind in prefer_heuristics or spec.name in prefer_heuristics or h.confidence >= llm.confidence:
        return h.model_copy(update={"issues": [*h.issues, f"disagreement: {note}"]})
    return llm.model_copy(update={"issues": [*llm.issues, f"disagreement: heuristics said {h.value!r}"]})


def extract(
    doc: Document,
    doc_type: str,
    chat_model: ChatModel | None = None,
    settings: DocIntSettings | None = None,
    *,
    use_llm: bool | None = None,
) -> ExtractionResult:
    """Fields of ``doc`` for the schema of ``doc_type`` (unknown types use the generic ``other`` schema).

    ``use_llm`` defaults to ``settings.extract_llm``; the chat model defaults to the platform's
    ``get_chat_model()``, built only when a field actually needs it.
    """
    settings = settings or get_docint_settings()
    use_llm = settings.extract_llm if use_llm is None else use_llm
    specs = specs_for(doc_type)
    with span("docint.extract.heuristics", doc_type=doc_type):
        fields, items = HeuristicExtractor(day_first=settings.extract_day_first).extract(doc, doc_type)
    issues_extra: list[str] = []
    wanted = [
        n
        for n, fv in fields.items()
        if (fv.value is None or fv.confidence < settings.extract_accept_confidence)
        and (specs[n].required or (settings.extract_llm_optional_fields and fv.value is None))
    ]
    if doc_type in HAS_LINE_ITEMS and not items:
        wanted.append("line_items")
    if use_llm and wanted:
        if chat_model is None:
            from shared.serving.factory import get_chat_model

            chat_model = get_chat_model()
        with span("docint.extract.llm", doc_type=doc_type, fields=len(wanted)):
            llm_fields, llm_items, error = LlmExtractor(chat_model, settings).extract(doc, doc_type, wanted)
        if error:
            issues_extra.append(f"llm unavailable: {error}")
        prefer = set(settings.extract_prefer_heuristics)
        for name in wanted:
            if name in specs:
                fields[name] = combine(fields[name], llm_fields.get(name), specs[name], prefer)
        if not items and llm_items:
            items = llm_items
    result = ExtractionResult(doc_type=doc_type, fields=fields, line_items=[LineItem(**i.model_dump()) for i in items])
    validate(result, tolerance=settings.amount_tolerance, threshold=settings.review_threshold)
    for message in issues_extra:
        result.issues.append(ValidationIssue(code="llm_unavailable", message=message))
    return result
