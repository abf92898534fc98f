"""The demo loader: uploads the generated set through the service, processes the first ones, is idempotent."""

from __future__ import annotations

import psycopg

from projects.document_intelligence.demo import TENANT, load_demo_data
from projects.document_intelligence.settings import DocIntSettings
from shared.api.context import ServiceContext


def test_demo_loader_processes_the_first_documents_and_queues_the_rest(database_url: str) -> None:
    settings = DocIntSettings(extract_llm=False, classify_llm_fallback=False, demo_sync=2)
    ctx = ServiceContext(database_url=database_url)
    created = load_demo_data(ctx, settings, limit=3)
    assert len(created) == 3
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT filename, status, doc_type, pages_done, n_pages FROM di_documents WHERE tenant_id = %s "
            "ORDER BY created_at",
            (TENANT,),
        ).fetchall()
    statuses = [r[1] for r in rows]
    assert statuses[:2] != ["queued", "queued"] and all(s in ("done", "needs_review") for s in statuses[:2])
    assert statuses[2] == "queued"  # left for the API's inline worker: the portal shows its progress
    assert all(r[2] == "invoice" for r in rows[:2]) and all(r[3] == r[4] for r in rows[:2])
    assert load_demo_data(ctx, settings, limit=3) == []  # idempotent: same bytes, skipped
