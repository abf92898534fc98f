"""Demo data: deterministic, idempotent, and it demonstrates access control."""

from __future__ import annotations

from projects.enterprise_rag.demo import COLLECTION, TENANT, generate_documents, load_demo_data
from projects.enterprise_rag.service import store_name
from shared.api.context import ServiceContext
from shared.retrieval.models import Principal
from shared.retrieval.store import PgVectorStore


def test_demo_is_deterministic_idempotent_and_restricted(database_url: str, embedder) -> None:
    assert generate_documents() == generate_documents()
    ctx = ServiceContext(database_url=database_url)
    ctx.embedder = lambda: embedder  # type: ignore[method-assign]  # reuse the session's loaded embedder
    load_demo_data(ctx)
    store = PgVectorStore(database_url)
    internal = store_name(TENANT, COLLECTION)
    everyone = store.counts(internal, Principal(user_id="alice", tenant_id=TENANT))
    hr = store.counts(internal, Principal(user_id="hannah", tenant_id=TENANT, groups=("hr",)))
    assert everyone["documents"] == len(generate_documents()) - 2 and hr["documents"] == everyone["documents"] + 1
    with store.connect() as conn:
        before = conn.execute("SELECT id, content_hash FROM chunks ORDER BY id").fetchall()
    load_demo_data(ctx)
    with store.connect() as conn:
        assert conn.execute("SELECT id, content_hash FROM chunks ORDER BY id").fetchall() == before
