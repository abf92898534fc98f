"""A project's router as its own service: the same router the platform mounts, with the API kit around it.

Every project ships ``python -m projects.<name>.app``; what differs is the title, the prefix and which table
proves the project's schema is in place, so the rest lives here once.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from shared.api.app import create_app
from shared.api.context import ServiceContext


def standalone_app(
    ctx: ServiceContext,
    *,
    title: str,
    prefix: str,
    router: APIRouter,
    ready_table: str,
    description: str = "",
) -> FastAPI:
    """``/ready`` checks the database answers *and* the project's tables exist (``ready_table``)."""

    def database_ready() -> None:
        with ctx.pool().connection() as conn:
            conn.execute(f"SELECT 1 FROM {ready_table} LIMIT 1")  # a constant of the project, not user input

    return create_app(
        title,
        routers=[(prefix, router)],
        readiness_checks={"database": database_ready},
        settings=ctx.settings,
        description=description,
    )


def serve(build_app: Callable[[ServiceContext], FastAPI]) -> None:
    """Run ``build_app(ServiceContext())`` with uvicorn on ``API__HOST``/``API__PORT``."""
    import uvicorn

    ctx = ServiceContext()
    uvicorn.run(build_app(ctx), host=ctx.settings.api.host, port=ctx.settings.api.port)
