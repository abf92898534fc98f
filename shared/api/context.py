"""What a project's router factory receives: settings plus the process's shared model and database.

The platform process builds one :class:`ServiceContext` and hands it to every project, so all
of them share one chat model, one embedder and one connection pool; a project running
standalone builds its own. Models load on first use (or when the platform warms them), never
at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from shared.settings import Settings, get_settings

T = TypeVar("T")

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from shared.serving.base import ChatModel, Embedder


def _serving_factory():
    from shared.serving import factory  # lazy: importing torch/transformers costs seconds

    return factory


@dataclass
class ServiceContext:
    """Shared resources of one process. Router factories: ``create_router(ctx: ServiceContext) -> APIRouter``."""

    settings: Settings = field(default_factory=get_settings)
    database_url: str | None = None

    def db_url(self) -> str:
        """The database every component of this process uses (starts the embedded server if none is configured)."""
        if self.database_url is None:
            from shared.db import database_url

            self.database_url = database_url(self.settings)
        return self.database_url

    def pool(self) -> ConnectionPool:
        from shared.db import get_pool

        return get_pool(self.db_url())

    def chat_model(self) -> ChatModel:
        return _serving_factory().get_chat_model(self.settings)

    def embedder(self) -> Embedder:
        return _serving_factory().get_embedder(self.settings)

    def served_chat_model_name(self) -> str:
        serving = self.settings.serving
        return serving.openai_model if serving.backend == "openai" else serving.local_model

    def served_embedding_model_name(self) -> str:
        emb = self.settings.embeddings
        return emb.openai_model if emb.backend == "openai" else emb.local_model


def lazy_service(build: Callable[[], T], existing: T | None = None) -> Callable[[], T]:
    """A getter that builds the project's service on first call, once, thread-safely (or returns ``existing``).

    Routers build their service on the first request, not at import or mount time: the platform then starts
    (and reports not-ready) when the database is down, and a project's models load only when it is used.
    """
    lock = threading.Lock()
    holder: list[T] = [existing] if existing is not None else []

    def get() -> T:
        if not holder:
            with lock:
                if not holder:
                    holder.append(build())
        return holder[0]

    return get
