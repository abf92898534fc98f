"""PostgreSQL + pgvector store: collections, documents, chunks; idempotent upserts; bulk COPY.

Writes are transactional per document: a changed document's old chunks are deleted and the new
ones written in the same transaction, so readers see either the old or the new version, never a
mix and never orphans (chunks also cascade from their document). Upserts are keyed by content
hash: the same text is a no-op (or an ACL/metadata-only update, without re-embedding).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.db import connection, database_url, ensure_vector_types
from shared.retrieval.chunking import ChunkingConfig
from shared.retrieval.filters import where_clause
from shared.retrieval.migrations.versions import hnsw_index_sql
from shared.retrieval.models import Chunk, Collection, Document, Principal, UpsertResult
from shared.serving.base import Embedder
from shared.settings import get_settings

log = logging.getLogger(__name__)

_CHUNK_COLUMNS = (
    "id, document_id, collection, ordinal, text, content_hash, embedding, metadata, chunk_metadata, "
    "tenant_id, allowed_groups, source_uri, doc_type, source_date, page, section"
)
_CHUNK_TYPES = [
    "text", "text", "text", "int4", "text", "text", "vector", "jsonb", "jsonb",
    "text", "text[]", "text", "text", "timestamptz", "int4", "text",
]  # fmt: skip
_DOC_COLUMNS = (
    "id, collection, source_uri, doc_type, title, source_date, content_hash, metadata, "
    "tenant_id, allowed_groups, chunk_count"
)
_DOC_TYPES = ["text", "text", "text", "text", "text", "timestamptz", "text", "jsonb", "text", "text[]", "int4"]


class StoreError(Exception):
    pass


class CollectionNotFoundError(StoreError):
    pass


class CollectionConflictError(StoreError):
    """A collection exists with another embedding model, or vectors do not match its dimension."""


def _doc_row(doc: Document, n_chunks: int) -> tuple:
    return (
        doc.id, doc.collection, doc.source_uri, doc.doc_type, doc.title, doc.source_date, doc.content_hash,
        Jsonb(doc.metadata), doc.tenant_id, doc.allowed_groups, n_chunks,
    )  # fmt: skip


def _chunk_row(doc: Document, chunk: Chunk, vector: np.ndarray | None) -> tuple:
    return (
        chunk.id, doc.id, doc.collection, chunk.ordinal, chunk.text, chunk.content_hash, vector,
        Jsonb({**doc.metadata, **chunk.metadata}), Jsonb(chunk.metadata), doc.tenant_id, doc.allowed_groups,
        doc.source_uri, doc.doc_type, doc.source_date, chunk.page, chunk.section,
    )  # fmt: skip


class PgVectorStore:
    """The platform's vector store. One instance per process is enough (it borrows pooled connections)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with connection(self.url) as conn:
            ensure_vector_types(conn)
            yield conn

    # -- collections ------------------------------------------------------------------------------------

    def create_collection(
        self,
        name: str,
        *,
        embedding_model: str,
        embedding_dim: int,
        chunking: ChunkingConfig | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Collection:
        """Create ``name`` (idempotent for the same model); ensures an HNSW index for its dimension."""
        coll = Collection(
            name=name,
            embedding_model=embedding_model,
            embedding_dim=embedding_dim,
            chunking=(chunking or ChunkingConfig()).model_dump(),
            metadata=metadata or {},
        )
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO collections (name, embedding_model, embedding_dim, chunking, metadata) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (name, embedding_model, embedding_dim, Jsonb(coll.chunking), Jsonb(coll.metadata)),
            )
        existing = self.get_collection(name)
        if (existing.embedding_model, existing.embedding_dim) != (embedding_model, embedding_dim):
            raise CollectionConflictError(
                f"collection {name!r} uses {existing.embedding_model} ({existing.embedding_dim}-d); "
                "re-embed it to change the model"
            )
        self.ensure_vector_index(embedding_dim)
        return existing

    def get_collection(self, name: str) -> Collection:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT name, embedding_model, embedding_dim, chunking, metadata FROM collections WHERE name = %s",
                (name,),
            ).fetchone()
        if row is None:
            raise CollectionNotFoundError(f"no collection named {name!r}")
        return Collection(**row)

    def list_collections(self) -> list[Collection]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT name, embedding_model, embedding_dim, chunking, metadata FROM collections ORDER BY name"
            ).fetchall()
        return [Collection(**r) for r in rows]

    def delete_collection(self, name: str) -> bool:
        with self.connect() as conn:
            conn.execute("DELETE FROM chunks WHERE collection = %s", (name,))
            return conn.execute("DELETE FROM collections WHERE name = %s", (name,)).rowcount > 0

    # -- indexes ----------------------------------------------------------------------------------------

    def ensure_vector_index(self, dim: int) -> None:
        db = get_settings().database
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(hnsw_index_sql(dim, db.hnsw_m, db.hnsw_ef_construction))  # type: ignore[arg-type]

    def drop_vector_index(self, dim: int) -> None:
        """Before a large bulk load: inserting into a live HNSW graph is ~100x slower than rebuilding it."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(f"chunks_embedding_hnsw_{int(dim)}")))

    def build_vector_index(self, dim: int, *, maintenance_work_mem: str = "1GB") -> None:
        """(Re)build the HNSW index for ``dim`` with enough memory that the graph is built in RAM."""
        db = get_settings().database
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(maintenance_work_mem)))
            conn.execute("SET max_parallel_maintenance_workers = 2")
            conn.execute(hnsw_index_sql(dim, db.hnsw_m, db.hnsw_ef_construction))  # type: ignore[arg-type]
            conn.execute("ANALYZE chunks")

    # -- documents --------------------------------------------------------------------------------------

    def document_hash(self, document_id: str) -> str | None:
        with self.connect() as conn:
            row = conn.execute("SELECT content_hash FROM documents WHERE id = %s", (document_id,)).fetchone()
        return row[0] if row else None

    def upsert_document(
        self, document: Document, chunks: Sequence[Chunk], embeddings: np.ndarray | None, *, force: bool = False
    ) -> UpsertResult:
        """Insert or replace ``document`` and its chunks atomically; a no-op when its text hash is unchanged.

        If only ACL or metadata changed, they are updated on the document and its chunks in place
        (no re-embedding, status ``acl_updated``). ``force`` replaces the chunks even when the hash
        matches (a new chunking config), still atomically.
        """
        with self.connect() as conn, conn.transaction():
            dim = self._collection_dim(conn, document.collection)
            row = conn.execute(
                "SELECT content_hash, tenant_id, allowed_groups, metadata, title, source_date, chunk_count "
                "FROM documents WHERE id = %s FOR UPDATE",
                (document.id,),
            ).fetchone()
            if row is not None and row[0] == document.content_hash and not force:
                same = (row[1], sorted(row[2]), row[3], row[4], row[5]) == (
                    document.tenant_id, document.allowed_groups, document.metadata, document.title,
                    document.source_date,
                )  # fmt: skip
                if same:
                    return UpsertResult(document_id=document.id, status="unchanged", chunks=row[6])
                self._update_acl(conn, document)
                return UpsertResult(document_id=document.id, status="acl_updated", chunks=row[6])
            self._check_vectors(chunks, embeddings, dim)
            conn.execute("DELETE FROM chunks WHERE document_id = %s", (document.id,))
            conn.execute("DELETE FROM documents WHERE id = %s", (document.id,))
            self._copy_documents(conn, [(document, len(chunks))])
            self._copy_chunks(conn, document, chunks, embeddings)
        status = "inserted" if row is None else "replaced"
        return UpsertResult(document_id=document.id, status=status, chunks=len(chunks))

    def bulk_load(self, items: Iterable[tuple[Document, Sequence[Chunk], np.ndarray]]) -> int:
        """Binary COPY of new documents and their chunks in one transaction; returns chunks written.

        For tens of thousands of rows call :meth:`drop_vector_index` first and
        :meth:`build_vector_index` after. Existing ids raise (use :meth:`upsert_document` to replace).
        """
        items = list(items)
        with self.connect() as conn, conn.transaction():
            dims = {c: self._collection_dim(conn, c) for c in {doc.collection for doc, _, _ in items}}
            for document, chunks, embeddings in items:
                self._check_vectors(chunks, embeddings, dims[document.collection])
            self._copy_documents(conn, [(document, len(chunks)) for document, chunks, _ in items])
            with conn.cursor() as cur, cur.copy(f"COPY chunks ({_CHUNK_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_CHUNK_TYPES)
                for document, chunks, embeddings in items:
                    for chunk, vector in zip(chunks, embeddings, strict=True):
                        copy.write_row(_chunk_row(document, chunk, vector))
        return sum(len(chunks) for _, chunks, _ in items)

    def delete_document(self, collection: str, document_id: str) -> bool:
        with self.connect() as conn:
            cur = conn.execute("DELETE FROM documents WHERE id = %s AND collection = %s", (document_id, collection))
            return cur.rowcount > 0

    def reembed_collection(
        self, collection: str, embedder: Embedder, *, batch_size: int = 256, progress: Any = None
    ) -> int:
        """Re-embed every chunk with ``embedder`` (a new model, maybe a new dimension) in one transaction,
        so searches see the old vectors until the new ones are all in place."""
        self.ensure_vector_index(embedder.dim)
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT 1 FROM collections WHERE name = %s FOR UPDATE", (collection,))
            ids_texts = conn.execute(
                "SELECT id, text FROM chunks WHERE collection = %s ORDER BY id", (collection,)
            ).fetchall()
            for start in range(0, len(ids_texts), batch_size):
                batch = ids_texts[start : start + batch_size]
                vectors = embedder.embed([t for _, t in batch])
                with conn.cursor() as cur:
                    cur.executemany(
                        "UPDATE chunks SET embedding = %s WHERE id = %s",
                        [(v, cid) for (cid, _), v in zip(batch, vectors, strict=True)],
                    )
                if progress is not None:
                    progress(min(start + batch_size, len(ids_texts)), len(ids_texts))
            conn.execute(
                "UPDATE collections SET embedding_model = %s, embedding_dim = %s, updated_at = now() WHERE name = %s",
                (embedder.model, embedder.dim, collection),
            )
        return len(ids_texts)

    def counts(self, collection: str, principal: Principal | None) -> dict[str, int]:
        """Documents and chunks visible to ``principal`` (``None``: all, for administrators)."""
        where, params = where_clause(collection, principal)
        query = sql.SQL("SELECT count(DISTINCT c.document_id), count(*) FROM chunks c WHERE {}").format(where)
        with self.connect() as conn:
            docs, chunks = conn.execute(query, params).fetchone()  # type: ignore[misc]
        return {"documents": int(docs), "chunks": int(chunks)}

    def get_chunks(self, document_id: str) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT id, ordinal, text, content_hash, page, section, metadata, tenant_id, allowed_groups "
                "FROM chunks WHERE document_id = %s ORDER BY ordinal",
                (document_id,),
            ).fetchall()

    # -- internals --------------------------------------------------------------------------------------

    @staticmethod
    def _collection_dim(conn: psycopg.Connection, name: str) -> int:
        row = conn.execute("SELECT embedding_dim FROM collections WHERE name = %s", (name,)).fetchone()
        if row is None:
            raise CollectionNotFoundError(f"no collection named {name!r}")
        return int(row[0])

    @staticmethod
    def _check_vectors(chunks: Sequence[Chunk], embeddings: np.ndarray | None, dim: int) -> None:
        if embeddings is None:
            raise StoreError("embeddings are required for new or changed documents")
        if embeddings.shape != (len(chunks), dim):
            raise CollectionConflictError(
                f"expected embeddings of shape ({len(chunks)}, {dim}), got {embeddings.shape}"
            )

    @staticmethod
    def _copy_documents(conn: psycopg.Connection, docs: list[tuple[Document, int]]) -> None:
        with conn.cursor() as cur, cur.copy(f"COPY documents ({_DOC_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_DOC_TYPES)
            for doc, n in docs:
                copy.write_row(_doc_row(doc, n))

    @staticmethod
    def _copy_chunks(
        conn: psycopg.Connection, doc: Document, chunks: Sequence[Chunk], embeddings: np.ndarray | None
    ) -> None:
        vectors = embeddings if embeddings is not None else [None] * len(chunks)
        with conn.cursor() as cur, cur.copy(f"COPY chunks ({_CHUNK_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_CHUNK_TYPES)
            for chunk, vector in zip(chunks, vectors, strict=True):
                copy.write_row(_chunk_row(doc, chunk, vector))

    @staticmethod
    def _update_acl(conn: psycopg.Connection, doc: Document) -> None:
        conn.execute(
            "UPDATE documents SET tenant_id = %s, allowed_groups = %s, metadata = %s, title = %s, "
            "source_date = %s, updated_at = now() WHERE id = %s",
            (doc.tenant_id, doc.allowed_groups, Jsonb(doc.metadata), doc.title, doc.source_date, doc.id),
        )
        conn.execute(
            "UPDATE chunks SET tenant_id = %s, allowed_groups = %s, metadata = %s::jsonb || chunk_metadata, "
            "source_date = %s WHERE document_id = %s",
            (doc.tenant_id, doc.allowed_groups, Jsonb(doc.metadata), doc.source_date, doc.id),
        )
