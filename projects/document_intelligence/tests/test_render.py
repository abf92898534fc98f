"""Rendering: digital PDFs carry a text layer; scans are images (PNG, JPEG, multi-frame TIFF, image-only PDF)."""

from __future__ import annotations

import io

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from projects.document_intelligence.doc_types import DOC_TYPES
from projects.document_intelligence.render import encode_scan, rasterize, render_pdf, render_scan, scanner_effects
from projects.document_intelligence.synthetic import TEMPLATES, generate


def pdf_pages_text(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def squash(s: str) -> str:
    """Compare modulo spacing, case and commas (an address printed over lines is joined with commas)."""
    return " ".join(s.replace(",", " ").split()).lower()


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_digital_pdf_has_a_text_layer_with_the_documents_words(doc_type):
    doc = generate(doc_type, 21)
    data = render_pdf(doc)
    assert data.startswith(b"%PDF")
    text = squash(" ".join(pdf_pages_text(data)))
    for key in list(doc.fields)[:4]:
        value = doc.fields[key]
        if "date" in key or key in ("currency", "kind", "contract_type", "consent", "tax_rate", "time"):
            continue  # normalised or implied values are not printed verbatim
        words = [squash(value)] if doc_type != "id_card" else squash(value).split()  # cards print names split
        assert all(w in text for w in words), f"{doc_type}: {key}={value!r} not in the text layer"
    assert data == render_pdf(doc), "same document must give the same bytes"


def test_every_template_renders_and_cards_stay_on_one_card():
    for doc_type, templates in TEMPLATES.items():
        for template in templates:
            doc = generate(doc_type, 30, template=template)
            pages = pdf_pages_text(render_pdf(doc))
            assert pages and squash(pages[0]), f"{doc_type}/{template} rendered no text"
            if doc_type == "id_card":
                assert len(pages) == 1


def test_invoice_table_values_are_in_the_text_layer():
    doc = generate("invoice", 4, template="classic")
    text = squash(pdf_pages_text(render_pdf(doc))[0])
    for item in doc.line_items:
        assert squash(item["description"]) in text


def test_long_documents_span_several_pages_and_receipts_are_one_strip():
    assert len(pdf_pages_text(render_pdf(generate("contract", 2, long=True)))) >= 2
    assert len(pdf_pages_text(render_pdf(generate("invoice", 2, long=True)))) >= 2
    receipt = pdfium.PdfDocument(render_pdf(generate("receipt", 2, long=True)))
    assert len(receipt) == 1 and receipt[0].get_size()[1] > receipt[0].get_size()[0] * 2


def test_scan_is_a_grey_noisy_page_with_ink_and_deterministic():
    doc = generate("letter", 3)
    png = render_scan(doc, "png", seed=5)
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG" and im.mode == "L"
    # A4 at 150 dpi is 1240 x 1754 plus the scanner's border
    assert 1240 < im.width < 1400 and 1754 < im.height < 1900
    arr = np.asarray(im)
    assert 200 < np.median(arr) < 245, "paper is tinted, not pure white"
    ink = (arr < 110).mean()
    assert 0.002 < ink < 0.2, "the page carries dark text"
    assert render_scan(doc, "png", seed=5) == png
    assert render_scan(doc, "png", seed=6) != png


def test_scan_differs_from_clean_rendering_and_keeps_the_layout():
    doc = generate("invoice", 8, template="classic")
    clean = rasterize(render_pdf(doc), 150)[0]
    scanned = scanner_effects(clean, seed=1)
    assert scanned.size != clean.size  # border added
    c, s = np.asarray(clean, dtype=np.float32), np.asarray(scanned, dtype=np.float32)
    assert np.std(s[:40, :40]) > 1.0, "paper noise"
    assert abs((c < 128).mean() - (s < 128).mean()) < 0.03, "about the same amount of ink"


def test_upside_down_scan_is_the_upright_scan_turned_180_degrees():
    doc = generate("receipt", 4)
    up = Image.open(io.BytesIO(render_scan(doc, "png", seed=2)))
    down = Image.open(io.BytesIO(render_scan(doc, "png", seed=2, upside_down=True)))
    assert np.array_equal(np.asarray(up.rotate(180)), np.asarray(down))
    # text sits at the top of an upright receipt, so the top half has more ink than the bottom
    a = np.asarray(up) < 110
    b = np.asarray(down) < 110
    assert a[: a.shape[0] // 2].sum() > a[a.shape[0] // 2 :].sum()
    assert b[: b.shape[0] // 2].sum() < b[b.shape[0] // 2 :].sum()


def test_small_media_are_scanned_finer():
    card = Image.open(io.BytesIO(render_scan(generate("id_card", 1), "jpeg", seed=1)))
    assert card.format == "JPEG" and card.width > card.height
    assert card.width > 85.6 / 25.4 * 300  # credit-card width at 300 dpi


def test_multi_page_scan_as_tiff_frames_and_image_only_pdf():
    doc = generate("contract", 9, long=True)
    n_pages = len(pdf_pages_text(render_pdf(doc)))
    assert n_pages >= 2
    tif = Image.open(io.BytesIO(render_scan(doc, "tiff", seed=3, dpi=60)))
    assert tif.format == "TIFF" and tif.n_frames == n_pages
    pdf_bytes = render_scan(doc, "pdf", seed=3, dpi=60)
    texts = pdf_pages_text(pdf_bytes)
    assert len(texts) == n_pages
    assert all(not t.strip() for t in texts), "a scanned PDF has no text layer"
    assert render_scan(doc, "pdf", seed=3, dpi=60) == pdf_bytes, "fixed creation date: same bytes"
    with pytest.raises(ValueError, match="holds one page"):
        render_scan(doc, "png", seed=3, dpi=60)


def test_unknown_scan_format_is_refused():
    with pytest.raises(ValueError, match="unknown scan format"):
        encode_scan([Image.new("L", (10, 10))], "bmp")  # type: ignore[arg-type]
