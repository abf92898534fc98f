"""The code index in PostgreSQL: repositories, file states, symbols, references and run history (``ca_*`` tables)
plus the chunks and their vectors in the platform's retrieval tables (one collection per repository).

Why the write of one file takes three steps. ``PgVectorStore.upsert_document`` borrows its own pooled connection
and commits its own transaction, so it cannot join ours. The order that keeps the index consistent whatever
point a run is interrupted at is:

1. the file's ``ca_files`` row is written with ``sha256 = NULL`` ("write in progress") in one transaction for the
   batch's files;
2. ``upsert_document`` replaces the file's chunks and vectors atomically (readers see old or new chunks, never a
   mix);
3. one transaction replaces the file's symbols and references and sets its ``sha256``: the row with its hash is
   written last.

A run that stops after 1 or 2 leaves the row with a NULL hash: :meth:`CodeIndexStore.file_states` reports it, the
next run sees a hash mismatch and writes the file again, and if the file is gone from disk by then its path is
still known, so :meth:`CodeIndexStore.delete_files` removes its chunks too (no orphan chunks that no file row
points to). Deletion uses the same order (mark, remove chunks, remove rows). Writers of one repository are
serialised by a PostgreSQL advisory lock held on a dedicated connection (the pool stays free for step 2), so two
concurrent runs cannot interleave the steps of one file.

The retrieval ``documents`` row stores only a hash of ``Document.text``, never the text, so the Document's text
is ``"sha256:<file hash>"`` rather than the file: re-reading every file to hash it again would cost I/O for
nothing, and the chunks already hold the code. ``force=True`` replaces the chunks whenever this store decided the
file changed (its own ``ca_files`` hash is the source of truth).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from projects.code_assistant.schema import REPO_KINDS, REPO_STATUSES, RUN_STATUSES, ensure_schema
from projects.code_assistant.settings import CodeSettings, get_code_settings
from projects.code_assistant.types import CodeChunk, ParsedFile, SourceFile
from shared.db import connect, connection
from shared.retrieval import Chunk, Document, PgVectorStore, Principal, StoreError
from shared.retrieval.models import document_id
from shared.serving.base import Embedder

log = logging.getLogger(__name__)

TENANT = "code-assistant"
# every code chunk is written for this tenant and public: repositories are isolated by collection, not by ACL
PRINCIPAL = Principal(user_id="code-assistant", tenant_id=TENANT)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_READY: set[str] = set()
# what one file's content can cause (bad text, a constraint, an index row too large for a giant identifier): the
# file is reported and the batch goes on; a lost connection or a bug still raises
_FILE_ERRORS = (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.ProgramLimitExceeded, StoreError, ValueError)
_READY_LOCK = threading.Lock()


class RepoError(Exception):
    pass


class RepoNotFoundError(RepoError):
    pass


class RepoConflictError(RepoError):
    """The id is taken by a repository at another root path."""


def slugify(name: str) -> str:
    """A repository id from its name: lowercase letters, digits and dashes, at most 48 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-")
    return slug or "repo"


def collection_name(repo_id: str) -> str:
    return f"code-{repo_id}"


def _lock_key(repo_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"ca_repo:{repo_id}".encode()).digest()[:8], "big", signed=True)


def _clean(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a stray NUL in a source file should not make the file unindexable."""
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text


@dataclass(frozen=True, slots=True)
class RepoInfo:
    id: str
    name: str
    root_path: str
    kind: str
    head_commit: str | None
    status: str
    error: str | None
    n_files: int
    n_symbols: int
    n_chunks: int
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None

    @property
    def collection(self) -> str:
        return collection_name(self.id)


class FileState(NamedTuple):
    """What the index holds for a path; ``sha256 is None``: a write started and did not finish (re-index it)."""

    sha256: str | None
    mtime_ns: int
    size: int


@dataclass(slots=True)
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # same hash, new mtime/size: only the row was updated
    failed: dict[str, str] = field(default_factory=dict)
    chunks: int = 0
    symbols: int = 0


@dataclass(slots=True)
class RunStats:
    """Counts of one index run; the orchestration fills it as it goes and hands it to :meth:`finish_run`."""

    seen: int = 0
    indexed: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    chunks: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> files ("binary", "too_large", "ignored", ...)


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    repo_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    files_seen: int
    files_indexed: int
    files_unchanged: int
    files_deleted: int
    files_failed: int
    chunks_written: int
    skipped: dict[str, int]
    error: str | None
    duration_s: float | None


def _validate(src: SourceFile, parsed: ParsedFile) -> None:
    """Refuse a parse that would violate the tables' constraints *before* anything of the file is touched."""
    if parsed.path != src.path:
        raise ValueError(f"parsed path {parsed.path!r} is not the file's path {src.path!r}")
    for c in parsed.chunks:
        if c.start_line < 1 or c.end_line < c.start_line:
            raise ValueError(f"chunk lines {c.start_line}-{c.end_line} are not a range")
    for s in parsed.symbols:
        if s.start_line < 1 or s.end_line < s.start_line:
            raise ValueError(f"symbol {s.qualname!r} lines {s.start_line}-{s.end_line} are not a range")
    for r in parsed.references:
        if r.line < 1:
            raise ValueError(f"reference {r.name!r} at line {r.line}")


def embedding_text(chunk: CodeChunk) -> str:
    """What the embedder sees: path and signature first (the embedder truncates long inputs, and "where is X"
    questions name files and functions), then the code. The stored chunk text stays the code alone, so citations
    and snippets show exactly the lines."""
    header = chunk.path if not chunk.signature else f"{chunk.path}\n{chunk.signature}"
    return f"{header}\n{chunk.text}"


class CodeIndexStore:
    """Repositories, their files' index state, symbols, references and chunks. Thread-safe; one per process."""

    def __init__(self, url: str, embedder: Embedder, settings: CodeSettings | None = None) -> None:
        self.url = url
        self.embedder = embedder
        self.settings = settings or get_code_settings()
        self.vectors = PgVectorStore(url)
        self._ensure_ready()

    def _ensure_ready(self) -> None:
        with _READY_LOCK:
            if self.url in _READY:
                return
            from shared.retrieval import upgrade

            upgrade(self.url)  # the shared collections/documents/chunks tables
            ensure_schema(self.url)
            _READY.add(self.url)

    @contextmanager
    def _locked(self, repo_id: str) -> Iterator[psycopg.Connection]:
        """A dedicated connection holding the repository's write lock (released when it closes)."""
        conn = connect(self.url)
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (_lock_key(repo_id),))
            conn.commit()
            yield conn
        finally:
            conn.close()

    # -- repositories -----------------------------------------------------------------------------------

    def create_repo(
        self,
        name: str,
        root_path: str,
        kind: str = "folder",
        *,
        repo_id: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> RepoInfo:
        """Register a repository (idempotent for the same id and root); its vector collection is created first,
        so a repository row never exists without one."""
        if kind not in REPO_KINDS:
            raise ValueError(f"kind must be one of {REPO_KINDS}")
        rid = repo_id or slugify(name)
        if not _SLUG.match(rid):
            raise ValueError(f"repository id {rid!r} must match {_SLUG.pattern}")
        with self._locked(rid) as conn:
            existing = self.get_repo(rid)
            if existing is not None:
                if existing.root_path != root_path:
                    raise RepoConflictError(f"repository {rid!r} already indexes {existing.root_path}")
                return existing
            coll = collection_name(rid)
            self.vectors.delete_collection(coll)  # a leftover of a delete_repo interrupted after its first step
            self.vectors.create_collection(
                coll,
                embedding_model=self.embedder.model,
                embedding_dim=self.embedder.dim,
                metadata={"repo_id": rid, "kind": "code"},
            )
            with conn.transaction():
                conn.execute(
                    "INSERT INTO ca_repos (id, name, root_path, kind, settings) VALUES (%s, %s, %s, %s, %s)",
                    (rid, name, root_path, kind, Jsonb(dict(settings or {}))),
                )
        repo = self.get_repo(rid)
        assert repo is not None
        return repo

    def get_repo(self, repo_id: str) -> RepoInfo | None:
        with connection(self.url, row_factory=dict_row) as conn:
            row = conn.execute("SELECT * FROM ca_repos WHERE id = %s", (repo_id,)).fetchone()
        return RepoInfo(**row) if row else None

    def require_repo(self, repo_id: str) -> RepoInfo:
        repo = self.get_repo(repo_id)
        if repo is None:
            raise RepoNotFoundError(f"no repository {repo_id!r}")
        return repo

    def list_repos(self) -> list[RepoInfo]:
        with connection(self.url, row_factory=dict_row) as conn:
            rows = conn.execute("SELECT * FROM ca_repos ORDER BY id").fetchall()
        return [RepoInfo(**r) for r in rows]

    def delete_repo(self, repo_id: str) -> bool:
        """Remove the repository, its files, symbols, references, runs (one cascading statement) and then its
        collection. Interrupted in between, the orphan collection is unreachable and ``create_repo`` clears it."""
        with self._locked(repo_id) as conn:
            with conn.transaction():
                deleted = conn.execute("DELETE FROM ca_repos WHERE id = %s", (repo_id,)).rowcount > 0
            self.vectors.delete_collection(collection_name(repo_id))
        return deleted

    def set_status(
        self, repo_id: str, status: str, *, error: str | None = None, head_commit: str | None = None
    ) -> None:
        """Move the repository to ``status`` and refresh its counts; ``head_commit`` is kept unless given."""
        if status not in REPO_STATUSES:
            raise ValueError(f"status must be one of {REPO_STATUSES}")
        with connection(self.url) as conn:
            cur = conn.execute(
                "UPDATE ca_repos SET status = %s, error = %s, head_commit = COALESCE(%s, head_commit), "
                "updated_at = now(), indexed_at = CASE WHEN %s = 'ready' THEN now() ELSE indexed_at END "
                "WHERE id = %s",
                (status, error, head_commit, status, repo_id),
            )
            if cur.rowcount == 0:
                raise RepoNotFoundError(f"no repository {repo_id!r}")
            self._refresh_counts(conn, repo_id)

    @staticmethod
    def _refresh_counts(conn: psycopg.Connection, repo_id: str) -> None:
        conn.execute(
            "UPDATE ca_repos r SET n_files = s.files, n_symbols = s.symbols, n_chunks = s.chunks FROM ("
            "SELECT count(*) AS files, COALESCE(sum(n_symbols), 0) AS symbols, COALESCE(sum(n_chunks), 0) AS chunks "
            "FROM ca_files WHERE repo_id = %s AND sha256 IS NOT NULL) s WHERE r.id = %s",
            (repo_id, repo_id),
        )

    def counts(self, repo_id: str) -> dict[str, int]:
        """Live counts: completely indexed files, their symbols and chunks, and files awaiting a rewrite."""
        with connection(self.url) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE sha256 IS NOT NULL), "
                "COALESCE(sum(n_symbols) FILTER (WHERE sha256 IS NOT NULL), 0), "
                "COALESCE(sum(n_chunks) FILTER (WHERE sha256 IS NOT NULL), 0), count(*) FILTER (WHERE sha256 IS NULL) "
                "FROM ca_files WHERE repo_id = %s",
                (repo_id,),
            ).fetchone()
        assert row is not None
        return {"files": int(row[0]), "symbols": int(row[1]), "chunks": int(row[2]), "pending": int(row[3])}

    # -- files ------------------------------------------------------------------------------------------

    def file_states(self, repo_id: str, paths: Sequence[str] | None = None) -> dict[str, FileState]:
        """path -> (sha256, mtime_ns, size) for the repository's files (or only ``paths``)."""
        query = "SELECT path, sha256, mtime_ns, size FROM ca_files WHERE repo_id = %s"
        params: tuple[Any, ...] = (repo_id,)
        if paths is not None:
            query += " AND path = ANY(%s)"
            params = (repo_id, list(paths))
        with connection(self.url) as conn:
            return {r[0]: FileState(r[1], int(r[2]), int(r[3])) for r in conn.execute(query, params)}

    def write_files(self, repo_id: str, items: Sequence[tuple[SourceFile, str, ParsedFile]]) -> WriteReport:
        """Index a batch of parsed files: unchanged hashes are skipped, every changed file's chunks are embedded
        (in calls of ``embed_batch_chunks``), then each file is written in the order the module docstring explains.

        A file whose parse is invalid, or whose write fails in the database, is reported in ``failed`` and the
        others are still written. An embedder failure raises before anything of the batch is written.
        """
        report = WriteReport()
        latest: dict[str, tuple[SourceFile, str, ParsedFile]] = {src.path: (src, sha, p) for src, sha, p in items}
        if not latest:
            return report
        self.require_repo(repo_id)
        changed = self._split_unchanged(repo_id, latest, report, self.file_states(repo_id, list(latest)))
        valid: list[tuple[SourceFile, str, ParsedFile]] = []
        for src, sha, parsed in changed:
            try:
                _validate(src, parsed)
                valid.append((src, sha, parsed))
            except ValueError as exc:
                report.failed[src.path] = str(exc)
        vectors = self._embed([p for _, _, p in valid])  # outside the lock: concurrent writers embed in parallel
        coll = collection_name(repo_id)
        with self._locked(repo_id) as conn:
            # another writer may have written some of these files while we embedded
            states = self._states(conn, repo_id, [src.path for src, _, _ in valid])
            todo = []
            for item, vecs in zip(valid, vectors, strict=True):
                state = states.get(item[0].path)
                if state is not None and state.sha256 == item[1]:
                    report.unchanged.append(item[0].path)
                else:
                    todo.append((item, vecs))
            if todo:
                self._mark_pending(conn, repo_id, [src for (src, _, _), _ in todo])
            for (src, sha, parsed), vecs in todo:
                try:
                    self._write_one(conn, repo_id, coll, src, sha, parsed, vecs)
                except _FILE_ERRORS as exc:
                    log.warning("indexing %s failed: %s", src.path, exc)
                    report.failed[src.path] = f"{type(exc).__name__}: {exc}"
                    continue
                report.written.append(src.path)
                report.chunks += len(parsed.chunks)
                report.symbols += len(parsed.symbols)
        return report

    def _split_unchanged(
        self,
        repo_id: str,
        latest: dict[str, tuple[SourceFile, str, ParsedFile]],
        report: WriteReport,
        states: dict[str, FileState],
    ) -> list[tuple[SourceFile, str, ParsedFile]]:
        """Same hash as stored: a no-op (only mtime/size refreshed, so the next run's mtime check is cheap)."""
        changed, touched = [], []
        for src, sha, parsed in latest.values():
            state = states.get(src.path)
            if state is None or state.sha256 != sha:
                changed.append((src, sha, parsed))
            elif (state.mtime_ns, state.size) != (src.mtime_ns, src.size):
                touched.append(src)
            else:
                report.unchanged.append(src.path)
        if touched:
            with connection(self.url) as conn, conn.cursor() as cur:
                cur.executemany(
                    "UPDATE ca_files SET mtime_ns = %s, size = %s WHERE repo_id = %s AND path = %s",
                    [(s.mtime_ns, s.size, repo_id, s.path) for s in touched],
                )
            report.touched.extend(s.path for s in touched)
        return changed

    @staticmethod
    def _states(conn: psycopg.Connection, repo_id: str, paths: list[str]) -> dict[str, FileState]:
        with conn.transaction():
            rows = conn.execute(
                "SELECT path, sha256, mtime_ns, size FROM ca_files WHERE repo_id = %s AND path = ANY(%s)",
                (repo_id, paths),
            ).fetchall()
        return {r[0]: FileState(r[1], int(r[2]), int(r[3])) for r in rows}

    def _embed(self, files: Sequence[ParsedFile]) -> list[np.ndarray]:
        """One embedder call per ``embed_batch_chunks`` chunks across the batch; split back per file."""
        texts = [embedding_text(c) for p in files for c in p.chunks]
        step = self.settings.embed_batch_chunks
        parts = [self.embedder.embed(texts[i : i + step]) for i in range(0, len(texts), step)]
        matrix = np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), dtype=np.float32)
        out, start = [], 0
        for p in files:
            out.append(matrix[start : start + len(p.chunks)])
            start += len(p.chunks)
        return out

    @staticmethod
    def _mark_pending(conn: psycopg.Connection, repo_id: str, files: Sequence[SourceFile]) -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ca_files (repo_id, path, language, size, mtime_ns, sha256) "
                "VALUES (%s, %s, %s, %s, %s, NULL) ON CONFLICT (repo_id, path) DO UPDATE SET sha256 = NULL",
                [(repo_id, f.path, f.language, f.size, f.mtime_ns) for f in files],
            )

    def _write_one(
        self,
        conn: psycopg.Connection,
        repo_id: str,
        coll: str,
        src: SourceFile,
        sha: str,
        parsed: ParsedFile,
        vectors: np.ndarray,
    ) -> None:
        document = Document(
            collection=coll,
            source_uri=src.path,
            text=f"sha256:{sha}",
            doc_type="other",
            title=src.path,
            metadata={"language": parsed.language},
            tenant_id=TENANT,
        )
        if parsed.chunks:
            chunks = [
                Chunk(
                    document_id=document.id,
                    ordinal=i,
                    text=_clean(c.text) or "",
                    section=c.symbol,
                    metadata={
                        "path": src.path,
                        "start_line": c.start_line,
                        "end_line": c.end_line,
                        "kind": c.kind,
                        "symbol": c.symbol,
                        "signature": _clean(c.signature),
                        "language": c.language,
                    },
                )
                for i, c in enumerate(parsed.chunks)
            ]
            self.vectors.upsert_document(document, chunks, vectors, force=True)
        else:
            self.vectors.delete_document(coll, document.id)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM ca_symbols WHERE repo_id = %s AND path = %s", (repo_id, src.path))
            cur.execute("DELETE FROM ca_references WHERE repo_id = %s AND path = %s", (repo_id, src.path))
            if parsed.symbols:
                with cur.copy(
                    "COPY ca_symbols (repo_id, path, name, qualname, kind, start_line, end_line, signature, "
                    "docstring, parent) FROM STDIN"
                ) as copy:
                    for s in parsed.symbols:
                        copy.write_row(
                            (repo_id, src.path, _clean(s.name), _clean(s.qualname), s.kind, s.start_line, s.end_line,
                             _clean(s.signature) or "", _clean(s.docstring), _clean(s.parent))
                        )  # fmt: skip
            if parsed.references:
                with cur.copy("COPY ca_references (repo_id, path, name, line, kind) FROM STDIN") as copy:
                    for r in parsed.references:
                        copy.write_row((repo_id, src.path, _clean(r.name), r.line, r.kind))
            cur.execute(
                "INSERT INTO ca_files (repo_id, path, language, size, mtime_ns, sha256, n_symbols, n_chunks, "
                "parse_error, indexed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
                "ON CONFLICT (repo_id, path) DO UPDATE SET language = EXCLUDED.language, size = EXCLUDED.size, "
                "mtime_ns = EXCLUDED.mtime_ns, sha256 = EXCLUDED.sha256, n_symbols = EXCLUDED.n_symbols, "
                "n_chunks = EXCLUDED.n_chunks, parse_error = EXCLUDED.parse_error, indexed_at = now()",
                (repo_id, src.path, parsed.language, src.size, src.mtime_ns, sha, len(parsed.symbols),
                 len(parsed.chunks), _clean(parsed.error)),
            )  # fmt: skip

    def delete_files(self, repo_id: str, paths: Sequence[str]) -> int:
        """Remove files from the index (mark, drop chunks, drop rows: see the module docstring); returns how many
        were indexed."""
        if not paths:
            return 0
        coll = collection_name(repo_id)
        with self._locked(repo_id) as conn:
            with conn.transaction():
                present = [
                    r[0]
                    for r in conn.execute(
                        "UPDATE ca_files SET sha256 = NULL WHERE repo_id = %s AND path = ANY(%s) RETURNING path",
                        (repo_id, list(paths)),
                    )
                ]
            for path in present:
                self.vectors.delete_document(coll, document_id(coll, path))
            with conn.transaction():
                for table in ("ca_symbols", "ca_references", "ca_files"):
                    conn.execute(f"DELETE FROM {table} WHERE repo_id = %s AND path = ANY(%s)", (repo_id, present))
        return len(present)

    # -- runs -------------------------------------------------------------------------------------------

    def start_run(self, repo_id: str) -> int:
        with connection(self.url) as conn:
            row = conn.execute("INSERT INTO ca_index_runs (repo_id) VALUES (%s) RETURNING id", (repo_id,)).fetchone()
        assert row is not None
        return int(row[0])

    def finish_run(self, run_id: int, status: str, stats: RunStats, *, error: str | None = None) -> None:
        """Record the run's outcome and refresh the repository's counts."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"a finished run's status is one of {RUN_STATUSES[1:]}")
        with connection(self.url) as conn:
            row = conn.execute(
                "UPDATE ca_index_runs SET finished_at = clock_timestamp(), status = %s, files_seen = %s, "
                "files_indexed = %s, files_unchanged = %s, files_deleted = %s, files_failed = %s, chunks_written = %s, "
                "skipped = %s, error = %s, duration_s = extract(epoch FROM clock_timestamp() - started_at) "
                "WHERE id = %s RETURNING repo_id",
                (status, stats.seen, stats.indexed, stats.unchanged, stats.deleted, stats.failed, stats.chunks,
                 Jsonb(stats.skipped), error, run_id),
            ).fetchone()  # fmt: skip
            if row is None:
                raise ValueError(f"no index run {run_id}")
            self._refresh_counts(conn, row[0])

    def last_run(self, repo_id: str) -> RunInfo | None:
        with connection(self.url, row_factory=dict_row) as conn:
            row = conn.execute(
                "SELECT * FROM ca_index_runs WHERE repo_id = %s ORDER BY id DESC LIMIT 1", (repo_id,)
            ).fetchone()
        return RunInfo(**row) if row else None
