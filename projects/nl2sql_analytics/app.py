"""Run NL-to-SQL analytics alone: ``python -m projects.nl2sql_analytics.app`` (port from ``API__PORT``, default 8000).

The same router the platform mounts under ``/analytics``, with the platform's API kit (auth, rate limits,
problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.nl2sql_analytics.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/analytics"


def build_app(ctx: ServiceContext | None = None, **router_kwargs) -> FastAPI:
    """``router_kwargs`` go to :func:`create_router` (``settings``, ``service``, ``pipeline``, ``examples``)."""
    ctx = ctx or ServiceContext()
    router = create_router(ctx, **router_kwargs)

    app = standalone_app(
        ctx, title="NL-to-SQL analytics", prefix=PREFIX, router=router, ready_table="nl2sql_connections",
        description="Ask a database in plain language: validated read-only SQL, a chart and computed insights.",
    )  # fmt: skip
    app.state.nl2sql_service = router.get_nl2sql_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
