"""Structured logging for every process: one JSON object per line, carrying the request id.

Called once at startup by the app factory (and by scripts). Log aggregators (Loki, Cloud
Logging, ELK) index JSON fields without regexes, and the ``request_id`` field joins a request's
log lines with its ``X-Request-ID`` response header and its problem body.
"""

from __future__ import annotations

import logging
import sys

from asgi_correlation_id import CorrelationIdFilter
from pythonjsonlogger.json import JsonFormatter

from shared.settings import ObservabilitySettings

_HANDLER_NAME = "genai-structured"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message", "request_id")


class _RequestIdFilter(CorrelationIdFilter):
    """asgi-correlation-id's filter, under the field name the problem bodies use (``request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        record.request_id = record.__dict__.pop("correlation_id", None) or "-"
        return True


def build_handler(settings: ObservabilitySettings, stream=None) -> logging.Handler:
    """A stream handler formatting records as JSON (or readable text when ``log_json`` is off)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(_RequestIdFilter())
    if settings.log_json:
        handler.setFormatter(
            JsonFormatter(
                list(JSON_FIELDS),
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": settings.service_name},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(settings: ObservabilitySettings, *, stream=None) -> None:
    """Install the structured handler on the root logger; idempotent (replaces our previous handler).

    uvicorn's loggers are routed to the root so their lines are structured too; its access log is
    left to the API kit's access middleware, which knows the route template and request id.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(build_handler(settings, stream))
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
