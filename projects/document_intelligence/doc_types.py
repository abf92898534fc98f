"""The document types the project classifies and extracts, named once so every stage agrees on the labels."""

from __future__ import annotations

from typing import Literal, get_args

DocType = Literal["invoice", "receipt", "form", "letter", "contract", "id_card", "other"]
DOC_TYPES: tuple[DocType, ...] = get_args(DocType)

# one line per type: shown to the LLM when the k-NN vote is unsure, and in the UI
DOC_TYPE_DESCRIPTIONS: dict[DocType, str] = {
    "invoice": "a bill from a vendor to a customer: invoice number, dates, line items, subtotal, tax, total due",
    "receipt": "a till or shop receipt for a purchase already paid: shop name, date/time, items, total, cash/change",
    "form": "an application or registration form: labelled fields to fill in, checkboxes, a signature line",
    "letter": "a letter or memo addressed to a person: date, salutation, paragraphs, closing and signature",
    "contract": "an agreement between parties: effective date, term, numbered clauses, signatures",
    "id_card": "an identity document: ID card, driver licence, staff badge, permit (name, number, birth/expiry dates)",
    "other": "anything else: meeting notes, datasheets, reports, articles",
}
