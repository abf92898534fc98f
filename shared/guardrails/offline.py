"""Make guardrails-ai and its dependencies run without network access.

guardrails-ai sends usage telemetry unless ``~/.guardrailsrc`` says ``enable_metrics=false`` (``Guard``
re-reads the file on construction, so an in-process flag alone is not enough), and litellm fetches its
model cost map at import unless ``LITELLM_LOCAL_MODEL_COST_MAP=True``. guardrails-ai also calls
``nltk.download("punkt")`` at import when nltk is installed without that tokenizer (rouge-score brings nltk).
Call :func:`ensure_offline` before importing ``guardrails``; it is idempotent and cheap.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
_done = False


def ensure_offline() -> None:
    """Set the environment and write ``enable_metrics=false`` into ``~/.guardrailsrc`` unless already configured.

    An existing explicit ``enable_metrics`` line is respected (a user who opted in stays opted in).
    """
    global _done
    if _done:
        return
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rc = Path.home() / ".guardrailsrc"
    try:
        text = rc.read_text(encoding="utf-8") if rc.exists() else ""
        keys = {line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line}
        if "enable_metrics" not in keys and "no_metrics" not in keys:
            prefix = text if not text or text.endswith("\n") else text + "\n"
            rc.write_text(prefix + "enable_metrics=false\n", encoding="utf-8")
            log.info("wrote enable_metrics=false to %s (guardrails-ai telemetry off)", rc)
    except OSError as exc:  # read-only home: fall back to the in-process flag below
        log.warning("cannot configure %s (%s); disabling guardrails telemetry in-process only", rc, exc)
    _import_guardrails_without_nltk_download()
    from guardrails.classes.rc import RC
    from guardrails.settings import settings

    settings.rc = RC.load()
    if not rc.exists():  # could not write it: at least this process stays quiet until a Guard re-reads it
        settings.rc.enable_metrics = False
    _done = True


def _import_guardrails_without_nltk_download() -> None:
    """Import guardrails with ``nltk.download`` a no-op: it would fetch punkt from GitHub at import time (a network
    call, and offline a wait) for a sentence splitter none of the platform's validators uses."""
    try:
        import nltk
    except ImportError:
        return
    try:
        nltk.data.find("tokenizers/punkt")
        return
    except LookupError:
        pass
    real = nltk.download
    nltk.download = lambda *args, **kwargs: False
    try:
        import guardrails.utils.docs_utils  # noqa: F401  (the module that downloads at import)
    finally:
        nltk.download = real
