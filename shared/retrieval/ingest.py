"""Ingestion: load → chunk (the collection's config) → embed → upsert, skipping unchanged documents.

The hash check happens before chunking and embedding, so re-ingesting an unchanged corpus costs
one indexed lookup per document; the store re-checks inside its transaction for races.
"""

from __future__ import annotations

from shared.retrieval.chunking import ChunkingConfig, chunk_document
from shared.retrieval.models import Document, UpsertResult
from shared.retrieval.store import CollectionConflictError, PgVectorStore
from shared.serving.base import Embedder


class Indexer:
    def __init__(self, store: PgVectorStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def index(self, document: Document, *, force: bool = False) -> UpsertResult:
        """Upsert one document; ``force`` re-chunks and re-embeds even when its text is unchanged."""
        collection = self.store.get_collection(document.collection)
        if collection.embedding_model != self.embedder.model:
            raise CollectionConflictError(
                f"collection {collection.name!r} uses {collection.embedding_model}, not {self.embedder.model}"
            )
        if not force and self.store.document_hash(document.id) == document.content_hash:
            return self.store.upsert_document(document, [], None)  # unchanged, or an ACL-only update
        config = ChunkingConfig(**collection.chunking)
        chunks = chunk_document(document, config, self.embedder)
        embeddings = self.embedder.embed([c.text for c in chunks])
        return self.store.upsert_document(document, chunks, embeddings, force=force)
