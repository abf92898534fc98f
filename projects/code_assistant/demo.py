"""Demo data for ``make demo``: a generated repository, indexed, with a bug waiting to be fixed.

``demo_repo.generate_demo_repo`` writes the ``invoicing`` package (money, tax, discounts, invoices, CSV export, a
CLI, a JavaScript formatter, 29 passing tests) into the first allowed root (``CODE__REPO_ROOTS``, by default
``var/code_repos/invoicing``) and commits it; then one planted bug is committed on top (``DEMO_BUG``: the
customer-visible "bulk discount starts one item too late"), so the Fix tab opens on a failing test suite and the
Ask tab on a real package. The repository is registered and indexed through the service (the same job the API
runs). Idempotent: an existing repository is left as it is (only re-indexed incrementally).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from projects.code_assistant.settings import CodeSettings, get_code_settings
from shared.api.context import ServiceContext

log = logging.getLogger(__name__)

DEMO_REPO = "invoicing"
DEMO_BUG = "bulk-threshold"


def demo_root(settings: CodeSettings) -> Path:
    return Path(settings.repo_roots[0]).resolve() / DEMO_REPO


def load_demo_data(ctx: ServiceContext, settings: CodeSettings | None = None) -> dict[str, Any]:
    """Generate (once), register and index the demo repository; returns what was done."""
    from projects.code_assistant.demo_repo import generate_demo_repo, plant_bug
    from projects.code_assistant.service import CodeAssistantService

    settings = (settings or get_code_settings()).model_copy(update={"inline_worker": False})
    root = demo_root(settings)
    report: dict[str, Any] = {"root": str(root), "generated": False}
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        generate_demo_repo(root)
        plant_bug(root, DEMO_BUG)
        report["generated"] = True
    service = CodeAssistantService(ctx.db_url(), ctx.chat_model(), ctx.embedder(), settings)
    try:
        existing = service.store.get_repo(DEMO_REPO)
        if existing is None:
            service.add_repo(DEMO_REPO, str(root))
        else:
            service.reindex(DEMO_REPO)
        service.drain()
        repo = service.store.require_repo(DEMO_REPO)
        report.update(status=repo.status, files=repo.n_files, symbols=repo.n_symbols, chunks=repo.n_chunks)
    finally:
        service.queue.close()
    log.info("code assistant demo: %s", report)
    return report
