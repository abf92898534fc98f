"""Ingestion on the real database: idempotent re-upload, atomic replacement, DOCX, folder sync, per-file status."""

from __future__ import annotations

import io
import os

import psycopg
from fastapi.testclient import TestClient

from projects.enterprise_rag.service import RagService
from shared.retrieval.models import Document

from .conftest import headers, upload


def _job(client: TestClient, job_id: int) -> dict:
    return client.get(f"/rag/jobs/{job_id}", headers=headers()).json()


def test_reupload_is_a_noop_and_a_changed_file_replaces_its_chunks(client: TestClient, service: RagService) -> None:
    assert client.post("/rag/collections", json={"name": "kb"}, headers=headers()).status_code == 201
    v1 = b"Travel policy: economy class for flights under six hours."
    first = upload(client, "kb", {"travel.txt": v1}).json()
    service.ingestor.drain()
    assert [f["status"] for f in _job(client, first["job_id"])["files"]] == ["inserted"]
    internal = service.resolve(service_principal(), "kb")
    before = _chunks(service, internal)

    again = upload(client, "kb", {"travel.txt": v1}).json()
    service.ingestor.drain()
    assert [f["status"] for f in _job(client, again["job_id"])["files"]] == ["unchanged"]
    assert _chunks(service, internal) == before

    v2 = b"Travel policy: business class is allowed for flights over six hours."
    changed = upload(client, "kb", {"travel.txt": v2}).json()
    service.ingestor.drain()
    assert [f["status"] for f in _job(client, changed["job_id"])["files"]] == ["replaced"]
    after = _chunks(service, internal)
    assert [t for _, t in after] == [v2.decode()] and "economy" not in str(after)
    assert client.get("/rag/collections/kb", headers=headers()).json()["documents"] == 1


def service_principal():
    from shared.retrieval.models import Principal

    return Principal(user_id="alice", tenant_id="acme")


def _chunks(service: RagService, collection: str) -> list[tuple[str, str]]:
    with psycopg.connect(service.url) as conn:
        return conn.execute("SELECT id, text FROM chunks WHERE collection = %s ORDER BY id", (collection,)).fetchall()


def test_failing_item_is_recorded_and_the_rest_of_the_batch_is_indexed(service: RagService) -> None:
    service.create_collection(service_principal(), "kb")
    internal = service.resolve(service_principal(), "kb")
    good = Document(collection=internal, source_uri="ok.txt", text="Parking is free for visitors.", tenant_id="acme")
    broken = Document(collection="no-such-collection", source_uri="x.txt", text="orphan", tenant_id="acme")
    batch_id, job_id = service.ingestor.submit_documents(internal, "acme", [broken, good])
    service.ingestor.drain()
    items = service.ingestor.items(batch_id=batch_id)
    assert [i["status"] for i in items] == ["failed", "inserted"]
    assert "CollectionNotFoundError" in items[0]["error"]
    status = service.queue.status(job_id)
    assert status.status == "succeeded" and (status.done, status.total) == (2, 2)


def test_docx_upload_keeps_headings_as_sections(client: TestClient, service: RagService) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Onboarding", level=1)
    document.add_paragraph("New hires receive a laptop on their first day.")
    buf = io.BytesIO()
    document.save(buf)
    assert client.post("/rag/collections", json={"name": "kb"}, headers=headers()).status_code == 201
    assert upload(client, "kb", {"onboarding.docx": buf.getvalue()}).status_code == 202
    service.ingestor.drain()
    hits = client.post("/rag/collections/kb/search", json={"query": "laptop first day"}, headers=headers()).json()
    assert hits and "laptop" in hits[0]["text"] and hits[0]["metadata"]["format"] == "docx"


def test_folder_sync_reflects_new_changed_and_deleted_files(client: TestClient, service: RagService, tmp_path) -> None:
    folder = tmp_path / "share"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Alpha: the printer is on the second floor.")
    (folder / "sub" / "b.md").write_text("# Beta\n\nThe gym opens at 6 am.")
    (folder / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    assert client.post("/rag/collections", json={"name": "kb"}, headers=headers()).status_code == 201

    def sync() -> dict[str, int]:
        resp = client.post("/rag/collections/kb/sync", json={"folder": str(folder)}, headers=headers())
        assert resp.status_code == 202, resp.text
        service.ingestor.drain()
        job = _job(client, resp.json()["job_id"])
        assert job["status"] == "succeeded"
        out: dict[str, int] = {}
        for f in job["files"]:
            out[f["status"]] = out.get(f["status"], 0) + 1
        return out

    assert sync() == {"inserted": 2, "failed": 1}
    assert client.get("/rag/collections/kb", headers=headers()).json()["documents"] == 2
    assert sync() == {"failed": 1}  # unchanged files are skipped by size+mtime, not even listed

    (folder / "a.txt").write_text("Alpha: the printer moved to the third floor.")
    os.utime(folder / "a.txt", ns=(1, 1))  # a different mtime even on coarse clocks
    (folder / "sub" / "b.md").unlink()
    assert sync() == {"replaced": 1, "deleted": 1, "failed": 1}
    hits = client.post("/rag/collections/kb/search", json={"query": "printer floor"}, headers=headers()).json()
    assert [h["text"] for h in hits] == ["Alpha: the printer moved to the third floor."]
    assert client.get("/rag/collections/kb", headers=headers()).json()["documents"] == 1


def test_a_10000_file_folder_syncs_in_groups_and_resyncs_without_reading(
    client: TestClient, service: RagService, tmp_path
) -> None:
    """The issue's "10,000-file folder": every file indexed and listed, a re-sync reads none of them."""
    folder = tmp_path / "bulk"
    for d in range(10):
        (folder / f"dept{d}").mkdir(parents=True)
    for i in range(10_000):
        (folder / f"dept{i % 10}" / f"note{i:05d}.txt").write_text(f"Note {i}: ticket {i * 7919 % 100_003} is closed.")
    (folder / "dept1" / "note04321.txt").write_text("Note 4321: the rooftop beehives are tended every Thursday.")
    (folder / "dept0" / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    assert client.post("/rag/collections", json={"name": "bulk"}, headers=headers()).status_code == 201

    def sync() -> dict:
        resp = client.post("/rag/collections/bulk/sync", json={"folder": str(folder)}, headers=headers())
        assert resp.status_code == 202, resp.text
        service.ingestor.drain()
        return _job(client, resp.json()["job_id"])

    job = sync()
    assert job["status"] == "succeeded"
    statuses = [f["status"] for f in job["files"]]
    assert statuses.count("inserted") == 10_000 and statuses.count("failed") == 1 and len(statuses) == 10_001
    assert client.get("/rag/collections/bulk", headers=headers()).json()["documents"] == 10_000
    query = {"query": "rooftop beehives", "mode": "fulltext"}
    hits = client.post("/rag/collections/bulk/search", json=query, headers=headers()).json()
    assert [h["text"] for h in hits] == ["Note 4321: the rooftop beehives are tended every Thursday."]

    for i in range(0, 10_000, 1000):  # ten files vanish
        (folder / f"dept{i % 10}" / f"note{i:05d}.txt").unlink()
    again = sync()
    assert sorted(f["status"] for f in again["files"]) == ["deleted"] * 10 + ["failed"]
    assert client.get("/rag/collections/bulk", headers=headers()).json()["documents"] == 9_990
