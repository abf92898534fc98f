"""Run the support agent alone: ``python -m projects.support_agent.app`` (port from ``API__PORT``).

The same router the platform mounts under ``/support``, with the platform's API kit (auth, rate limits,
problem details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.support_agent.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/support"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)
    app = standalone_app(
        ctx, title="Customer support agent", prefix=PREFIX, router=router, ready_table="sa_sessions",
        description="Multi-turn support conversations on a retailer database: tools behind policy checks, "
        "explicit confirmation of every write, and a human handoff queue.",
    )  # fmt: skip
    app.state.support_service = router.get_support_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
