"""The document intelligence service: upload → background job (parse page by page, classify, extract,
index) → review → export; plus page images for the reviewer and Q&A over one document.

Why the job stores pages one at a time: memory stays bounded by one page whatever the page count
(the original bytes are the only whole-document thing in memory), progress is real (``pages_done``
is a column, not a guess), and a job that dies — a crash, a kill, a deploy — resumes after its last
stored page when it runs again, instead of re-OCRing 300 pages.

"Nothing half-stored": an upload is validated completely (type by content, size, page count,
encryption, image dimensions) before anything is written, and the blob and document row are one
transaction. A job failure marks the document ``failed`` with the error and keeps the pages
already parsed; ``retry`` resumes it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from projects.document_intelligence.model import Document, Page
from projects.document_intelligence.schema import ensure_schema
from projects.document_intelligence.settings import DocIntSettings
from shared.retrieval.jobs import JobQueue, Progress
from shared.retrieval.migrations import upgrade
from shared.retrieval.models import Principal
from shared.serving.base import ChatModel, Embedder

log = logging.getLogger(__name__)

PROCESS_TASK = "docint.process"
# what a listing or the review queue shows of a document (the API's DocumentSummary)
_SUMMARY_COLUMNS = (
    "id::text, filename, media_type, n_pages, pages_done, status, stage, doc_type, doc_type_confidence, "
    "review_reasons, created_at, updated_at"
)


class DocumentNotFound(LookupError):
    pass


class DocumentStateError(RuntimeError):
    """The document is not in a state that allows the action (e.g. retry of a finished document)."""


@dataclass
class Components:
    """The stages the job runs, injectable so orchestration tests can replace one stage (never the default)."""

    parser: Any
    classifier: Any
    extract: Callable[..., Any]


def default_components(settings: DocIntSettings, embedder: Embedder, chat_model: Callable[[], ChatModel]) -> Components:
    from projects.document_intelligence.classify import DocumentClassifier
    from projects.document_intelligence.extraction import extract
    from projects.document_intelligence.parser import DocumentParser

    classifier = DocumentClassifier(embedder=embedder, chat_model=chat_model, settings=settings)
    return Components(parser=DocumentParser(settings), classifier=classifier, extract=extract)


class DocumentService:
    def __init__(
        self,
        url: str,
        embedder: Embedder,
        chat_model: Callable[[], ChatModel],
        settings: DocIntSettings,
        components: Components | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self.embedder = embedder
        self.chat_model = chat_model
        upgrade(url)  # shared tables: collections/chunks for Q&A, job queue
        ensure_schema(url)
        self.components = components or default_components(settings, embedder, chat_model)
        self.queue = JobQueue(url)
        self.queue.task(PROCESS_TASK, queue=settings.job_queue, max_attempts=1)(self.process)
        from projects.document_intelligence.qa import DocumentQA

        self.qa = DocumentQA(url, embedder, chat_model, settings)

    # -- upload ----------------------------------------------------------------------------------------

    def submit(self, user: Principal, filename: str, data: bytes, doc_type: str | None = None) -> dict[str, Any]:
        """Validate ``data`` completely, store blob + document row atomically, enqueue the job.

        Raises the parser's ``InputError`` (with ``code``) for anything wrong with the file; nothing
        is stored then.
        """
        with self.components.parser.open(data, filename) as source:
            media_type, n_pages, warnings = source.media_type, source.n_pages, list(source.warnings)
        digest = hashlib.sha256(data).hexdigest()
        doc_id = str(uuid.uuid4())
        with psycopg.connect(self.url) as conn, conn.transaction():
            conn.execute(
                "INSERT INTO di_blobs (sha256, data, size_bytes) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (digest, data, len(data)),
            )
            conn.execute(
                "INSERT INTO di_documents (id, tenant_id, created_by, filename, media_type, sha256, size_bytes, "
                "n_pages, warnings, requested_type) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (doc_id, user.tenant_id, user.user_id, filename, media_type, digest, len(data), n_pages,
                 Jsonb(warnings), doc_type),
            )  # fmt: skip
        self._enqueue(doc_id)
        return self.get(user, doc_id)

    def _enqueue(self, doc_id: str) -> int:
        job_id = self.queue.enqueue(PROCESS_TASK, document_id=doc_id)
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("UPDATE di_documents SET job_id = %s, updated_at = now() WHERE id = %s", (job_id, doc_id))
        return job_id

    def retry(self, user: Principal, doc_id: str) -> dict[str, Any]:
        """Re-run a failed document; pages already stored are kept (the job resumes after them)."""
        row = self.get(user, doc_id)
        if row["status"] != "failed":
            raise DocumentStateError(f"document is {row['status']}; only failed documents can be retried")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "UPDATE di_documents SET status = 'queued', error = NULL, updated_at = now() WHERE id = %s", (doc_id,)
            )
        self._enqueue(doc_id)
        return self.get(user, doc_id)

    # -- the job ---------------------------------------------------------------------------------------

    def process(self, document_id: str, progress: Progress | None = None) -> dict[str, Any]:
        """Parse (resuming after stored pages), classify, extract, index. Idempotent per document."""
        started = time.perf_counter()
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "UPDATE di_documents SET status = 'processing', stage = 'parsing', attempts = attempts + 1, "
                "error = NULL, updated_at = now() WHERE id = %s "
                "RETURNING filename, sha256, n_pages, requested_type, tenant_id",
                (document_id,),
            ).fetchone()
        if row is None:
            raise DocumentNotFound(document_id)
        filename, digest, n_pages, requested_type, tenant = row
        try:
            self._parse_pages(document_id, filename, digest, n_pages, progress)
            doc = self.load_document(document_id)
            self._set_stage(document_id, "classifying")
            if requested_type:
                doc_type, confidence, method = requested_type, 1.0, "user"
            else:
                c = self.components.classifier.classify(doc)
                doc_type, confidence, method = c.doc_type, float(c.confidence), c.method
            self._set_stage(document_id, "extracting")
            result = self.components.extract(doc, doc_type, chat_model=self._chat(), settings=self.settings)
            self._set_stage(document_id, "indexing")
            self.qa.index(document_id, tenant, doc)
            status = "needs_review" if result.needs_review else "done"
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE di_documents SET status = %s, stage = NULL, doc_type = %s, doc_type_confidence = %s, "
                    "doc_type_method = %s, extraction = %s, review_reasons = %s, indexed = true, seconds = %s, "
                    "updated_at = now() WHERE id = %s",
                    (status, doc_type, confidence, method, Jsonb(result.model_dump(mode="json")),
                     Jsonb(list(result.review_reasons)), time.perf_counter() - started, document_id),
                )  # fmt: skip
            if progress is not None:
                progress.update(n_pages, n_pages, status)
            return {"status": status, "doc_type": doc_type}
        except Exception as exc:
            log.exception("document %s failed", document_id)
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE di_documents SET status = 'failed', error = %s, updated_at = now() WHERE id = %s",
                    (f"{type(exc).__name__}: {exc}"[:4000], document_id),
                )
            raise

    def _chat(self) -> ChatModel | None:
        return self.chat_model() if self.settings.extract_llm else None

    def _set_stage(self, doc_id: str, stage: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("UPDATE di_documents SET stage = %s, updated_at = now() WHERE id = %s", (stage, doc_id))

    def _parse_pages(self, doc_id: str, filename: str, digest: str, n_pages: int, progress: Progress | None) -> None:
        """Parse and store pages after the last stored one (pages are stored in order, one transaction each)."""
        from projects.document_intelligence.layout import edge_texts

        with psycopg.connect(self.url) as conn:
            stored = [
                Page.model_validate(r[0])
                for r in conn.execute("SELECT page FROM di_pages WHERE document_id = %s ORDER BY number", (doc_id,))
            ]
            data = conn.execute("SELECT data FROM di_blobs WHERE sha256 = %s", (digest,)).fetchone()[0]
        if len(stored) >= n_pages:
            return
        # headers/footers are recognised by repetition across pages: a resumed job needs what earlier pages saw
        repeated: set[str] = set()
        for page in stored:
            repeated |= edge_texts(page.blocks, page.height)
        parser = self.components.parser
        with parser.open(bytes(data), filename) as source:
            for page_input in source.iter_pages(start=len(stored) + 1):
                t0 = time.perf_counter()
                page: Page = parser.parse_page(page_input, repeated)
                repeated |= edge_texts(page.blocks, page.height)
                self._store_page(doc_id, page, time.perf_counter() - t0)
                if progress is not None:
                    progress.update(page.number, n_pages, f"page {page.number} ({page.source})")

    def _store_page(self, doc_id: str, page: Page, seconds: float) -> None:
        with psycopg.connect(self.url) as conn, conn.transaction():
            conn.execute(
                "INSERT INTO di_pages (document_id, number, source, page, text, seconds) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (document_id, number) DO NOTHING",
                (doc_id, page.number, page.source, Jsonb(page.model_dump(mode="json")), page.text, seconds),
            )
            conn.execute(
                "UPDATE di_documents SET pages_done = (SELECT count(*) FROM di_pages WHERE document_id = %s), "
                "updated_at = now() WHERE id = %s",
                (doc_id, doc_id),
            )

    # -- reading ---------------------------------------------------------------------------------------

    def _row(self, user: Principal, doc_id: str) -> dict[str, Any]:
        try:
            uuid.UUID(doc_id)
        except ValueError:
            raise DocumentNotFound(doc_id) from None
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT id::text, filename, media_type, size_bytes, n_pages, pages_done, status, stage, error, "
                "warnings, job_id, attempts, doc_type, doc_type_confidence, doc_type_method, extraction, "
                "review_reasons, reviewed_by, reviewed_at, seconds, created_by, created_at, updated_at, sha256 "
                "FROM di_documents WHERE id = %s AND tenant_id = %s",
                (doc_id, user.tenant_id),
            ).fetchone()
        if row is None:
            raise DocumentNotFound(doc_id)
        return row

    def get(self, user: Principal, doc_id: str) -> dict[str, Any]:
        row = self._row(user, doc_id)
        row.pop("sha256")
        return row

    def list(self, user: Principal, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM di_documents "
                "WHERE tenant_id = %s AND (%s::text IS NULL OR status = %s) ORDER BY created_at DESC LIMIT %s",
                (user.tenant_id, status, status, limit),
            ).fetchall()

    def load_document(self, doc_id: str) -> Document:
        """The parsed document from its stored pages (text and boxes only; no rasters)."""
        with psycopg.connect(self.url) as conn:
            meta = conn.execute(
                "SELECT filename, media_type, n_pages FROM di_documents WHERE id = %s", (doc_id,)
            ).fetchone()
            rows = conn.execute(
                "SELECT page FROM di_pages WHERE document_id = %s ORDER BY number", (doc_id,)
            ).fetchall()
        if meta is None:
            raise DocumentNotFound(doc_id)
        pages = [Page.model_validate(r[0]) for r in rows]
        return Document(id=doc_id, filename=meta[0], media_type=meta[1], n_pages=meta[2], pages=pages)

    def document(self, user: Principal, doc_id: str) -> Document:
        self._row(user, doc_id)
        return self.load_document(doc_id)

    def page_image(self, user: Principal, doc_id: str, number: int, dpi: int = 100) -> bytes:
        """PNG of one page for the reviewer (rendered on demand from the original, never stored)."""
        row = self._row(user, doc_id)
        if not 1 <= number <= row["n_pages"]:
            raise DocumentNotFound(f"{doc_id} page {number}")
        with psycopg.connect(self.url) as conn:
            data = conn.execute("SELECT data FROM di_blobs WHERE sha256 = %s", (row["sha256"],)).fetchone()[0]
            stored = conn.execute(
                "SELECT (page->>'rotation')::int, (page->>'skew')::float FROM di_pages "
                "WHERE document_id = %s AND number = %s",
                (doc_id, number),
            ).fetchone()
        rotation, skew = stored if stored else (0, 0.0)  # boxes are in the upright, deskewed frame: match it
        image = self.components.parser.render_page(bytes(data), row["filename"], number, dpi, rotation, skew)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue()

    # -- review ----------------------------------------------------------------------------------------

    def review_queue(self, user: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """Documents waiting for a person, oldest first (a queue, not a feed)."""
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM di_documents WHERE tenant_id = %s AND status = 'needs_review' "
                "ORDER BY created_at LIMIT %s",
                (user.tenant_id, limit),
            ).fetchall()

    def review(
        self, user: Principal, doc_id: str, corrections: dict[str, str | None], approve: bool, doc_type: str | None
    ) -> dict[str, Any]:
        """Apply a reviewer's corrections (and optionally approve), all in one transaction with its audit rows.

        A corrected field becomes ``method = "human"``, ``confidence = 1``; approving adds an ``approve`` audit
        row, and the training export lists which fields a person changed.
        """
        from projects.document_intelligence.review import apply_corrections

        with psycopg.connect(self.url) as conn, conn.transaction():
            row = conn.execute(
                "SELECT status, extraction, doc_type FROM di_documents WHERE id = %s AND tenant_id = %s FOR UPDATE",
                (doc_id, user.tenant_id),
            ).fetchone()
            if row is None:
                raise DocumentNotFound(doc_id)
            status, extraction, current_type = row
            if status not in ("needs_review", "done", "approved"):
                raise DocumentStateError(f"document is {status}; only processed documents can be reviewed")
            result, changes = apply_corrections(extraction, corrections)
            audit = [(doc_id, user.tenant_id, name, old, new, user.user_id, "correct") for name, old, new in changes]
            if doc_type and doc_type != current_type:
                audit.append((doc_id, user.tenant_id, "doc_type", current_type, doc_type, user.user_id, "correct"))
            if approve:
                audit.append((doc_id, user.tenant_id, "*", None, None, user.user_id, "approve"))
            if audit:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO di_corrections (document_id, tenant_id, field, old_value, new_value, reviewer, "
                        "action) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        audit,
                    )
            new_status = "approved" if approve else status
            conn.execute(
                "UPDATE di_documents SET extraction = %s, status = %s, doc_type = COALESCE(%s, doc_type), "
                "reviewed_by = %s, reviewed_at = now(), updated_at = now() WHERE id = %s",
                (Jsonb(result), new_status, doc_type, user.user_id, doc_id),
            )
        return self.get(user, doc_id)

    def corrections(self, user: Principal, doc_id: str) -> list[dict[str, Any]]:
        self._row(user, doc_id)
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT field, old_value, new_value, reviewer, action, created_at FROM di_corrections "
                "WHERE document_id = %s ORDER BY id",
                (doc_id,),
            ).fetchall()

    def training_data(self, user: Principal) -> Iterator[dict[str, Any]]:
        """Approved documents as labelled examples: text lines with boxes, the type, and the final fields.

        Streams row by row (a server-side cursor), so exporting a large tenant does not load it all.
        """
        with psycopg.connect(self.url) as conn, conn.cursor(name="docint_export", row_factory=dict_row) as cur:
            cur.execute(
                "SELECT d.id::text AS id, d.filename, d.doc_type, d.extraction, "
                "ARRAY(SELECT DISTINCT c.field FROM di_corrections c WHERE c.document_id = d.id "
                "      AND c.action = 'correct') AS corrected "
                "FROM di_documents d WHERE d.tenant_id = %s AND d.status = 'approved' ORDER BY d.reviewed_at",
                (user.tenant_id,),
            )
            for row in cur:
                doc = self.load_document(row["id"])
                fields = (row["extraction"] or {}).get("fields", {})
                yield {
                    "id": row["id"],
                    "filename": row["filename"],
                    "doc_type": row["doc_type"],
                    "fields": {k: v.get("value") for k, v in fields.items()},
                    "sources": {k: v.get("source") for k, v in fields.items()},
                    "corrected_fields": sorted(row["corrected"]),
                    "line_items": (row["extraction"] or {}).get("line_items", []),
                    "pages": [_page_lines(p) for p in doc.pages],
                }

    # -- workers ---------------------------------------------------------------------------------------

    def start_inline_worker(self) -> None:
        """With ``inline_worker`` a daemon thread runs the queue in this process (single-machine setups)."""
        if self.settings.inline_worker:
            self.queue.serve_in_thread(self.settings.job_queue, "docint-inline")

    def run_worker(self, name: str) -> list[int]:
        return self.queue.serve(self.settings.job_queue, name)

    def drain(self) -> None:
        """Run queued jobs to completion in this thread (tests, scripts, the demo loader)."""
        self.queue.drain(self.settings.job_queue)


def _page_lines(page: Page) -> dict[str, Any]:
    return {
        "number": page.number,
        "width": page.width,
        "height": page.height,
        "lines": [{"text": ln.text, "bbox": ln.bbox} for ln in page.lines],
    }
