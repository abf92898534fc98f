"""Conversations, messages and feedback, always scoped to (tenant, user): nobody reads another's chats."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from shared.retrieval.models import Principal
from shared.serving.types import ChatMessage


class MessageOut(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    citations: list[dict[str, Any]] = Field(default_factory=list)
    abstained: bool = False
    created_at: datetime


class ConversationOut(BaseModel):
    id: str
    collection: str
    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[MessageOut] | None = None


class ConversationStore:
    def __init__(self, url: str) -> None:
        self.url = url

    def create(self, principal: Principal, collection: str, title: str) -> str:
        conv_id = str(uuid.uuid4())
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO rag_conversations (id, tenant_id, user_id, collection, title) VALUES (%s, %s, %s, %s, %s)",
                (conv_id, principal.tenant_id, principal.user_id, collection, title[:200]),
            )
        return conv_id

    def get(self, principal: Principal, conversation_id: str, *, with_messages: bool = True) -> ConversationOut | None:
        try:
            uuid.UUID(conversation_id)
        except ValueError:
            return None
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT id::text, collection, title, created_at, updated_at FROM rag_conversations "
                "WHERE id = %s AND tenant_id = %s AND user_id = %s",
                (conversation_id, principal.tenant_id, principal.user_id),
            ).fetchone()
            if row is None:
                return None
            messages = None
            if with_messages:
                messages = [
                    MessageOut(**m)
                    for m in cur.execute(
                        "SELECT id, role, content, citations, abstained, created_at FROM rag_messages "
                        "WHERE conversation_id = %s ORDER BY id",
                        (conversation_id,),
                    ).fetchall()
                ]
        return ConversationOut(**row, messages=messages)

    def list(self, principal: Principal, limit: int = 50) -> list[ConversationOut]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT id::text, collection, title, created_at, updated_at FROM rag_conversations "
                "WHERE tenant_id = %s AND user_id = %s ORDER BY updated_at DESC LIMIT %s",
                (principal.tenant_id, principal.user_id, limit),
            ).fetchall()
        return [ConversationOut(**r) for r in rows]

    def history(self, conversation_id: str) -> list[ChatMessage]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT role, content FROM rag_messages WHERE conversation_id = %s ORDER BY id", (conversation_id,)
            ).fetchall()
        return [ChatMessage(role=role, content=content) for role, content in rows]

    def add_turn(
        self, conversation_id: str, question: str, answer: str, citations: list[dict[str, Any]], abstained: bool
    ) -> int:
        """Store the question and the answer together; returns the assistant message id (for feedback)."""
        with psycopg.connect(self.url) as conn, conn.transaction():
            conn.execute(
                "INSERT INTO rag_messages (conversation_id, role, content) VALUES (%s, 'user', %s)",
                (conversation_id, question),
            )
            row = conn.execute(
                "INSERT INTO rag_messages (conversation_id, role, content, citations, abstained) "
                "VALUES (%s, 'assistant', %s, %s, %s) RETURNING id",
                (conversation_id, answer, Jsonb(citations), abstained),
            ).fetchone()
            conn.execute("UPDATE rag_conversations SET updated_at = now() WHERE id = %s", (conversation_id,))
        return int(row[0])  # type: ignore[index]

    def add_feedback(self, principal: Principal, message_id: int, rating: int, comment: str) -> bool:
        """Up (1) / down (-1) on an assistant message of the user's own conversation; re-rating overwrites."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(
                "INSERT INTO rag_feedback (message_id, tenant_id, user_id, rating, comment) "
                "SELECT m.id, c.tenant_id, c.user_id, %s, %s FROM rag_messages m "
                "JOIN rag_conversations c ON c.id = m.conversation_id "
                "WHERE m.id = %s AND m.role = 'assistant' AND c.tenant_id = %s AND c.user_id = %s "
                "ON CONFLICT (message_id, user_id) DO UPDATE SET rating = EXCLUDED.rating, "
                "comment = EXCLUDED.comment, created_at = now()",
                (rating, comment, message_id, principal.tenant_id, principal.user_id),
            )
            return cur.rowcount > 0
