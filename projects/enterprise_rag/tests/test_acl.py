"""Access control on the real database: tenants never cross; groups restrict within a tenant.

Both tenants' documents sit in ONE store collection here on purpose, so the only thing keeping them
apart is the SQL ACL predicate (not the per-tenant collection names the API also uses).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from projects.enterprise_rag.service import RagService
from shared.retrieval.models import Document, Principal
from shared.retrieval.search import SearchRequest

from .conftest import RecordingChat, headers

A = Principal(user_id="alice", tenant_id="acme")
B = Principal(user_id="bob", tenant_id="globex")
HR = Principal(user_id="hannah", tenant_id="acme", groups=("hr",))
SECRET = "The acquisition of Initech closes on 14 March for 3.2 billion dollars."


def _shared_collection(service: RagService) -> str:
    service.store.create_collection(
        "shared", embedding_model=service.embedder.model, embedding_dim=service.embedder.dim
    )
    docs = [
        Document(collection="shared", source_uri="a-secret", text=SECRET, tenant_id="acme"),
        Document(collection="shared", source_uri="a-hr", text="Salary bands for engineers range from 60k to 120k.",
                 tenant_id="acme", allowed_groups=["hr"]),
        Document(collection="shared", source_uri="b-note", text="Globex acquisition rumours are unfounded.",
                 tenant_id="globex"),
    ]  # fmt: skip
    service.ingestor.submit_documents("shared", "mixed", docs)
    service.ingestor.drain()
    return "shared"


def test_other_tenant_never_sees_a_chunk_in_answers_citations_search_or_counts(
    service: RagService, chat: RecordingChat
) -> None:
    coll = _shared_collection(service)
    question = "When does the acquisition of Initech close and for how much?"
    chat.replies = ["It closes on 14 March [1] [2]."]
    a = service.pipeline.answer(question, A, coll)
    assert any(r.source_uri == "a-secret" for r in a.retrieved)  # the owner does see it

    chat.calls.clear()
    b = service.pipeline.answer(question, B, coll)
    assert all(r.source_uri.startswith("b-") for r in b.retrieved)
    assert all(c.source_uri.startswith("b-") for c in b.citations)
    prompt = " ".join(m.content or "" for call in chat.calls for m in call.messages)
    assert "Initech closes" not in prompt
    for mode in ("dense", "fulltext", "hybrid"):
        hits = service.pipeline.searcher.search(SearchRequest(collection=coll, query=question, principal=B, mode=mode))
        assert {h.source_uri for h in hits} <= {"b-note"}, mode
    assert service.store.counts(coll, B) == {"documents": 1, "chunks": 1}
    assert service.store.counts(coll, A) == {"documents": 1, "chunks": 1}  # alice lacks the hr group
    assert service.store.counts(coll, HR) == {"documents": 2, "chunks": 2}


def test_group_restricted_document_needs_the_group(service: RagService) -> None:
    coll = _shared_collection(service)
    q = "What are the salary bands for engineers?"
    assert "a-hr" not in {r.source_uri for r in service.pipeline.retrieve(q, A, coll)}
    assert "a-hr" in {r.source_uri for r in service.pipeline.retrieve(q, HR, coll)}


def test_api_counts_and_search_respect_groups(client: TestClient, service: RagService) -> None:
    assert client.post("/rag/collections", json={"name": "kb"}, headers=headers()).status_code == 201
    resp = client.post(
        "/rag/collections/kb/documents",
        files=[("files", ("pay.txt", b"Salary bands for engineers range from 60k to 120k."))],
        data={"allowed_groups": "hr"},
        headers=headers(),
    )
    assert resp.status_code == 202
    service.ingestor.drain()
    assert client.get("/rag/collections/kb", headers=headers()).json()["chunks"] == 0
    assert client.get("/rag/collections/kb", headers=headers(groups="hr")).json()["chunks"] == 1
    body = {"query": "salary bands engineers"}
    assert client.post("/rag/collections/kb/search", json=body, headers=headers()).json() == []
    assert len(client.post("/rag/collections/kb/search", json=body, headers=headers(groups="hr,it")).json()) == 1
    # job status of another tenant is not found either
    assert client.get(f"/rag/jobs/{resp.json()['job_id']}", headers=headers(tenant="globex")).status_code == 404
