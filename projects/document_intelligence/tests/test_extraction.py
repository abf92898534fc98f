"""Field extraction: heuristics on synthetic receipts and invoices, validation, review, LLM orchestration."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from projects.document_intelligence.doc_types import DOC_TYPES
from projects.document_intelligence.extraction import extract
from projects.document_intelligence.fields import ExtractionResult, FieldValue
from projects.document_intelligence.heuristics import HeuristicExtractor
from projects.document_intelligence.llm_extract import NOT_FOUND_CONFIDENCE, LlmExtractor
from projects.document_intelligence.schemas import SCHEMAS, specs_for
from projects.document_intelligence.settings import DocIntSettings
from projects.document_intelligence.tests.docs import RECEIPT_ROWS, invoice_rows, make_doc, receipt_doc
from projects.document_intelligence.validation import decide_review
from shared.serving.base import ChatModel, ServingError
from shared.serving.types import ChatRequest, ChatResult, StreamChunk


class ScriptedChat(ChatModel):
    """Replies with scripted texts (the last repeats), or raises; records requests."""

    backend = "test"
    model = "scripted"

    def __init__(self, *replies: str, fail: bool = False) -> None:
        self.replies = list(replies) or ["{}"]
        self.fail = fail
        self.calls: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls.append(request)
        if self.fail:
            raise ServingError("backend down")
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return ChatResult(text=text, model=self.model, backend=self.backend)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        raise NotImplementedError


def settings(**kw) -> DocIntSettings:
    return DocIntSettings(**kw)


def box_of(text: str, rows=RECEIPT_ROWS):
    return [b for t, b in rows if t == text]


def test_schemas_registry_and_specs() -> None:
    assert set(DOC_TYPES) == set(SCHEMAS)
    receipt = specs_for("receipt")
    assert [n for n, s in receipt.items() if s.required] == ["company", "date", "address", "total"]
    assert receipt["date"].kind == "date" and receipt["total"].kind == "amount"
    schema = SCHEMAS["invoice"].model_json_schema()
    assert "line_items" in schema["properties"] and "invoice_number" in schema["properties"]
    assert specs_for("nonsense") == specs_for("other")


def test_heuristic_receipt_fields_and_source_boxes() -> None:
    fields, _ = HeuristicExtractor().extract(receipt_doc(), "receipt")
    assert fields["company"].value == "KEDAI MAJU SDN BHD"
    assert fields["company"].confidence >= 0.8
    assert fields["address"].value == "NO. 5, JALAN BUNGA 3, 43000 KAJANG, SELANGOR."
    assert fields["date"].value == "2019-03-05"
    assert fields["total"].value == "6.50"
    # the total's box is the amount on the TOTAL row, not the identical SUBTOTAL amount above it
    assert fields["total"].source.bbox == (300, 350, 340, 370)
    # cash 10.00 - change 3.50 corroborates the total: more confident than the same receipt without them
    bare, _ = HeuristicExtractor().extract(make_doc(RECEIPT_ROWS[:-4]), "receipt")
    assert bare["total"].value == "6.50" and fields["total"].confidence > bare["total"].confidence
    assert fields["company"].source.bbox == box_of("KEDAI MAJU SDN BHD")[0]
    addr = fields["address"].source.bbox
    assert addr[1] == 110 and addr[3] == 153  # spans exactly the two address lines
    assert fields["date"].source.page == 1 and fields["date"].source.bbox[1] == 200
    assert fields["subtotal"].value == "6.50" and fields["currency"].value is None


def test_heuristic_total_prefers_rounded_total_after_rounding_adjustment() -> None:
    rows = [r for r in RECEIPT_ROWS if r[1][1] < 350] + [
        ("TOTAL", (20, 350, 100, 370)), ("RM 33.92", (260, 350, 340, 370)),
        ("ROUNDING ADJUSTMENT", (20, 375, 200, 395)), ("-RM 0.02", (260, 375, 340, 395)),
        ("TOTAL ROUNDED", (20, 400, 200, 420)), ("RM 33.90", (260, 400, 340, 420)),
        ("CASH", (20, 425, 80, 445)), ("RM 50.00", (260, 425, 340, 445)),
    ]  # fmt: skip
    fields, _ = HeuristicExtractor().extract(make_doc(rows), "receipt")
    assert fields["total"].value == "33.90"
    assert fields["total"].source.bbox == (260, 400, 340, 420)


def test_heuristic_invoice_fields_and_line_items() -> None:
    result = extract(make_doc(invoice_rows()), "invoice", settings=settings(extract_llm=False))
    v = result.values()
    assert v["invoice_number"] == "INV-2024-001"
    assert v["issue_date"] == "2024-03-01" and v["due_date"] == "2024-03-31"
    assert v["vendor"] == "ACME TRADING LTD"
    assert v["customer"] == "Globex Corp"
    assert (v["subtotal"], v["tax"], v["total"]) == ("25.00", "2.50", "27.50")
    assert [(i.description, i.quantity, i.unit_price, i.amount) for i in result.line_items] == [
        ("Widget", "2.00", "10.00", "20.00"),
        ("Gadget", "1.00", "5.00", "5.00"),
    ]
    assert result.line_items[0].source.bbox == (40, 255, 530, 273)
    assert result.fields["customer"].source.bbox == (40, 182, 200, 200)  # the value below the "Bill To:" label
    assert not any(i.code.endswith("mismatch") for i in result.issues)
    assert not result.needs_review, result.review_reasons


def test_cross_field_validation_flags_a_wrong_total() -> None:
    good = extract(make_doc(invoice_rows()), "invoice", settings=settings(extract_llm=False))
    bad = extract(make_doc(invoice_rows(total="28.50")), "invoice", settings=settings(extract_llm=False))
    codes = {i.code for i in bad.issues}
    assert "total_mismatch" in codes and "line_items_mismatch" not in codes  # items still match the subtotal
    assert bad.fields["total"].confidence < good.fields["total"].confidence
    assert any("28.5" in m for m in bad.fields["total"].issues)
    assert bad.needs_review and any(r.startswith("total_mismatch") for r in bad.review_reasons)


def test_due_date_before_issue_date_is_flagged() -> None:
    rows = [(t.replace("31/03/2024", "01/02/2024"), b) for t, b in invoice_rows()]
    result = extract(make_doc(rows), "invoice", settings=settings(extract_llm=False))
    assert "due_before_issue" in {i.code for i in result.issues}


def test_needs_review_logic() -> None:
    def result(**fields: FieldValue) -> ExtractionResult:
        base = {n: FieldValue(name=n, value="x", raw="x", confidence=0.9) for n in ("company", "address")}
        base["date"] = FieldValue(name="date", value="2020-01-01", raw="1/1/2020", confidence=0.9)
        base["total"] = FieldValue(name="total", value="9.00", raw="9.00", confidence=0.9)
        return ExtractionResult(doc_type="receipt", fields={**base, **fields})

    ok = result(tax=FieldValue(name="tax", confidence=0.0))  # an optional field missing is fine
    decide_review(ok, 0.7)
    assert not ok.needs_review and ok.review_reasons == []
    missing = result(total=FieldValue(name="total"))
    decide_review(missing, 0.7)
    assert missing.needs_review and missing.review_reasons == ["total: missing"]
    low = result(company=FieldValue(name="company", value="x", confidence=0.5))
    decide_review(low, 0.7)
    assert low.needs_review and "company: confidence 0.50 < 0.70" in low.review_reasons
    invalid = result(date=FieldValue(name="date", raw="32/13/2020"))
    decide_review(invalid, 0.7)
    assert invalid.review_reasons == ["date: invalid ('32/13/2020')"]


def test_invalid_format_lowers_confidence() -> None:
    doc = make_doc([("KEDAI MAJU SDN BHD", (60, 60, 300, 85)), ("TOTAL 5.00", (20, 100, 300, 120))])
    fake = ScriptedChat(json.dumps({"date": "the 45th of Smarch", "address": None}))
    result = extract(doc, "receipt", chat_model=fake, settings=settings())
    assert result.fields["date"].value is None and result.fields["date"].confidence <= 0.2
    assert "invalid_date" in {i.code for i in result.issues}
    assert result.needs_review


def test_llm_extractor_locates_values_and_requests_only_wanted_fields() -> None:
    answer = {
        "company": "KEDAI MAJU SDN BHD",
        "address": "NO. 5, JALAN BUNGA 3, 43000 KAJANG, SELANGOR.",
        "date": "05/03/2019",
        "total": "RM 6.50",
    }
    fake = ScriptedChat("Here you go:\n```json\n" + json.dumps(answer) + "\n```")
    wanted = ["company", "address", "date", "total"]
    fields, _, error = LlmExtractor(fake, settings()).extract(receipt_doc(), "receipt", wanted)
    assert error is None
    req = fake.calls[0]
    assert set(req.response_schema["properties"]) == {"company", "address", "date", "total"}
    assert "KEDAI MAJU SDN BHD" in req.messages[0].content and "TOTAL: 6.50" in req.messages[0].content
    assert fields["date"].value == "2019-03-05" and fields["total"].value == "6.50"
    assert all(f.method == "llm" and f.confidence >= 0.6 for f in fields.values())  # grounded: found on a line
    assert fields["company"].source.bbox == box_of("KEDAI MAJU SDN BHD")[0]
    assert fields["address"].source.bbox[1] == 110 and fields["address"].source.bbox[3] == 153


def test_hallucinated_value_gets_low_confidence() -> None:
    fake = ScriptedChat(json.dumps({"company": "GLOBAL MEGA HYPERSTORE", "total": "99.99"}))
    fields, _, _ = LlmExtractor(fake, settings()).extract(receipt_doc(), "receipt", ["company", "total"])
    for name in ("company", "total"):
        assert fields[name].confidence == NOT_FOUND_CONFIDENCE
        assert fields[name].source is None
        assert any("not found" in i for i in fields[name].issues)


def test_extract_asks_llm_only_for_weak_fields_and_combines() -> None:
    rows = [r for r in RECEIPT_ROWS if r[0] not in ("KEDAI MAJU SDN BHD", "TAN AH KOW")]
    rows.insert(0, ("MAJU JAYA", (60, 60, 300, 85)))  # no legal form: a positional guess, weak
    address = "NO. 5, JALAN BUNGA 3, 43000 KAJANG, SELANGOR."
    fake = ScriptedChat(json.dumps({"company": "MAJU JAYA", "address": address}))
    result = extract(make_doc(rows), "receipt", chat_model=fake, settings=settings())
    wanted = set(fake.calls[0].response_schema["properties"])
    assert "company" in wanted and "address" in wanted
    assert "total" not in wanted and "date" not in wanted  # labelled date, cash-change-backed total: settled
    assert result.fields["company"].value == "MAJU JAYA"
    assert result.fields["company"].confidence > 0.45  # heuristics and LLM agree


def test_hallucinated_value_is_not_reported_when_heuristics_have_none() -> None:
    doc = make_doc([("KEDAI MAJU SDN BHD", (60, 60, 300, 85)), ("TOTAL 5.00", (20, 100, 300, 120))])
    fake = ScriptedChat(json.dumps({"date": "01/06/1950", "address": "NO. 1, JALAN SATU"}))
    result = extract(doc, "receipt", chat_model=fake, settings=settings())
    assert result.fields["date"].value is None and result.fields["address"].value is None
    assert any("not found in the document" in i for i in result.fields["date"].issues)
    assert result.needs_review and "date: missing" in result.review_reasons


def test_hallucination_never_overrides_a_heuristic_value() -> None:
    fake = ScriptedChat(json.dumps({"address": "1 INFINITE LOOP, CUPERTINO", "date": "01/01/2001"}))
    result = extract(receipt_doc(), "receipt", chat_model=fake, settings=settings())
    assert result.fields["address"].value == "NO. 5, JALAN BUNGA 3, 43000 KAJANG, SELANGOR."
    assert result.fields["date"].value == "2019-03-05"
    assert any("disagreement" in i for i in result.fields["address"].issues)


def test_prefer_heuristics_setting_wins_disagreements() -> None:
    rows = [r for r in RECEIPT_ROWS if r[0] not in ("KEDAI MAJU SDN BHD", "TAN AH KOW")]
    rows.insert(0, ("MAJU JAYA", (60, 60, 300, 85)))
    fake = ScriptedChat(json.dumps({"company": "NO. 5, JALAN BUNGA 3,"}))  # grounded but wrong
    s = settings(extract_prefer_heuristics=["text"])
    assert extract(make_doc(rows), "receipt", chat_model=fake, settings=s).fields["company"].value == "MAJU JAYA"
    fake2 = ScriptedChat(json.dumps({"company": "NO. 5, JALAN BUNGA 3,"}))
    assert extract(make_doc(rows), "receipt", chat_model=fake2, settings=settings()).fields["company"].value == (
        "NO. 5, JALAN BUNGA 3,"
    )


def test_llm_outage_falls_back_to_heuristics() -> None:
    result = extract(receipt_doc(), "receipt", chat_model=ScriptedChat(fail=True), settings=settings())
    assert result.fields["total"].value == "6.50"
    assert "llm_unavailable" in {i.code for i in result.issues}


def test_real_local_model_structured_extraction() -> None:
    """One call through the platform's chat model (Qwen 0.5B, local): schema-valid output, grounded or flagged."""
    from shared.serving.factory import get_chat_model

    fields, _, error = LlmExtractor(get_chat_model(), settings()).extract(receipt_doc(), "receipt", ["date", "total"])
    assert error is None
    assert set(fields) == {"date", "total"}
    for fv in fields.values():
        assert fv.method == "llm"
        assert (fv.source is not None) or fv.value is None or fv.confidence == NOT_FOUND_CONFIDENCE
    assert fields["total"].value == "6.50"


@pytest.mark.parametrize("doc_type", ["form", "letter", "contract", "id_card", "other"])
def test_small_schemas_extract_without_errors(doc_type: str) -> None:
    doc = make_doc([("AGREEMENT", (50, 20, 300, 50)), ("Date: 2 January 2024", (50, 60, 300, 80))])
    result = extract(doc, doc_type, settings=settings(extract_llm=False))
    assert set(result.fields) == set(specs_for(doc_type))
    if "date" in result.fields:
        assert result.fields["date"].value == "2024-01-02"
