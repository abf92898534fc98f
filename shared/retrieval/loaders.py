"""Loaders: bytes or a path in, a :class:`Document` out, for txt, md, html and digital-text PDF.

Errors are specific so an ingestion API can answer 4xx with a useful message:
:class:`UnsupportedFormatError` for a type we do not read, :class:`DocumentDecodeError` for bytes
that are not what they claim to be (binary as text, a broken PDF, a scanned PDF with no text).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from shared.retrieval.models import Document, Page

SUFFIX_TYPES = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
MIME_TYPES = {"text/plain": "txt", "text/markdown": "md", "text/html": "html", "application/pdf": "pdf"}
# Elements whose text is navigation or code, not content.
_HTML_DROP = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "svg")


class LoaderError(ValueError):
    """Base class: the input could not be turned into a document."""


class UnsupportedFormatError(LoaderError):
    pass


class DocumentDecodeError(LoaderError):
    pass


def detect_type(name: str | None = None, content_type: str | None = None) -> str:
    if content_type:
        mime = content_type.split(";")[0].strip().lower()
        if mime in MIME_TYPES:
            return MIME_TYPES[mime]
    if name:
        suffix = Path(name).suffix.lower()
        if suffix in SUFFIX_TYPES:
            return SUFFIX_TYPES[suffix]
    raise UnsupportedFormatError(
        f"unsupported document type (name={name!r}, content_type={content_type!r}); "
        f"supported: {sorted(set(SUFFIX_TYPES.values()))}"
    )


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentDecodeError("input looks binary (NUL bytes), not text")
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentDecodeError("text is not valid UTF-8")


def _html_text(html: str) -> tuple[str, str | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else None
    for tag in soup(_HTML_DROP):
        tag.decompose()
    body = soup.body or soup
    lines = (line.strip() for line in body.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return text, title or None


def _pdf_pages(data: bytes) -> list[Page]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [Page(number=i + 1, text=(p.extract_text() or "").strip()) for i, p in enumerate(reader.pages)]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentDecodeError(f"not a readable PDF: {exc}") from exc
    if not any(p.text for p in pages):
        raise DocumentDecodeError("PDF has no extractable text (scanned? use the OCR pipeline)")
    return pages


def _md_title(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def load_document(
    source: bytes | str | Path,
    *,
    collection: str,
    source_uri: str | None = None,
    name: str | None = None,
    content_type: str | None = None,
    tenant_id: str = "default",
    allowed_groups: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Document:
    """Read ``source`` (a path, or raw bytes with ``name`` or ``content_type``) into a Document.

    ``str`` is treated as a path; pass text content as ``bytes``. ``source_uri`` defaults to the
    path, which is what keeps document ids stable across re-ingestion.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise LoaderError(f"no such file: {path}")
        data = path.read_bytes()
        name = name or path.name
        source_uri = source_uri or str(path)
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
        if source_uri is None:
            raise LoaderError("source_uri is required when loading bytes")
        name = name or source_uri
    else:
        raise LoaderError(f"expected bytes or a path, got {type(source).__name__}")

    doc_type = detect_type(name, content_type)
    pages: list[Page] | None = None
    title: str | None = None
    if doc_type == "pdf":
        if not data.startswith(b"%PDF"):
            raise DocumentDecodeError("not a PDF (missing %PDF header)")
        pages = _pdf_pages(data)
        text = "\n\n".join(p.text for p in pages)
    elif doc_type == "html":
        text, title = _html_text(_decode_text(data))
    else:
        text = _decode_text(data)
        title = _md_title(text) if doc_type == "md" else None

    kwargs: dict[str, Any] = {}
    if allowed_groups is not None:
        kwargs["allowed_groups"] = allowed_groups
    return Document(
        collection=collection,
        source_uri=source_uri,
        text=text,
        doc_type=doc_type,  # type: ignore[arg-type]
        title=title or (Path(name).stem if name else None),
        pages=pages,
        metadata=dict(metadata or {}),
        tenant_id=tenant_id,
        **kwargs,
    )
