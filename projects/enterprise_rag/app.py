"""Run Enterprise RAG alone: ``python -m projects.enterprise_rag.app`` (port from ``API__PORT``, default 8000).

The same router the platform mounts under ``/rag``, with the platform's API kit (auth, rate limits,
problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.enterprise_rag.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/rag"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)

    app = standalone_app(
        ctx, title="Enterprise RAG", prefix=PREFIX, router=router, ready_table="rag_collections",
        description="Permission-aware question answering over company documents with citations.",
    )  # fmt: skip
    app.state.rag_service = router.get_rag_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
