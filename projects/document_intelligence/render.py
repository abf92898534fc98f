"""Render a SyntheticDoc as a digital PDF (real text layer) or as a scan (an image with scanner artefacts).

Why both: the parser must route digital pages to their text layer and scanned ones to OCR, per page,
so the demo and the tests need the same document in both forms. Scans are made from the digital PDF
(rasterised with pypdfium2) so the two always show the same words; the artefacts — paper tone,
uneven light, a slight rotation, blur, noise, JPEG loss, optionally upside down — are drawn from the
seed, so a (document, seed) pair always gives the same bytes.
"""

from __future__ import annotations

import io
import random
import time
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pypdfium2 as pdfium
from fpdf import FPDF, FontFace
from PIL import Image, ImageFilter

from projects.document_intelligence.synthetic import Element, SyntheticDoc

ScanFormat = Literal["png", "jpeg", "tiff", "pdf"]
SCAN_FORMATS: tuple[ScanFormat, ...] = ("png", "jpeg", "tiff", "pdf")
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg", "tiff": "image/tiff",
}  # fmt: skip

# fixed so the same document renders to the same bytes (fpdf2 and Pillow otherwise stamp "now")
FIXED_DATE = datetime(2024, 1, 1, tzinfo=UTC)
_FIXED_STRUCT_TIME = time.gmtime(FIXED_DATE.timestamp())

_PAGES_MM = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4), "card": (85.6, 54.0)}
_MARGIN_MM = {"A4": 18.0, "Letter": 19.0, "receipt": 4.0, "card": 3.0}
_RECEIPT_WIDTH_MM = 80.0
_PT = 25.4 / 72  # mm per point


class _Writer:
    """Draws layout elements top to bottom; one instance per rendering."""

    def __init__(self, doc: SyntheticDoc, page_height_mm: float | None = None) -> None:
        st = doc.style
        self.doc, self.st = doc, st
        size = (_RECEIPT_WIDTH_MM, page_height_mm or 2000.0) if st.page == "receipt" else _PAGES_MM[st.page]
        self.pdf = FPDF(unit="mm", format=size)
        self.pdf.set_creation_date(FIXED_DATE)
        self.pdf.set_title(doc.id)
        self.pdf.set_producer("document_intelligence synthetic corpus")
        margin = _MARGIN_MM[st.page]
        self.pdf.set_margins(margin, margin, margin)
        self.pdf.set_auto_page_break(st.page != "card", margin=margin)
        self.pdf.add_page()
        self.size = st.base_size
        self.lh = st.base_size * _PT * 1.45  # line height, mm
        self.table: list[Element] = []

    def font(self, style: str = "", scale: float = 1.0) -> None:
        self.pdf.set_font(self.st.font, style, self.size * scale)

    def draw(self) -> FPDF:
        for el in self.doc.layout:
            if el.role in ("table_header", "table_row"):
                self.table.append(el)
                continue
            self.flush_table()
            getattr(self, f"_{el.role}")(el)
        self.flush_table()
        return self.pdf

    def flush_table(self) -> None:
        if not self.table:
            return
        rows, self.table = self.table, []
        pdf = self.pdf
        self.font()
        widths = rows[0].widths or [1.0] * len(rows[0].cells)
        align = tuple({"L": "LEFT", "R": "RIGHT", "C": "CENTER"}[a] for a in rows[0].align.ljust(len(widths), "L"))
        lines = self.st.table_lines
        pdf.set_draw_color(60, 60, 60)
        pdf.set_line_width(0.25)
        pdf.ln(1)
        with pdf.table(
            col_widths=tuple(widths),
            text_align=align,
            borders_layout="ALL" if lines else "NONE",
            first_row_as_headings=rows[0].role == "table_header",
            headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225) if lines else None),
            line_height=self.lh * (1.25 if lines else 1.0),
            padding=(0.6, 1.2) if lines else 0,
        ) as table:
            for el in rows:
                table.row(el.cells)
        pdf.ln(1)

    def _title(self, el: Element) -> None:
        pdf = self.pdf
        scale = 1.3 if self.st.page in ("receipt", "card") else 1.8
        self.font("B", scale)
        h = self.size * scale * _PT * 1.5
        if self.st.accent:
            pdf.set_fill_color(*self.st.accent)
            pdf.set_text_color(255, 255, 255)
            pdf.multi_cell(0, h, el.text, align=el.align, fill=True, padding=(0.5, 1.5), new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
            pdf.set_fill_color(255, 255, 255)
        else:
            pdf.multi_cell(0, h, el.text, align=el.align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(self.lh * 0.4)

    def _heading(self, el: Element) -> None:
        self.pdf.ln(self.lh * 0.5)
        self.font("B", 1.2)
        self.pdf.multi_cell(0, self.lh * 1.2, el.text, align=el.align, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(self.lh * 0.2)

    def _text(self, el: Element) -> None:
        self.font("B" if el.bold else "")
        self.pdf.multi_cell(0, self.lh, el.text, align=el.align, new_x="LMARGIN", new_y="NEXT")
        if len(el.text) > 120:  # paragraphs get air between them
            self.pdf.ln(self.lh * 0.5)

    def _footer(self, el: Element) -> None:
        self.pdf.ln(self.lh)
        self.pdf.set_text_color(90, 90, 90)
        self.font("I", 0.85)
        self.pdf.multi_cell(0, self.lh * 0.9, el.text, align=el.align, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)

    def _kv(self, el: Element) -> None:
        pdf = self.pdf
        width = pdf.w - pdf.r_margin - pdf.l_margin
        if el.align == "R":  # totals: label and amount flush right
            key_w = width * 0.6 if self.st.page == "receipt" else min(70.0, width * 0.5)
            val_w = width * 0.4 if self.st.page == "receipt" else min(40.0, width * 0.3)
            pdf.set_x(pdf.w - pdf.r_margin - key_w - val_w)
            self.font("B" if el.bold else "")
            pdf.cell(key_w, self.lh, el.key, align="R")
            pdf.multi_cell(val_w, self.lh, el.text, align="R", new_x="LMARGIN", new_y="NEXT")
            return
        self.font("B")
        key_w = max(pdf.get_string_width(el.key) + 2, width * (0.3 if self.st.page == "card" else 0.28))
        pdf.cell(key_w, self.lh, el.key)
        self.font("B" if el.bold else "")
        pdf.multi_cell(width - key_w, self.lh, el.text, align="L", new_x="LMARGIN", new_y="NEXT")

    def _checkbox(self, el: Element) -> None:
        pdf = self.pdf
        box = self.size * _PT * 0.9
        x, y = pdf.get_x(), pdf.get_y()
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.3)
        pdf.rect(x + 1, y + (self.lh - box) / 2, box, box)
        self.font("B")
        pdf.set_xy(x + 1, y)
        pdf.cell(box, self.lh, "X" if el.checked else "", align="C")
        self.font()
        pdf.set_xy(x + box + 3, y)
        pdf.multi_cell(0, self.lh, el.text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(x)

    def _photo(self, el: Element) -> None:
        """A grey portrait placeholder on the card's left; the rest of the card flows to its right."""
        pdf = self.pdf
        w, h = 19.0, 24.0
        x, y = pdf.l_margin, pdf.get_y() + 0.5
        pdf.set_fill_color(205, 205, 205)
        pdf.rect(x, y, w, h, style="F")
        pdf.set_fill_color(150, 150, 150)
        pdf.ellipse(x + w * 0.3, y + h * 0.15, w * 0.4, h * 0.35, style="F")
        pdf.ellipse(x + w * 0.12, y + h * 0.55, w * 0.76, h * 0.6, style="F")
        pdf.set_fill_color(255, 255, 255)
        pdf.rect(x, y + h, w, h * 0.2, style="F")
        pdf.set_left_margin(x + w + 3)
        pdf.set_xy(x + w + 3, y)

    def _rule(self, el: Element) -> None:
        pdf = self.pdf
        y = pdf.get_y() + self.lh * 0.3
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.2)
        if self.st.page == "receipt":
            pdf.set_dash_pattern(dash=1, gap=0.8)
        pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
        pdf.set_dash_pattern()
        pdf.set_y(y + self.lh * 0.3)


def render_pdf(doc: SyntheticDoc) -> bytes:
    """A digital PDF with a real text layer; long documents flow onto more pages (receipts are one long strip)."""
    height = None
    if doc.style.page == "receipt":  # a till roll: measure on a very long strip, then cut it to length
        probe = _Writer(doc).draw()
        height = probe.get_y() + _MARGIN_MM["receipt"] + 2
    return bytes(_Writer(doc, page_height_mm=height).draw().output())


# -- scans ---------------------------------------------------------------------------------------------------


def rasterize(pdf_bytes: bytes, dpi: int = 150) -> list[Image.Image]:
    """Every page of a PDF as a greyscale image at ``dpi`` (the scanner's sensor)."""
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        return [pdf[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(len(pdf))]
    finally:
        pdf.close()


def scanner_effects(page: Image.Image, seed: int, *, upside_down: bool = False) -> Image.Image:
    """Make a clean rendering look scanned: paper tone, uneven light, skew, blur, noise, JPEG loss."""
    rng = random.Random(f"scan:{seed}")
    nrng = np.random.default_rng(rng.randrange(2**32))
    paper, ink = rng.randint(218, 242), rng.randint(15, 45)
    pad = max(12, page.width // 40)
    framed = Image.new("L", (page.width + 2 * pad, page.height + 2 * pad), 255)
    framed.paste(page, (pad, pad))
    img = framed.rotate(rng.uniform(-2.0, 2.0), resample=Image.Resampling.BICUBIC, fillcolor=255)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = ink + arr * (paper - ink)  # ink on tinted paper
    h, w = arr.shape
    light = np.linspace(-1.0, 1.0, w)[None, :] * rng.uniform(-10, 10) + np.linspace(-1.0, 1.0, h)[
        :, None
    ] * rng.uniform(-6, 6)
    arr = arr + light + nrng.normal(0.0, rng.uniform(3.0, 7.0), arr.shape)
    n_specks = int(h * w / 40_000)
    ys, xs = nrng.integers(0, h, n_specks), nrng.integers(0, w, n_specks)
    arr[ys, xs] = nrng.uniform(ink, paper * 0.6, n_specks)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.35, 0.8)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(55, 85))  # the scanner's own compression, baked in
    img = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    if upside_down:
        img = img.rotate(180)
    return img


def scan_dpi(doc: SyntheticDoc) -> int:
    """Small media (till rolls, cards) are scanned finer, as a real scanner operator would."""
    return 300 if doc.style.page in ("receipt", "card") else 150


def scan_pages(doc: SyntheticDoc, seed: int, *, upside_down: bool = False, dpi: int | None = None) -> list[Image.Image]:
    pages = rasterize(render_pdf(doc), dpi or scan_dpi(doc))
    return [scanner_effects(p, seed * 1000 + i, upside_down=upside_down) for i, p in enumerate(pages)]


def encode_scan(pages: list[Image.Image], fmt: ScanFormat, *, dpi: int = 150, title: str = "scan") -> bytes:
    """PNG/JPEG hold one page; TIFF (multi-frame) and image-only PDF hold any number."""
    if fmt not in SCAN_FORMATS:
        raise ValueError(f"unknown scan format {fmt!r}; use one of {', '.join(SCAN_FORMATS)}")
    if fmt in ("png", "jpeg") and len(pages) != 1:
        raise ValueError(f"{fmt} holds one page and this document has {len(pages)}: use tiff or pdf")
    buf = io.BytesIO()
    first, rest = pages[0], pages[1:]
    if fmt == "png":
        first.save(buf, "PNG", dpi=(dpi, dpi))
    elif fmt == "jpeg":
        first.save(buf, "JPEG", quality=80, dpi=(dpi, dpi))
    elif fmt == "tiff":
        first.save(buf, "TIFF", save_all=True, append_images=rest, compression="tiff_deflate", dpi=(dpi, dpi))
    else:
        first.save(
            buf,
            "PDF",
            save_all=True,
            append_images=rest,
            resolution=float(dpi),
            title=title,
            creationDate=_FIXED_STRUCT_TIME,
            modDate=_FIXED_STRUCT_TIME,
        )
    return buf.getvalue()


def render_scan(
    doc: SyntheticDoc, fmt: ScanFormat, seed: int, upside_down: bool = False, *, dpi: int | None = None
) -> bytes:
    """The document as a scanner would deliver it, in ``fmt``; same (doc, fmt, seed) → same bytes.

    ``dpi`` defaults to 150 for pages and 300 for receipts and ID cards.
    """
    dpi = dpi or scan_dpi(doc)
    return encode_scan(scan_pages(doc, seed, upside_down=upside_down, dpi=dpi), fmt, dpi=dpi, title=doc.id)
