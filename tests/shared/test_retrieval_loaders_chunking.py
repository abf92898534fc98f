"""Loaders and chunkers: pure units (the semantic chunker and token windows use the real local model)."""

from __future__ import annotations

import numpy as np
import pytest

from shared.retrieval.chunking import (
    ChunkingConfig,
    chunk_document,
    load_tokenizer,
    split_fixed_tokens,
    split_markdown,
    split_recursive,
    split_semantic,
)
from shared.retrieval.loaders import DocumentDecodeError, LoaderError, UnsupportedFormatError, load_document
from shared.retrieval.models import Chunk, Document, Principal, chunk_id, document_id


def make_pdf(pages: list[str]) -> bytes:
    """A minimal digital-text PDF (Helvetica, one line per page) with a correct xref table."""
    objects: list[bytes] = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font_obj = 3 + 2 * n
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_obj} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# -- model ------------------------------------------------------------------------------------------------


def test_ids_are_stable_and_hashes_track_content() -> None:
    a = Document(collection="kb", source_uri="s3://x/a.txt", text="hello")
    b = Document(collection="kb", source_uri="s3://x/a.txt", text="hello, changed")
    other = Document(collection="kb2", source_uri="s3://x/a.txt", text="hello")
    assert a.id == b.id == document_id("kb", "s3://x/a.txt")
    assert a.id != other.id
    assert a.content_hash != b.content_hash
    assert len(a.content_hash) == 64
    c = Chunk(document_id=a.id, ordinal=3, text="x")
    assert c.id == chunk_id(a.id, 3) != chunk_id(a.id, 4)


def test_principal_effective_groups_include_public_and_self() -> None:
    p = Principal(user_id="alice", tenant_id="acme", groups=("eng",))
    assert p.effective_groups == ["eng", "public", "user:alice"]


# -- loaders ----------------------------------------------------------------------------------------------


def test_txt_and_md_from_bytes_and_path(tmp_path) -> None:
    doc = load_document(b"plain words", collection="kb", source_uri="mem://a.txt", tenant_id="t1")
    assert (doc.text, doc.doc_type, doc.tenant_id, doc.allowed_groups) == ("plain words", "txt", "t1", ["public"])
    path = tmp_path / "guide.md"
    path.write_text("# Install guide\n\nRun it.", encoding="utf-8")
    md = load_document(path, collection="kb", allowed_groups=["eng"])
    assert md.doc_type == "md" and md.title == "Install guide" and md.source_uri == str(path)
    assert md.allowed_groups == ["eng"]


def test_html_drops_scripts_and_navigation() -> None:
    html = b"""<html><head><title>Refunds</title><script>var secret = 1;</script><style>p{}</style></head>
    <body><nav>Home | About</nav><h1>Refund policy</h1><p>Refunds take 5 days.</p>
    <footer>(c) 2026</footer></body></html>"""
    doc = load_document(html, collection="kb", source_uri="https://x/refunds.html")
    assert doc.title == "Refunds" and doc.doc_type == "html"
    assert "Refund policy" in doc.text and "Refunds take 5 days." in doc.text
    for dropped in ("secret", "Home | About", "(c) 2026", "p{}"):
        assert dropped not in doc.text


def test_pdf_keeps_page_numbers() -> None:
    doc = load_document(make_pdf(["First page text", "Second page text"]), collection="kb", source_uri="r.pdf")
    assert doc.doc_type == "pdf"
    assert [(p.number, p.text) for p in doc.pages] == [(1, "First page text"), (2, "Second page text")]
    chunks = chunk_document(doc, ChunkingConfig(strategy="recursive"))
    assert [(c.page, c.text) for c in chunks] == [(1, "First page text"), (2, "Second page text")]


def test_loader_errors_are_specific(tmp_path) -> None:
    with pytest.raises(UnsupportedFormatError):
        load_document(b"x", collection="kb", source_uri="a.docx")
    with pytest.raises(DocumentDecodeError):
        load_document(b"\xff\xfe\x00\x00binary\x00", collection="kb", source_uri="a.txt")
    with pytest.raises(DocumentDecodeError):
        load_document(b"\xc3\x28 not utf8", collection="kb", source_uri="a.txt")
    with pytest.raises(DocumentDecodeError):
        load_document(b"not a pdf at all", collection="kb", source_uri="a.pdf")
    with pytest.raises(DocumentDecodeError):
        load_document(b"%PDF-1.4 garbage", collection="kb", source_uri="a.pdf")
    with pytest.raises(LoaderError):
        load_document(tmp_path / "missing.txt", collection="kb")
    with pytest.raises(LoaderError):
        load_document(12345, collection="kb")  # type: ignore[arg-type]
    assert issubclass(LoaderError, ValueError)
    # content type wins over a misleading name
    doc = load_document(b"<p>hi</p>", collection="kb", source_uri="blob", content_type="text/html; charset=utf-8")
    assert doc.doc_type == "html" and doc.text == "hi"


# -- chunkers ---------------------------------------------------------------------------------------------


def test_fixed_token_windows_overlap_and_respect_size() -> None:
    tok = load_tokenizer("all-minilm-l6-v2")
    text = " ".join(f"Word{i}" for i in range(300))
    pieces = split_fixed_tokens(text, tok, chunk_tokens=64, overlap_tokens=16)
    assert len(pieces) > 3
    for piece in pieces:
        assert len(tok(piece, add_special_tokens=False)["input_ids"]) <= 64
    assert pieces[0].startswith("Word0")  # sliced from the source: case preserved
    # neighbours share text (the overlap)
    tail_words = pieces[0].split()[-2:]
    assert all(w in pieces[1] for w in tail_words)
    assert pieces[-1].endswith("Word299")


def test_recursive_prefers_paragraphs_then_sentences() -> None:
    para1 = "Alpha one. Alpha two. Alpha three."
    para2 = "Beta sentence here. " * 10
    chunks = split_recursive(f"{para1}\n\n{para2}", max_chars=80)
    assert chunks[0] == para1
    assert all(len(c) <= 80 for c in chunks)
    assert all(c.strip().endswith(".") for c in chunks)  # sentence boundaries, not mid-word cuts
    long_word = "x" * 250
    assert [len(c) for c in split_recursive(long_word, max_chars=100)] == [100, 100, 50]


def test_markdown_keeps_heading_path_and_ignores_code_fences() -> None:
    md = "# Guide\nIntro.\n## Install\nRun pip.\n```\n# not a heading\n```\n### Linux\nUse apt.\n## Usage\nCall it."
    pieces = split_markdown(md, max_chars=500)
    paths = [meta["heading_path"] for _, meta in pieces]
    assert paths == [["Guide"], ["Guide", "Install"], ["Guide", "Install", "Linux"], ["Guide", "Usage"]]
    assert "# not a heading" in pieces[1][0]
    doc = Document(collection="kb", source_uri="g.md", text=md, doc_type="md")
    chunks = chunk_document(doc, ChunkingConfig(strategy="markdown"))
    assert chunks[2].section == "Guide > Install > Linux"
    assert chunks[2].metadata["heading_path"] == ["Guide", "Install", "Linux"]
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]


def test_semantic_breaks_where_topic_changes() -> None:
    from shared.serving.embeddings import LocalEmbedder

    text = (
        "Cats are small domesticated felines. Cats purr when they are content. Kittens are young cats. "
        "The stock market fell sharply today. Investors sold shares of technology companies. "
        "Bond yields rose as equities declined."
    )
    pieces = split_semantic(text, LocalEmbedder().embed, percentile=75, max_chars=2000)
    assert len(pieces) >= 2
    first_finance = next(i for i, p in enumerate(pieces) if "stock market" in p)
    assert all("Cats" not in p for p in pieces[first_finance:])  # the break falls between the topics
    assert "Kittens" in " ".join(pieces[:first_finance])


def test_semantic_falls_back_for_short_text_and_needs_embedder() -> None:
    assert split_semantic("One sentence.", lambda s: np.zeros((len(s), 3)), 90, 100) == ["One sentence."]
    doc = Document(collection="kb", source_uri="a", text="A. B. C.")
    with pytest.raises(ValueError, match="embedder"):
        chunk_document(doc, ChunkingConfig(strategy="semantic"))


def test_chunking_config_validates() -> None:
    with pytest.raises(ValueError):
        ChunkingConfig(chunk_tokens=32, overlap_tokens=32)
    cfg = ChunkingConfig(strategy="markdown", max_chars=500)
    assert ChunkingConfig(**cfg.model_dump()) == cfg
