"""OpenTelemetry spans around model calls and retrieval; export is off unless configured.

``configure_tracing`` is called once by the app factory; library code only calls :func:`span`,
which is a cheap no-op span while no exporter is configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from shared.settings import ObservabilitySettings

_configured = False


def configure_tracing(settings: ObservabilitySettings) -> None:
    """Install a tracer provider with the configured exporter (none | console | otlp)."""
    global _configured
    if _configured or settings.otel_exporter == "none":
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if settings.otel_exporter == "console":
        exporter: Any = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span named ``name`` with scalar attributes (None values are dropped)."""
    tracer = trace.get_tracer("genai.shared")
    with tracer.start_as_current_span(name) as s:
        for key, value in attributes.items():
            if value is not None:
                s.set_attribute(key, value)
        yield s
