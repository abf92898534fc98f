"""The parsing engine: bytes in, ``model.Page`` objects out, one page at a time.

Per page: a PDF page with at least ``min_text_layer_chars`` extractable characters uses its text
layer (exact words, no raster); anything else is rendered at ``render_dpi`` and OCR'd, and its pixel
boxes are converted to the page's units (points for PDF pages: × 72/dpi). Only the current page's
raster is ever alive, so memory does not grow with page count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
from PIL import Image

from projects.document_intelligence.inputs import PageInput, SourceDocument, open_source
from projects.document_intelligence.layout import (
    build_blocks,
    edge_texts,
    get_layout_detector,
    plain_blocks,
    words_to_lines,
)
from projects.document_intelligence.model import Document, Line, Page, Word, union
from projects.document_intelligence.ocr import OcrEngine, OcrPage, get_ocr_engine, ocr_page, upright
from projects.document_intelligence.settings import DocIntSettings, get_docint_settings
from projects.document_intelligence.tables import cluster_rows, split_row
from shared.observability.tracing import span

log = logging.getLogger(__name__)


def _clip(v: float, hi: float) -> float:
    return min(max(v, 0.0), hi)


def ocr_lines_to_model(result: OcrPage, factor: float, width: float, height: float) -> list[Line]:
    """OCR lines (upright pixels) → model lines in page units, clipped to the page."""

    def box(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return (
            _clip(b[0] * factor, width), _clip(b[1] * factor, height),
            _clip(b[2] * factor, width), _clip(b[3] * factor, height),
        )  # fmt: skip

    lines = []
    for ln in result.lines:
        conf = max(0.0, min(1.0, ln.confidence))
        words = []
        for w in ln.words or []:
            xs, ys = [p[0] for p in w.box], [p[1] for p in w.box]
            words.append(
                Word(
                    text=w.text,
                    bbox=box((min(xs), min(ys), max(xs), max(ys))),
                    confidence=max(0.0, min(1.0, w.confidence)),
                )
            )
        lines.append(Line(text=ln.text, bbox=box(ln.bbox), confidence=conf, words=words))
    return merge_row_fragments(lines)


def merge_row_fragments(lines: list[Line], gap_factor: float = 1.2) -> list[Line]:
    """Join OCR lines the detector split at an ordinary word gap, so OCR and text-layer lines are cut alike
    (only at gaps wider than ``gap_factor`` × the text height: columns and table cells stay apart)."""
    merged = []
    for row in cluster_rows(lines, lambda ln: ln.bbox):
        for seg in split_row(row, lambda ln: ln.bbox, gap_factor):
            if len(seg) == 1:
                merged.append(seg[0])
                continue
            merged.append(
                Line(
                    text=" ".join(ln.text for ln in seg), bbox=union([ln.bbox for ln in seg]),
                    confidence=min(ln.confidence for ln in seg), words=[w for ln in seg for w in ln.words],
                )
            )  # fmt: skip
    return merged


class DocumentParser:
    """Stateless apart from the cached models; safe to share across threads (engines serialise their calls)."""

    def __init__(self, settings: DocIntSettings | None = None, ocr_engine: OcrEngine | None = None) -> None:
        self.settings = settings or get_docint_settings()
        self._ocr = ocr_engine

    @property
    def ocr_engine(self) -> OcrEngine:
        if self._ocr is None:
            self._ocr = get_ocr_engine(self.settings)
        return self._ocr

    def open(self, data: bytes, filename: str = "") -> SourceDocument:
        """Validate up front (raises ``InputError``): page count, encryption, image sizes; no page is decoded."""
        return open_source(data, filename, self.settings)

    def parse_pages(self, data: bytes, filename: str = "", start: int = 1) -> Iterator[Page]:
        """Pages ``start``..n, parsed and yielded one at a time (``start`` resumes an interrupted job)."""
        source = self.open(data, filename)
        try:
            yield from self.iter_parsed(source, start)
        finally:
            source.close()

    def iter_parsed(self, source: SourceDocument, start: int = 1) -> Iterator[Page]:
        """Parse an already opened source (callers that need ``n_pages`` before streaming open it once)."""
        repeated: set[str] = set()
        for page_input in source.iter_pages(start):
            page = self.parse_page(page_input, repeated)
            repeated |= edge_texts(page.blocks, page.height)
            yield page

    def parse(self, data: bytes, filename: str = "") -> Document:
        with self.open(data, filename) as source:
            pages = list(self.iter_parsed(source))
            return Document(
                filename=filename, media_type=source.media_type, n_pages=source.n_pages, pages=pages,
                metadata={"warnings": " | ".join(source.warnings)} if source.warnings else {},
            )  # fmt: skip

    def parse_page(self, page_input: PageInput, repeated: set[str] | None = None) -> Page:
        """One page: text layer when it has enough characters, OCR otherwise."""
        s = self.settings
        if page_input.text_words is not None and page_input.n_text_chars >= max(1, s.min_text_layer_chars):
            with span("docint.page.text_layer", page=page_input.number):
                lines = words_to_lines(page_input.text_words)
                blocks = (
                    build_blocks(lines, page_input.number, page_input.width, page_input.height, page_input.unit,
                                 repeated=repeated)
                    if s.layout
                    else plain_blocks(lines, page_input.number)
                )  # fmt: skip
            return Page(
                number=page_input.number, width=page_input.width, height=page_input.height, unit=page_input.unit,
                source="text_layer", blocks=blocks,
            )  # fmt: skip
        return self._ocr_page(page_input, repeated)

    def _ocr_page(self, page_input: PageInput, repeated: set[str] | None) -> Page:
        s = self.settings
        with span("docint.page.ocr", page=page_input.number):
            image = page_input.render(s.render_dpi)
            # page units per pixel: 72/dpi for PDF pages (the render may have been capped), 1 for images
            factor = page_input.width / image.width
            result = ocr_page(image, self.ocr_engine, s)
            width, height = result.width * factor, result.height * factor
            lines = ocr_lines_to_model(result, factor, width, height)
            if s.layout:
                regions = None
                if lines:
                    straight = upright(image, result.rotation, result.skew)
                    regions = get_layout_detector(s.layout_min_score).detect(np.asarray(straight), factor)
                    del straight
                blocks = build_blocks(lines, page_input.number, width, height, page_input.unit, regions, repeated)
            else:
                blocks = plain_blocks(lines, page_input.number)
            del image
        return Page(
            number=page_input.number, width=width, height=height, unit=page_input.unit, source="ocr",
            rotation=result.rotation, skew=result.skew, ocr_confidence=round(result.confidence, 4), blocks=blocks,
        )  # fmt: skip

    def render_page(
        self, data: bytes, filename: str, number: int, dpi: int = 100, rotation: int = 0, skew: float = 0.0
    ) -> Image.Image:
        """Page ``number`` as an RGB image for the reviewer; pass the parsed page's ``rotation``/``skew`` so the
        image is in the frame its boxes use (scale = image.width / page.width)."""
        with self.open(data, filename) as source:
            if not 1 <= number <= source.n_pages:
                raise IndexError(f"page {number} out of range 1..{source.n_pages}")
            page_input = next(source.iter_pages(number))
            return upright(page_input.render(dpi), rotation, skew)
