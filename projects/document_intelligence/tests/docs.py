"""Tiny documents built from lines with boxes (never from ../shared/data), shared by the extraction tests."""

from __future__ import annotations

from projects.document_intelligence.model import Document, Line
from projects.document_intelligence.sroie import lines_to_document

Row = tuple[str, tuple[float, float, float, float]]

RECEIPT_ROWS: list[Row] = [
    ("TAN AH KOW", (10, 10, 120, 30)),
    ("KEDAI MAJU SDN BHD", (60, 60, 300, 85)),
    ("(123456-X)", (120, 88, 220, 105)),
    ("NO. 5, JALAN BUNGA 3,", (50, 110, 320, 130)),
    ("43000 KAJANG, SELANGOR.", (60, 133, 310, 153)),
    ("TEL: 03-1234 5678", (80, 156, 250, 175)),
    ("DATE: 05/03/2019 10:22", (20, 200, 300, 220)),
    ("ITEM A", (20, 240, 120, 260)),
    ("2.50", (300, 240, 340, 260)),
    ("ITEM B", (20, 265, 120, 285)),
    ("4.00", (300, 265, 340, 285)),
    ("SUBTOTAL", (20, 300, 120, 320)),
    ("6.50", (300, 300, 340, 320)),
    ("TOTAL QTY: 2", (20, 325, 160, 345)),
    ("TOTAL:", (20, 350, 100, 370)),
    ("6.50", (300, 350, 340, 370)),
    ("CASH", (20, 375, 80, 395)),
    ("10.00", (300, 375, 340, 395)),
    ("CHANGE", (20, 400, 100, 420)),
    ("3.50", (300, 400, 340, 420)),
]


def invoice_rows(total: str = "27.50") -> list[Row]:
    return [
        ("ACME TRADING LTD", (40, 20, 300, 45)),
        ("12 Harbour Road, Springfield", (40, 50, 320, 68)),
        ("TAX INVOICE", (400, 20, 560, 45)),
        ("Invoice No: INV-2024-001", (360, 80, 580, 98)),
        ("Invoice Date: 01/03/2024", (360, 102, 580, 120)),
        ("Due Date: 31/03/2024", (360, 124, 580, 142)),
        ("Bill To:", (40, 160, 120, 178)),
        ("Globex Corp", (40, 182, 200, 200)),
        ("Description", (40, 230, 160, 248)),
        ("Qty", (300, 230, 330, 248)),
        ("Unit", (380, 230, 420, 248)),
        ("Amount", (480, 230, 540, 248)),
        ("Widget", (40, 255, 160, 273)),
        ("2", (310, 255, 320, 273)),
        ("10.00", (380, 255, 430, 273)),
        ("20.00", (480, 255, 530, 273)),
        ("Gadget", (40, 280, 160, 298)),
        ("1", (310, 280, 320, 298)),
        ("5.00", (380, 280, 430, 298)),
        ("5.00", (480, 280, 530, 298)),
        ("Subtotal", (380, 320, 460, 338)),
        ("25.00", (480, 320, 530, 338)),
        ("Tax", (380, 342, 460, 360)),
        ("2.50", (480, 342, 530, 360)),
        ("Total", (380, 364, 460, 382)),
        (total, (480, 364, 530, 382)),
    ]


def make_doc(rows: list[Row], doc_id: str = "t") -> Document:
    return lines_to_document([Line(text=t, bbox=b) for t, b in rows], doc_id=doc_id)


def receipt_doc() -> Document:
    return make_doc(RECEIPT_ROWS, "receipt")
