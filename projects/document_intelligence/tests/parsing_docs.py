"""Documents the parsing tests build for themselves (no test reads ../shared/data)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(DEJAVU), size) if DEJAVU.exists() else ImageFont.load_default(size)


def text_image(lines: list[str], size: tuple[int, int] = (760, 760), font_size: int = 30, x: int = 30) -> Image.Image:
    """Black text on white, one line per ``lines`` entry, 1.8 line heights apart (a clean "scan").

    Small pages are no cheaper to OCR: the detector upscales until the short side is 736 px, so a
    700×150 strip costs five times a 760×760 page. Tests use page-like sizes.
    """
    height = max(size[1], 40 + int(len(lines) * font_size * 1.8))
    img = Image.new("RGB", (size[0], height), "white")
    draw = ImageDraw.Draw(img)
    f = font(font_size)
    for i, text in enumerate(lines):
        draw.text((x, 25 + i * font_size * 1.8), text, fill="black", font=f)
    return img


def image_bytes(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def image_pdf(images: list[Image.Image], dpi: int = 150) -> bytes:
    """An image-only PDF (what a scanner produces): no text layer at all."""
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return buf.getvalue()


def digital_pdf(pages: list[list[str]], font_size: int = 12) -> bytes:
    """A text-layer PDF: each page's lines written 8 mm apart from (10 mm, 10 mm)."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("helvetica", size=font_size)
    for lines in pages:
        pdf.add_page()
        for i, text in enumerate(lines):
            pdf.set_xy(10, 10 + 8 * i)
            pdf.cell(text=text)
    return bytes(pdf.output())


INVOICE_ROWS = [
    ("Description", "Qty", "Unit price", "Amount"),
    ("Blue widget", "2", "10.00", "20.00"),
    ("Red gadget", "1", "15.50", "15.50"),
    ("Green gizmo", "3", "5.00", "15.00"),
]


def invoice_pdf() -> bytes:
    """A one-page invoice: a big title, a vendor line, an unruled line-item table, a total and a footer."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 20)
    pdf.set_xy(40, 40)
    pdf.cell(text="Invoice INV-2024-001")
    pdf.set_font("helvetica", size=11)
    pdf.set_xy(40, 80)
    pdf.cell(text="Acme Widgets Ltd, 1 Main Street, Springfield")
    for r, row in enumerate(INVOICE_ROWS):
        pdf.set_xy(40, 120 + 22 * r)
        for i, (text, width) in enumerate(zip(row, (200, 70, 100, 100), strict=True)):
            pdf.cell(w=width, h=16, text=text, align="L" if i == 0 else "R")
    pdf.set_xy(40, 230)
    pdf.cell(text="Total: 50.50")
    pdf.set_xy(40, 805)
    pdf.cell(text="Page 1 of 1")
    return bytes(pdf.output())


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit single-colour PNG of ``width``×``height``: tens of kB on disk, 400 M pixels decoded.

    Written by hand, streaming the zlib stream row block by row block, so building it costs no memory.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(1)
    block = row * 500
    body = b"".join(comp.compress(block) for _ in range(height // 500)) + comp.compress(row * (height % 500))
    body += comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
