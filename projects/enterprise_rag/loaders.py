"""Upload validation: type by extension AND by content, size, emptiness, encryption, encoding.

Every failure is a typed :class:`UploadError` carrying the HTTP status the API answers with, so a
bad file is refused with a precise 4xx before anything is stored. Parsing reuses the shared
loaders (txt/md/html/pdf); DOCX is read here with python-docx because only this project needs it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from projects.enterprise_rag.settings import RagSettings
from shared.retrieval.loaders import DocumentDecodeError, load_document
from shared.retrieval.models import Document

EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".text": "txt",
}
_BINARY_MAGIC = (b"%PDF", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x7fELF", b"MZ", b"\x1f\x8b")


class UploadError(ValueError):
    status = 422
    code = "invalid-document"


class UnsupportedTypeError(UploadError):
    status = 415
    code = "unsupported-type"


class FileTooLargeError(UploadError):
    status = 413
    code = "file-too-large"


class EmptyFileError(UploadError):
    code = "empty-file"


class ContentMismatchError(UploadError):
    status = 415
    code = "content-mismatch"


class CorruptFileError(UploadError):
    code = "corrupt-file"


class EncryptedFileError(UploadError):
    code = "encrypted-file"


class EncodingError(UploadError):
    code = "not-utf8"


def kind_of(filename: str, settings: RagSettings) -> str:
    kind = EXTENSIONS.get(Path(filename).suffix.lower())
    if kind is None or kind not in settings.allowed_types:
        raise UnsupportedTypeError(f"{filename!r}: unsupported type; allowed: {', '.join(settings.allowed_types)}")
    return kind


def sniff(data: bytes, kind: str, filename: str) -> None:
    """The bytes must be what the extension claims (a renamed .exe is not a .txt)."""
    if kind == "pdf":
        if not data.lstrip()[:5].startswith(b"%PDF-"):
            raise ContentMismatchError(f"{filename!r} has a .pdf name but is not a PDF")
    elif kind == "docx":
        if not data.startswith(b"PK\x03\x04"):
            raise ContentMismatchError(f"{filename!r} has a .docx name but is not a DOCX (zip) file")
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile as exc:
            raise CorruptFileError(f"{filename!r} is a damaged DOCX: {exc}") from exc
        if "word/document.xml" not in names:
            raise ContentMismatchError(f"{filename!r} is a zip file but not a Word document")
    else:
        if data.startswith(_BINARY_MAGIC) or b"\x00" in data[:8192]:
            raise ContentMismatchError(f"{filename!r} has a text extension but binary content")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(
                f"{filename!r} is not valid UTF-8 text (byte {exc.start}); re-save it as UTF-8"
            ) from exc


def _docx_text(data: bytes, filename: str) -> tuple[str, str | None]:
    """Paragraphs with headings as markdown ``#`` lines (so the markdown chunker keeps sections), tables as rows."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for damaged files
        raise CorruptFileError(f"{filename!r} could not be read as DOCX: {exc}") from exc
    lines: list[str] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style.startswith("Heading") and style[-1:].isdigit():
            lines.append(f"{'#' * int(style[-1])} {text}")
        elif style == "Title":
            lines.append(f"# {text}")
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            if any(cells):
                lines.append(" | ".join(cells))
    title = document.core_properties.title or None
    return "\n\n".join(lines), title


def _check_pdf_encryption(data: bytes, filename: str) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        if encrypted and not reader.decrypt(""):
            raise EncryptedFileError(f"{filename!r} is an encrypted PDF; upload an unprotected copy")
    except EncryptedFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise CorruptFileError(f"{filename!r} is not a readable PDF: {exc}") from exc
    except Exception as exc:  # pypdf may raise e.g. DependencyError for AES without cryptography
        raise EncryptedFileError(f"{filename!r} could not be opened: {exc}") from exc


def load_upload(
    data: bytes,
    filename: str,
    *,
    collection: str,
    source_uri: str,
    tenant_id: str,
    allowed_groups: list[str] | None,
    settings: RagSettings,
    metadata: dict[str, Any] | None = None,
) -> Document:
    """Validate and parse one file into a Document, or raise the :class:`UploadError` that says why not."""
    kind = kind_of(filename, settings)
    if len(data) > settings.max_upload_bytes:
        raise FileTooLargeError(f"{filename!r} is {len(data)} bytes; the limit is {settings.max_upload_bytes}")
    if not data.strip():
        raise EmptyFileError(f"{filename!r} is empty")
    sniff(data, kind, filename)
    meta = {"format": kind, "filename": Path(filename).name, **(metadata or {})}
    if kind == "docx":
        text, title = _docx_text(data, filename)
        if not text.strip():
            raise EmptyFileError(f"{filename!r} contains no text")
        kwargs: dict[str, Any] = {"allowed_groups": allowed_groups} if allowed_groups is not None else {}
        return Document(
            collection=collection,
            source_uri=source_uri,
            text=text,
            doc_type="other",
            title=title or Path(filename).stem,
            metadata=meta,
            tenant_id=tenant_id,
            **kwargs,
        )
    if kind == "pdf":
        _check_pdf_encryption(data, filename)
    try:
        doc = load_document(
            data,
            collection=collection,
            source_uri=source_uri,
            name=filename,
            tenant_id=tenant_id,
            allowed_groups=allowed_groups,
            metadata=meta,
        )
    except DocumentDecodeError as exc:
        raise CorruptFileError(f"{filename!r}: {exc}") from exc
    if not doc.text.strip():
        raise EmptyFileError(f"{filename!r} contains no text")
    return doc
