"""Run multimodal search alone: ``python -m projects.multimodal_search.app`` (port from ``API__PORT``).

The same router the platform mounts under ``/search``, with the platform's API kit (auth, rate
limits, problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.multimodal_search.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/search"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)
    app = standalone_app(
        ctx, title="Multimodal search", prefix=PREFIX, router=router, ready_table="mms_images",
        description="Text→image, image→image and hybrid search over an image library, with filters and ranking.",
    )  # fmt: skip
    app.state.multimodal_service = router.get_multimodal_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
