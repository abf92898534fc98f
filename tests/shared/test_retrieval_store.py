"""Store integration tests on the real embedded PostgreSQL: migrations, upsert idempotency, ACL, counts."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import psycopg
import pytest

from shared.retrieval import (
    ChunkingConfig,
    CollectionConflictError,
    Document,
    Indexer,
    PgVectorStore,
    Principal,
    Searcher,
    SearchRequest,
    upgrade,
)
from shared.retrieval.chunking import chunk_document
from shared.retrieval.models import Chunk
from shared.serving.base import Embedder
from shared.serving.embeddings import LocalEmbedder


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def store(database_url: str, embedder: LocalEmbedder) -> PgVectorStore:
    upgrade(database_url)
    s = PgVectorStore(database_url)
    s.create_collection("kb", embedding_model=embedder.model, embedding_dim=embedder.dim, chunking=ChunkingConfig())
    return s


def rows(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_upgrade_is_idempotent_and_creates_the_schema(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    names = {r[0] for r in rows(database_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"collections", "documents", "chunks", "job_progress", "procrastinate_jobs", "alembic_version"} <= names
    assert len(rows(database_url, "SELECT version_num FROM alembic_version")) == 1  # at head (0001_base or later)
    indexes = {r[0]: r[1] for r in rows(database_url, "SELECT indexname, indexdef FROM pg_indexes")}
    assert (
        "hnsw" in indexes["chunks_embedding_hnsw_384"] and "vector_cosine_ops" in indexes["chunks_embedding_hnsw_384"]
    )
    assert "gin" in indexes["chunks_tsv"] and "gin" in indexes["chunks_groups"] and "gin" in indexes["chunks_metadata"]


def test_collection_is_idempotent_and_guards_its_model(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    again = store.create_collection("kb", embedding_model=embedder.model, embedding_dim=embedder.dim)
    assert again.embedding_dim == 384 and again.chunking["strategy"] == "recursive"
    with pytest.raises(CollectionConflictError):
        store.create_collection("kb", embedding_model="other-model", embedding_dim=768)


def test_upsert_is_idempotent_by_content_hash(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    indexer = Indexer(store, embedder)
    text = "\n\n".join(f"Paragraph {i} about shipping policy number {i}. " * 20 for i in range(4))
    doc = Document(collection="kb", source_uri="kb/shipping.txt", text=text, tenant_id="acme")
    first = indexer.index(doc)
    assert first.status == "inserted" and first.chunks > 1
    before = rows(store.url, "SELECT id, xmin::text FROM chunks ORDER BY id")

    second = indexer.index(doc.model_copy())
    assert second.status == "unchanged" and not second.changed and second.chunks == first.chunks
    assert rows(store.url, "SELECT id, xmin::text FROM chunks ORDER BY id") == before  # no row was rewritten

    changed = doc.model_copy(update={"text": "A completely new shipping policy. Ships in one day."})
    third = indexer.index(changed)
    assert third.status == "replaced" and third.chunks == 1
    chunk_rows = rows(store.url, "SELECT id, text, content_hash FROM chunks WHERE document_id = %s", doc.id)
    assert [r[1] for r in chunk_rows] == ["A completely new shipping policy. Ships in one day."]
    assert chunk_rows[0][2] == hashlib.sha256(chunk_rows[0][1].encode()).hexdigest()
    assert rows(store.url, "SELECT count(*) FROM chunks")[0][0] == 1  # old chunks gone, no orphans
    assert rows(store.url, "SELECT content_hash FROM documents")[0][0] == changed.content_hash

    forced = indexer.index(changed, force=True)  # e.g. after changing the chunking config
    assert forced.status == "replaced" and rows(store.url, "SELECT count(*) FROM chunks")[0][0] == 1

    assert store.delete_document("kb", doc.id)
    assert rows(store.url, "SELECT count(*) FROM chunks")[0][0] == 0
    assert not store.delete_document("kb", doc.id)


def test_acl_only_change_updates_chunks_without_reembedding(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    indexer = Indexer(store, embedder)
    doc = Document(collection="kb", source_uri="kb/a.txt", text="Payroll runs on the 25th.", tenant_id="acme")
    indexer.index(doc)
    emb_before = rows(store.url, "SELECT embedding::text FROM chunks")
    result = indexer.index(doc.model_copy(update={"allowed_groups": ["hr"], "metadata": {"tags": ["pay"]}}))
    assert result.status == "acl_updated"
    assert rows(store.url, "SELECT allowed_groups, metadata FROM chunks") == [(["hr"], {"tags": ["pay"]})]
    assert rows(store.url, "SELECT embedding::text FROM chunks") == emb_before


def test_failed_replacement_keeps_the_old_version(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    doc = Document(collection="kb", source_uri="kb/b.txt", text="Version one.", tenant_id="acme")
    Indexer(store, embedder).index(doc)
    new = doc.model_copy(update={"text": "Version two, broken."})
    dup = [Chunk(document_id=new.id, ordinal=0, text="x"), Chunk(document_id=new.id, ordinal=0, text="y")]
    with pytest.raises(psycopg.errors.UniqueViolation):
        store.upsert_document(new, dup, embedder.embed(["x", "y"]))
    assert rows(store.url, "SELECT text FROM chunks") == [("Version one.",)]
    assert store.document_hash(doc.id) == doc.content_hash
    with pytest.raises(CollectionConflictError):  # wrong dimension is refused before anything is written
        store.upsert_document(new, dup[:1], np.zeros((1, 8), dtype=np.float32))


def _tenant_docs(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    indexer = Indexer(store, embedder)
    indexer.index(
        Document(
            collection="kb",
            source_uri="a/secret.txt",
            text="The launch code for Project Zephyr is 4417-ALPHA. Keep the Zephyr launch code private.",
            tenant_id="tenant-a",
        )
    )
    indexer.index(
        Document(collection="kb", source_uri="b/menu.txt", text="Cafeteria menu: tomato soup.", tenant_id="tenant-b")
    )


def test_acl_tenant_a_never_reaches_tenant_b(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    _tenant_docs(store, embedder)
    searcher = Searcher(store, embedder)
    query = "Project Zephyr launch code"
    alice = Principal(user_id="alice", tenant_id="tenant-a")
    bob = Principal(user_id="bob", tenant_id="tenant-b", groups=("admins",))
    for mode in ("dense", "fulltext", "hybrid"):
        own = searcher.search(SearchRequest(collection="kb", query=query, principal=alice, mode=mode, k=5))
        assert own and own[0].source_uri == "a/secret.txt", mode  # the query matches A's text best...
        leaked = searcher.search(SearchRequest(collection="kb", query=query, principal=bob, mode=mode, k=5))
        assert all(r.source_uri != "a/secret.txt" for r in leaked), mode  # ...yet B never sees it
        assert all("Zephyr" not in r.text for r in leaked)
    assert store.counts("kb", bob) == {"documents": 1, "chunks": 1}
    assert store.counts("kb", alice) == {"documents": 1, "chunks": 1}
    assert store.counts("kb", None) == {"documents": 2, "chunks": 2}


def test_group_and_user_level_access(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    indexer = Indexer(store, embedder)
    for uri, groups in [("fin.txt", ["finance"]), ("all.txt", ["public"]), ("bob.txt", ["user:bob"]), ("no.txt", [])]:
        indexer.index(
            Document(
                collection="kb",
                source_uri=uri,
                text=f"Budget forecast memo {uri}",
                tenant_id="acme",
                allowed_groups=groups,
            )
        )
    searcher = Searcher(store, embedder)

    def visible(principal: Principal) -> set[str]:
        hits = searcher.search(SearchRequest(collection="kb", query="budget forecast memo", principal=principal, k=10))
        return {h.source_uri for h in hits}

    assert visible(Principal(user_id="ann", tenant_id="acme")) == {"all.txt"}
    assert visible(Principal(user_id="ann", tenant_id="acme", groups=("finance",))) == {"all.txt", "fin.txt"}
    assert visible(Principal(user_id="bob", tenant_id="acme")) == {"all.txt", "bob.txt"}
    assert visible(Principal(user_id="bob", tenant_id="other", groups=("finance",))) == set()
    assert store.counts("kb", Principal(user_id="ann", tenant_id="acme", groups=("finance",)))["documents"] == 2


class HashEmbedder(Embedder):
    """A deterministic 64-d test double standing in for 'the new model' in a re-embed."""

    backend = "test"
    model = "hash-64"
    dim = 64

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)


def test_reembed_switches_model_and_dimension(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    indexer = Indexer(store, embedder)
    for i, text in enumerate(["red apples grow on trees", "blue whales swim in oceans", "green frogs jump"]):
        indexer.index(Document(collection="kb", source_uri=f"d{i}", text=text, tenant_id="t"))
    seen: list[tuple[int, int]] = []
    assert store.reembed_collection("kb", HashEmbedder(), batch_size=2, progress=lambda d, t: seen.append((d, t))) == 3
    assert seen == [(2, 3), (3, 3)]
    coll = store.get_collection("kb")
    assert (coll.embedding_model, coll.embedding_dim) == ("hash-64", 64)
    assert rows(store.url, "SELECT DISTINCT dim FROM chunks") == [(64,)]
    assert rows(store.url, "SELECT count(*) FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw_64'") == [(1,)]
    hits = Searcher(store, HashEmbedder()).search(
        SearchRequest(
            collection="kb", query="blue whales", principal=Principal(user_id="u", tenant_id="t"), mode="dense"
        )
    )
    assert hits[0].source_uri == "d1"
    with pytest.raises(CollectionConflictError):  # the old model no longer matches the collection
        Searcher(store, embedder).search(
            SearchRequest(collection="kb", query="x", principal=Principal(user_id="u", tenant_id="t"), mode="dense")
        )


def test_bulk_load_copies_documents_and_chunks(store: PgVectorStore, embedder: LocalEmbedder) -> None:
    items = []
    for i in range(20):
        doc = Document(
            collection="kb", source_uri=f"bulk/{i}", text=f"Bulk document {i}. Second sentence.", tenant_id="t"
        )
        chunks = chunk_document(doc, ChunkingConfig(max_chars=60))
        items.append((doc, chunks, embedder.embed([c.text for c in chunks])))
    store.drop_vector_index(384)
    assert store.bulk_load(items) == sum(len(c) for _, c, _ in items)
    store.build_vector_index(384)
    assert store.counts("kb", Principal(user_id="u", tenant_id="t")) == {"documents": 20, "chunks": 20}
    assert rows(store.url, "SELECT sum(chunk_count) FROM documents") == [(20,)]


def test_bulk_index_matches_per_document_indexing(
    store: PgVectorStore, embedder: LocalEmbedder, database_url: str
) -> None:
    texts = {
        f"doc-{i}": f"Policy number {i}: employees in office {i} receive {20 + i} days of leave." for i in range(5)
    }
    docs = [Document(collection="kb", source_uri=uri, text=t, tenant_id="t") for uri, t in texts.items()]
    stats = Indexer(store, embedder).bulk_index(docs, batch=2)  # several embed batches
    assert stats["documents"] == 5 and stats["chunks"] == 5
    alone = Document(collection="kb", source_uri="solo", text=texts["doc-3"], tenant_id="t")
    Indexer(store, embedder).index(alone)
    vec = {r[0]: r[1] for r in rows(database_url, "SELECT d.source_uri, c.embedding::text FROM chunks c "
                                    "JOIN documents d ON d.id = c.document_id")}  # fmt: skip
    batched, single = (np.array(json.loads(vec[k])) for k in ("doc-3", "solo"))
    assert np.allclose(batched, single, atol=1e-5)  # batched embedding = the one-document path (up to padding noise)
    assert len(rows(database_url, "SELECT 1 FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw_384'")) == 1
    hits = Searcher(store, embedder).search(
        SearchRequest(collection="kb", query="leave in office 3", principal=Principal(user_id="u", tenant_id="t"))
    )
    assert {h.document_id for h in hits} >= {docs[3].id}


def test_index_many_is_per_document_idempotent_and_isolates_failures(
    store: PgVectorStore, embedder: LocalEmbedder, database_url: str
) -> None:
    indexer = Indexer(store, embedder)
    docs = [
        Document(collection="kb", source_uri=f"f{i}", text=f"File {i}: the badge office opens at {8 + i} am.",
                 tenant_id="t")
        for i in range(4)
    ]  # fmt: skip
    orphan = Document(collection="missing", source_uri="x", text="no such collection", tenant_id="t")
    results = indexer.index_many([docs[0], orphan, *docs[1:]], batch=3)
    assert [getattr(r, "status", type(r).__name__) for r in results] == [
        "inserted", "CollectionNotFoundError", "inserted", "inserted", "inserted"
    ]  # fmt: skip
    alone = Document(collection="kb", source_uri="solo", text=docs[2].text, tenant_id="t")
    indexer.index(alone)
    query = "SELECT d.source_uri, c.embedding::text FROM chunks c JOIN documents d ON d.id = c.document_id"
    vec = {uri: np.array(json.loads(emb)) for uri, emb in rows(database_url, query)}
    assert np.allclose(vec["f2"], vec["solo"], atol=1e-5)  # grouped embedding = the one-document path

    changed = docs[1].model_copy(update={"text": "File 1: the badge office moved to the lobby."})
    again = indexer.index_many([docs[0], Document(**changed.model_dump(exclude={"id", "content_hash"}))])
    assert [r.status for r in again] == ["unchanged", "replaced"]
    texts = [t for (t,) in rows(database_url, "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
                                               "WHERE d.source_uri = 'f1'")]  # fmt: skip
    assert texts == ["File 1: the badge office moved to the lobby."]
