"""HTTP layer of document intelligence (mounted by the platform under ``/docintel``; standalone via ``app.py``).

Routes translate HTTP to :class:`DocumentService` calls and errors to RFC 7807 problems. The caller
comes from the shared identity headers (``X-User-Id``, ``X-Tenant-Id``); every document is tenant-scoped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from projects.document_intelligence.doc_types import DocType
from projects.document_intelligence.inputs import InputError
from projects.document_intelligence.model import Document
from projects.document_intelligence.qa import QaAnswer
from projects.document_intelligence.service import DocumentNotFound, DocumentService, DocumentStateError
from projects.document_intelligence.settings import DocIntSettings, get_docint_settings
from shared.api.context import ServiceContext, lazy_service
from shared.api.identity import principal_dep
from shared.api.problems import PROBLEM_TYPE_BASE, ProblemError, problem_responses
from shared.api.sse import sse_response
from shared.guardrails import check_input
from shared.retrieval.models import Principal

_INPUT_STATUS = {"too_large": 413, "unsupported_type": 415}
_TITLES = {413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content"}


class DocumentOut(BaseModel):
    id: str
    filename: str
    media_type: str
    size_bytes: int
    n_pages: int
    pages_done: int
    status: Literal["queued", "processing", "needs_review", "approved", "done", "failed"]
    stage: str | None = None
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    job_id: int | None = None
    attempts: int
    doc_type: str | None = None
    doc_type_confidence: float | None = None
    doc_type_method: str | None = None
    extraction: dict[str, Any] | None = Field(
        default=None, description="fields (value, confidence, source page+box, method), line items, issues"
    )
    review_reasons: list[str] = Field(default_factory=list)
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    seconds: float | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class DocumentSummary(BaseModel):
    id: str
    filename: str
    media_type: str
    n_pages: int
    pages_done: int
    status: str
    stage: str | None = None
    doc_type: str | None = None
    doc_type_confidence: float | None = None
    review_reasons: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class ReviewIn(BaseModel):
    corrections: dict[str, str | None] = Field(
        default_factory=dict, max_length=100, description="field → corrected value (null clears it)"
    )
    approve: bool = Field(default=False, description="mark the document approved (it leaves the review queue)")
    doc_type: DocType | None = Field(default=None, description="correct the document type")


class CorrectionOut(BaseModel):
    field: str
    old_value: str | None
    new_value: str | None
    reviewer: str
    action: str
    created_at: datetime


class AskIn(BaseModel):
    question: str = Field(max_length=100_000, description="limited further by DOCINT__MAX_QUESTION_CHARS")


class TableOut(BaseModel):
    page: int
    block_id: str
    bbox: tuple[float, float, float, float]
    n_rows: int
    n_cols: int
    markdown: str
    html: str
    csv: str


def _not_found(what: str) -> ProblemError:
    return ProblemError(404, "Not Found", f"{what} not found", type_=PROBLEM_TYPE_BASE + "not-found")


def _conflict(exc: Exception) -> ProblemError:
    return ProblemError(409, "Conflict", str(exc), type_=PROBLEM_TYPE_BASE + "invalid-state")


def input_problem(exc: InputError) -> ProblemError:
    """An upload rejected by validation: 413 (size), 415 (type) or 422 (content), with a stable ``type``."""
    code = _INPUT_STATUS.get(exc.code, 422)
    return ProblemError(code, _TITLES[code], exc.detail, type_=PROBLEM_TYPE_BASE + exc.code.replace("_", "-"))


def _question(question: str, settings: DocIntSettings) -> str:
    """Empty/too long → 422; the shared input rail refuses injection and abuse (also 422, with its reasons)."""
    q = question.strip()
    if not q:
        raise ProblemError(422, "Unprocessable Content", "the question is empty")
    if len(q) > settings.max_question_chars:
        raise ProblemError(
            422, "Unprocessable Content", f"the question has {len(q)} characters; the limit is "
            f"{settings.max_question_chars}",
        )  # fmt: skip
    rail = check_input(q)
    if not rail.allowed:
        raise ProblemError(
            422, "Unprocessable Content", "the question was refused by the input rail: " + "; ".join(rail.reasons),
            type_=PROBLEM_TYPE_BASE + "input-refused",
        )  # fmt: skip
    return q


def create_router(
    ctx: ServiceContext, settings: DocIntSettings | None = None, service: DocumentService | None = None
) -> APIRouter:
    """Build the router; the service (schema migration, models, inline worker) starts on the first request."""
    settings = settings or get_docint_settings()

    def build() -> DocumentService:
        svc = DocumentService(ctx.db_url(), ctx.embedder(), ctx.chat_model, settings)
        svc.start_inline_worker()
        return svc

    get_service = lazy_service(build, service)

    router = APIRouter(tags=["document-intelligence"])
    router.get_docint_service = get_service  # type: ignore[attr-defined]

    def load(user: Principal, doc_id: str) -> dict[str, Any]:
        try:
            return get_service().get(user, doc_id)
        except DocumentNotFound:
            raise _not_found(f"document {doc_id!r}") from None

    def processed(user: Principal, doc_id: str) -> Document:
        """The parsed document, once its job has finished (409 before that: there is nothing to ask about)."""
        row = load(user, doc_id)
        if row["status"] in ("queued", "processing", "failed"):
            raise _conflict(DocumentStateError(f"document is {row['status']}; ask once it is processed"))
        return get_service().load_document(doc_id)

    def parsed(user: Principal, doc_id: str) -> Document:
        try:
            return get_service().document(user, doc_id)
        except DocumentNotFound:
            raise _not_found(f"document {doc_id!r}") from None

    @router.post(
        "/documents",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DocumentOut,
        responses=problem_responses(401, 413, 415, 422),
        summary="Upload a PDF or image (PNG/JPEG/TIFF); parsed, classified and extracted by a background job",
        description="The file is validated completely before anything is stored: type by content (the extension "
        "is only a hint), size, page count, encryption, image dimensions and decompression bombs. Poll "
        "`GET /documents/{id}` for per-page progress.",
    )
    def upload(
        user: Annotated[Principal, principal_dep],
        file: Annotated[UploadFile, File(description="PDF, PNG, JPEG or TIFF (multi-page)")],
        doc_type: Annotated[DocType | None, Form(description="skip classification: the type is known")] = None,
    ) -> dict[str, Any]:
        data = file.file.read(settings.max_upload_bytes + 1)  # one byte over is enough for validation to refuse
        try:
            return get_service().submit(user, file.filename or "upload", data, doc_type)
        except InputError as exc:
            raise input_problem(exc) from None

    @router.get("/documents", response_model=list[DocumentSummary], summary="The tenant's documents, newest first")
    def list_documents(
        user: Annotated[Principal, principal_dep],
        status_: Annotated[str | None, Query(alias="status", description="filter by status")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, Any]]:
        return get_service().list(user, status_, limit)

    @router.get(
        "/documents/{doc_id}",
        response_model=DocumentOut,
        responses=problem_responses(401, 404),
        summary="Status, page progress, type and extracted fields",
    )
    def get_document(doc_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        return load(user, doc_id)

    @router.get(
        "/documents/{doc_id}/content",
        response_model=Document,
        responses={200: {"content": {"text/markdown": {}}}, **problem_responses(401, 404)},
        summary="The parsed document: JSON (pages → blocks → lines → words with boxes) or Markdown",
    )
    def content(
        doc_id: str,
        user: Annotated[Principal, principal_dep],
        format: Annotated[Literal["json", "markdown"], Query()] = "json",
    ) -> Any:
        doc = parsed(user, doc_id)
        if format == "markdown":
            return PlainTextResponse(doc.to_markdown(), media_type="text/markdown")
        return doc

    @router.get(
        "/documents/{doc_id}/tables",
        response_model=list[TableOut],
        responses=problem_responses(401, 404),
        summary="Every table reconstructed as a cell grid, as Markdown, HTML and CSV",
    )
    def tables(doc_id: str, user: Annotated[Principal, principal_dep]) -> list[TableOut]:
        doc = parsed(user, doc_id)
        return [
            TableOut(
                page=p.number, block_id=b.id, bbox=b.bbox, n_rows=b.table.n_rows, n_cols=b.table.n_cols,
                markdown=b.table.to_markdown(), html=b.table.to_html(), csv=b.table.to_csv(),
            )
            for p in doc.pages for b in p.blocks if b.table is not None
        ]  # fmt: skip

    @router.get(
        "/documents/{doc_id}/pages/{number}/image",
        responses={200: {"content": {"image/png": {}}}, **problem_responses(401, 404)},
        summary="A page rendered as PNG (for the reviewer: boxes are in page units, scale = image width / width)",
    )
    def page_image(
        doc_id: str,
        number: int,
        user: Annotated[Principal, principal_dep],
        dpi: Annotated[int, Query(ge=36, le=200)] = 100,
    ) -> Response:
        try:
            png = get_service().page_image(user, doc_id, number, dpi)
        except DocumentNotFound:
            raise _not_found(f"page {number} of document {doc_id!r}") from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @router.post(
        "/documents/{doc_id}/retry",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DocumentOut,
        responses=problem_responses(401, 404, 409),
        summary="Re-run a failed document; pages parsed before the failure are kept",
    )
    def retry(doc_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        try:
            return get_service().retry(user, doc_id)
        except DocumentNotFound:
            raise _not_found(f"document {doc_id!r}") from None
        except DocumentStateError as exc:
            raise _conflict(exc) from None

    # -- review ----------------------------------------------------------------------------------------

    @router.get("/review", response_model=list[DocumentSummary], summary="The review queue, oldest first")
    def review_queue(user: Annotated[Principal, principal_dep]) -> list[dict[str, Any]]:
        return get_service().review_queue(user)

    @router.post(
        "/documents/{doc_id}/review",
        response_model=DocumentOut,
        responses=problem_responses(401, 404, 409, 422),
        summary="Correct fields and/or approve; every change is recorded with the reviewer",
    )
    def review(doc_id: str, body: ReviewIn, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        for name, value in body.corrections.items():
            if len(name) > 64 or (value is not None and len(value) > 2000):
                raise ProblemError(422, "Unprocessable Content", f"correction for {name[:64]!r} is too long")
        try:
            return get_service().review(user, doc_id, body.corrections, body.approve, body.doc_type)
        except DocumentNotFound:
            raise _not_found(f"document {doc_id!r}") from None
        except DocumentStateError as exc:
            raise _conflict(exc) from None
        except ValueError as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc)) from None

    @router.get(
        "/documents/{doc_id}/corrections",
        response_model=list[CorrectionOut],
        responses=problem_responses(401, 404),
        summary="The audit trail of reviewer actions on a document",
    )
    def corrections(doc_id: str, user: Annotated[Principal, principal_dep]) -> list[dict[str, Any]]:
        try:
            return get_service().corrections(user, doc_id)
        except DocumentNotFound:
            raise _not_found(f"document {doc_id!r}") from None

    @router.get(
        "/training-data",
        responses={200: {"content": {"application/x-ndjson": {}}}},
        summary="Approved documents with reviewed fields and line boxes, one JSON object per line",
    )
    def training_data(user: Annotated[Principal, principal_dep]) -> StreamingResponse:
        svc = get_service()
        lines = (json.dumps(item, default=str) + "\n" for item in svc.training_data(user))
        return StreamingResponse(lines, media_type="application/x-ndjson")

    # -- Q&A -------------------------------------------------------------------------------------------

    @router.post(
        "/documents/{doc_id}/ask",
        response_model=QaAnswer,
        responses=problem_responses(401, 404, 409, 422),
        summary="Ask a question about one document; the answer cites page and box",
    )
    def ask(doc_id: str, body: AskIn, user: Annotated[Principal, principal_dep]) -> QaAnswer:
        question = _question(body.question, settings)
        return get_service().qa.ask(user, doc_id, processed(user, doc_id), question)

    @router.post(
        "/documents/{doc_id}/ask/stream",
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "token*, final (or error)"},
            **problem_responses(401, 404, 409, 422),
        },
        summary="Like /ask, streamed as server-sent events",
    )
    def ask_stream(doc_id: str, body: AskIn, user: Annotated[Principal, principal_dep]) -> StreamingResponse:
        question = _question(body.question, settings)
        events = get_service().qa.ask_stream(user, doc_id, processed(user, doc_id), question)
        return sse_response((e.event, e.data) for e in events)

    return router
