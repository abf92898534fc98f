"""Run the code assistant alone: ``python -m projects.code_assistant.app`` (port from ``API__PORT``).

The same router the platform mounts under ``/code``, with the platform's API kit (auth, rate limits, problem
details, /health, /ready, /metrics) from ``create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from projects.code_assistant.api import create_router
from shared.api.context import ServiceContext
from shared.api.standalone import serve, standalone_app

PREFIX = "/code"


def build_app(ctx: ServiceContext | None = None) -> FastAPI:
    ctx = ctx or ServiceContext()
    router = create_router(ctx)
    app = standalone_app(
        ctx, title="Code assistant", prefix=PREFIX, router=router, ready_table="ca_repos",
        description="Repository-aware Q&A with path:line citations, fill-in-the-middle completion, a sandboxed "
        "debug loop, documentation and review.",
    )  # fmt: skip
    app.state.code_service = router.get_code_service  # type: ignore[attr-defined]
    return app


def main() -> None:
    serve(build_app)


if __name__ == "__main__":
    main()
