"""Input sniffing and validation: bytes in, a lazily iterated ``SourceDocument`` out.

Why up-front validation: a batch job must never fail on page 380 for something knowable on page 0
(encryption, page count, a frame declaring 20,000×20,000 pixels). ``open_source`` reads only headers —
the PDF cross-reference table and page sizes, image headers of every frame — and raises ``InputError``
with a stable ``code`` the API maps to a problem response. Pixels are decoded one page at a time in
``SourceDocument.iter_pages`` and released after, so a 500-page PDF keeps bounded memory.

The type comes from the content (magic bytes), never from the file name: a PNG named ``.pdf`` is
parsed as a PNG and the mismatch is reported as a warning.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from projects.document_intelligence.model import Unit, Word
from projects.document_intelligence.settings import DocIntSettings, get_docint_settings

MediaType = Literal["application/pdf", "image/png", "image/jpeg", "image/tiff", "image/webp"]

#: pdfium is not thread-safe (one global library state); the API's page renderer and a job worker
#: thread share this process, so every pdfium call goes through this lock.
PDFIUM_LOCK = threading.RLock()

#: declared pixels per byte of file above which an oversized image is called a decompression bomb
#: rather than merely too large (a real 20,000×20,000 photo is tens of MB; a bomb is kilobytes).
BOMB_PIXELS_PER_BYTE = 1000

_EXTENSIONS: dict[str, MediaType] = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
}


class InputError(Exception):
    """A document we refuse, with a stable machine ``code`` and a human ``detail``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def sniff_media_type(data: bytes) -> MediaType | None:
    """The media type from magic bytes, or None. PDF readers accept junk before ``%PDF-``, so do we (1 KiB)."""
    head = data[:1024]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if b"%PDF-" in head:
        return "application/pdf"
    return None


def media_type_from_name(filename: str) -> MediaType | None:
    name = filename.lower()
    dot = name.rfind(".")
    return _EXTENSIONS.get(name[dot:]) if dot >= 0 else None


@dataclass
class PageInput:
    """One page before parsing. ``render`` decodes pixels on demand; nothing heavy is held."""

    number: int
    width: float
    height: float
    unit: Unit
    text_words: list[Word] | None
    _render: Callable[[int], Image.Image] = field(repr=False)

    def render(self, dpi: int = 150) -> Image.Image:
        """An RGB image of the page: PDF pages at ``dpi`` (capped by the image limits), images at native size."""
        return self._render(dpi)

    @property
    def n_text_chars(self) -> int:
        """Non-space characters in the text layer (0 for images): the per-page OCR decision."""
        return sum(len(w.text.strip()) for w in self.text_words or [])


@dataclass
class SourceDocument:
    """A validated input. ``iter_pages`` is a generator; call ``close`` (or use ``with``) when done."""

    media_type: MediaType
    n_pages: int
    warnings: list[str]
    _iter: Callable[[int], Iterator[PageInput]] = field(repr=False)
    _close: Callable[[], None] = field(repr=False)
    _keepalive: object = field(default=None, repr=False)

    def iter_pages(self, start: int = 1) -> Iterator[PageInput]:
        """Pages ``start``..n, one at a time (``start`` lets a resumed job skip pages already stored)."""
        return self._iter(max(1, start))

    def close(self) -> None:
        self._close()

    def __enter__(self) -> SourceDocument:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_source(data: bytes, filename: str = "", settings: DocIntSettings | None = None) -> SourceDocument:
    """Sniff, validate everything knowable from headers, and return a lazily iterated document."""
    settings = settings or get_docint_settings()
    if not data:
        raise InputError("empty_file", "The file is empty.")
    if len(data) > settings.max_upload_bytes:
        raise InputError(
            "too_large", f"The file is {len(data):,} bytes; the limit is {settings.max_upload_bytes:,} bytes."
        )
    media_type = sniff_media_type(data)
    if media_type is None:
        raise InputError(
            "unsupported_type", "The content is not a PDF, PNG, JPEG, TIFF or WebP file (checked by its bytes)."
        )
    notes: list[str] = []
    claimed = media_type_from_name(filename)
    if claimed is not None and claimed != media_type:
        notes.append(
            f"The file name {filename!r} suggests {claimed}, but the content is {media_type}; parsed as {media_type}."
        )
    if media_type == "application/pdf":
        return _open_pdf(data, settings, notes)
    return _open_image(data, media_type, settings, notes)


# -- PDF ---------------------------------------------------------------------------------------------------


def _open_pdf(data: bytes, settings: DocIntSettings, notes: list[str]) -> SourceDocument:
    with PDFIUM_LOCK:
        # raw load: pypdfium2 folds "loaded, 0 pages" into its load error, and pdfium's last-error code is
        # stale after a successful load, so only a NULL handle makes the code meaningful
        raw = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
        if not raw:
            code = pdfium_c.FPDF_GetLastError()
            if code == pdfium_c.FPDF_ERR_PASSWORD:
                raise InputError("encrypted_pdf", "The PDF is password-protected; upload an unencrypted copy.")
            if code == pdfium_c.FPDF_ERR_SECURITY:
                raise InputError("encrypted_pdf", "The PDF uses an unsupported security handler.")
            reason = {pdfium_c.FPDF_ERR_FORMAT: "not a valid PDF structure", pdfium_c.FPDF_ERR_FILE: "unreadable"}
            raise InputError("corrupt_pdf", f"The PDF cannot be read ({reason.get(code, f'pdfium error {code}')}).")
        pdf = pdfium.PdfDocument(raw)  # reads from ``data``: SourceDocument keeps it alive (``_keepalive``)
        try:
            n = len(pdf)
            if n < 1:
                raise InputError("no_pages", "The PDF has no pages.")
            if n > settings.max_pages:
                raise InputError("too_many_pages", f"The PDF has {n} pages; the limit is {settings.max_pages}.")
            for i in range(n):  # sizes come from the page tree without loading the pages
                w, h = pdf.get_page_size(i)
                if not (w > 0 and h > 0):
                    raise InputError("corrupt_pdf", f"Page {i + 1} has no valid size ({w}×{h}).")
        except InputError:
            pdf.close()
            raise

    lock = threading.Lock()
    closed = False

    def close() -> None:
        nonlocal closed
        with PDFIUM_LOCK, lock:
            if not closed:
                pdf.close()
                closed = True

    def render(index: int, dpi: int) -> Image.Image:
        with PDFIUM_LOCK:
            page = pdf[index]
            try:
                w, h = page.get_size()
                scale = _capped_scale(w, h, dpi / 72.0, settings)
                bitmap = page.render(scale=scale, may_draw_forms=True)
                try:
                    return bitmap.to_pil().convert("RGB")
                finally:
                    bitmap.close()
            finally:
                page.close()

    def iterate(start: int) -> Iterator[PageInput]:
        for index in range(start - 1, n):
            with PDFIUM_LOCK:
                page = pdf[index]
                try:
                    w, h = page.get_size()
                    words = _text_layer_words(page)
                finally:
                    page.close()
            yield PageInput(
                number=index + 1,
                width=w,
                height=h,
                unit="pt",
                text_words=words,
                _render=lambda dpi, i=index: render(i, dpi),
            )

    return SourceDocument("application/pdf", n, notes, iterate, close, _keepalive=data)


def _capped_scale(w: float, h: float, scale: float, settings: DocIntSettings) -> float:
    """Shrink ``scale`` so a rendering never exceeds the image limits (a 200-inch poster page stays bounded)."""
    side = max(w, h) * scale
    if side > settings.max_image_side:
        scale *= settings.max_image_side / side
    pixels = w * h * scale * scale
    if pixels > settings.max_image_pixels:
        scale *= (settings.max_image_pixels / pixels) ** 0.5
    return scale


def _page_transform(page: pdfium.PdfPage) -> Callable[[float, float], tuple[float, float]]:
    """PDF user space (origin bottom-left of the media/crop box, y up) → displayed page, origin top-left, y down.

    pdfium reports char boxes in unrotated user space, while ``get_size`` and rendering honour /Rotate
    (clockwise), so the transform applies the rotation too.
    """
    left, bottom, right, top = page.get_bbox()  # the effective crop box; get_cropbox misses inherited boxes
    rotation = page.get_rotation() % 360
    if rotation == 90:
        return lambda x, y: (y - bottom, x - left)
    if rotation == 180:
        return lambda x, y: (right - x, y - bottom)
    if rotation == 270:
        return lambda x, y: (top - y, right - x)
    return lambda x, y: (x - left, top - y)


def _text_layer_words(page: pdfium.PdfPage) -> list[Word]:
    """Words (boxes in pt, top-left origin) from pdfium's character boxes.

    Characters are joined into a word until whitespace, a jump to another line, or a horizontal gap wider
    than ~0.25 em (text set with explicit positioning often has no space characters at all).
    """
    textpage = page.get_textpage()
    try:
        n = textpage.count_chars()
        to_page = _page_transform(page)
        words: list[Word] = []
        chars: list[str] = []
        box: list[float] = []

        def flush() -> None:
            if chars and "".join(chars).strip():
                words.append(Word(text="".join(chars), bbox=(box[0], box[1], box[2], box[3])))
            chars.clear()
            box.clear()

        for i in range(n):
            code = pdfium_c.FPDFText_GetUnicode(textpage, i)
            ch = chr(code) if 0 < code < 0x110000 else ""
            if not ch or ch.isspace() or ch in "\ufffe\uffff\x00":
                flush()
                continue
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            (x0, y0), (x1, y1) = to_page(left, top), to_page(right, bottom)
            x0, x1 = min(x0, x1), max(x0, x1)
            y0, y1 = min(y0, y1), max(y0, y1)
            if box:
                height = max(box[3] - box[1], y1 - y0, 1e-6)
                same_line = min(box[3], y1) - max(box[1], y0) > 0.5 * min(box[3] - box[1], y1 - y0)
                gap = x0 - box[2]
                if not same_line or gap > 0.25 * height or gap < -0.5 * height:
                    flush()
            if box:
                box[:] = [min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1)]
            else:
                box[:] = [x0, y0, x1, y1]
            chars.append(ch)
        flush()
        return words
    finally:
        textpage.close()


# -- images ------------------------------------------------------------------------------------------------

_PLUGINS = {
    "image/png": PngImagePlugin.PngImageFile,
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/tiff": TiffImagePlugin.TiffImageFile,
}


def _header_image(data: bytes, media_type: MediaType) -> Image.Image:
    """Parse only the header, bypassing PIL's bomb check so we can give the precise reason ourselves."""
    plugin = _PLUGINS.get(media_type)
    if plugin is None:  # WebP: the plugin needs the full open path
        from PIL import WebPImagePlugin

        plugin = WebPImagePlugin.WebPImageFile
    return plugin(io.BytesIO(data))


def _check_dims(w: int, h: int, frame: int, n_bytes: int, settings: DocIntSettings) -> None:
    where = f"frame {frame}" if frame > 1 else "the image"
    if w <= 0 or h <= 0:
        raise InputError("corrupt_image", f"{where.capitalize()} declares an invalid size {w}×{h}.")
    pixels = w * h
    if pixels > settings.max_image_pixels or max(w, h) > settings.max_image_side:
        if pixels > settings.max_image_pixels and pixels / n_bytes > BOMB_PIXELS_PER_BYTE:
            raise InputError(
                "decompression_bomb",
                f"{where.capitalize()} declares {w}×{h} pixels from only {n_bytes:,} bytes "
                "(a decompression bomb); refused before decoding.",
            )
        raise InputError(
            "image_too_large",
            f"{where.capitalize()} is {w}×{h} pixels; the limits are {settings.max_image_pixels:,} pixels "
            f"and {settings.max_image_side:,} pixels per side.",
        )


def _open_image(data: bytes, media_type: MediaType, settings: DocIntSettings, notes: list[str]) -> SourceDocument:
    try:
        head = _header_image(data, media_type)
        n_frames = int(getattr(head, "n_frames", 1) or 1)
        sizes: list[tuple[int, int]] = []
        for f in range(n_frames):
            if f:
                head.seek(f)  # TIFF: reads the next IFD only
            w, h = head.size
            _check_dims(w, h, f + 1, len(data), settings)
            if media_type == "image/jpeg" and head.getexif().get(0x0112) in (5, 6, 7, 8):
                w, h = h, w  # EXIF says the camera was turned; pages are served upright
            sizes.append((w, h))
        if media_type == "image/png":
            head.verify()  # chunk CRCs, without inflating the pixels
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputError("decompression_bomb", str(exc)) from exc
    except Exception as exc:  # PIL raises SyntaxError/OSError/ValueError/struct.error on broken headers
        raise InputError("corrupt_image", f"The {media_type} image cannot be read ({exc}).") from exc
    if n_frames > settings.max_pages:
        raise InputError("too_many_pages", f"The image has {n_frames} frames; the limit is {settings.max_pages}.")

    lock = threading.Lock()

    def decode(index: int) -> Image.Image:
        with lock, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data)) as im:
                    if index:
                        im.seek(index)
                    im.load()
                    frame = ImageOps.exif_transpose(im) if media_type == "image/jpeg" else im
                    return _to_rgb(frame)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise InputError("decompression_bomb", str(exc)) from exc
            except InputError:
                raise
            except Exception as exc:
                raise InputError("corrupt_image", f"Page {index + 1} cannot be decoded ({exc}).") from exc

    def iterate(start: int) -> Iterator[PageInput]:
        for index in range(start - 1, n_frames):
            w, h = sizes[index]
            yield PageInput(
                number=index + 1,
                width=float(w),
                height=float(h),
                unit="px",
                text_words=None,
                _render=lambda _dpi, i=index: decode(i),
            )

    return SourceDocument(media_type, n_frames, notes, iterate, lambda: None)


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB on white: transparent pixels would otherwise turn black and swallow black text."""
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, "white")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return im.point(lambda v: v / 256).convert("RGB")
    return im.convert("RGB")
