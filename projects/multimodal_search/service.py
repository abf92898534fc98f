"""The multimodal search service: import (folder or upload) → background indexing → search.

Why imports are two steps: registering an image (validate the bytes completely, read EXIF, make the
thumbnail and perceptual hash, insert the row) is cheap and happens before anything is queued, so bad
input is refused or reported per file and nothing is half-stored; the expensive part — the image model,
OCR, the sentence model, the vector writes — runs in a job with real progress (images done / total),
and an image that fails there is marked ``failed`` with its error while the others carry on.

Vectors are ``shared.retrieval`` collections, one per embedding space (see ``spaces.py``); search runs
the platform ``Searcher`` (HNSW, full text, RRF, filters in SQL, MMR) and joins the hits to the image rows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from projects.multimodal_search.describe import DescriptionEncoder, ImageFacts, camera_name, index_text
from projects.multimodal_search.models import (
    ImageFilters,
    ImageOut,
    ImageSearchOptions,
    ImportOut,
    LibraryStats,
    SearchHit,
    SearchPage,
    SearchQuery,
)
from projects.multimodal_search.schema import ensure_schema
from projects.multimodal_search.settings import MultimodalSettings
from projects.multimodal_search.spaces import ClipTextEmbedder, Profile, Space, build_profile
from shared.db import connection
from shared.retrieval.jobs import JobQueue, Progress
from shared.retrieval.migrations import upgrade
from shared.retrieval.models import Chunk, Document, MetadataRange, Principal, SearchFilters
from shared.retrieval.search import Searcher, SearchRequest
from shared.retrieval.store import PgVectorStore
from shared.serving.base import Embedder
from shared.serving.vision import ImageEmbedder
from shared.vision.features import (
    THUMBNAIL_MEDIA_TYPES,
    dominant_colours,
    make_thumbnail,
    orientation_of,
    perceptual_hash,
)
from shared.vision.images import SUPPORTED_EXTENSIONS, ImageInputError, ImageLimits, LoadedImage, load_image

log = logging.getLogger(__name__)

IMPORT_TASK = "mms.import"
THUMBNAIL_FORMAT = "webp"
THUMBNAIL_MEDIA_TYPE = THUMBNAIL_MEDIA_TYPES[THUMBNAIL_FORMAT]
CAPTIONS_SIDECAR = "captions.json"
_IMAGE_COLUMNS = (
    "id::text, filename, source, caption, tags, media_type, size_bytes, width, height, orientation, n_frames, "
    "taken_at, camera_make, camera_model, gps_lat, gps_lon, colours, labels, ocr_text, duplicate_of::text, "
    "warnings, status, error, indexed_model, created_at"
)
_IMPORT_COLUMNS = (
    "id::text, kind, path, source, status, job_id, total, done, added, duplicates, failed, skipped, error, "
    "created_at, updated_at"
)


# indexed with another profile, or failed; queued/indexing images belong to a running import and are left to it
_NEEDS_REINDEX = "((status = 'indexed' AND indexed_model IS DISTINCT FROM %s) OR status = 'failed')"


class ImageNotFound(LookupError):
    pass


class ImportNotFound(LookupError):
    pass


class ImportStateError(RuntimeError):
    """The import is not in a state that allows the action (e.g. retrying a running import)."""


class FolderNotAllowed(PermissionError):
    """The folder is outside ``import_roots`` (checked before existence: no probing the server's disk)."""


class FolderMissing(ValueError):
    """The folder is inside ``import_roots`` but does not exist or is not a folder."""


@dataclass
class Registered:
    image_id: str
    duplicate: bool  # exact same content already in the library (nothing new stored)


@dataclass
class Models:
    """The models the service runs, injectable so orchestration tests can swap one (never the default)."""

    image: ImageEmbedder
    text: Embedder
    ocr: Callable[[Any], str] | None


def default_models(settings: MultimodalSettings) -> Models:
    from shared.serving import get_embedder
    from shared.serving.factory import get_image_embedder

    ocr = None
    if settings.ocr:
        from shared.vision.ocr import read_text

        def ocr(image: Any) -> str:
            return read_text(image, settings.ocr_max_side, settings.ocr_min_confidence).text

    return Models(image=get_image_embedder(), text=get_embedder(), ocr=ocr)


class MultimodalService:
    def __init__(self, url: str, settings: MultimodalSettings, models: Models | None = None) -> None:
        self.url = url
        self.settings = settings
        upgrade(url)  # shared tables: collections/chunks, job queue
        ensure_schema(url)
        self.models = models or default_models(settings)
        text_embedder = self.models.text
        self.profile: Profile = build_profile(self.models.image, text_embedder)
        self.store = PgVectorStore(url)
        for space in self.profile.spaces:
            self.store.create_collection(space.collection, embedding_model=space.model, embedding_dim=space.dim)
        query_embedder = ClipTextEmbedder(self.models.image) if self.profile.joint else text_embedder
        self.text_searcher = Searcher(self.store, query_embedder)
        self.image_searcher = Searcher(self.store, None)
        self.describer = None if self.profile.joint else DescriptionEncoder(text_embedder)
        self.limits = ImageLimits(
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
            max_side=settings.max_image_side,
            min_side=settings.min_image_side,
            max_aspect_ratio=settings.max_aspect_ratio,
        )
        self.queue = JobQueue(url)
        self.queue.task(IMPORT_TASK, queue=settings.job_queue, max_attempts=1)(self.run_import)

    @property
    def model(self) -> str:
        return self.models.image.model

    # -- registering images ----------------------------------------------------------------------------

    def register(
        self,
        user: Principal,
        import_id: str,
        filename: str,
        data: bytes,
        *,
        storage_path: Path | None = None,
        source: str,
        caption: str | None = None,
        tags: Sequence[str] = (),
        index_filename: bool = True,
    ) -> Registered:
        """Validate ``data`` completely, then store the image row (and the original, for uploads).

        Raises ``ImageInputError`` for bad input; nothing is stored then. ``storage_path`` = an imported
        file kept where it is; None = an upload, copied under ``media_dir`` by content hash.
        """
        loaded = load_image(data, filename, self.limits)
        with self._conn() as conn:
            row = conn.execute(
                "SELECT id::text FROM mms_images WHERE tenant_id = %s AND sha256 = %s", (user.tenant_id, loaded.sha256)
            ).fetchone()
        if row is not None:
            return Registered(row[0], duplicate=True)
        path = storage_path or self._store_original(loaded, data)
        return self._insert_image(user, import_id, filename, loaded, path, source, caption, tags, index_filename)

    def _store_original(self, loaded: LoadedImage, data: bytes) -> Path:
        """Content-addressed, written atomically (temp file + rename): a crash never leaves half a file."""
        target = self.settings.media_dir / loaded.sha256[:2] / f"{loaded.sha256}.{loaded.format}"  # sniffed type
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        return target

    def _insert_image(
        self,
        user: Principal,
        import_id: str,
        filename: str,
        loaded: LoadedImage,
        path: Path,
        source: str,
        caption: str | None,
        tags: Sequence[str],
        index_filename: bool,
    ) -> Registered:
        image = loaded.image
        phash = perceptual_hash(image)
        exif = loaded.exif
        image_id = str(uuid.uuid4())
        with self._conn() as conn, conn.transaction():
            near = conn.execute(
                "SELECT id::text FROM mms_images WHERE tenant_id = %s AND duplicate_of IS NULL "
                "AND bit_count((phash # %s)::bit(64)) <= %s ORDER BY created_at LIMIT 1",
                (user.tenant_id, phash, self.settings.near_duplicate_distance),
            ).fetchone()
            inserted = conn.execute(
                "INSERT INTO mms_images (id, tenant_id, created_by, import_id, sha256, storage_path, filename, "
                "index_filename, source, caption, tags, media_type, size_bytes, width, height, orientation, n_frames, "
                "taken_at, camera_make, camera_model, gps_lat, gps_lon, phash, duplicate_of, colours, warnings, "
                "thumbnail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, sha256) DO NOTHING RETURNING id::text",
                (
                    image_id, user.tenant_id, user.user_id, import_id, loaded.sha256, str(path), filename,
                    index_filename, source, caption, list(tags), loaded.media_type, loaded.size_bytes, loaded.width,
                    loaded.height, orientation_of(loaded.width, loaded.height), loaded.n_frames, exif.taken_at,
                    exif.camera_make, exif.camera_model, exif.gps_lat, exif.gps_lon, phash, near[0] if near else None,
                    dominant_colours(image), Jsonb(list(loaded.warnings)),
                    make_thumbnail(image, self.settings.thumbnail_side, THUMBNAIL_FORMAT),
                ),
            ).fetchone()  # fmt: skip
            if inserted is None:  # the same content raced in from another request
                existing = conn.execute(
                    "SELECT id::text FROM mms_images WHERE tenant_id = %s AND sha256 = %s",
                    (user.tenant_id, loaded.sha256),
                ).fetchone()
                return Registered(existing[0], duplicate=True)  # type: ignore[index]
        return Registered(image_id, duplicate=False)

    # -- imports ---------------------------------------------------------------------------------------

    def upload(
        self,
        user: Principal,
        files: Sequence[tuple[str, bytes]],
        *,
        source: str = "upload",
        caption: str | None = None,
        tags: Sequence[str] = (),
        index_filename: bool = True,
    ) -> dict[str, Any]:
        """Register every valid file, report the invalid ones, queue indexing of the new ones.

        Raises the first ``ImageInputError`` when *no* file is valid (the caller answers 4xx then)."""
        import_id = self._new_import(user, "upload", None, source, total=len(files))
        added: list[str] = []
        duplicates, skipped, first_error = 0, [], None
        for filename, data in files:
            try:
                reg = self.register(
                    user, import_id, filename, data, source=source, caption=caption, tags=tags,
                    index_filename=index_filename,
                )  # fmt: skip
            except ImageInputError as exc:
                first_error = first_error or exc
                skipped.append({"file": filename, "code": exc.code, "message": str(exc)})
                continue
            duplicates += reg.duplicate
            if not reg.duplicate:
                added.append(reg.image_id)
        if first_error is not None and not added and not duplicates:
            with self._conn() as conn:
                conn.execute("DELETE FROM mms_imports WHERE id = %s", (import_id,))
            raise first_error
        self._update_import(import_id, added=len(added), duplicates=duplicates, skipped=skipped, total=len(added))
        if added:
            self._enqueue(import_id)
        else:
            self._finish_import(import_id, "done")
        out = self.get_import(user, import_id)
        out["image_ids"] = added
        return out

    def import_folder(self, user: Principal, path: str, *, source: str | None = None, recursive: bool = True) -> dict:
        """Queue an import of every image file under ``path`` (which must be inside ``import_roots``)."""
        folder = Path(path).expanduser().resolve()  # symlinks and .. resolved before the root check
        roots = [Path(r).resolve() for r in self.settings.import_roots]
        if not any(folder == root or root in folder.parents for root in roots):
            allowed = ", ".join(str(r) for r in roots)
            raise FolderNotAllowed(
                f"folder {path!r} is outside the allowed import roots (MMSEARCH__IMPORT_ROOTS: {allowed})"
            )
        if not folder.is_dir():
            raise FolderMissing(f"{path!r} is not an existing folder")
        import_id = self._new_import(user, "folder", str(folder), source or folder.name, recursive=recursive)
        self._enqueue(import_id)
        return self.get_import(user, import_id)

    def reindex(self, user: Principal) -> dict[str, Any] | None:
        """Queue re-embedding of every image indexed with another model (or failed); None if none is stale."""
        with self._conn() as conn:
            stale = conn.execute(
                f"SELECT count(*) FROM mms_images WHERE tenant_id = %s AND {_NEEDS_REINDEX}",
                (user.tenant_id, self.profile.signature),
            ).fetchone()[0]  # type: ignore[index]
        if not stale:
            return None
        import_id = self._new_import(user, "reindex", None, "reindex", total=int(stale))
        self._enqueue(import_id)
        return self.get_import(user, import_id)

    def retry_import(self, user: Principal, import_id: str) -> dict[str, Any]:
        row = self.get_import(user, import_id)
        if row["status"] not in ("failed", "done"):
            raise ImportStateError(f"import is {row['status']}; only finished or failed imports can be retried")
        with self._conn() as conn:
            n = conn.execute(
                "UPDATE mms_images SET status = 'queued', error = NULL, updated_at = now() "
                "WHERE import_id = %s AND status = 'failed'",
                (import_id,),
            ).rowcount
            if n == 0 and row["status"] == "done" and row["kind"] != "folder":
                raise ImportStateError("nothing to retry: every image of this import is indexed")
            conn.execute(
                "UPDATE mms_imports SET status = 'queued', error = NULL, updated_at = now() WHERE id = %s",
                (import_id,),
            )
        self._enqueue(import_id)
        return self.get_import(user, import_id)

    def _new_import(self, user: Principal, kind: str, path: str | None, source: str, **extra: Any) -> str:
        import_id = str(uuid.uuid4())
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO mms_imports (id, tenant_id, created_by, kind, path, source, total, recursive) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (import_id, user.tenant_id, user.user_id, kind, path, source, extra.get("total", 0),
                 extra.get("recursive", True)),
            )  # fmt: skip
        return import_id

    def _enqueue(self, import_id: str) -> None:
        job_id = self.queue.enqueue(IMPORT_TASK, import_id=import_id)
        with self._conn() as conn:
            conn.execute("UPDATE mms_imports SET job_id = %s, updated_at = now() WHERE id = %s", (job_id, import_id))

    def _update_import(self, import_id: str, **fields: Any) -> None:
        sets = ", ".join(f"{k} = %s" for k in fields)
        values = [Jsonb(v) if k == "skipped" else v for k, v in fields.items()]
        with self._conn() as conn:
            conn.execute(f"UPDATE mms_imports SET {sets}, updated_at = now() WHERE id = %s", (*values, import_id))

    def _finish_import(self, import_id: str, status: str, error: str | None = None) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE mms_imports SET status = %s, error = %s, updated_at = now(), "
                "failed = (SELECT count(*) FROM mms_images WHERE import_id = %s AND status = 'failed') WHERE id = %s",
                (status, error, import_id, import_id),
            )

    # -- the job ---------------------------------------------------------------------------------------

    def run_import(self, import_id: str, progress: Progress | None = None) -> dict[str, Any]:
        """The job: scan (folder imports), then index every queued image of the import in batches.

        A systemic failure (database, model loading) fails the import with the error; it is retriable and
        resumes with the images not yet indexed. One bad image only fails that image."""
        with self._conn(dict_row) as conn:
            imp = conn.execute(
                "SELECT id::text, tenant_id, created_by, kind, path, source, recursive FROM mms_imports WHERE id = %s",
                (import_id,),
            ).fetchone()
        if imp is None:
            raise ImportNotFound(import_id)
        self._update_import(import_id, status="running", error=None)
        try:
            if imp["kind"] == "folder":
                self._scan_folder(imp, progress)
            elif imp["kind"] == "reindex":
                self._claim_stale(imp["tenant_id"], import_id)
            self._index_queued(import_id, progress)
        except Exception as exc:
            self._finish_import(import_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        self._finish_import(import_id, "done")
        self._drop_stale_collections()
        return {"import_id": import_id}

    def _scan_folder(self, imp: dict[str, Any], progress: Progress | None) -> None:
        folder = Path(imp["path"])
        files = sorted(p for p in (folder.rglob("*") if imp["recursive"] else folder.iterdir()) if p.is_file())
        candidates = [p for p in files if p.suffix.lower() in SUPPORTED_EXTENSIONS]
        sidecar = _read_sidecar(folder / CAPTIONS_SIDECAR)
        user = Principal(user_id=imp["created_by"], tenant_id=imp["tenant_id"])
        skipped: list[dict[str, str]] = []
        added = duplicates = 0
        self._update_import(imp["id"], total=len(candidates), done=0)
        for i, path in enumerate(candidates):
            rel = str(path.relative_to(folder))
            meta = sidecar.get(rel, {})
            try:
                if path.stat().st_size > self.settings.max_upload_bytes:
                    raise ImageInputError(
                        "too_large", f"{path.stat().st_size} bytes is over the {self.settings.max_upload_bytes} limit"
                    )
                caption, tags, source = _sidecar_fields(meta, imp["source"])
                reg = self.register(
                    user, imp["id"], path.name, path.read_bytes(), storage_path=path, source=source,
                    caption=caption, tags=tags,
                )  # fmt: skip
            except ImageInputError as exc:
                skipped.append({"file": rel, "code": exc.code, "message": str(exc)})
            except OSError as exc:
                skipped.append({"file": rel, "code": "unreadable", "message": str(exc)})
            else:
                added += not reg.duplicate
                duplicates += reg.duplicate
            if progress is not None and (i % 10 == 9 or i == len(candidates) - 1):
                progress.update(i + 1, len(candidates), "reading files")
        self._update_import(imp["id"], added=added, duplicates=duplicates, skipped=skipped, total=added)

    def _claim_stale(self, tenant_id: str, import_id: str) -> None:
        with self._conn() as conn:
            n = conn.execute(
                "UPDATE mms_images SET status = 'queued', import_id = %s, error = NULL, updated_at = now() "
                f"WHERE tenant_id = %s AND {_NEEDS_REINDEX}",
                (import_id, tenant_id, self.profile.signature),
            ).rowcount
        self._update_import(import_id, total=n)

    def _index_queued(self, import_id: str, progress: Progress | None) -> None:
        with self._conn() as conn:
            total = conn.execute(
                "SELECT count(*) FROM mms_images WHERE import_id = %s AND status IN ('queued', 'indexing')",
                (import_id,),
            ).fetchone()[0]  # type: ignore[index]
        done = 0
        while True:
            with self._conn(dict_row) as conn:
                batch = conn.execute(
                    "SELECT id::text, tenant_id, storage_path, filename, index_filename, source, caption, tags, "
                    "taken_at, width, height, orientation, camera_make, camera_model, colours, media_type, "
                    "size_bytes, duplicate_of::text FROM mms_images "
                    "WHERE import_id = %s AND status IN ('queued', 'indexing') ORDER BY created_at, id LIMIT %s",
                    (import_id, self.settings.index_batch_size),
                ).fetchall()
            if not batch:
                break
            self.index_rows(batch)
            done += len(batch)
            self._update_import(import_id, done=done)
            if progress is not None:
                progress.update(done, total, "indexing")

    def index_rows(self, rows: list[dict[str, Any]]) -> None:
        """Embed and store one batch; each image ends ``indexed`` or ``failed`` (never stuck in ``indexing``)."""
        ids = [r["id"] for r in rows]
        with self._conn() as conn:
            conn.execute("UPDATE mms_images SET status = 'indexing' WHERE id = ANY(%s::uuid[])", (ids,))
        images, ok = [], []
        for row in rows:
            try:
                data = Path(row["storage_path"]).read_bytes()
                images.append(load_image(data, row["filename"], self.limits).image)
                ok.append(row)
            except (OSError, ImageInputError) as exc:
                self._fail_image(row["id"], f"original unreadable: {exc}")
        if not ok:
            return
        if self.profile.joint:
            image_vectors = self.models.image.embed_images(images)
            labels: list[list[tuple[str, float]]] = [[] for _ in ok]
        else:
            analyses = self.models.image.analyze(images)  # type: ignore[attr-defined]
            image_vectors = np.stack([a.vector for a in analyses])
            labels = [list(a.labels) for a in analyses]
        ocr_texts = [self._ocr(img) for img in images]
        facts = [
            ImageFacts(
                filename=r["filename"], index_filename=r["index_filename"], caption=r["caption"], tags=list(r["tags"]),
                labels=lab, ocr_text=text, camera=camera_name(r["camera_make"], r["camera_model"]),
                colours=list(r["colours"]), orientation=r["orientation"],
            )
            for r, lab, text in zip(ok, labels, ocr_texts, strict=True)
        ]  # fmt: skip
        text_vectors = image_vectors if self.describer is None else self.describer.encode(facts)
        for row, fact, tvec, ivec in zip(ok, facts, text_vectors, image_vectors, strict=True):
            text = index_text(fact)
            self._upsert(self.profile.text, row, fact, text, tvec)
            if not self.profile.joint:
                self._upsert(self.profile.image, row, fact, text, ivec)
        with self._conn() as conn, conn.cursor() as cur:
            cur.executemany(
                "UPDATE mms_images SET status = 'indexed', error = NULL, labels = %s, ocr_text = %s, "
                "indexed_model = %s, indexed_at = now(), updated_at = now() WHERE id = %s",
                [
                    (Jsonb([[n, round(float(p), 4)] for n, p in f.labels]), f.ocr_text or None, self.profile.signature,
                     r["id"])
                    for r, f in zip(ok, facts, strict=True)
                ],
            )  # fmt: skip

    def _ocr(self, image: Any) -> str:
        if self.models.ocr is None:
            return ""
        try:
            return self.models.ocr(image)
        except Exception:  # OCR is an enrichment: an image it cannot read is still searchable by the rest
            log.warning("OCR failed on an image; indexing without text", exc_info=True)
            return ""

    def _upsert(self, space: Space, row: dict[str, Any], fact: ImageFacts, text: str, vector: np.ndarray) -> None:
        doc = Document(
            collection=space.collection,
            source_uri=row["id"],
            text=text,
            doc_type="image",
            title=row["filename"],
            source_date=row["taken_at"],
            tenant_id=row["tenant_id"],
            metadata={
                "source": row["source"],
                "tags": list(row["tags"]),
                "orientation": row["orientation"],
                "width": row["width"],
                "height": row["height"],
                "camera": row["camera_model"],
                "has_text": bool(fact.ocr_text.strip()),
                "group": row["duplicate_of"] or row["id"],
            },
        )
        chunk = Chunk(document_id=doc.id, ordinal=0, text=text)
        self.store.upsert_document(doc, [chunk], np.asarray(vector, dtype=np.float32)[None, :], force=True)

    def _fail_image(self, image_id: str, error: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE mms_images SET status = 'failed', error = %s, updated_at = now() WHERE id = %s",
                (error[:2000], image_id),
            )

    def _drop_stale_collections(self) -> None:
        """Once no image anywhere is still indexed with an older profile, its collections go."""
        current = {s.collection for s in self.profile.spaces}
        with self._conn() as conn:
            in_use = {
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT indexed_model FROM mms_images WHERE indexed_model IS NOT NULL"
                ).fetchall()
            }
        still_used = {c for sig in in_use for c in sig.split("|")}
        for coll in self.store.list_collections():
            if coll.name.startswith("mms-") and coll.name not in current and coll.name not in still_used:
                log.info("dropping collection %s: no image uses that model any more", coll.name)
                self.store.delete_collection(coll.name)

    # -- search ----------------------------------------------------------------------------------------

    def search(self, user: Principal, q: SearchQuery) -> dict[str, Any]:
        started = time.perf_counter()
        mode = {"hybrid": "hybrid", "vector": "dense", "text": "fulltext"}[q.mode]
        request = self._request(user, self.profile.text, mode, q.query, q.filters, q.page, q.page_size, q.mmr)
        results = self.text_searcher.search(request)
        return self._page(user, results, q, self.profile.text, started, query=q.query, mode=q.mode)

    def search_by_image(self, user: Principal, data: bytes, filename: str, opts: ImageSearchOptions) -> dict:
        """Image→image with an uploaded query image (validated like an upload, never stored)."""
        started = time.perf_counter()
        limits = dataclasses.replace(self.limits, max_bytes=self.settings.max_query_image_bytes)
        image = load_image(data, filename, limits).image
        vector = self.models.image.embed_images([image])[0]
        return self._vector_page(user, vector, opts, started, exclude=None)

    def similar(self, user: Principal, image_id: str, opts: ImageSearchOptions) -> dict[str, Any]:
        """ "More like this": the stored image's own vector as the query, the image itself left out."""
        started = time.perf_counter()
        self.get(user, image_id)  # 404 for another tenant's id
        space = self.profile.image
        vectors = self.vectors(space, [image_id])
        if image_id not in vectors:
            raise ImageNotFound(f"image {image_id} is not indexed with the current model yet")
        return self._vector_page(user, vectors[image_id], opts, started, exclude=image_id)

    def vectors(self, space: Space, image_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``image_ids`` in ``space`` (missing ids: not indexed with that model)."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT d.source_uri, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.collection = %s AND d.source_uri = ANY(%s)",
                (space.collection, list(image_ids)),
            ).fetchall()
        return {uri: np.asarray(vec.to_numpy(), dtype=np.float32) for uri, vec in rows}

    def _vector_page(
        self, user: Principal, vector: np.ndarray, opts: ImageSearchOptions, started: float, exclude: str | None
    ) -> dict[str, Any]:
        space = self.profile.image
        extra = 1 if exclude else 0
        request = self._request(user, space, "dense", "", opts.filters, opts.page, opts.page_size, opts.mmr, extra)
        results = self.image_searcher.search(request, query_vector=vector, vector_model=space.model)
        results = [r for r in results if r.source_uri != exclude]
        return self._page(user, results, opts, space, started, query=None, mode="image")

    def _request(
        self,
        user: Principal,
        space: Space,
        mode: str,
        query: str,
        filters: ImageFilters,
        page: int,
        page_size: int,
        mmr: bool,
        extra: int = 0,
    ) -> SearchRequest:
        # one more than the page asks for, to know whether there is a next page; collapsing duplicates and the
        # similarity cutoff can only remove rows, so fetch a margin for them too
        k = min(page * page_size + 1 + extra, self.settings.max_results)
        depth = min(max(k * 2, self.settings.candidates), 1000)
        return SearchRequest(
            collection=space.collection,
            query=query,
            principal=user,
            mode=mode,  # type: ignore[arg-type]
            k=min(depth, 200),
            candidates=depth,
            filters=_filters(filters),
            mmr=mmr,
            mmr_lambda=self.settings.mmr_lambda,
            lexical="any",
        )

    def _page(
        self, user: Principal, results: list, opts: Any, space: Space, started: float, *, query: str | None, mode: str
    ) -> dict[str, Any]:
        cutoff = opts.min_similarity if opts.min_similarity is not None else self.settings.min_similarity
        # the cutoff is on the vector similarity; a full-text match contains the query's words, so it stays
        kept = [
            r
            for r in results
            if cutoff is None or r.dense_score is None or r.dense_score >= cutoff or r.fulltext_rank is not None
        ]
        groups: dict[str, int] = {}
        if opts.collapse_duplicates:
            collapsed = []
            for r in kept:
                group = r.metadata.get("group", r.source_uri)
                if group in groups:
                    groups[group] += 1
                    continue
                groups[group] = 0
                collapsed.append(r)
            kept = collapsed
        start = (opts.page - 1) * opts.page_size
        page = kept[start : start + opts.page_size]
        images = {i["id"]: i for i in self._images(user, [r.source_uri for r in page])}
        hits = [
            SearchHit(
                image=ImageOut(**images[r.source_uri]),
                score=r.score,
                similarity=r.dense_score,
                vector_rank=r.dense_rank,
                text_rank=r.fulltext_rank,
                duplicates=groups.get(r.metadata.get("group", r.source_uri), 0),
            )
            for r in page
            if r.source_uri in images
        ]
        return SearchPage(
            query=query,
            mode=mode,
            space=space.collection,
            model=space.model,
            page=opts.page,
            page_size=opts.page_size,
            has_more=len(kept) > start + opts.page_size,
            hits=hits,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        ).model_dump()

    # -- reads -----------------------------------------------------------------------------------------

    def _images(self, user: Principal, ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(ids)
        if not ids:
            return []
        with self._conn(dict_row) as conn:
            rows = conn.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM mms_images WHERE tenant_id = %s AND id = ANY(%s::uuid[])",
                (user.tenant_id, ids),
            ).fetchall()
        return [self._image_out(r) for r in rows]

    def _image_out(self, row: dict[str, Any]) -> dict[str, Any]:
        row["stale"] = row["status"] == "indexed" and row["indexed_model"] != self.profile.signature
        row["thumbnail_url"] = f"images/{row['id']}/thumbnail"
        row["original_url"] = f"images/{row['id']}/original"
        row["labels"] = [tuple(x) for x in row["labels"]]
        return row

    def get(self, user: Principal, image_id: str) -> dict[str, Any]:
        try:
            uuid.UUID(image_id)
        except ValueError as exc:
            raise ImageNotFound(f"no image {image_id!r}") from exc
        rows = self._images(user, [image_id])
        if not rows:
            raise ImageNotFound(f"no image {image_id!r}")
        return rows[0]

    def list_images(
        self, user: Principal, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        with self._conn(dict_row) as conn:
            rows = conn.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM mms_images WHERE tenant_id = %s AND (%s::text IS NULL OR status = %s) "
                "ORDER BY coalesce(taken_at, created_at) DESC, id LIMIT %s OFFSET %s",
                (user.tenant_id, status, status, limit, offset),
            ).fetchall()
        return [self._image_out(r) for r in rows]

    def thumbnail(self, user: Principal, image_id: str) -> bytes:
        self.get(user, image_id)
        with self._conn() as conn:
            return bytes(conn.execute("SELECT thumbnail FROM mms_images WHERE id = %s", (image_id,)).fetchone()[0])  # type: ignore[index]

    def original(self, user: Principal, image_id: str) -> tuple[bytes, str]:
        image = self.get(user, image_id)
        with self._conn() as conn:
            path = conn.execute("SELECT storage_path FROM mms_images WHERE id = %s", (image_id,)).fetchone()[0]  # type: ignore[index]
        try:
            return Path(path).read_bytes(), image["media_type"]
        except OSError as exc:
            raise ImageNotFound(f"the original of image {image_id} is gone from {path}") from exc

    def delete(self, user: Principal, image_id: str) -> None:
        self.get(user, image_id)
        with self._conn() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM documents WHERE source_uri = %s AND collection LIKE 'mms-%%' AND tenant_id = %s",
                (image_id, user.tenant_id),
            )
            conn.execute("UPDATE mms_images SET duplicate_of = NULL WHERE duplicate_of = %s", (image_id,))
            conn.execute("DELETE FROM mms_images WHERE id = %s", (image_id,))

    def get_import(self, user: Principal, import_id: str) -> dict[str, Any]:
        try:
            uuid.UUID(import_id)
        except ValueError as exc:
            raise ImportNotFound(f"no import {import_id!r}") from exc
        with self._conn(dict_row) as conn:
            row = conn.execute(
                f"SELECT {_IMPORT_COLUMNS} FROM mms_imports WHERE id = %s AND tenant_id = %s",
                (import_id, user.tenant_id),
            ).fetchone()
        if row is None:
            raise ImportNotFound(f"no import {import_id!r}")
        return ImportOut(**row).model_dump()

    def list_imports(self, user: Principal, limit: int = 20) -> list[dict[str, Any]]:
        with self._conn(dict_row) as conn:
            rows = conn.execute(
                f"SELECT {_IMPORT_COLUMNS} FROM mms_imports WHERE tenant_id = %s ORDER BY created_at DESC LIMIT %s",
                (user.tenant_id, limit),
            ).fetchall()
        return [ImportOut(**r).model_dump() for r in rows]

    def stats(self, user: Principal) -> dict[str, Any]:
        t = user.tenant_id
        with self._conn() as conn:
            by_status = dict(
                conn.execute("SELECT status, count(*) FROM mms_images WHERE tenant_id = %s GROUP BY 1", (t,)).fetchall()
            )
            stale, dups, first, last = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'indexed' AND indexed_model IS DISTINCT FROM %s), "
                "count(*) FILTER (WHERE duplicate_of IS NOT NULL), min(taken_at), max(taken_at) "
                "FROM mms_images WHERE tenant_id = %s",
                (self.profile.signature, t),
            ).fetchone()  # type: ignore[misc]

            def distinct(expr: str) -> list[str]:
                q = f"SELECT DISTINCT {expr} AS v FROM mms_images WHERE tenant_id = %s ORDER BY 1"
                return [r[0] for r in conn.execute(q, (t,)).fetchall() if r[0]]

            sources, tags, cameras = distinct("source"), distinct("unnest(tags)"), distinct("camera_model")
        return LibraryStats(
            images=sum(by_status.values()),
            by_status=by_status,
            stale=stale,
            near_duplicates=dups,
            model=self.model,
            text_space=self.profile.text.collection,
            image_space=self.profile.image.collection,
            sources=sources,
            tags=tags,
            cameras=cameras,
            taken_from=first,
            taken_to=last,
        ).model_dump()

    # -- workers ---------------------------------------------------------------------------------------

    def start_inline_worker(self) -> None:
        """With ``inline_worker`` a daemon thread runs the queue in this process (single-machine setups)."""
        if self.settings.inline_worker:
            self.queue.serve_in_thread(self.settings.job_queue, "mms-inline")

    def run_worker(self, name: str) -> list[int]:
        return self.queue.serve(self.settings.job_queue, name)

    def drain(self) -> None:
        """Run queued jobs to completion in this thread (tests, scripts, the demo loader)."""
        self.queue.drain(self.settings.job_queue)

    def _conn(self, row_factory: Any = tuple_row) -> AbstractContextManager[psycopg.Connection]:
        """A connection from the shared pool: one transaction per block, committed when it ends."""
        return connection(self.url, row_factory)


def _filters(f: ImageFilters) -> SearchFilters:
    ranges = {}
    if f.min_width:
        ranges["width"] = MetadataRange(min=f.min_width)
    if f.min_height:
        ranges["height"] = MetadataRange(min=f.min_height)
    exact: dict[str, Any] = {}
    if f.orientation:
        exact["orientation"] = f.orientation
    if f.camera:
        exact["camera"] = f.camera
    if f.has_text is not None:
        exact["has_text"] = f.has_text
    return SearchFilters(
        date_from=f.date_from,
        date_to=f.date_to,
        tags_any=f.tags or None,
        metadata=exact or None,
        metadata_in={"source": f.sources} if f.sources else None,
        metadata_ranges=ranges or None,
    )


def _sidecar_fields(meta: dict[str, Any], default_source: str) -> tuple[str | None, list[str], str]:
    """The sidecar is user data: keep strings only, within the same limits the upload API enforces."""
    caption = meta.get("caption") if isinstance(meta.get("caption"), str) else None
    raw_tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
    tags = [t.strip()[:64] for t in raw_tags if isinstance(t, str) and t.strip()][:50]
    source = meta.get("source") if isinstance(meta.get("source"), str) and meta["source"].strip() else default_source
    return (caption[:2000] if caption else None), tags, source[:200]


def _read_sidecar(path: Path) -> dict[str, dict[str, Any]]:
    """``captions.json`` beside imported images: ``[{"file", "caption", "tags", "source"}]`` (all but file optional).

    A broken sidecar is ignored with a warning: captions are an enrichment, the images still import."""
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {str(e["file"]): e for e in entries if isinstance(e, dict) and "file" in e}
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
