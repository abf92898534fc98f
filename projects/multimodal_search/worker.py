"""A standalone indexing worker: ``python -m projects.multimodal_search.worker`` (scale these, not the API).

Runs the ``multimodal`` queue until stopped. Start the API with ``MMSEARCH__INLINE_WORKER=false`` and as many
workers as indexing needs (the image model and OCR use about one core each). Jobs whose worker died are put back
first; an import resumes with the images not yet indexed.
"""

from __future__ import annotations

import logging

from projects.multimodal_search.service import MultimodalService
from projects.multimodal_search.settings import get_multimodal_settings
from shared.api.context import ServiceContext

log = logging.getLogger(__name__)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_multimodal_settings().model_copy(update={"inline_worker": False})
    service = MultimodalService(ServiceContext().db_url(), settings)
    log.info("multimodal search worker on queue %r (model %s)", settings.job_queue, service.model)
    try:
        service.run_worker("mms-worker")
    finally:
        service.queue.close()


if __name__ == "__main__":
    main()
