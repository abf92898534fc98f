"""The document model's exports and RAG chunking (pure functions on hand-built pages)."""

from __future__ import annotations

from projects.document_intelligence.model import Block, Document, Line, Page, Table, TableCell, chunk_document


def _line(text: str, y: float) -> Line:
    return Line(text=text, bbox=(50, y, 50 + 6 * len(text), y + 12))


def _block(i: int, kind: str, texts: list[str], y: float, page: int = 1, table: Table | None = None) -> Block:
    lines = [_line(t, y + 16 * k) for k, t in enumerate(texts)]
    return Block(
        id=f"p{page}-b{i}", kind=kind, order=i, lines=lines, table=table,
        bbox=(50, y, 400, y + 16 * len(texts)),
    )  # fmt: skip


def _table() -> Table:
    cells = [
        TableCell(row=r, col=c, text=t, bbox=(0, 0, 1, 1))
        for r, row in enumerate([["Item", "Amount"], ["Pipe | fitting", "<5.00>"]])
        for c, t in enumerate(row)
    ]
    return Table(n_rows=2, n_cols=2, cells=cells)


def test_table_exports_escape_what_their_format_needs() -> None:
    t = _table()
    assert t.to_markdown().splitlines() == ["| Item | Amount |", "|---|---|", "| Pipe \\| fitting | <5.00> |"]
    assert t.to_html() == (
        "<table><tr><th>Item</th><th>Amount</th></tr><tr><td>Pipe | fitting</td><td>&lt;5.00&gt;</td></tr></table>"
    )
    assert t.to_csv() == "Item,Amount\nPipe | fitting,<5.00>\n"


def test_markdown_keeps_reading_order_and_drops_headers_and_footers() -> None:
    page = Page(
        number=1, width=595, height=842, source="text_layer",
        blocks=[
            _block(2, "text", ["Body after the title."], 200),
            _block(0, "header", ["ACME CONFIDENTIAL"], 10),
            _block(1, "title", ["Payment terms"], 100),
            _block(3, "table", ["Item Amount"], 300, table=_table()),
            _block(4, "footer", ["Page 1 of 1"], 820),
        ],
    )  # fmt: skip
    md = page.to_markdown()
    assert md.split("\n\n")[:2] == ["## Payment terms", "Body after the title."]
    assert "| Item | Amount |" in md and "CONFIDENTIAL" not in md and "Page 1" not in md
    assert "ACME CONFIDENTIAL" in page.to_markdown(headers_footers=True)
    doc = Document(pages=[page], n_pages=1)
    assert doc.to_markdown().startswith("<!-- page 1 -->") and Document.model_validate_json(doc.model_dump_json())


def test_chunks_never_span_pages_carry_headings_and_boxes() -> None:
    p1 = Page(number=1, width=595, height=842, source="ocr", blocks=[
        _block(0, "title", ["Scope"], 50),
        _block(1, "text", ["The supplier delivers widgets."], 80),
        _block(2, "footer", ["Page 1"], 820),
    ])  # fmt: skip
    long_lines = [f"Clause line {i} about liability and indemnity." for i in range(40)]
    p2 = Page(number=2, width=595, height=842, source="ocr", blocks=[_block(0, "text", long_lines, 50, page=2)])
    chunks = chunk_document(Document(pages=[p1, p2]), max_chars=400)
    assert chunks[0].page == 1 and chunks[0].heading == "Scope" and "Page 1" not in chunks[0].text
    assert chunks[0].block_ids == ["p1-b0", "p1-b1"] and chunks[0].bbox == (50, 50, 400, 96)  # title + its body
    rest = chunks[1:]
    assert {c.page for c in rest} == {2} and all(len(c.text) <= 400 for c in rest)
    assert "".join(c.text.replace("\n", " ") for c in rest).count("Clause line") == 40  # nothing lost
    assert rest[0].bbox[1] == 50 and rest[1].bbox[1] > rest[0].bbox[3] - 1  # each window keeps its own box
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
