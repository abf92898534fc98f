"""A standalone job worker: ``python -m projects.content_moderation.worker`` (scale these, not the API).

Runs the ``moderation`` queue until stopped. Start the API with ``CONTENTMOD__INLINE_WORKER=false`` and as many
workers as batch traffic needs (the packaged classifiers and the k-NN use about one core each). Jobs whose worker
died are put back first; a job whose results were stored only re-sends its callback.
"""

from __future__ import annotations

import logging

from projects.content_moderation.service import ModerationService
from projects.content_moderation.settings import get_content_moderation_settings
from shared.api.context import ServiceContext

log = logging.getLogger(__name__)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_content_moderation_settings().model_copy(update={"inline_worker": False})
    ctx = ServiceContext()
    service = ModerationService(ctx.db_url(), settings, moderation=ctx.settings.moderation)
    log.info("content moderation worker on queue %r (tiers %s)", settings.job_queue, settings.tiers)
    try:
        service.run_worker("cm-worker")
    finally:
        service.queue.close()


if __name__ == "__main__":
    main()
