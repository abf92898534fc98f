"""Box geometry shared by the SROIE loader and the layout heuristics: visual rows and reading order.

OCR emits lines in detector order, not reading order, and a receipt's label ("TOTAL:") and value ("9.00")
are separate lines on the same visual row. Grouping lines into rows by vertical overlap recovers both.
"""

from __future__ import annotations

from collections.abc import Sequence

from projects.document_intelligence.model import BBox, Line


def v_overlap(a: BBox, b: BBox) -> float:
    """Vertical overlap of two boxes as a fraction of the shorter box's height (0..1)."""
    inter = min(a[3], b[3]) - max(a[1], b[1])
    shorter = max(1e-6, min(a[3] - a[1], b[3] - b[1]))
    return max(0.0, inter) / shorter


def group_rows(lines: Sequence[Line], min_overlap: float = 0.5) -> list[list[Line]]:
    """Lines on the same visual row (vertical overlap ≥ ``min_overlap`` with the row's first line), rows top to
    bottom, lines left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ((ln.bbox[1] + ln.bbox[3]) / 2, ln.bbox[0])):
        for row in rows[-3:]:  # only recent rows can overlap a line further down the page
            if v_overlap(row[0].bbox, line.bbox) >= min_overlap:
                row.append(line)
                break
        else:
            rows.append([line])
    for row in rows:
        row.sort(key=lambda ln: ln.bbox[0])
    rows.sort(key=lambda r: min(ln.bbox[1] for ln in r))
    return rows


def row_text(row: Sequence[Line]) -> str:
    return " ".join(ln.text.strip() for ln in row if ln.text.strip())


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
