"""What to extract per document type: field specs (kind, required, label words) and the pydantic model built from them.

One source of truth: each type is a tuple of :class:`FieldSpec`; the pydantic model the LLM answers in
(``SCHEMAS[doc_type]``, every field ``str | None`` because normalisation happens after the model, where
it can be checked) is generated from it, and the kinds drive normalisation, validation and review.
``required`` marks the fields without which a document goes to human review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

FieldKind = Literal["text", "date", "amount", "number", "id", "currency"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    required: bool = False
    description: str = ""
    labels: tuple[str, ...] = field(default=())  # words printed next to the value ("Invoice No", "Due date")


class LineItemFields(BaseModel):
    """One invoice row as the LLM reports it (strings; normalised afterwards)."""

    model_config = ConfigDict(extra="ignore")
    description: str | None = Field(default=None, description="item text")
    quantity: str | None = Field(default=None, description="number of units")
    unit_price: str | None = Field(default=None, description="price of one unit")
    amount: str | None = Field(default=None, description="line total")


LINE_ITEM_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("description", "text"),
    FieldSpec("quantity", "number"),
    FieldSpec("unit_price", "amount"),
    FieldSpec("amount", "amount"),
)

_TOTAL_LABELS = ("total", "grand total", "amount due", "total due", "balance due", "total amount", "amount payable")

FIELD_SPECS: dict[str, tuple[FieldSpec, ...]] = {
    "receipt": (
        FieldSpec("company", "text", True, "the business (merchant) name printed at the top, not a person's name"),
        FieldSpec("date", "date", True, "the purchase date", ("date",)),
        FieldSpec("address", "text", True, "the merchant's full address as printed"),
        FieldSpec("total", "amount", True, "the final amount paid, after rounding and tax", _TOTAL_LABELS),
        FieldSpec("subtotal", "amount", False, "amount before tax", ("subtotal", "sub total", "sub-total")),
        FieldSpec("tax", "amount", False, "tax amount (GST, SST, VAT)", ("gst", "sst", "vat", "tax")),
        FieldSpec("currency", "currency", False, "ISO currency code, e.g. MYR, USD"),
    ),
    "invoice": (
        FieldSpec("invoice_number", "id", True, "the invoice number", ("invoice no", "invoice number", "invoice #")),
        FieldSpec(
            "issue_date",
            "date",
            True,
            "the invoice date",
            ("invoice date", "date of issue", "issue date", "issued"),
        ),
        FieldSpec("due_date", "date", False, "the payment due date", ("due date", "payment due", "due")),
        FieldSpec("vendor", "text", True, "the company issuing the invoice", ("from", "seller", "vendor")),
        FieldSpec("customer", "text", False, "the company or person billed", ("bill to", "billed to", "customer")),
        FieldSpec("subtotal", "amount", False, "amount before tax", ("subtotal", "sub total", "net amount")),
        FieldSpec("tax", "amount", False, "tax amount", ("tax", "vat", "gst", "sst")),
        FieldSpec("total", "amount", True, "the amount due including tax", _TOTAL_LABELS),
        FieldSpec("currency", "currency", False, "ISO currency code, e.g. USD, EUR"),
    ),
    "form": (
        FieldSpec("title", "text", True, "the form's title"),
        FieldSpec("name", "text", False, "the person the form is about", ("name", "full name", "applicant")),
        FieldSpec("date", "date", False, "the date the form was filled or signed", ("date",)),
        FieldSpec("reference", "id", False, "form or reference number", ("reference", "ref", "form no")),
    ),
    "letter": (
        FieldSpec("sender", "text", True, "who wrote the letter", ("from", "sincerely", "regards")),
        FieldSpec("recipient", "text", False, "who the letter is addressed to", ("to", "dear")),
        FieldSpec("date", "date", True, "the letter's date", ("date",)),
        FieldSpec("subject", "text", False, "the subject line", ("subject", "re")),
    ),
    "contract": (
        FieldSpec("title", "text", False, "the agreement's title"),
        FieldSpec("parties", "text", True, "the parties to the agreement, separated by ';'", ("between", "party")),
        FieldSpec("effective_date", "date", True, "when the agreement takes effect", ("effective date", "dated")),
        FieldSpec("term", "text", False, "the duration, e.g. '12 months'", ("term",)),
        FieldSpec("governing_law", "text", False, "governing law / jurisdiction", ("governing law",)),
    ),
    "id_card": (
        FieldSpec("name", "text", True, "the holder's full name", ("name", "surname")),
        FieldSpec("id_number", "id", True, "the document number", ("id no", "document no", "passport no", "no")),
        FieldSpec("date_of_birth", "date", False, "date of birth", ("date of birth", "dob", "birth")),
        FieldSpec("expiry", "date", False, "expiry date", ("expiry", "expires", "date of expiry", "valid until")),
        FieldSpec("nationality", "text", False, "nationality", ("nationality",)),
    ),
    "other": (
        FieldSpec("title", "text", False, "the document's title"),
        FieldSpec("date", "date", False, "the document's main date", ("date",)),
    ),
}

HAS_LINE_ITEMS: frozenset[str] = frozenset({"invoice"})


def _build_model(doc_type: str, specs: tuple[FieldSpec, ...]) -> type[BaseModel]:
    fields: dict = {s.name: (str | None, Field(default=None, description=s.description)) for s in specs}
    if doc_type in HAS_LINE_ITEMS:
        fields["line_items"] = (list[LineItemFields], Field(default_factory=list, description="the billed rows"))
    model = create_model(f"{doc_type.capitalize()}Fields", __config__=ConfigDict(extra="ignore"), **fields)
    model.__doc__ = f"Fields of a {doc_type}; null when the document does not show them."
    return model


SCHEMAS: dict[str, type[BaseModel]] = {t: _build_model(t, specs) for t, specs in FIELD_SPECS.items()}


def specs_for(doc_type: str) -> dict[str, FieldSpec]:
    """The field specs of a type by name; unknown types fall back to ``other`` (a generic title/date)."""
    return {s.name: s for s in FIELD_SPECS.get(doc_type, FIELD_SPECS["other"])}
