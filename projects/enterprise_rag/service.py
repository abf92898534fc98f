"""Enterprise RAG service: the logic behind the HTTP routes (PrivateGPT style: router = HTTP, service = logic).

Collections are tenant-scoped names mapped to shared-store collections (``rag:<tenant>:<name>``), so
two tenants may both own a "handbook" and a lookup in the wrong tenant is simply "not found".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from projects.enterprise_rag.conversations import ConversationStore
from projects.enterprise_rag.ingestion import Ingestor
from projects.enterprise_rag.loaders import load_upload
from projects.enterprise_rag.pipeline import Answer, RagPipeline, StreamEvent
from projects.enterprise_rag.schema import ensure_schema
from projects.enterprise_rag.settings import RagSettings
from shared.retrieval.chunking import ChunkingConfig
from shared.retrieval.jobs import JobQueue
from shared.retrieval.migrations import upgrade
from shared.retrieval.models import Document, Principal, SearchFilters
from shared.retrieval.store import PgVectorStore
from shared.serving.base import ChatModel, Embedder

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class CollectionNotFound(LookupError):
    """Unknown in the caller's tenant (whether or not another tenant has it: existence is not leaked)."""


class ConversationNotFound(LookupError):
    pass


class CollectionOut(BaseModel):
    name: str
    description: str = ""
    allowed_groups: list[str]
    created_at: datetime
    documents: int = Field(description="documents this caller can read")
    chunks: int = Field(description="chunks this caller can read")


def store_name(tenant_id: str, name: str) -> str:
    return f"rag:{tenant_id}:{name}"


class RagService:
    def __init__(
        self,
        url: str,
        embedder: Embedder,
        chat: ChatModel | Callable[[], ChatModel] | None,
        settings: RagSettings,
        *,
        migrate: bool = True,
    ) -> None:
        if migrate:
            upgrade(url)
            ensure_schema(url)
        self.url = url
        self.settings = settings
        self.store = PgVectorStore(url)
        self.embedder = embedder
        if callable(chat) and not isinstance(chat, ChatModel):
            self.pipeline = RagPipeline(self.store, embedder, None, settings, chat_factory=chat)
        else:
            self.pipeline = RagPipeline(self.store, embedder, chat, settings)
        self.conversations = ConversationStore(url)
        self.queue = JobQueue(url)
        self.ingestor = Ingestor(url, self.store, embedder, self.queue, settings)

    # -- collections -------------------------------------------------------------------------------------

    def create_collection(
        self,
        principal: Principal,
        name: str,
        *,
        description: str = "",
        allowed_groups: list[str] | None = None,
        chunking: ChunkingConfig | None = None,
    ) -> CollectionOut:
        internal = store_name(principal.tenant_id, name)
        self.store.create_collection(
            internal, embedding_model=self.embedder.model, embedding_dim=self.embedder.dim, chunking=chunking
        )
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO rag_collections (tenant_id, name, store_name, description, allowed_groups, created_by) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, name) DO NOTHING",
                (principal.tenant_id, name, internal, description, sorted(set(allowed_groups or ["public"])),
                 principal.user_id),
            )  # fmt: skip
        return self.get_collection(principal, name)

    def _row(self, principal: Principal, name: str) -> dict[str, Any]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT name, store_name, description, allowed_groups, created_at FROM rag_collections "
                "WHERE tenant_id = %s AND name = %s",
                (principal.tenant_id, name),
            ).fetchone()
        if row is None:
            raise CollectionNotFound(name)
        return row

    def resolve(self, principal: Principal, name: str) -> str:
        """The store collection of ``name`` in the caller's tenant, or :class:`CollectionNotFound`."""
        return self._row(principal, name)["store_name"]

    def get_collection(self, principal: Principal, name: str) -> CollectionOut:
        row = self._row(principal, name)
        counts = self.store.counts(row["store_name"], principal)
        return CollectionOut(
            name=row["name"],
            description=row["description"],
            allowed_groups=row["allowed_groups"],
            created_at=row["created_at"],
            documents=counts["documents"],
            chunks=counts["chunks"],
        )

    def list_collections(self, principal: Principal) -> list[CollectionOut]:
        with psycopg.connect(self.url) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM rag_collections WHERE tenant_id = %s ORDER BY name", (principal.tenant_id,)
            ).fetchall()]  # fmt: skip
        return [self.get_collection(principal, n) for n in names]

    # -- ingestion ---------------------------------------------------------------------------------------

    def parse_upload(
        self, principal: Principal, collection: str, filename: str, data: bytes, allowed_groups: list[str] | None
    ) -> Document:
        row = self._row(principal, collection)
        return load_upload(
            data,
            filename,
            collection=row["store_name"],
            source_uri=f"upload://{filename}",
            tenant_id=principal.tenant_id,
            allowed_groups=allowed_groups if allowed_groups is not None else list(row["allowed_groups"]),
            settings=self.settings,
        )

    def submit(self, principal: Principal, collection: str, documents: list[Document]) -> tuple[str, int]:
        return self.ingestor.submit_documents(self.resolve(principal, collection), principal.tenant_id, documents)

    def sync_folder(
        self, principal: Principal, collection: str, folder: str, allowed_groups: list[str] | None
    ) -> tuple[str, int]:
        row = self._row(principal, collection)
        groups = allowed_groups if allowed_groups is not None else list(row["allowed_groups"])
        return self.ingestor.submit_sync(folder, row["store_name"], principal.tenant_id, groups)

    # -- questions ---------------------------------------------------------------------------------------

    def search(
        self, principal: Principal, collection: str, query: str, k: int | None, mode: Any, filters: SearchFilters | None
    ):
        return self.pipeline.retrieve(query, principal, self.resolve(principal, collection), k=k, mode=mode,
                                      filters=filters)  # fmt: skip

    def _conversation(self, principal: Principal, collection: str, conversation_id: str | None, question: str):
        if conversation_id is None:
            return self.conversations.create(principal, collection, question[:80]), []
        conv = self.conversations.get(principal, conversation_id, with_messages=False)
        if conv is None or conv.collection != collection:
            raise ConversationNotFound(conversation_id)
        return conversation_id, self.conversations.history(conversation_id)

    def chat(
        self,
        principal: Principal,
        collection: str,
        question: str,
        *,
        conversation_id: str | None = None,
        k: int | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[Answer, str, int]:
        """Answer in a conversation (a new one when ``conversation_id`` is None); returns (answer, conv id, msg id).

        Raises ``QuestionRefused`` (nothing stored, no conversation created) when the input rail blocks."""
        internal = self.resolve(principal, collection)
        self.pipeline.check_question(question)
        conv_id, history = self._conversation(principal, collection, conversation_id, question)
        answer = self.pipeline.answer(
            question, principal, internal, history=history, k=k, filters=filters, screened=True
        )
        message_id = self.conversations.add_turn(
            conv_id, question, answer.text, [c.model_dump() for c in answer.citations], answer.abstained
        )
        return answer, conv_id, message_id

    def chat_stream(
        self,
        principal: Principal,
        collection: str,
        question: str,
        *,
        conversation_id: str | None = None,
        k: int | None = None,
        filters: SearchFilters | None = None,
    ) -> Iterator[StreamEvent]:
        """Resolves the collection and conversation *now* (so 404s happen before a stream starts), then
        returns the event iterator; the turn is stored when the final event is produced. A question the input
        rail refuses raises ``QuestionRefused`` here too, before any event."""
        internal = self.resolve(principal, collection)
        self.pipeline.check_question(question)
        conv_id, history = self._conversation(principal, collection, conversation_id, question)

        def events() -> Iterator[StreamEvent]:
            stream = self.pipeline.stream(
                question, principal, internal, history=history, k=k, filters=filters, screened=True
            )
            for event in stream:
                if event.event == "final":
                    message_id = self.conversations.add_turn(
                        conv_id, question, event.data["text"], event.data["citations"], event.data["abstained"]
                    )
                    event.data.update(conversation_id=conv_id, message_id=message_id)
                yield event

        return events()
