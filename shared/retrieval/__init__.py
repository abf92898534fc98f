"""Retrieval: document model, loaders, chunkers, the PostgreSQL + pgvector store, search, job queue.

Typical use::

    from shared.retrieval import PgVectorStore, Indexer, Searcher, SearchRequest, Principal, load_document
    upgrade(url); store = PgVectorStore(url)
    store.create_collection("kb", embedding_model=embedder.model, embedding_dim=embedder.dim)
    Indexer(store, embedder).index(load_document(path, collection="kb", tenant_id="acme"))
    Searcher(store, embedder).search(SearchRequest(collection="kb", query="...", principal=Principal(...)))
"""

from shared.retrieval.chunking import ChunkingConfig, chunk_document
from shared.retrieval.ingest import Indexer
from shared.retrieval.loaders import DocumentDecodeError, LoaderError, UnsupportedFormatError, load_document
from shared.retrieval.migrations import upgrade
from shared.retrieval.models import (
    Chunk,
    Collection,
    Document,
    Page,
    Principal,
    SearchFilters,
    SearchResult,
    UpsertResult,
)
from shared.retrieval.search import Searcher, SearchRequest, mmr_select
from shared.retrieval.store import CollectionConflictError, CollectionNotFoundError, PgVectorStore, StoreError

__all__ = [
    "Chunk",
    "ChunkingConfig",
    "Collection",
    "CollectionConflictError",
    "CollectionNotFoundError",
    "Document",
    "DocumentDecodeError",
    "Indexer",
    "LoaderError",
    "Page",
    "PgVectorStore",
    "Principal",
    "SearchFilters",
    "SearchRequest",
    "SearchResult",
    "Searcher",
    "StoreError",
    "UnsupportedFormatError",
    "UpsertResult",
    "chunk_document",
    "load_document",
    "mmr_select",
    "upgrade",
]
