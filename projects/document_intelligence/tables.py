"""Tables from boxes: rows by vertical overlap, columns by x-gap projection, cells with boxes.

Why boxes and not a table-structure model: ``rapid-table`` fetches its model at run time (offline it
fails), and invoices/receipts — the documents this project extracts from — are ruled or aligned
grids where word geometry alone recovers the structure. The same row/segment helpers group text-layer
words into lines (``layout.words_to_lines``) and find unruled tables (``find_table_runs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import median
from typing import TypeVar

from projects.document_intelligence.model import BBox, Line, Table, TableCell, Word, union

T = TypeVar("T")


def _height(b: BBox) -> float:
    return max(1e-6, b[3] - b[1])


def cluster_rows(items: Sequence[T], box: Callable[[T], BBox]) -> list[list[T]]:
    """Items grouped into visual rows (top to bottom), each row sorted left to right.

    An item joins the current row when it overlaps the row's vertical span by at least half of the
    smaller height — robust to a tall glyph or a subscript, and it never chains a whole column together
    because the row span is the row's median band, not the union of everything added.
    """
    rows: list[list[T]] = []
    spans: list[tuple[float, float]] = []
    for item in sorted(items, key=lambda it: (box(it)[1] + box(it)[3]) / 2):
        b = box(item)
        if rows:
            top, bottom = spans[-1]
            overlap = min(bottom, b[3]) - max(top, b[1])
            if overlap >= 0.5 * min(bottom - top, _height(b)):
                rows[-1].append(item)
                members = [box(x) for x in rows[-1]]
                spans[-1] = (median(m[1] for m in members), median(m[3] for m in members))
                continue
        rows.append([item])
        spans.append((b[1], b[3]))
    return [sorted(row, key=lambda it: box(it)[0]) for row in rows]


def split_row(items: Sequence[T], box: Callable[[T], BBox], gap_factor: float) -> list[list[T]]:
    """A left-to-right row cut wherever the horizontal gap exceeds ``gap_factor`` × the median height."""
    if not items:
        return []
    h = median(_height(box(it)) for it in items)
    segments: list[list[T]] = [[items[0]]]
    right = box(items[0])[2]
    for item in items[1:]:
        b = box(item)
        if b[0] - right > gap_factor * h:
            segments.append([item])
        else:
            segments[-1].append(item)
        right = max(right, b[2])
    return segments


def column_bands(intervals: Sequence[tuple[float, float]], min_cover: int = 1) -> list[tuple[float, float]]:
    """X ranges covered by at least ``min_cover`` intervals, merged; the gaps between them separate columns."""
    events = sorted([(x0, 1) for x0, _ in intervals] + [(x1, -1) for _, x1 in intervals], key=lambda e: (e[0], -e[1]))
    bands: list[tuple[float, float]] = []
    depth, start = 0, 0.0
    for x, delta in events:
        before = depth
        depth += delta
        if before < min_cover <= depth:
            start = x
        elif before >= min_cover > depth:
            if bands and x - bands[-1][1] <= 0:
                bands[-1] = (bands[-1][0], x)
            else:
                bands.append((start, x))
    return bands


def _phrases(words: list[Word]) -> list[list[list[Word]]]:
    """Rows of phrases: words closer than ~0.8 × their height belong to the same cell."""
    return [split_row(row, lambda w: w.bbox, 0.8) for row in cluster_rows(words, lambda w: w.bbox)]


def _bands_for(rows: list[list[list[Word]]]) -> list[tuple[float, float]]:
    intervals = [(union([w.bbox for w in p])[0], union([w.bbox for w in p])[2]) for row in rows for p in row]
    bands = column_bands(intervals)
    widest = max((len(row) for row in rows), default=0)
    if len(bands) < widest and len(rows) >= 3:
        # one overlong cell (a description spilling over) bridged a gap: ignore single-row coverage
        relaxed = column_bands(intervals, min_cover=2)
        if len(relaxed) > len(bands):
            bands = relaxed
    return bands


def _band_of(b: BBox, bands: list[tuple[float, float]]) -> int:
    """The band the box overlaps most (nearest by centre when it overlaps none)."""
    best, best_overlap = 0, -1.0
    for i, (x0, x1) in enumerate(bands):
        overlap = min(x1, b[2]) - max(x0, b[0])
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    if best_overlap <= 0:
        cx = (b[0] + b[2]) / 2
        best = min(range(len(bands)), key=lambda i: abs((bands[i][0] + bands[i][1]) / 2 - cx))
    return best


def build_table(words: list[Word]) -> Table | None:
    """A cell grid from the words of one table region, or None when they do not form ≥2 rows × ≥2 columns."""
    words = [w for w in words if w.text.strip()]
    if not words:
        return None
    rows = _phrases(words)
    bands = _bands_for(rows)
    if len(rows) < 2 or len(bands) < 2:
        return None
    cells: list[TableCell] = []
    for r, row in enumerate(rows):
        row_box = union([w.bbox for p in row for w in p])
        by_col: dict[int, list[list[Word]]] = {}
        for phrase in row:
            by_col.setdefault(_band_of(union([w.bbox for w in phrase]), bands), []).append(phrase)
        for c, (x0, x1) in enumerate(bands):
            phrases = by_col.get(c, [])
            if phrases:
                text = " ".join(w.text for p in phrases for w in p)
                bbox = union([w.bbox for p in phrases for w in p])
            else:
                text, bbox = "", (x0, row_box[1], x1, row_box[3])
            cells.append(TableCell(row=r, col=c, text=text, bbox=bbox))
    return Table(n_rows=len(rows), n_cols=len(bands), cells=cells, header=True)


def line_words(line: Line) -> list[Word]:
    """A line's words, or the line itself as one word when the engine gave no word boxes."""
    return line.words or [Word(text=line.text, bbox=line.bbox, confidence=line.confidence)]


def find_table_runs(lines: list[Line], min_rows: int = 3, min_cols: int = 3) -> list[list[Line]]:
    """Unruled tables: ≥``min_rows`` consecutive visual rows that share ≥``min_cols`` aligned columns.

    ``lines`` are already cut at wide gaps (text-layer lines by ``words_to_lines``, OCR lines by the
    detector), so an invoice line item arrives as one line per cell on a shared row.
    """
    rows = cluster_rows(lines, lambda ln: ln.bbox)
    runs: list[list[list[Line]]] = []
    current: list[list[Line]] = []
    for row in rows:
        multi = len(row) >= min_cols
        if multi and current:
            prev = union([ln.bbox for ln in current[-1]])
            here = union([ln.bbox for ln in row])
            if here[1] - prev[3] > 2.5 * median(_height(ln.bbox) for ln in row):
                runs.append(current)
                current = []
        if multi:
            current.append(row)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)

    tables: list[list[Line]] = []
    for run in runs:
        if len(run) < min_rows:
            continue
        bands = column_bands([(ln.bbox[0], ln.bbox[2]) for row in run for ln in row])
        if len(bands) < min_cols:
            continue
        filled = sum(len({_band_of(ln.bbox, bands) for ln in row}) >= min_cols for row in run)
        if filled >= 0.6 * len(run):
            tables.append([ln for row in run for ln in row])
    return tables
