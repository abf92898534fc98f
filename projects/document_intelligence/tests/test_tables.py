"""Tables from boxes, lines from text-layer words, blocks and reading order — geometry only, no models."""

from __future__ import annotations

from projects.document_intelligence.layout import build_blocks, plain_blocks, words_to_lines
from projects.document_intelligence.model import Line, Word
from projects.document_intelligence.tables import build_table, find_table_runs


def words_at(text: str, x: float, y: float, h: float = 10.0, char_w: float = 6.0) -> list[Word]:
    """Words of ``text`` set from (x, y) with a 6-unit advance per character."""
    out = []
    for token in text.split(" "):
        if token:
            out.append(Word(text=token, bbox=(x, y, x + char_w * len(token), y + h)))
        x += char_w * (len(token) + 1)
    return out


ROWS = [("Description", "Qty", "Unit price", "Amount"), ("Blue widget", "2", "10.00", "20.00"),
        ("Red gadget", "1", "15.50", "15.50"), ("Green gizmo", "3", "5.00", "15.00")]  # fmt: skip
COLS = (40.0, 220.0, 300.0, 400.0)


def invoice_words() -> list[Word]:
    words = []
    for r, row in enumerate(ROWS):
        for text, x in zip(row, COLS, strict=True):
            words += words_at(text, x, 100 + 20 * r + (1.5 if r % 2 else 0))  # rows slightly uneven
    return words


def test_invoice_words_become_the_right_grid():
    table = build_table(invoice_words())
    assert table is not None and (table.n_rows, table.n_cols) == (4, 4)
    assert table.grid() == [list(r) for r in ROWS]
    cell = next(c for c in table.cells if c.row == 1 and c.col == 0)
    assert cell.bbox[0] == 40 and cell.bbox[1] == 121.5  # cells keep their boxes
    assert "| Blue widget | 2 | 10.00 | 20.00 |" in table.to_markdown()
    assert table.to_csv().splitlines()[3] == "Green gizmo,3,5.00,15.00"


def test_empty_cells_stay_in_their_column():
    words = invoice_words() + words_at("Shipping", 40, 180) + words_at("5.00", 400, 180)
    table = build_table(words)
    assert table.grid()[-1] == ["Shipping", "", "", "5.00"]


def test_unruled_table_is_found_among_text_lines():
    lines = words_to_lines(words_at("Invoice INV-7 for Acme Widgets", 40, 60) + invoice_words()
                           + words_at("Total: 50.50", 40, 200))  # fmt: skip
    runs = find_table_runs(lines)
    assert len(runs) == 1 and len(runs[0]) == 16
    blocks = build_blocks(lines, page_number=1, page_width=595, page_height=842)
    assert [b.kind for b in blocks] == ["text", "table", "text"]
    assert blocks[1].table.grid() == [list(r) for r in ROWS]
    assert [b.id for b in blocks] == ["p1-b0", "p1-b1", "p1-b2"]


def test_two_text_columns_read_column_by_column_and_are_not_a_table():
    words = words_at("A Study of Widgets", 40, 30, h=18, char_w=10)
    for i in range(6):
        words += words_at(f"left column line {i} text", 40, 100 + 14 * i)
        words += words_at(f"right column line {i} text", 320, 100 + 14 * i)
    lines = words_to_lines(words)
    assert len(lines) == 13  # a wide gutter cuts each row in two
    blocks = build_blocks(lines, page_number=1, page_width=595, page_height=842)
    assert [b.kind for b in blocks] == ["title", "text", "text"]
    assert blocks[1].text.startswith("left column line 0") and blocks[1].text.endswith("line 5 text")
    assert blocks[2].text.startswith("right column line 0")


def test_headers_footers_by_position_and_repetition():
    body = [Line(text=f"Body paragraph line {i}", bbox=(40, 200 + 12 * i, 400, 210 + 12 * i)) for i in range(5)]
    footer = Line(text="Page 2 of 9", bbox=(280, 805, 320, 815))
    near_top = Line(text="ACME WIDGETS", bbox=(40, 20, 120, 30))  # top of a photo: a header only if it repeats
    blocks = build_blocks([*body, footer], page_number=2, page_width=595, page_height=842)
    assert blocks[-1].kind == "footer" and blocks[-1].text == "Page 2 of 9"
    photo = [Line(text="Receipt line", bbox=(40, 60 + 12 * i, 300, 70 + 12 * i)) for i in range(10)]
    kinds = [
        b.kind for b in build_blocks([near_top, *photo], page_number=1, page_width=400, page_height=600, unit="px")
    ]
    assert "header" not in kinds
    repeated = build_blocks([near_top, *photo], 1, 400, 600, unit="px", repeated={"acme widgets"})
    assert repeated[0].kind == "header"


def test_plain_blocks_without_layout():
    lines = words_to_lines(invoice_words())
    blocks = plain_blocks(lines, page_number=3)
    assert all(b.kind == "text" for b in blocks) and blocks[0].id == "p3-b0"
    assert sum(len(b.lines) for b in blocks) == len(lines)


def test_label_value_pairs_become_a_headerless_two_column_grid():
    words = []
    for i, (label, value) in enumerate([("Subtotal", "EUR 3.166,97"), ("VAT 19%", "EUR 601,72"),
                                        ("Amount due (EUR)", "EUR 3.768,69")]):  # fmt: skip
        words += words_at(label, 300, 400 + 16 * i)
        words += words_at(value, 460, 400 + 16 * i)
    blocks = build_blocks(words_to_lines(words), page_number=1, page_width=595, page_height=842)
    assert [b.kind for b in blocks] == ["table"]
    table = blocks[0].table
    assert table is not None and not table.header and table.grid()[2] == ["Amount due (EUR)", "EUR 3.768,69"]
    assert "| Amount due (EUR) | EUR 3.768,69 |" in blocks[0].to_markdown()
