"""HTTP layer of multimodal search (mounted by the platform under ``/search``; standalone via ``app.py``).

Routes translate HTTP to :class:`MultimodalService` calls and errors to RFC 7807 problems. The caller
comes from the shared identity headers (``X-User-Id``, ``X-Tenant-Id``); every image is tenant-scoped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from projects.multimodal_search.models import (
    ImageOut,
    ImageSearchOptions,
    ImportOut,
    LibraryStats,
    SearchPage,
    SearchQuery,
)
from projects.multimodal_search.service import (
    THUMBNAIL_MEDIA_TYPE,
    FolderMissing,
    FolderNotAllowed,
    ImageNotFound,
    ImportNotFound,
    ImportStateError,
    MultimodalService,
)
from projects.multimodal_search.settings import MultimodalSettings, get_multimodal_settings
from shared.api.context import ServiceContext, lazy_service
from shared.api.identity import principal_dep
from shared.api.problems import PROBLEM_TYPE_BASE, ProblemError, problem_responses
from shared.retrieval.models import Principal
from shared.vision.images import ImageInputError

_INPUT_STATUS = {"too_large": 413, "unsupported_type": 415}
_TITLES = {403: "Forbidden", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content"}
MAX_FILES_PER_UPLOAD = 100


class FolderImportIn(BaseModel):
    path: str = Field(min_length=1, max_length=4096, description="a folder inside MMSEARCH__IMPORT_ROOTS")
    source: str | None = Field(default=None, max_length=200, description="album name; default: the folder's name")
    recursive: bool = True


class ReindexOut(BaseModel):
    queued: bool = Field(description="false: every image is already indexed with the running model")
    job: ImportOut | None = None


def input_problem(exc: ImageInputError) -> ProblemError:
    """An image refused by validation: 413 (size), 415 (not an image we read) or 422 (content), stable ``type``."""
    code = _INPUT_STATUS.get(exc.code, 422)
    return ProblemError(code, _TITLES[code], str(exc), type_=PROBLEM_TYPE_BASE + exc.code.replace("_", "-"))


@contextmanager
def service_problems() -> Iterator[None]:
    """The service's exceptions as RFC 7807 problems: one mapping for every route."""
    try:
        yield
    except ImageInputError as exc:
        raise input_problem(exc) from None
    except (ImageNotFound, ImportNotFound) as exc:
        raise ProblemError(404, "Not Found", str(exc), type_=PROBLEM_TYPE_BASE + "not-found") from None
    except ImportStateError as exc:
        raise ProblemError(409, "Conflict", str(exc), type_=PROBLEM_TYPE_BASE + "invalid-state") from None
    except FolderNotAllowed as exc:
        raise ProblemError(403, "Forbidden", str(exc), type_=PROBLEM_TYPE_BASE + "folder-not-allowed") from None
    except FolderMissing as exc:
        raise ProblemError(422, "Unprocessable Content", str(exc), type_=PROBLEM_TYPE_BASE + "no-such-folder") from None


def _tags(raw: str | None) -> list[str]:
    tags = [t.strip() for t in (raw or "").split(",") if t.strip()]
    if len(tags) > 50 or any(len(t) > 64 for t in tags):
        raise ProblemError(422, "Unprocessable Content", "at most 50 tags of at most 64 characters each")
    return tags


def create_router(
    ctx: ServiceContext, settings: MultimodalSettings | None = None, service: MultimodalService | None = None
) -> APIRouter:
    """Build the router; the service (schema, models, inline worker) starts on the first request."""
    settings = settings or get_multimodal_settings()

    def build() -> MultimodalService:
        svc = MultimodalService(ctx.db_url(), settings)
        svc.start_inline_worker()
        return svc

    get_service = lazy_service(build, service)

    router = APIRouter(tags=["multimodal-search"])
    router.get_multimodal_service = get_service  # type: ignore[attr-defined]

    def read_upload(file: UploadFile, limit: int) -> bytes:
        data = file.file.read(limit + 1)  # one byte over the limit is enough for validation to refuse it
        if len(data) > limit:
            raise input_problem(ImageInputError("too_large", f"{file.filename!r} is over the {limit}-byte limit"))
        return data

    # -- library ---------------------------------------------------------------------------------------

    @router.post(
        "/images",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=ImportOut,
        responses=problem_responses(401, 413, 415, 422),
        summary="Upload images (JPEG, PNG, WebP, GIF, TIFF); indexed by a background job",
        description="Each file is validated completely before anything is stored (type by content, size, "
        "dimensions, decompression bombs, truncation). With several files, invalid ones are listed in `skipped` "
        "and the rest are imported; if none is valid the first problem is the response. Exact re-uploads are "
        "counted in `duplicates` and not stored twice. Poll `GET /imports/{id}` for progress.",
    )
    def upload(
        user: Annotated[Principal, principal_dep],
        files: Annotated[list[UploadFile], File(description="one or more image files")],
        caption: Annotated[str | None, Form(max_length=2000, description="caption for every file")] = None,
        tags: Annotated[str | None, Form(description="comma-separated tags for every file")] = None,
        source: Annotated[str, Form(min_length=1, max_length=200, description="album name")] = "upload",
    ) -> dict[str, Any]:
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise ProblemError(422, "Unprocessable Content", f"at most {MAX_FILES_PER_UPLOAD} files per request")
        payload = [(f.filename or "upload", read_upload(f, settings.max_upload_bytes)) for f in files]
        with service_problems():
            return get_service().upload(user, payload, source=source, caption=caption, tags=_tags(tags))

    @router.post(
        "/imports",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=ImportOut,
        responses=problem_responses(401, 403, 422),
        summary="Import a server-side folder (recursively); files are read, validated and indexed by a job",
        description="Only folders inside `MMSEARCH__IMPORT_ROOTS` are allowed (403 otherwise). A `captions.json` "
        'beside the images (`[{"file", "caption", "tags", "source"}]`) adds captions and tags.',
    )
    def import_folder(body: FolderImportIn, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().import_folder(user, body.path, source=body.source, recursive=body.recursive)

    @router.get("/imports", response_model=list[ImportOut], summary="Recent imports and re-index jobs, newest first")
    def list_imports(
        user: Annotated[Principal, principal_dep], limit: Annotated[int, Query(ge=1, le=200)] = 20
    ) -> list[dict[str, Any]]:
        return get_service().list_imports(user, limit)

    @router.get(
        "/imports/{import_id}",
        response_model=ImportOut,
        responses=problem_responses(401, 404),
        summary="Progress of an import: files read, images indexed, skipped files with reasons",
    )
    def get_import(import_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().get_import(user, import_id)

    @router.post(
        "/imports/{import_id}/retry",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=ImportOut,
        responses=problem_responses(401, 404, 409),
        summary="Re-run a failed import (or the failed images of a finished one); indexed images are kept",
    )
    def retry_import(import_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().retry_import(user, import_id)

    @router.post(
        "/reindex",
        response_model=ReindexOut,
        responses=problem_responses(401),
        summary="Re-embed every image indexed with another model (after VISION__* or EMBEDDINGS__* changed)",
    )
    def reindex(user: Annotated[Principal, principal_dep]) -> ReindexOut:
        job = get_service().reindex(user)
        return ReindexOut(queued=job is not None, job=ImportOut(**job) if job else None)

    @router.get("/stats", response_model=LibraryStats, summary="Library size, indexing state, model, facet values")
    def stats(user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        return get_service().stats(user)

    @router.get("/images", response_model=list[ImageOut], summary="Browse the library, newest photo first")
    def list_images(
        user: Annotated[Principal, principal_dep],
        status_: Annotated[str | None, Query(alias="status", pattern="^(queued|indexing|indexed|failed)$")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        return get_service().list_images(user, status=status_, limit=limit, offset=offset)

    @router.get(
        "/images/{image_id}",
        response_model=ImageOut,
        responses=problem_responses(401, 404),
        summary="One image's metadata: EXIF, size, labels, OCR text, duplicates, indexing state",
    )
    def get_image(image_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().get(user, image_id)

    @router.get(
        "/images/{image_id}/thumbnail",
        responses={200: {"content": {"image/webp": {}}}, **problem_responses(401, 404)},
        summary="The stored thumbnail",
    )
    def thumbnail(image_id: str, user: Annotated[Principal, principal_dep]) -> Response:
        with service_problems():
            data = get_service().thumbnail(user, image_id)
        return Response(data, media_type=THUMBNAIL_MEDIA_TYPE, headers={"Cache-Control": "private, max-age=86400"})

    @router.get(
        "/images/{image_id}/original",
        responses={200: {"content": {"image/*": {}}}, **problem_responses(401, 404)},
        summary="The original file",
    )
    def original(image_id: str, user: Annotated[Principal, principal_dep]) -> Response:
        with service_problems():
            data, media_type = get_service().original(user, image_id)
        return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    @router.delete(
        "/images/{image_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(401, 404),
        summary="Remove an image from the library and every index (an imported file itself is left in place)",
    )
    def delete_image(image_id: str, user: Annotated[Principal, principal_dep]) -> Response:
        with service_problems():
            get_service().delete(user, image_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # -- search ----------------------------------------------------------------------------------------

    @router.post(
        "/query",
        response_model=SearchPage,
        responses=problem_responses(401, 422),
        summary="Text→image search: hybrid (vector + full text, RRF), vector only or full text only",
        description="Filters run in SQL inside each candidate list. `min_similarity` drops hits whose vector "
        "similarity is below it (full-text matches contain the words and are kept). Near-duplicates collapse "
        "into one hit unless `collapse_duplicates` is false.",
    )
    def text_search(body: SearchQuery, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        return get_service().search(user, body)

    @router.post(
        "/query/image",
        response_model=SearchPage,
        responses=problem_responses(401, 413, 415, 422),
        summary="Image→image search with an uploaded query image (never stored)",
        description="`options` is an `ImageSearchOptions` JSON object (filters, min_similarity, mmr, page...).",
    )
    def image_search(
        user: Annotated[Principal, principal_dep],
        file: Annotated[UploadFile, File(description="the query image")],
        options: Annotated[str | None, Form(max_length=10_000, description="ImageSearchOptions as JSON")] = None,
    ) -> dict[str, Any]:
        opts = _options(options)
        data = read_upload(file, settings.max_query_image_bytes)
        with service_problems():
            return get_service().search_by_image(user, data, file.filename or "query", opts)

    @router.post(
        "/images/{image_id}/similar",
        response_model=SearchPage,
        responses=problem_responses(401, 404, 422),
        summary='"More like this": images visually similar to a stored one',
    )
    def similar(
        image_id: str, user: Annotated[Principal, principal_dep], body: ImageSearchOptions | None = None
    ) -> dict[str, Any]:
        with service_problems():
            return get_service().similar(user, image_id, body or ImageSearchOptions())

    return router


def _options(raw: str | None) -> ImageSearchOptions:
    if not raw:
        return ImageSearchOptions()
    try:
        return ImageSearchOptions.model_validate_json(raw)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ProblemError(422, "Unprocessable Content", f"invalid options: {detail}") from None
