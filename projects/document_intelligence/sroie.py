"""SROIE (ICDAR 2019 receipts) in its released layout, read into the project's document model.

``DIR/key/<id>.json`` holds the gold ``{company, date, address, total}``; ``DIR/box/<id>.csv`` the OCR
lines ``x1,y1,x2,y2,x3,y3,x4,y4,text`` (a quadrilateral, pixels; the text may itself contain commas);
``DIR/img/<id>.jpg`` the scan, for some ids. Text mode builds a one-page ``Document`` from the CSV
lines so extraction is measured on exactly the OCR the annotators saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from projects.document_intelligence.geometry import group_rows, median
from projects.document_intelligence.model import Block, Document, Line, Page, union

SROIE_FIELDS = ("company", "date", "address", "total")


@dataclass(frozen=True)
class SroieItem:
    id: str
    gold: dict[str, str]
    box_path: Path
    img_path: Path | None


def read_box_csv(path: Path) -> list[Line]:
    """OCR lines with axis-aligned boxes (the quadrilateral's extent); malformed rows are skipped."""
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = raw.split(",", 8)
        if len(parts) < 9 or not parts[8].strip():
            continue
        try:
            xy = [float(p) for p in parts[:8]]
        except ValueError:
            continue
        xs, ys = xy[0::2], xy[1::2]
        lines.append(Line(text=parts[8].strip(), bbox=(min(xs), min(ys), max(xs), max(ys))))
    return lines


def lines_to_document(lines: list[Line], doc_id: str = "", filename: str = "") -> Document:
    """One OCR page: lines in reading order (rows top to bottom, left to right), rows separated by a vertical gap
    larger than 1.5 median line heights start a new text block."""
    rows = group_rows(lines)
    height = median([ln.bbox[3] - ln.bbox[1] for ln in lines]) or 1.0
    groups: list[list[Line]] = []
    prev_bottom: float | None = None
    for row in rows:
        top = min(ln.bbox[1] for ln in row)
        if prev_bottom is None or top - prev_bottom > 1.5 * height:
            groups.append([])
        groups[-1].extend(row)
        prev_bottom = max(ln.bbox[3] for ln in row)
    blocks = [
        Block(id=f"p1-b{i}", kind="text", bbox=union([ln.bbox for ln in g]), order=i, lines=g)
        for i, g in enumerate(groups)
    ]
    width = max((ln.bbox[2] for ln in lines), default=1.0) + 1
    page_height = max((ln.bbox[3] for ln in lines), default=1.0) + 1
    page = Page(number=1, width=width, height=page_height, unit="px", source="ocr", blocks=blocks)
    return Document(id=doc_id, filename=filename, media_type="text/csv", n_pages=1, pages=[page])


def read_gold(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: str(data.get(k) or "").strip() for k in SROIE_FIELDS}


def load_items(root: Path, *, need_image: bool = False) -> list[SroieItem]:
    """Every id with both a key and a box file (and an image when ``need_image``), sorted by id."""
    items = []
    for key in sorted((root / "key").glob("*.json")):
        box = root / "box" / f"{key.stem}.csv"
        img = next((p for p in (root / "img" / f"{key.stem}{ext}" for ext in (".jpg", ".png")) if p.exists()), None)
        if not box.exists() or (need_image and img is None):
            continue
        items.append(SroieItem(id=key.stem, gold=read_gold(key), box_path=box, img_path=img))
    return items


def load_text_document(item: SroieItem) -> Document:
    return lines_to_document(read_box_csv(item.box_path), doc_id=item.id, filename=item.box_path.name)
