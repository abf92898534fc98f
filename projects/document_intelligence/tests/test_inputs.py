"""Input sniffing and validation: every bad input the issue lists gives a precise error before any page is decoded."""

from __future__ import annotations

import io
import types

import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from projects.document_intelligence.inputs import InputError, open_source, sniff_media_type
from projects.document_intelligence.parser import DocumentParser
from projects.document_intelligence.settings import DocIntSettings
from projects.document_intelligence.tests.parsing_docs import (
    bomb_png,
    digital_pdf,
    image_bytes,
    image_pdf,
    text_image,
)


def code_of(data: bytes, filename: str = "x", **settings) -> str:
    with pytest.raises(InputError) as err:
        open_source(data, filename, DocIntSettings(**settings))
    assert err.value.detail  # a human sentence rides with every code
    return err.value.code


def test_sniffing_uses_content_not_name():
    png = image_bytes(text_image(["hello"]))
    assert sniff_media_type(png) == "image/png"
    assert sniff_media_type(image_bytes(text_image(["hello"]), "JPEG")) == "image/jpeg"
    assert sniff_media_type(image_bytes(text_image(["hello"]), "TIFF")) == "image/tiff"
    assert sniff_media_type(b"junk before the header\n" + digital_pdf([["x"]])) == "application/pdf"
    assert sniff_media_type(b"plain text") is None


def test_wrong_extension_is_parsed_by_content_with_a_warning():
    src = open_source(image_bytes(text_image(["hello"])), "scan.pdf", DocIntSettings())
    assert src.media_type == "image/png" and src.n_pages == 1
    assert len(src.warnings) == 1 and "application/pdf" in src.warnings[0] and "image/png" in src.warnings[0]
    assert open_source(image_bytes(text_image(["hello"])), "scan.png", DocIntSettings()).warnings == []


def test_empty_unknown_and_oversized_files():
    assert code_of(b"", "a.pdf") == "empty_file"
    assert code_of(b"just some text, not a document", "a.pdf") == "unsupported_type"
    assert code_of(digital_pdf([["hello"]]), "a.pdf", max_upload_bytes=100) == "too_large"


def test_corrupt_pdf():
    good = digital_pdf([["hello world"]])
    assert code_of(good[:300], "a.pdf") == "corrupt_pdf"
    assert code_of(b"%PDF-1.7\n%garbage with no objects\n", "a.pdf") == "corrupt_pdf"


def test_encrypted_pdf():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(digital_pdf([["secret text"]]))))
    writer.encrypt("s3cret")
    buf = io.BytesIO()
    writer.write(buf)
    assert code_of(buf.getvalue(), "a.pdf") == "encrypted_pdf"


def test_zero_page_pdf():
    buf = io.BytesIO()
    PdfWriter().write(buf)
    assert code_of(buf.getvalue(), "a.pdf") == "no_pages"


def test_too_many_pages_is_refused_up_front():
    data = digital_pdf([[f"page {i}"] for i in range(5)])
    assert code_of(data, "a.pdf", max_pages=4) == "too_many_pages"
    assert open_source(data, "a.pdf", DocIntSettings(max_pages=5)).n_pages == 5


def test_decompression_bomb_png_is_refused_from_its_header():
    data = bomb_png()
    assert len(data) < 500_000  # tiny on disk, 400 M pixels declared
    assert code_of(data, "bomb.png") == "decompression_bomb"


def test_image_too_large_by_side_or_pixels():
    long_strip = image_bytes(Image.new("L", (13_000, 20), 255))
    assert code_of(long_strip, "strip.png") == "image_too_large"  # side > max_image_side (12,000)
    noisy = image_bytes(Image.effect_noise((300, 300), 80).convert("RGB"))
    assert code_of(noisy, "noise.png", max_image_pixels=50_000) == "image_too_large"


def test_every_tiff_frame_is_checked_before_decoding():
    small = Image.effect_noise((50, 50), 80).convert("RGB")
    big = Image.effect_noise((400, 400), 80).convert("RGB")
    data = image_bytes(small, "TIFF", save_all=True, append_images=[big])
    with pytest.raises(InputError) as err:
        open_source(data, "x.tif", DocIntSettings(max_image_pixels=100_000))
    assert err.value.code == "image_too_large" and "frame 2" in err.value.detail.lower()


def test_corrupt_image():
    png = bytearray(image_bytes(text_image(["hello"])))
    idat = png.index(b"IDAT")
    png[idat + 10 : idat + 30] = b"\x00" * 20  # pixels damaged: the chunk CRC no longer matches
    assert code_of(bytes(png), "x.png") == "corrupt_image"
    assert code_of(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "x.png") == "corrupt_image"


def float_size(img: Image.Image) -> types.SimpleNamespace:
    return types.SimpleNamespace(width=float(img.width), height=float(img.height))


def test_multi_frame_tiff_gives_one_page_per_frame():
    frames = [text_image([f"frame {i}"], size=(300 + 10 * i, 80)) for i in range(3)]
    data = image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    src = open_source(data, "scan.tiff", DocIntSettings())
    assert src.media_type == "image/tiff" and src.n_pages == 3
    pages = list(src.iter_pages())
    assert [p.number for p in pages] == [1, 2, 3]
    assert [(p.width, p.height, p.unit) for p in pages] == [(f.width, f.height, "px") for f in map(float_size, frames)]
    rendered = pages[2].render()
    assert rendered.mode == "RGB" and rendered.size == frames[2].size and rendered.getpixel((0, 0)) == (255, 255, 255)
    assert [p.number for p in src.iter_pages(start=3)] == [3]


def test_text_layer_words_have_boxes_in_points_from_the_top_left():
    src = open_source(digital_pdf([["Hello world", "Second line"]]), "a.pdf", DocIntSettings())
    (page,) = list(src.iter_pages())
    assert page.unit == "pt" and round(page.width) == 595 and round(page.height) == 842
    words = page.text_words
    assert [w.text for w in words] == ["Hello", "world", "Second", "line"]
    hello, world, second, _ = words
    # written at x = 10 mm = 28.35 pt (+ fpdf's 1 mm cell padding) near the top; the second line 8 mm (22.7 pt) lower
    assert 28 <= hello.bbox[0] <= 33 and hello.bbox[2] < world.bbox[0]
    assert 25 <= hello.bbox[1] < hello.bbox[3] <= 50
    assert abs((second.bbox[1] - hello.bbox[1]) - 22.68) < 1.0
    assert page.n_text_chars == len("HelloworldSecondline")
    assert page.render(72).size == (596, 842)


def test_scanned_pdf_pages_have_no_text_layer():
    src = open_source(image_pdf([text_image(["scanned text"])]), "scan.pdf", DocIntSettings())
    (page,) = list(src.iter_pages())
    assert page.n_text_chars == 0 and page.text_words == []


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_500_page_pdf_streams_with_bounded_memory(monkeypatch):
    lines = [f"Line {i}: the quick brown fox jumps over the lazy dog, paragraph text." for i in range(30)]
    data = digital_pdf([[f"Page {n}", *lines] for n in range(500)])
    opened = closed = 0
    real_get, real_close = pdfium.PdfDocument.get_page, pdfium.PdfPage.close

    def counting_get(self, index):
        nonlocal opened
        opened += 1
        return real_get(self, index)

    def counting_close(self, *a, **kw):
        nonlocal closed
        closed += 1
        return real_close(self, *a, **kw)

    monkeypatch.setattr(pdfium.PdfDocument, "get_page", counting_get)
    monkeypatch.setattr(pdfium.PdfPage, "close", counting_close)

    parser = DocumentParser(DocIntSettings(max_pages=1000))
    pages = parser.parse_pages(data, "long.pdf")
    assert isinstance(pages, types.GeneratorType)
    seen = 0
    baseline = None
    for page in pages:
        seen += 1
        assert page.source == "text_layer" and page.number == seen
        assert opened == closed  # no pdfium page outlives its turn
        if seen == 20:
            baseline = _rss_mb()
        if seen in (1, 250, 500):
            assert page.text.startswith(f"Page {seen - 1}")
    assert seen == 500 and opened == 500
    assert _rss_mb() - baseline < 150
