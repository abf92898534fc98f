"""Run the autonomous agent alone: ``python -m projects.autonomous_agent.app`` (port from ``API__PORT``).

The same router the platform mounts under ``/agent``, with the platform's API kit (auth, rate limits, problem
details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.autonomous_agent.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/agent"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)
    app = standalone_app(
        ctx, title="Autonomous agent", prefix=PREFIX, router=router, ready_table="ag_runs",
        description="Plans, acts with sandboxed tools, verifies each step, pauses for human approval of "
        "dangerous calls, and resumes from PostgreSQL checkpoints after a crash.",
    )  # fmt: skip
    app.state.agent_service = router.get_agent_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
