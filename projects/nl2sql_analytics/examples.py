"""Verified question → SQL pairs: the few-shot store through which the system learns from use.

Few-shot examples from the user's own database beat any generic prompt (Vanna's and Dataherald's core idea), and
an analyst's correction is the most valuable example of all: saving a corrected pair for a question replaces the
old SQL, so the next similar question is generated from the fix. Pairs live in the shared retrieval store (one
collection per connection), embedded by their question only — the SQL is metadata — so retrieval compares
questions with questions. A seed file per connection (``examples/<connection>.yaml``) gives a fresh install its
first examples; every seed statement is executed by the tests.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from projects.nl2sql_analytics.models import Example
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from shared.retrieval import (
    CollectionNotFoundError,
    Document,
    Indexer,
    PgVectorStore,
    Principal,
    Searcher,
    SearchRequest,
    upgrade,
)
from shared.serving.base import Embedder

TENANT = "nl2sql"
PRINCIPAL = Principal(user_id="nl2sql-examples", tenant_id=TENANT)


class SavedExample(Example):
    """An :class:`Example` as stored: who saved it and when (``list`` returns these)."""

    id: str
    connection: str
    user: str
    saved_at: datetime | None = None


class SeedFile(BaseModel):
    connection: str
    dialect: str = "sqlite"
    examples: list[Example] = Field(default_factory=list)


def collection_name(connection: str) -> str:
    return f"nl2sql-examples:{connection}"


def normalise_question(question: str) -> str:
    """What makes two questions 'the same': case, spacing, punctuation and unicode forms are ignored."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return " ".join(re.findall(r"\w+", text))


def load_seed(path: str | Path) -> SeedFile:
    return SeedFile.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


class ExampleStore:
    """Add, find, list and delete verified pairs per connection."""

    def __init__(
        self, url: str, embedder: Embedder, settings: Nl2SqlSettings | None = None, *, migrate: bool = True
    ) -> None:
        if migrate:
            upgrade(url)
        self.url = url
        self.embedder = embedder
        self.settings = settings or get_nl2sql_settings()
        self.store = PgVectorStore(url)
        self.indexer = Indexer(self.store, embedder)
        self.searcher = Searcher(self.store, embedder)
        self._collections: set[str] = set()

    def _ensure_collection(self, connection: str) -> str:
        name = collection_name(connection)
        if name not in self._collections:
            self.store.create_collection(
                name,
                embedding_model=self.embedder.model,
                embedding_dim=self.embedder.dim,
                metadata={"kind": "nl2sql-examples", "connection": connection},
            )
            self._collections.add(name)
        return name

    def add(self, connection: str, question: str, sql: str, user: str = "system") -> str:
        """Save a verified pair and return its id; the same (normalised) question replaces the earlier SQL."""
        key = normalise_question(question)
        if not key:
            raise ValueError("an example needs a question")
        if not sql.strip():
            raise ValueError("an example needs SQL")
        doc = Document(
            collection=self._ensure_collection(connection),
            source_uri=f"example:{key}",
            text=question.strip(),
            title=question.strip()[:200],
            tenant_id=TENANT,
            metadata={
                "sql": sql.strip(),
                "user": user,
                "connection": connection,
                "saved_at": datetime.now(UTC).isoformat(),
            },
        )
        return self.indexer.index(doc).document_id

    def seed(self, connection: str, path: str | Path | None = None) -> int:
        """Add the seed file's pairs (``examples_dir/<connection>.yaml`` by default) that are not stored yet.

        Pairs already present (saved or corrected by a user) are left alone, so re-seeding never undoes a fix.
        """
        path = Path(path) if path else self.settings.examples_dir / f"{connection}.yaml"
        if not path.is_file():
            return 0
        existing = {normalise_question(e.question) for e in self.list(connection)}
        added = 0
        for example in load_seed(path).examples:
            if normalise_question(example.question) not in existing:
                self.add(connection, example.question, example.sql, user="seed")
                added += 1
        return added

    def similar(
        self, connection: str, question: str, k: int | None = None, *, min_score: float | None = None
    ) -> list[Example]:
        """The ``k`` stored pairs whose questions are closest in meaning (cosine similarity as ``score``)."""
        k = self.settings.examples_k if k is None else k
        min_score = self.settings.examples_min_score if min_score is None else min_score
        if k <= 0 or not question.strip():
            return []
        request = SearchRequest(
            collection=collection_name(connection), query=question, principal=PRINCIPAL, mode="dense", k=k
        )
        try:
            hits = self.searcher.search(request)
        except CollectionNotFoundError:
            return []
        return [
            Example(question=h.text, sql=str(h.metadata.get("sql", "")), score=round(h.score, 4))
            for h in hits
            if h.score >= min_score
        ]

    def list(self, connection: str) -> list[SavedExample]:
        """Every stored pair of ``connection``, most recently saved first."""
        with self.store.connect() as conn:
            rows = conn.execute(
                "SELECT id, title, metadata FROM documents WHERE collection = %s "
                "ORDER BY metadata->>'saved_at' DESC, id",
                (collection_name(connection),),
            ).fetchall()
        return [
            SavedExample(
                id=doc_id,
                connection=connection,
                question=title or "",
                sql=str(meta.get("sql", "")),
                user=str(meta.get("user", "")),
                saved_at=meta.get("saved_at"),
            )
            for doc_id, title, meta in rows
        ]

    def delete(self, connection: str, example_id: str) -> bool:
        return self.store.delete_document(collection_name(connection), example_id)
