"""Every bad-input case of the issue through the HTTP API: precise 4xx problems, nothing stored half-way."""

from __future__ import annotations

import io

import psycopg
from fastapi.testclient import TestClient
from pypdf import PdfWriter

from projects.enterprise_rag.service import RagService

from .conftest import headers, upload


def _pdf(encrypt: bool = False) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _nothing_stored(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM rag_ingest_items").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0


def _make(client: TestClient, name: str = "kb", **hdrs) -> None:
    assert client.post("/rag/collections", json={"name": name}, headers=headers(**hdrs)).status_code == 201


def test_bad_files_get_precise_problems_and_nothing_is_stored(client: TestClient, database_url: str) -> None:
    _make(client)
    cases = {
        "corrupt.pdf": (b"%PDF-1.7\n garbage that is not a pdf body \x00\x01", 422, "corrupt-file"),
        "secret.pdf": (_pdf(encrypt=True), 422, "encrypted-file"),
        "empty.txt": (b"", 422, "empty-file"),
        "blank.md": (b"  \n\t\n", 422, "empty-file"),
        "tool.exe": (b"MZ\x90\x00binary", 415, "unsupported-type"),
        "fake.txt": (_pdf(), 415, "content-mismatch"),
        "latin1.txt": ("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e".encode("latin-1"), 422, "not-utf8"),
        "huge.txt": (b"a" * 60_000, 413, "file-too-large"),
        "notzip.docx": (b"plain text, not a zip", 415, "content-mismatch"),
    }
    for name, (data, status, code) in cases.items():
        resp = upload(client, "kb", {name: data})
        assert resp.status_code == status, (name, resp.text)
        body = resp.json()
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert body["type"].endswith(code), (name, body)
        assert name in body["detail"]
    _nothing_stored(database_url)


def test_a_bad_file_does_not_block_the_rest_of_its_batch(client: TestClient, service: RagService) -> None:
    _make(client)
    resp = upload(client, "kb", {"good.txt": b"The cafeteria opens at 8 am.", "bad.pdf": b"%PDF-1.4 broken"})
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert [a["filename"] for a in body["accepted"]] == ["good.txt"]
    assert [(r["filename"], r["status"]) for r in body["rejected"]] == [("bad.pdf", 422)]
    service.ingestor.drain()
    job = client.get(f"/rag/jobs/{body['job_id']}", headers=headers()).json()
    assert job["status"] == "succeeded" and [f["status"] for f in job["files"]] == ["inserted"]


def test_bad_questions(client: TestClient) -> None:
    _make(client)
    for question in ("", "   ", "x" * 20_000):
        resp = client.post("/rag/chat", json={"collection": "kb", "question": question}, headers=headers())
        assert resp.status_code == 422, question[:10]
        assert resp.headers["content-type"].startswith("application/problem+json")
    resp = client.post("/rag/collections/kb/search", json={"query": "y" * 20_000}, headers=headers())
    assert resp.status_code == 422


def test_unknown_and_other_tenants_collections_are_404(client: TestClient) -> None:
    _make(client, "secret-plans", tenant="acme")
    for tenant in ("acme", "globex"):
        name = "nope" if tenant == "acme" else "secret-plans"
        h = headers(tenant=tenant, user="bob")
        assert client.post("/rag/chat", json={"collection": name, "question": "hi?"}, headers=h).status_code == 404
        assert (
            client.post("/rag/chat/stream", json={"collection": name, "question": "hi"}, headers=h).status_code == 404
        )
        assert client.get(f"/rag/collections/{name}", headers=h).status_code == 404
        assert client.post(f"/rag/collections/{name}/search", json={"query": "x"}, headers=h).status_code == 404
        assert upload(client, name, {"a.txt": b"hello"}, tenant=tenant, user="bob").status_code == 404
    assert client.get("/rag/collections", headers=headers(tenant="globex")).json() == []


def test_identity_headers_are_required_and_sync_roots_enforced(client: TestClient) -> None:
    assert client.get("/rag/collections").status_code == 401
    _make(client)
    resp = client.post("/rag/collections/kb/sync", json={"folder": "/etc"}, headers=headers())
    assert resp.status_code == 422 and "sync root" in resp.json()["detail"]
