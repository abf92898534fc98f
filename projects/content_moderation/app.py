"""Run content moderation alone: ``python -m projects.content_moderation.app`` (port from ``API__PORT``).

The same router the platform mounts under ``/moderation``, with the platform's API kit (auth, rate limits,
problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.content_moderation.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/moderation"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)
    app = standalone_app(
        ctx, title="Content moderation", prefix=PREFIX, router=router, ready_table="cm_decisions",
        description="Policy-driven moderation of text: sync and batch decisions, async jobs with signed "
        "callbacks, a human review queue with appeals.",
    )  # fmt: skip
    app.state.moderation_service = router.get_moderation_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
