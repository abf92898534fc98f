"""Demo data: the project's generated document set (24 invoices, receipts, forms, letters, contracts, ID cards
and others; digital PDFs and scans, one upside-down, one multi-page TIFF), uploaded through the service by
``make demo`` into tenant ``northwind``.

``load_demo_data(ctx)`` is idempotent (a file already uploaded — same SHA-256 in the tenant — is skipped). It
processes the first ``DOCINT__DEMO_SYNC`` documents before returning, so the portal opens on finished documents
and a review queue, and leaves the rest queued: the API's inline worker processes them while you watch the
per-page progress in the UI. ``python -m projects.document_intelligence.demo_data --out DIR`` writes the same
files to a folder, to upload them by hand.
"""

from __future__ import annotations

import logging

import psycopg

from projects.document_intelligence.demo_data import iter_demo_files
from projects.document_intelligence.settings import DocIntSettings, get_docint_settings
from shared.api.context import ServiceContext
from shared.retrieval.models import Principal

TENANT = "northwind"
UPLOADER = Principal(user_id="demo-loader", tenant_id=TENANT)
log = logging.getLogger(__name__)


def load_demo_data(ctx: ServiceContext, settings: DocIntSettings | None = None, limit: int | None = None) -> list[str]:
    """Upload the demo set (skipping files already there); returns the ids of the documents it created."""
    import hashlib

    from projects.document_intelligence.service import DocumentService

    settings = (settings or get_docint_settings()).model_copy(update={"inline_worker": False})
    service = DocumentService(ctx.db_url(), ctx.embedder(), ctx.chat_model, settings)
    created: list[str] = []
    try:
        with psycopg.connect(ctx.db_url()) as conn:
            existing = {r[0] for r in conn.execute("SELECT sha256 FROM di_documents WHERE tenant_id = %s", (TENANT,))}
        for i, demo in enumerate(iter_demo_files()):
            if limit is not None and i >= limit:
                break
            if hashlib.sha256(demo.data).hexdigest() in existing:
                continue
            doc = service.submit(UPLOADER, demo.filename, demo.data)
            created.append(doc["id"])
            if len(created) <= settings.demo_sync:
                service.drain()  # one at a time: the first ones are finished when the portal opens
        log.info("document intelligence demo: %d documents uploaded", len(created))
    finally:
        service.queue.close()
    return created
