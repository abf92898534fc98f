"""A standalone job worker: ``python -m projects.document_intelligence.worker`` (scale these, not the API).

Runs the ``docint`` queue in this process until stopped. Start the API with ``DOCINT__INLINE_WORKER=false`` and
as many of these as the OCR load needs (one per core is a good start: OCR uses ~1 core per page). Jobs whose
worker died (no heartbeat) are put back first, and each resumes after its last stored page.
"""

from __future__ import annotations

import logging

from projects.document_intelligence.service import DocumentService
from projects.document_intelligence.settings import get_docint_settings
from shared.api.context import ServiceContext

log = logging.getLogger(__name__)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx = ServiceContext()
    settings = get_docint_settings().model_copy(update={"inline_worker": False})
    service = DocumentService(ctx.db_url(), ctx.embedder(), ctx.chat_model, settings)
    log.info("document intelligence worker on queue %r", settings.job_queue)
    try:
        service.run_worker("docint-worker")
    finally:
        service.queue.close()


if __name__ == "__main__":
    main()
