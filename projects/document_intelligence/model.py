"""The one document model every stage reads and writes: document → pages → blocks → lines → words.

Coordinates: every box is ``(x0, y0, x1, y1)`` in the page's own units with the origin top-left —
PDF points (1/72 in) for PDF pages, pixels for image pages (``Page.unit``). A page image rendered at
any scale maps back with ``scale = image_width / page.width``, so the reviewer can draw any box on
any rendering. OCR boxes from a page rendered at ``dpi`` are converted to points at parse time.

Why one model: the JSON export, the Markdown export, RAG chunks, extraction source boxes and Q&A
citations all point into the same structure, so a citation "page 2, box (x0,y0,x1,y1)" is
something the UI can highlight and a reviewer can check.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Literal

from pydantic import BaseModel, Field

BBox = tuple[float, float, float, float]
BlockKind = Literal["title", "text", "list", "table", "figure", "caption", "header", "footer", "equation"]
PageSource = Literal["text_layer", "ocr"]
Unit = Literal["pt", "px"]


def union(boxes: list[BBox]) -> BBox:
    """The smallest box holding all ``boxes`` (an empty list gives a zero box)."""
    if not boxes:
        return (0.0, 0.0, 0.0, 0.0)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


class Word(BaseModel):
    text: str
    bbox: BBox
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class Line(BaseModel):
    text: str
    bbox: BBox
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    words: list[Word] = Field(default_factory=list)


class TableCell(BaseModel):
    row: int = Field(ge=0)
    col: int = Field(ge=0)
    text: str = ""
    bbox: BBox
    row_span: int = Field(default=1, ge=1)
    col_span: int = Field(default=1, ge=1)


class Table(BaseModel):
    """A cell grid rebuilt from word boxes inside a table region (row 0 is the header when ``header``)."""

    n_rows: int = Field(ge=0)
    n_cols: int = Field(ge=0)
    cells: list[TableCell] = Field(default_factory=list)
    header: bool = True

    def grid(self) -> list[list[str]]:
        rows = [["" for _ in range(self.n_cols)] for _ in range(self.n_rows)]
        for c in self.cells:
            if c.row < self.n_rows and c.col < self.n_cols:
                rows[c.row][c.col] = c.text
        return rows

    def to_markdown(self) -> str:
        grid = self.grid()
        if not grid:
            return ""

        def esc(s: str) -> str:
            return s.replace("|", "\\|").replace("\n", " ")

        head = grid[0] if self.header else [""] * self.n_cols
        body = grid[1:] if self.header else grid
        out = ["| " + " | ".join(esc(c) for c in head) + " |", "|" + "---|" * self.n_cols]
        out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
        return "\n".join(out)

    def to_html(self) -> str:
        parts = ["<table>"]
        for r, row in enumerate(self.grid()):
            tag = "th" if self.header and r == 0 else "td"
            parts.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row) + "</tr>")
        parts.append("</table>")
        return "".join(parts)

    def to_csv(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(self.grid())
        return buf.getvalue()


class Block(BaseModel):
    id: str = Field(description="stable within the document: p<page>-b<order>")
    kind: BlockKind
    bbox: BBox
    order: int = Field(ge=0, description="reading order on the page")
    lines: list[Line] = Field(default_factory=list)
    table: Table | None = None
    confidence: float = Field(default=1.0, ge=0.0, le=1.0, description="layout detector score")

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_markdown(self) -> str:
        if self.kind == "table" and self.table is not None and self.table.n_rows:
            return self.table.to_markdown()
        text = " ".join(line.text.strip() for line in self.lines if line.text.strip())
        if not text:
            return ""
        if self.kind == "title":
            return f"## {text}"
        if self.kind == "figure":
            return f"*[figure] {text}*"
        if self.kind == "caption":
            return f"*{text}*"
        return text


class Page(BaseModel):
    number: int = Field(ge=1)
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    unit: Unit = "pt"
    source: PageSource
    rotation: int = Field(default=0, description="degrees the page was turned to read upright (0/90/180/270)")
    skew: float = Field(default=0.0, description="degrees of deskew applied before OCR")
    ocr_confidence: float | None = Field(default=None, description="mean line confidence of OCR pages")
    blocks: list[Block] = Field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [line for block in sorted(self.blocks, key=lambda b: b.order) for line in block.lines]

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in sorted(self.blocks, key=lambda b: b.order) if b.text)

    def to_markdown(self, *, headers_footers: bool = False) -> str:
        parts = []
        for block in sorted(self.blocks, key=lambda b: b.order):
            if block.kind in ("header", "footer") and not headers_footers:
                continue
            md = block.to_markdown()
            if md:
                parts.append(md)
        return "\n\n".join(parts)


class Document(BaseModel):
    id: str = ""
    filename: str = ""
    media_type: str = ""
    n_pages: int = Field(default=0, ge=0)
    pages: list[Page] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages)

    def to_markdown(self) -> str:
        return "\n\n".join(f"<!-- page {p.number} -->\n\n{p.to_markdown()}" for p in self.pages)


class SourceRef(BaseModel):
    """Where a value or an answer came from: a page and a box on it."""

    page: int = Field(ge=1)
    bbox: BBox
    text: str = ""


class DocChunk(BaseModel):
    """A retrieval unit cut from the model: never spans pages, keeps its blocks' boxes for citations."""

    ordinal: int
    page: int
    text: str
    heading: str = ""
    block_ids: list[str] = Field(default_factory=list)
    bbox: BBox


def chunk_document(doc: Document, max_chars: int = 1200) -> list[DocChunk]:
    """Greedy block packing per page; a table is one chunk (Markdown) unless it alone is too long.

    Titles start a new chunk and become the heading of the chunks after them, so a chunk about
    "Payment terms" carries that heading into retrieval. Headers and footers are dropped: repeated on
    every page, they would otherwise match every query.
    """
    chunks: list[DocChunk] = []
    heading = ""
    for page in doc.pages:
        buf: list[Block] = []
        size = 0

        def flush() -> None:
            nonlocal buf, size
            text = "\n".join(b.to_markdown() for b in buf if b.to_markdown()).strip()
            if text:
                chunks.append(
                    DocChunk(
                        ordinal=len(chunks), page=page.number, text=text, heading=heading,
                        block_ids=[b.id for b in buf], bbox=union([b.bbox for b in buf]),
                    )
                )  # fmt: skip
            buf, size = [], 0

        for block in sorted(page.blocks, key=lambda b: b.order):
            if block.kind in ("header", "footer"):
                continue
            md = block.to_markdown()
            if not md:
                continue
            if block.kind == "title":
                flush()
                heading = block.text.strip()
            if size + len(md) > max_chars and buf:
                flush()
            if len(md) > max_chars:
                # one long block: split its lines into windows that each keep their own box
                window: list[Line] = []
                wsize = 0
                for line in block.lines:
                    if wsize + len(line.text) > max_chars and window:
                        part = block.model_copy(
                            update={"lines": window, "bbox": union([x.bbox for x in window]), "table": None}
                        )
                        buf, size = [part], wsize
                        flush()
                        window, wsize = [], 0
                    window.append(line)
                    wsize += len(line.text) + 1
                if window:
                    buf = [
                        block.model_copy(update={"lines": window, "bbox": union([x.bbox for x in window]), "table": None})
                    ]
                    size = wsize
                continue
            buf.append(block)
            size += len(md) + 1
        flush()
    return chunks
