"""Demo set: two dozen generated documents of every type, digital and scanned, with their ground truth.

``python -m projects.document_intelligence.demo_data --out DIR [--seed 7]`` writes the files and a
``manifest.json`` (type, template, format, pages, normalised fields, line items, sha256 per file).
The same seed gives the same bytes: fpdf2 and Pillow get a fixed creation date, and every random
choice comes from the seed. The mix covers what the parser must handle: digital PDFs, PNG/JPEG
scans, a multi-frame TIFF, image-only PDFs, a multi-page contract (digital and scanned) and an
upside-down scan.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from projects.document_intelligence.doc_types import DocType
from projects.document_intelligence.render import MEDIA_TYPES, render_pdf, render_scan
from projects.document_intelligence.synthetic import TEMPLATES, SyntheticDoc, generate

OutputFormat = Literal["pdf", "png", "jpeg", "tiff", "scan-pdf"]


@dataclass(frozen=True)
class DemoSpec:
    doc_type: DocType
    fmt: OutputFormat  # "pdf" = digital PDF; "scan-pdf" = image-only PDF
    long: bool = False
    upside_down: bool = False


# 24 documents: every type digital and scanned; formats spread so each parser path has an example
DEMO_SPECS: tuple[DemoSpec, ...] = (
    DemoSpec("invoice", "pdf"), DemoSpec("invoice", "pdf"), DemoSpec("invoice", "png"), DemoSpec("invoice", "scan-pdf"),
    DemoSpec("receipt", "pdf"), DemoSpec("receipt", "jpeg"), DemoSpec("receipt", "jpeg"), DemoSpec("receipt", "png"),
    DemoSpec("form", "pdf"), DemoSpec("form", "tiff"), DemoSpec("form", "png"),
    DemoSpec("letter", "pdf"), DemoSpec("letter", "jpeg", upside_down=True), DemoSpec("letter", "png"),
    DemoSpec("contract", "pdf", long=True), DemoSpec("contract", "tiff", long=True), DemoSpec("contract", "pdf"),
    DemoSpec("id_card", "png"), DemoSpec("id_card", "jpeg"), DemoSpec("id_card", "pdf"),
    DemoSpec("other", "pdf"), DemoSpec("other", "png"), DemoSpec("other", "scan-pdf"), DemoSpec("other", "pdf"),
)  # fmt: skip


@dataclass(frozen=True)
class DemoFile:
    filename: str
    data: bytes
    media_type: str
    doc: SyntheticDoc
    spec: DemoSpec

    @property
    def kind(self) -> str:
        return "digital" if self.spec.fmt == "pdf" else "scanned"


def _extension(fmt: OutputFormat) -> str:
    return {"pdf": "pdf", "scan-pdf": "pdf", "png": "png", "jpeg": "jpg", "tiff": "tif"}[fmt]


def iter_demo_files(seed: int = 7, specs: tuple[DemoSpec, ...] = DEMO_SPECS) -> Iterator[DemoFile]:
    """The demo documents one at a time (rendered lazily: never all rasters in memory)."""
    per_type: dict[str, int] = {}
    for n, spec in enumerate(specs, 1):
        i = per_type.get(spec.doc_type, 0)
        per_type[spec.doc_type] = i + 1
        templates = TEMPLATES[spec.doc_type]
        doc = generate(spec.doc_type, seed * 1000 + n, long=spec.long, template=templates[i % len(templates)])
        stem = f"{n:02d}-{spec.doc_type}-{'digital' if spec.fmt == 'pdf' else 'scan'}"
        stem += "-upside-down" if spec.upside_down else ""
        if spec.fmt == "pdf":
            data, media = render_pdf(doc), MEDIA_TYPES["pdf"]
        else:
            fmt = "pdf" if spec.fmt == "scan-pdf" else spec.fmt
            data, media = render_scan(doc, fmt, seed * 1000 + n, upside_down=spec.upside_down), MEDIA_TYPES[fmt]
        yield DemoFile(f"{stem}.{_extension(spec.fmt)}", data, media, doc, spec)


def _pages(f: DemoFile) -> int:
    if f.media_type == "application/pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(f.data)
        try:
            return len(pdf)
        finally:
            pdf.close()
    if f.media_type == "image/tiff":
        import io

        from PIL import Image

        with Image.open(io.BytesIO(f.data)) as im:
            return getattr(im, "n_frames", 1)
    return 1


def write_demo_set(out_dir: Path, seed: int = 7, specs: tuple[DemoSpec, ...] = DEMO_SPECS) -> dict:
    """Write the files and ``manifest.json`` to ``out_dir``; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for f in iter_demo_files(seed, specs):
        (out_dir / f.filename).write_bytes(f.data)
        entries.append(
            {
                "file": f.filename,
                "doc_type": f.doc.doc_type,
                "template": f.doc.template,
                "kind": f.kind,
                "format": f.spec.fmt,
                "media_type": f.media_type,
                "pages": _pages(f),
                "upside_down": f.spec.upside_down,
                "sha256": hashlib.sha256(f.data).hexdigest(),
                "fields": f.doc.fields,
                "line_items": f.doc.line_items,
                "text": f.doc.text,
            }
        )
    manifest = {"seed": seed, "generator": "projects.document_intelligence.synthetic", "documents": entries}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the document intelligence demo set (files + manifest.json).")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--limit", type=int, default=None, help="only the first N documents (a quick look)")
    args = ap.parse_args(argv)
    manifest = write_demo_set(args.out, args.seed, DEMO_SPECS[: args.limit])
    docs = manifest["documents"]
    print(f"wrote {len(docs)} documents ({sum(d['kind'] == 'scanned' for d in docs)} scanned) to {args.out}")


if __name__ == "__main__":
    main()
