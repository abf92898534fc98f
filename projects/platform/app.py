"""The platform process: every landed project's API under its prefix plus the model server at ``/v1``.

All routers share one :class:`ServiceContext` (one chat model, one embedder, one DB pool).
Run it with ``python -m projects.platform.app`` (``make demo`` does, next to the portal).
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from projects.platform.models import LazyChatModel, LazyEmbedder
from projects.platform.registry import PROJECTS
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

TITLE = "GenAI reference systems platform"


def _model_server_router(chat: LazyChatModel, embed: LazyEmbedder) -> APIRouter:
    from shared.serving.server import create_model_server_router

    return create_model_server_router(chat_models={chat.name: chat}, embedders={embed.name: embed})


def _database_check(ctx: ServiceContext):
    def check() -> None:
        with ctx.pool().connection(timeout=3) as conn:
            conn.execute("SELECT 1").fetchone()

    return check


def create_platform_app(
    settings: Settings | None = None, *, database_url: str | None = None, warm_models: bool = True
) -> FastAPI:
    """Compose the platform: model server at /v1, landed projects under their prefixes, shared readiness."""
    settings = settings or get_settings()
    ctx = ServiceContext(settings=settings, database_url=database_url or settings.effective_database_url())
    chat = LazyChatModel(ctx.served_chat_model_name(), settings.serving.backend, ctx.chat_model)
    embed = LazyEmbedder(
        ctx.served_embedding_model_name(), settings.embeddings.backend, settings.embeddings.dim, ctx.embedder
    )

    routers: list[tuple[str, APIRouter]] = [("/v1", _model_server_router(chat, embed))]
    mounted = []
    for project in PROJECTS:
        if not project.has_router():
            continue
        tagged = APIRouter(tags=[project.title])  # one Swagger section per project (the portal links to it)
        tagged.include_router(project.load_router_factory()(ctx))
        routers.append((project.prefix, tagged))
        mounted.append(project.slug)
    log.info("platform projects mounted: %s", ", ".join(mounted) or "none yet")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm_models:
            threading.Thread(target=_warm, args=(chat, embed), name="model-warmup", daemon=True).start()
        yield
        from shared.db import close_pools

        close_pools()

    app = create_app(
        TITLE,
        routers=routers,
        readiness_checks={"database": _database_check(ctx), "chat_model": chat.check},
        settings=settings,
        description="Model server (OpenAI-compatible, /v1) and the APIs of every landed project.",
        lifespan=lifespan,
    )
    app.state.context = ctx
    app.state.mounted_projects = mounted
    return app


def _warm(chat: LazyChatModel, embed: LazyEmbedder) -> None:
    chat.warm()
    embed.warm()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.api.host)
    parser.add_argument("--port", type=int, default=settings.api.port)
    parser.add_argument("--no-warm", action="store_true", help="load models on first request instead of at startup")
    args = parser.parse_args(argv)
    app = create_platform_app(settings, warm_models=not args.no_warm)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
