"""Background ingestion: upload batches and folder sync as jobs on the shared queue.

Every file is a row in ``rag_ingest_items`` with its own status and error, and each file is indexed
in its own transaction (shared ``Indexer`` → ``upsert_document``), so one failed file never blocks
or rolls back the rest of its batch. Idempotency is the shared store's: the same text is a no-op by
sha256, a changed file replaces its chunks atomically. Folder sync additionally skips files whose
size and mtime are unchanged without reading them (a 10,000-file folder re-syncs in one query plus
a ``stat`` per file), and deletes documents whose files disappeared. Changed files are embedded in
groups, one batched embedding call per group, each file still in its own transaction.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from projects.enterprise_rag.loaders import EXTENSIONS, load_upload
from projects.enterprise_rag.settings import RagSettings
from shared.retrieval.ingest import Indexer
from shared.retrieval.jobs import JobQueue, Progress
from shared.retrieval.models import Document
from shared.retrieval.store import PgVectorStore
from shared.serving.base import Embedder

log = logging.getLogger(__name__)

INGEST_TASK = "rag_ingest_batch"
SYNC_TASK = "rag_sync_folder"


class SyncRootError(ValueError):
    """The folder is not inside one of ``RAG__SYNC_ROOTS`` (or does not exist)."""


class Ingestor:
    def __init__(
        self,
        url: str,
        store: PgVectorStore,
        embedder: Embedder,
        queue: JobQueue,
        settings: RagSettings,
    ) -> None:
        self.url = url
        self.store = store
        self.embedder = embedder
        self.queue = queue
        self.settings = settings
        self._worker: threading.Thread | None = None
        queue.task(INGEST_TASK, queue=settings.job_queue, max_attempts=1)(self.run_batch)
        queue.task(SYNC_TASK, queue=settings.job_queue, max_attempts=1)(self.run_sync)

    # -- submit ------------------------------------------------------------------------------------------

    def submit_documents(self, store_name: str, tenant_id: str, documents: list[Document]) -> tuple[str, int]:
        """Stage already-validated documents as one batch and enqueue it; returns (batch id, job id)."""
        batch_id = str(uuid.uuid4())
        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO rag_ingest_items (batch_id, store_name, tenant_id, source_uri, document) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(batch_id, store_name, tenant_id, d.source_uri, Jsonb(d.model_dump(mode="json"))) for d in documents],
            )
        job_id = self.queue.enqueue(INGEST_TASK, batch_id=batch_id)
        self._attach_job(batch_id, job_id)
        self._ensure_worker()
        return batch_id, job_id

    def submit_sync(self, folder: str, store_name: str, tenant_id: str, allowed_groups: list[str]) -> tuple[str, int]:
        root = self.check_root(folder)
        batch_id = str(uuid.uuid4())
        job_id = self.queue.enqueue(
            SYNC_TASK,
            batch_id=batch_id,
            folder=str(root),
            store_name=store_name,
            tenant_id=tenant_id,
            allowed_groups=allowed_groups,
        )
        self._ensure_worker()
        return batch_id, job_id

    def check_root(self, folder: str) -> Path:
        path = Path(folder).resolve()
        roots = [Path(r).resolve() for r in self.settings.sync_roots]
        if not any(path == r or r in path.parents for r in roots):
            raise SyncRootError(f"{folder!r} is not inside a configured sync root (RAG__SYNC_ROOTS)")
        if not path.is_dir():
            raise SyncRootError(f"{folder!r} is not a directory")
        return path

    # -- tasks -------------------------------------------------------------------------------------------

    def run_batch(self, batch_id: str, progress: Progress | None = None) -> dict[str, int]:
        """Index every staged item of a batch; a failing item is recorded and the loop goes on."""
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            items = cur.execute(
                "SELECT id, document FROM rag_ingest_items WHERE batch_id = %s AND status = 'queued' ORDER BY id",
                (batch_id,),
            ).fetchall()
        indexer = Indexer(self.store, self.embedder)
        counts: dict[str, int] = {}
        for i, item in enumerate(items, start=1):
            self._set(item["id"], "running")
            try:
                result = indexer.index(Document(**_document_fields(item["document"])))
                self._set(item["id"], result.status, chunks=result.chunks, clear_document=True)
                counts[result.status] = counts.get(result.status, 0) + 1
            except Exception as exc:  # recorded per file; the batch continues
                log.warning("ingest item %s failed: %s", item["id"], exc)
                self._set(item["id"], "failed", error=f"{type(exc).__name__}: {exc}"[:2000], clear_document=True)
                counts["failed"] = counts.get("failed", 0) + 1
            if progress is not None:
                progress.update(i, len(items), f"{i}/{len(items)} files")
        return counts

    def run_sync(
        self,
        batch_id: str,
        folder: str,
        store_name: str,
        tenant_id: str,
        allowed_groups: list[str],
        progress: Progress | None = None,
    ) -> dict[str, int]:
        """Reflect ``folder`` in the collection: new and changed files are indexed, vanished ones deleted.

        Files go through in groups of ``sync_group_files``: each group is read, parsed, embedded in one
        batched call (``Indexer.index_many``) and recorded with one ``executemany``, while every file keeps
        its own transaction and status. A per-file ``Indexer.index`` plus two status round trips made a
        10,000-file folder take minutes more (see README "Measured").
        """
        root = Path(folder)
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
        known = self._synced_documents(store_name, str(root))
        indexer = Indexer(self.store, self.embedder)
        counts: dict[str, int] = {}
        seen: set[str] = set()
        total = len(files)
        group_size = self.settings.sync_group_files

        with psycopg.connect(self.url, autocommit=True) as conn:

            def record(rows: list[tuple[str, str, str | None, int | None]]) -> None:
                for _, status, _, _ in rows:
                    counts[status] = counts.get(status, 0) + 1
                if rows:
                    conn.cursor().executemany(
                        "INSERT INTO rag_ingest_items (batch_id, store_name, tenant_id, source_uri, status, error, "
                        "chunks) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(batch_id, store_name, tenant_id, *row) for row in rows],
                    )

            for start in range(0, total, group_size):
                rows: list[tuple[str, str, str | None, int | None]] = []
                loaded: list[tuple[str, Document]] = []
                for path in files[start : start + group_size]:
                    uri = str(path)
                    seen.add(uri)
                    try:
                        stat = path.stat()
                        previous = known.get(uri)
                        if previous and previous[1] == (stat.st_size, stat.st_mtime_ns):
                            counts["unchanged"] = counts.get("unchanged", 0) + 1  # not read, not listed
                            continue
                        doc = load_upload(
                            path.read_bytes(),
                            path.name,
                            collection=store_name,
                            source_uri=uri,
                            tenant_id=tenant_id,
                            allowed_groups=allowed_groups,
                            settings=self.settings,
                            metadata={"sync_root": str(root), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
                        )
                        loaded.append((uri, doc))
                    except Exception as exc:  # per file (UploadError, OSError): the sync goes on
                        rows.append((uri, "failed", f"{type(exc).__name__}: {exc}"[:2000], None))
                results = indexer.index_many([doc for _, doc in loaded]) if loaded else []
                for (uri, _), result in zip(loaded, results, strict=True):
                    if isinstance(result, Exception):
                        log.warning("sync of %s failed: %s", uri, result)
                        rows.append((uri, "failed", f"{type(result).__name__}: {result}"[:2000], None))
                    else:
                        rows.append((uri, result.status, None, result.chunks))
                record(rows)
                if progress is not None:
                    done = min(start + group_size, total)
                    progress.update(done, total + len(known), f"scanned {done}/{total} files")
            gone = [(uri, doc_id) for uri, (doc_id, _) in known.items() if uri not in seen]
            for _, doc_id in gone:
                self.store.delete_document(store_name, doc_id)
            record([(uri, "deleted", None, None) for uri, _ in gone])
        if progress is not None:
            progress.update(total + len(known), total + len(known), f"done: {counts}")
        return counts

    # -- status ------------------------------------------------------------------------------------------

    def items(self, *, batch_id: str | None = None, job_id: int | None = None) -> list[dict[str, Any]]:
        column, value = ("batch_id", batch_id) if batch_id else ("job_id", job_id)
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                f"SELECT source_uri, status, error, chunks, updated_at FROM rag_ingest_items WHERE {column} = %s "
                "ORDER BY id",
                (value,),
            ).fetchall()

    def batch_of_job(self, job_id: int) -> tuple[str, str] | None:
        """(batch id, tenant) of a job, from its arguments: job status is readable only within its tenant."""
        status = self.queue.status(job_id)
        args = status.args
        if "batch_id" not in args:
            return None
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT tenant_id FROM rag_ingest_items WHERE batch_id = %s LIMIT 1", (args["batch_id"],)
            ).fetchone()
        tenant = row[0] if row else args.get("tenant_id")
        return (args["batch_id"], tenant) if tenant else None

    # -- worker ------------------------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        """With ``inline_worker`` a daemon thread runs the queue in this process (single-machine setups)."""
        if not self.settings.inline_worker or (self._worker is not None and self._worker.is_alive()):
            return
        self._worker = threading.Thread(
            target=self.queue.run_worker,
            kwargs={"queues": [self.settings.job_queue], "wait": True, "name": "rag-inline"},
            daemon=True,
            name="rag-ingest-worker",
        )
        self._worker.start()

    def drain(self) -> None:
        """Run queued ingestion jobs in this thread until none is left (tests, CLIs)."""
        self.queue.run_worker(queues=[self.settings.job_queue], wait=False, concurrency=1)

    # -- internals ---------------------------------------------------------------------------------------

    def _attach_job(self, batch_id: str, job_id: int) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("UPDATE rag_ingest_items SET job_id = %s WHERE batch_id = %s", (job_id, batch_id))

    def _new_item(self, batch_id: str, store_name: str, tenant_id: str, uri: str) -> int:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO rag_ingest_items (batch_id, store_name, tenant_id, source_uri, status) "
                "VALUES (%s, %s, %s, %s, 'running') RETURNING id",
                (batch_id, store_name, tenant_id, uri),
            ).fetchone()
        return int(row[0])  # type: ignore[index]

    def _set(
        self, item_id: int, status: str, *, error: str | None = None, chunks: int | None = None, clear_document=False
    ) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "UPDATE rag_ingest_items SET status = %s, error = %s, chunks = COALESCE(%s, chunks), "
                "document = CASE WHEN %s THEN NULL ELSE document END, updated_at = now() WHERE id = %s",
                (status, error, chunks, clear_document, item_id),
            )

    def _synced_documents(self, store_name: str, root: str) -> dict[str, tuple[str, tuple[int, int] | None]]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT source_uri, id, metadata->>'size', metadata->>'mtime_ns' FROM documents "
                "WHERE collection = %s AND metadata->>'sync_root' = %s",
                (store_name, root),
            ).fetchall()
        return {
            uri: (doc_id, (int(size), int(mtime)) if size is not None and mtime is not None else None)
            for uri, doc_id, size, mtime in rows
        }


def _document_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A staged Document's JSON minus its computed fields (id, content_hash), which pydantic recomputes."""
    return {k: v for k, v in data.items() if k not in ("id", "content_hash")}
