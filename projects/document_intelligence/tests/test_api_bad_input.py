"""Every bad input the issue lists, through the API: a precise 4xx problem and nothing stored; and the failures
that happen later (in the job) leave a failed, retriable document whose finished pages are kept."""

from __future__ import annotations

import io

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader, PdfWriter

from projects.document_intelligence.service import Components, DocumentService, default_components
from projects.document_intelligence.settings import DocIntSettings

from .conftest import headers, upload
from .parsing_docs import bomb_png, digital_pdf, image_bytes


def _counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("di_blobs", "di_documents", "di_pages")
        )


def _encrypted() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(digital_pdf([["secret text"]]))))
    writer.encrypt("s3cret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _zero_pages() -> bytes:
    buf = io.BytesIO()
    PdfWriter().write(buf)
    return buf.getvalue()


CASES = {
    "corrupt": ("a.pdf", lambda: digital_pdf([["hello world"]])[:300], 422, "corrupt-pdf"),
    "encrypted": ("a.pdf", _encrypted, 422, "encrypted-pdf"),
    "zero pages": ("a.pdf", _zero_pages, 422, "no-pages"),
    "too many pages": ("a.pdf", lambda: digital_pdf([[f"page {i}"] for i in range(51)]), 422, "too-many-pages"),
    "decompression bomb": ("bomb.png", bomb_png, 422, "decompression-bomb"),
    "20,000 px side": ("strip.png", lambda: image_bytes(Image.new("L", (20_000, 20), 255)), 422, "image-too-large"),
    "empty": ("a.pdf", lambda: b"", 422, "empty-file"),
    "not a document": ("notes.pdf", lambda: b"just some text, not a document", 415, "unsupported-type"),
    "too large": ("big.png", lambda: b"\x89PNG" + b"\x00" * 2_000_100, 413, "too-large"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_upload_is_a_precise_problem_and_stores_nothing(client: TestClient, database_url: str, case: str) -> None:
    filename, make, status, code = CASES[case]
    resp = upload(client, filename, make())
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert body["type"].endswith("/" + code) and body["detail"]
    assert _counts(database_url) == (0, 0, 0)


def test_wrong_extension_is_parsed_by_content_with_a_warning(client: TestClient, service: DocumentService) -> None:
    resp = upload(client, "scan.pdf", image_bytes(Image.new("RGB", (200, 100), "white")))
    assert resp.status_code == 202, resp.text
    doc = resp.json()
    assert doc["media_type"] == "image/png" and any("suggests application/pdf" in w for w in doc["warnings"])


class _CrashOnce:
    """The real parser, except that page 3 raises the first time (a crash in the middle of a long job)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.parsed: list[int] = []
        self.crashed = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def parse_page(self, page_input, repeated=None):
        if page_input.number == 3 and not self.crashed:
            self.crashed = True
            raise RuntimeError("worker lost its OCR engine")
        self.parsed.append(page_input.number)
        return self.inner.parse_page(page_input, repeated)


def test_a_failed_job_keeps_its_pages_and_resumes_on_retry(
    database_url: str, embedder, chat, di_settings: DocIntSettings
) -> None:
    real = default_components(di_settings, embedder, lambda: chat)
    crashing = _CrashOnce(real.parser)
    svc = DocumentService(
        database_url, embedder, lambda: chat, di_settings,
        components=Components(parser=crashing, classifier=real.classifier, extract=real.extract),
    )  # fmt: skip
    try:
        from projects.document_intelligence.api import create_router
        from shared.api.app import create_app
        from shared.api.context import ServiceContext

        app = create_app("t", routers=[("/docintel", create_router(ServiceContext(database_url=database_url),
                                                                    di_settings, service=svc))])  # fmt: skip
        client = TestClient(app)
        pages = [
            ["Quarterly report", f"Section {i}", f"Body text of page {i} with enough characters.", "More body text."]
            for i in range(1, 6)
        ]
        doc_id = upload(client, "report.pdf", digital_pdf(pages)).json()["id"]
        svc.drain()
        failed = client.get(f"/docintel/documents/{doc_id}", headers=headers()).json()
        assert failed["status"] == "failed" and "OCR engine" in failed["error"]
        assert failed["pages_done"] == 2 and crashing.parsed == [1, 2]  # pages 1-2 were stored before the crash
        assert svc.queue.status(failed["job_id"]).status == "failed"

        resp = client.post(f"/docintel/documents/{doc_id}/retry", headers=headers())
        assert resp.status_code == 202 and resp.json()["status"] == "queued"
        svc.drain()
        done = client.get(f"/docintel/documents/{doc_id}", headers=headers()).json()
        assert done["status"] in ("done", "needs_review") and done["pages_done"] == 5 and done["attempts"] == 2
        assert crashing.parsed == [1, 2, 3, 4, 5]  # resumed at page 3: pages 1-2 were not parsed again
        content = client.get(f"/docintel/documents/{doc_id}/content", headers=headers()).json()
        assert [p["number"] for p in content["pages"]] == [1, 2, 3, 4, 5]
        again = client.post(f"/docintel/documents/{doc_id}/retry", headers=headers())
        assert again.status_code == 409  # only failed documents are retried
    finally:
        svc.queue.close()
