"""Shared state under concurrency: simultaneous uploads of the same file, two workers on one queue, two reviewers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
from fastapi.testclient import TestClient

from projects.document_intelligence.service import DocumentService

from .conftest import headers, upload
from .parsing_docs import digital_pdf, invoice_pdf


def test_parallel_uploads_and_two_workers_process_each_document_exactly_once(
    client: TestClient, service: DocumentService, database_url: str
) -> None:
    same = invoice_pdf()
    files = [("inv.pdf", same)] * 3 + [(f"r{i}.pdf", digital_pdf([[f"Report {i}", "Some body text here."]] * 3))
                                       for i in range(3)]  # fmt: skip
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda f: upload(client, *f), files))
    assert [r.status_code for r in responses] == [202] * 6
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 6  # one document per upload, even for identical bytes

    workers = [threading.Thread(target=service.drain) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    with psycopg.connect(database_url) as conn:
        blobs = conn.execute("SELECT count(*) FROM di_blobs").fetchone()[0]
        rows = conn.execute("SELECT status, attempts, pages_done, n_pages FROM di_documents").fetchall()
        pages = conn.execute("SELECT count(*), count(DISTINCT (document_id, number)) FROM di_pages").fetchone()
    assert blobs == 4  # identical uploads share one blob
    assert all(s in ("done", "needs_review") and a == 1 and d == n for s, a, d, n in rows), rows
    assert pages[0] == pages[1] == 3 * 1 + 3 * 3


def test_two_reviewers_at_once_both_land_in_the_audit_trail(client: TestClient, service: DocumentService) -> None:
    doc_id = upload(client, "inv.pdf", invoice_pdf()).json()["id"]
    service.drain()
    bodies = [
        ({"corrections": {"due_date": "2025-01-31"}}, "rita"),
        ({"corrections": {"issue_date": "2025-01-01"}, "approve": True}, "sam"),
    ]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(
            lambda b: client.post(f"/docintel/documents/{doc_id}/review", json=b[0], headers=headers(user=b[1])),
            bodies,
        ))  # fmt: skip
    assert [r.status_code for r in results] == [200, 200]
    final = client.get(f"/docintel/documents/{doc_id}", headers=headers()).json()
    fields = final["extraction"]["fields"]
    # row lock on the document: neither correction overwrote the other
    assert fields["due_date"]["value"] == "2025-01-31" and fields["issue_date"]["value"] == "2025-01-01"
    audit = client.get(f"/docintel/documents/{doc_id}/corrections", headers=headers()).json()
    assert {(a["field"], a["reviewer"]) for a in audit} >= {("due_date", "rita"), ("issue_date", "sam"), ("*", "sam")}
    assert final["status"] == "approved"
