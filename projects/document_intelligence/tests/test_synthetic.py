"""The synthetic corpus: deterministic, every type and template, ground truth that adds up."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from projects.document_intelligence.doc_types import DOC_TYPES
from projects.document_intelligence.synthetic import TEMPLATES, fmt_amount, fmt_date, generate, generate_corpus

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")


def test_same_seed_same_document_and_different_seed_different_document():
    for t in DOC_TYPES:
        a, b = generate(t, 11), generate(t, 11)
        assert a.model_dump() == b.model_dump()
        assert a.text == b.text
        assert generate(t, 12).text != a.text


def test_every_type_has_at_least_three_templates_and_each_renders_its_text():
    for t in DOC_TYPES:
        assert len(TEMPLATES[t]) >= 3
        texts = set()
        for template in TEMPLATES[t]:
            doc = generate(t, 5, template=template)
            assert doc.doc_type == t and doc.template.split("/")[0] == template
            assert doc.text.strip() and doc.fields
            doc.text.encode("latin-1")  # drawable by fpdf2's core fonts
            texts.add(doc.text)
        assert len(texts) == len(TEMPLATES[t]), f"{t}: two templates gave the same text"


def test_corpus_is_balanced_over_types_and_templates():
    docs = generate_corpus(8, seed=3)
    assert len(docs) == 8 * len(DOC_TYPES)
    for t in DOC_TYPES:
        of_type = [d for d in docs if d.doc_type == t]
        assert len(of_type) == 8
        assert {d.template.split("/")[0] for d in of_type} == set(TEMPLATES[t])
    assert len({d.id for d in docs}) == len(docs)


def test_unknown_type_or_template_is_refused():
    with pytest.raises(ValueError, match="unknown document type"):
        generate("spreadsheet", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown invoice template"):
        generate("invoice", 1, template="fancy")


def test_invoice_ground_truth_is_internally_consistent():
    for seed in range(40):
        doc = generate("invoice", seed)
        f = doc.fields
        assert 2 <= len(doc.line_items) <= 8
        for item in doc.line_items:
            assert Decimal(item["quantity"]) * Decimal(item["unit_price"]) == pytest.approx(
                Decimal(item["amount"]), abs=Decimal("0.005")
            )
        assert sum(Decimal(i["amount"]) for i in doc.line_items) == Decimal(f["subtotal"])
        assert Decimal(f["subtotal"]) + Decimal(f["tax"]) == Decimal(f["total"])
        assert ISO.match(f["issue_date"]) and ISO.match(f["due_date"]) and f["due_date"] > f["issue_date"]
        assert all(AMOUNT.match(f[k]) for k in ("subtotal", "tax", "total"))
        assert f["invoice_number"] in doc.text and f["vendor_name"].lower() in doc.text.lower()
        assert f["currency"] in {"USD", "EUR", "GBP", "MYR"}


def test_receipt_ground_truth_adds_up_and_shows_on_the_receipt():
    for seed in range(40):
        doc = generate("receipt", seed)
        f = doc.fields
        assert ISO.match(f["date"]) and AMOUNT.match(f["total"])
        assert f["company"] in doc.text
        items = sum(Decimal(i["amount"]) for i in doc.line_items)
        if doc.template == "eu_shop":  # VAT is included in the shelf prices
            assert items == Decimal(f["total"])
        else:  # tax on top, Malaysian receipts round to 5 sen
            assert abs(items + Decimal(f["tax"]) - Decimal(f["total"])) <= Decimal("0.02")
        if "cash" in f:
            assert Decimal(f["cash"]) - Decimal(f["total"]) == Decimal(f["change"]) >= 0


def test_long_documents_are_longer():
    assert len(generate("invoice", 1, long=True).line_items) > 30
    assert len(generate("contract", 1, long=True).text) > 3 * len(generate("contract", 1).text)


def test_date_and_amount_formats():
    d = date(2024, 3, 5)
    assert [fmt_date(d, s) for s in ("iso", "us", "dmy", "eu", "long", "short")] == [
        "2024-03-05", "03/05/2024", "05/03/2024", "05.03.2024", "March 5, 2024", "5 Mar 2024",
    ]  # fmt: skip
    assert fmt_amount(Decimal("1234.5")) == "1,234.50"
    assert fmt_amount(Decimal("1234.5"), "eu") == "1.234,50"
    assert fmt_amount(Decimal("1234.5"), "plain") == "1234.50"
