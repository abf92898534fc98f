"""The demo set: every type digital and scanned, a manifest with ground truth, same seed → same bytes."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter

import pypdfium2 as pdfium
from PIL import Image

from projects.document_intelligence.demo_data import DEMO_SPECS, DemoSpec, main, write_demo_set
from projects.document_intelligence.doc_types import DOC_TYPES


def test_demo_specs_cover_every_type_format_and_hard_case():
    assert len(DEMO_SPECS) == 24
    assert {s.doc_type for s in DEMO_SPECS} == set(DOC_TYPES)
    for t in DOC_TYPES:
        fmts = {s.fmt for s in DEMO_SPECS if s.doc_type == t}
        assert "pdf" in fmts and fmts - {"pdf"}, f"{t} needs a digital and a scanned example"
    assert {s.fmt for s in DEMO_SPECS} == {"pdf", "png", "jpeg", "tiff", "scan-pdf"}
    assert any(s.upside_down for s in DEMO_SPECS)
    assert any(s.long and s.fmt == "pdf" for s in DEMO_SPECS) and any(s.long and s.fmt == "tiff" for s in DEMO_SPECS)


SMALL = (
    DemoSpec("invoice", "pdf"),
    DemoSpec("receipt", "jpeg"),
    DemoSpec("letter", "png", upside_down=True),
    DemoSpec("id_card", "scan-pdf"),
)


def test_write_demo_set_files_manifest_and_determinism(tmp_path):
    manifest = write_demo_set(tmp_path / "a", seed=3, specs=SMALL)
    again = write_demo_set(tmp_path / "b", seed=3, specs=SMALL)
    assert manifest == again
    on_disk = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest and on_disk["seed"] == 3
    docs = on_disk["documents"]
    assert [d["doc_type"] for d in docs] == ["invoice", "receipt", "letter", "id_card"]
    assert Counter(d["kind"] for d in docs) == {"digital": 1, "scanned": 3}
    for d in docs:
        data = (tmp_path / "a" / d["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == d["sha256"]
        assert d["fields"] and d["text"] and d["pages"] == 1
    invoice = docs[0]
    assert invoice["line_items"] and invoice["file"].endswith(".pdf")
    assert (
        invoice["fields"]["invoice_number"]
        in pdfium.PdfDocument((tmp_path / "a" / invoice["file"]).read_bytes())[0].get_textpage().get_text_range()
    )
    assert Image.open(io.BytesIO((tmp_path / "a" / docs[1]["file"]).read_bytes())).format == "JPEG"
    assert docs[2]["upside_down"] and "upside-down" in docs[2]["file"]
    card_pdf = pdfium.PdfDocument((tmp_path / "a" / docs[3]["file"]).read_bytes())
    assert not card_pdf[0].get_textpage().get_text_range().strip(), "image-only PDF"
    assert write_demo_set(tmp_path / "c", seed=4, specs=SMALL)["documents"][0]["sha256"] != invoice["sha256"]


def test_cli_writes_files_and_manifest(tmp_path, capsys):
    main(["--out", str(tmp_path), "--seed", "7", "--limit", "2"])  # the first two: digital invoices
    assert "wrote 2 documents (0 scanned)" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [d["file"] for d in manifest["documents"]] == ["01-invoice-digital.pdf", "02-invoice-digital.pdf"]
    assert all((tmp_path / d["file"]).exists() for d in manifest["documents"])
