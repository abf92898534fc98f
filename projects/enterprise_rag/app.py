"""Run Enterprise RAG alone: ``python -m projects.enterprise_rag.app`` (port from ``API__PORT``, default 8000).

The same router the platform mounts under ``/rag``, with the platform's API kit (auth, rate limits,
problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.enterprise_rag.api import create_router
from shared.api.app import create_app
from shared.api.context import ServiceContext

PREFIX = "/rag"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)

    def database_ready() -> None:
        with ctx.pool().connection() as conn:
            conn.execute("SELECT 1 FROM rag_collections LIMIT 1")

    app = create_app(
        "Enterprise RAG",
        routers=[(PREFIX, router)],
        readiness_checks={"database": database_ready},
        settings=ctx.settings,
        description="Permission-aware question answering over company documents with citations.",
    )
    app.state.rag_service = router.get_rag_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    import uvicorn

    ctx = ServiceContext()
    uvicorn.run(build_app(ctx), host=ctx.settings.api.host, port=ctx.settings.api.port)


if __name__ == "__main__":
    main()
