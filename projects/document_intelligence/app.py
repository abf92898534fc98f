"""Run document intelligence alone: ``python -m projects.document_intelligence.app`` (port from ``API__PORT``).

The same router the platform mounts under ``/docintel``, with the platform's API kit (auth, rate
limits, problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.document_intelligence.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/docintel"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)
    app = standalone_app(
        ctx, title="Document intelligence", prefix=PREFIX, router=router, ready_table="di_documents",
        description="OCR, layout, classification, field extraction, review and Q&A over scanned and digital documents.",
    )  # fmt: skip
    app.state.docint_service = router.get_docint_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
