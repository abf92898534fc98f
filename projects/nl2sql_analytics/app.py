"""Run NL-to-SQL analytics alone: ``python -m projects.nl2sql_analytics.app`` (port from ``API__PORT``, default 8000).

The same router the platform mounts under ``/analytics``, with the platform's API kit (auth, rate limits,
problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.nl2sql_analytics.api import create_router
from shared.api.app import create_app
from shared.api.context import ServiceContext

PREFIX = "/analytics"


def build_app(ctx: ServiceContext | None = None, **router_kwargs) -> FastAPI:
    """``router_kwargs`` go to :func:`create_router` (``settings``, ``service``, ``pipeline``, ``examples``)."""
    ctx = ctx or ServiceContext()
    router = create_router(ctx, **router_kwargs)

    def database_ready() -> None:
        with ctx.pool().connection() as conn:
            conn.execute("SELECT 1 FROM nl2sql_connections LIMIT 1")

    app = create_app(
        "NL-to-SQL analytics",
        routers=[(PREFIX, router)],
        readiness_checks={"database": database_ready},
        settings=ctx.settings,
        description="Ask a database in plain language: validated read-only SQL, a chart and computed insights.",
    )
    app.state.nl2sql_service = router.get_nl2sql_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    import uvicorn

    ctx = ServiceContext()
    uvicorn.run(build_app(ctx), host=ctx.settings.api.host, port=ctx.settings.api.port)


if __name__ == "__main__":
    main()
