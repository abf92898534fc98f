"""HTTP layer of Enterprise RAG (mounted by the platform under ``/rag``; standalone via ``app.py``).

Routes only translate HTTP to :class:`RagService` calls and errors to RFC 7807 problems.

Identity: the caller is taken from ``X-User-Id``, ``X-Tenant-Id`` and ``X-Groups`` by the shared
:func:`shared.api.identity.principal` dependency (the integration point for an IdP gateway or JWTs).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from projects.enterprise_rag.conversations import ConversationOut
from projects.enterprise_rag.ingestion import SyncRootError
from projects.enterprise_rag.loaders import UploadError
from projects.enterprise_rag.pipeline import Citation, QuestionRefused
from projects.enterprise_rag.service import (
    NAME_RE,
    CollectionNotFound,
    CollectionOut,
    ConversationNotFound,
    RagService,
)
from projects.enterprise_rag.settings import RagSettings, get_rag_settings
from shared.api.context import ServiceContext, lazy_service
from shared.api.identity import principal_dep
from shared.api.problems import PROBLEM_TYPE_BASE, ProblemError, problem_responses
from shared.api.sse import sse_response
from shared.retrieval.chunking import ChunkingConfig
from shared.retrieval.jobs import JobNotFoundError
from shared.retrieval.models import Principal, SearchFilters, SearchResult

# -- request / response models ----------------------------------------------------------------------------


class CollectionIn(BaseModel):
    name: str = Field(pattern=NAME_RE.pattern, description="lowercase letters, digits, '-' and '_'")
    description: str = Field(default="", max_length=2000)
    allowed_groups: list[str] = Field(default_factory=lambda: ["public"], description="default ACL of its documents")
    chunking: ChunkingConfig | None = None


class FileAccepted(BaseModel):
    filename: str
    source_uri: str


class FileRejected(BaseModel):
    filename: str
    status: int
    code: str
    detail: str


class UploadOut(BaseModel):
    batch_id: str
    job_id: int
    accepted: list[FileAccepted]
    rejected: list[FileRejected]


class SyncIn(BaseModel):
    folder: str = Field(min_length=1, description="a directory inside RAG__SYNC_ROOTS")
    allowed_groups: list[str] | None = None


class JobOut(BaseModel):
    job_id: int
    status: str
    done: int
    total: int | None
    message: str | None
    error: str | None
    files: list[dict[str, Any]]


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=100_000)
    k: int | None = Field(default=None, ge=1, le=50)
    mode: Literal["dense", "fulltext", "hybrid"] | None = None
    filters: SearchFilters | None = None


class ChatIn(BaseModel):
    collection: str
    question: str = Field(max_length=100_000, description="limited further by RAG__MAX_QUESTION_CHARS")
    conversation_id: str | None = None
    k: int | None = Field(default=None, ge=1, le=50)
    filters: SearchFilters | None = None


class ChatOut(BaseModel):
    conversation_id: str
    message_id: int
    answer: str
    abstained: bool
    citations: list[Citation]
    question: str = Field(description="the standalone question that was searched")
    evidence_score: float | None
    blocked: bool = Field(default=False, description="the output rail withheld the model's answer")
    moderation: dict[str, Any] | None = Field(default=None, description="when blocked: categories, reason, evidence")


class FeedbackIn(BaseModel):
    message_id: int
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=4000)


def _not_found(what: str) -> ProblemError:
    return ProblemError(404, "Not Found", f"{what} not found", type_=PROBLEM_TYPE_BASE + "not-found")


def _check_question(question: str, settings: RagSettings) -> str:
    q = question.strip()
    if not q:
        raise ProblemError(422, "Unprocessable Content", "the question is empty")
    if len(q) > settings.max_question_chars:
        raise ProblemError(
            422,
            "Unprocessable Content",
            f"the question has {len(q)} characters; the limit is {settings.max_question_chars}",
        )
    return q


def _refused(exc: QuestionRefused) -> ProblemError:
    """422 ``input-refused``: the question is well-formed but the input rail blocked it under the policy.

    A problem rather than a refusal message as the answer: the client learns exactly why (categories, evidence,
    policy version, machine-readable in ``errors``), nothing is stored in the conversation, no retrieval or model
    call is spent, and it matches document intelligence's ``input-refused``."""
    rail = exc.rail
    errors: list[dict[str, Any]] = []
    for name in rail.blocked_by:
        c = rail.verdict.categories[name] if rail.verdict else None
        errors.append({
            "category": name, "score": c.score if c else None, "action": c.action if c else None,
            "evidence": [{"text": e.text, "why": e.why} for e in (c.evidence if c else [])],
            "policy_version": rail.policy_version,
        })  # fmt: skip
    errors += [{"validator": r.split(":", 1)[0], "reason": r.split(": ", 1)[-1]} for r in rail.reasons
               if not r.startswith("ModerationValidator")]  # fmt: skip
    return ProblemError(
        422, "Unprocessable Content", str(exc), type_=PROBLEM_TYPE_BASE + "input-refused", errors=errors
    )


def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """Read at most ``limit`` + 1 bytes: an oversized file is detected without buffering all of it."""
    return upload.file.read(limit + 1)


# -- router -----------------------------------------------------------------------------------------------


def create_router(
    ctx: ServiceContext, settings: RagSettings | None = None, service: RagService | None = None
) -> APIRouter:
    """Build the router. Nothing touches the database or loads a model here: the service (and with it the
    project's idempotent schema migration) is created on the first request, so the platform still starts,
    and reports not-ready, when the database is down."""
    settings = settings or get_rag_settings()
    get_service = lazy_service(lambda: RagService(ctx.db_url(), ctx.embedder(), ctx.chat_model, settings), service)

    router = APIRouter(tags=["enterprise-rag"])
    router.get_rag_service = get_service  # type: ignore[attr-defined]  # for the standalone app and tools

    @router.post(
        "/collections",
        status_code=status.HTTP_201_CREATED,
        response_model=CollectionOut,
        responses=problem_responses(401, 422),
        summary="Create a collection in the caller's tenant (idempotent)",
    )
    def create_collection(body: CollectionIn, user: Annotated[Principal, principal_dep]) -> CollectionOut:
        svc = get_service()
        return svc.create_collection(
            user, body.name, description=body.description, allowed_groups=body.allowed_groups, chunking=body.chunking
        )

    @router.get("/collections", response_model=list[CollectionOut], summary="Collections of the caller's tenant")
    def list_collections(user: Annotated[Principal, principal_dep]) -> list[CollectionOut]:
        svc = get_service()
        return svc.list_collections(user)

    @router.get(
        "/collections/{name}",
        response_model=CollectionOut,
        responses=problem_responses(401, 404),
        summary="One collection with the counts the caller can see",
    )
    def get_collection(name: str, user: Annotated[Principal, principal_dep]) -> CollectionOut:
        svc = get_service()
        try:
            return svc.get_collection(user, name)
        except CollectionNotFound:
            raise _not_found(f"collection {name!r}") from None

    @router.post(
        "/collections/{name}/documents",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=UploadOut,
        responses=problem_responses(401, 404, 413, 415, 422),
        summary="Upload files (PDF, DOCX, HTML, Markdown, TXT); indexed by a background job",
        description="Each file is validated now (type by extension and content, size, encoding, encryption). "
        "Valid files are queued even if others are rejected; if every file is rejected the response is the "
        "first file's 4xx.",
    )
    def upload(
        name: str,
        user: Annotated[Principal, principal_dep],
        files: Annotated[list[UploadFile], File(description="one or more documents")],
        allowed_groups: Annotated[str | None, Form(description="comma list; default: the collection's")] = None,
    ) -> UploadOut:
        svc = get_service()
        try:
            svc.resolve(user, name)
        except CollectionNotFound:
            raise _not_found(f"collection {name!r}") from None
        if len(files) > settings.max_files_per_upload:
            raise ProblemError(
                422, "Unprocessable Content", f"at most {settings.max_files_per_upload} files per upload"
            )
        groups = [g.strip() for g in allowed_groups.split(",") if g.strip()] if allowed_groups is not None else None
        docs, accepted, rejected = [], [], []
        for f in files:
            filename = f.filename or "unnamed"
            try:
                doc = svc.parse_upload(user, name, filename, _read_limited(f, settings.max_upload_bytes), groups)
            except UploadError as exc:
                rejected.append(FileRejected(filename=filename, status=exc.status, code=exc.code, detail=str(exc)))
                continue
            docs.append(doc)
            accepted.append(FileAccepted(filename=filename, source_uri=doc.source_uri))
        if not docs:
            first = rejected[0]
            raise ProblemError(
                first.status,
                {413: "Payload Too Large", 415: "Unsupported Media Type"}.get(first.status, "Unprocessable Content"),
                first.detail,
                type_=PROBLEM_TYPE_BASE + first.code,
                errors=[r.model_dump() for r in rejected],
            )
        batch_id, job_id = svc.submit(user, name, docs)
        return UploadOut(batch_id=batch_id, job_id=job_id, accepted=accepted, rejected=rejected)

    @router.post(
        "/collections/{name}/sync",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=UploadOut,
        responses=problem_responses(401, 404, 422),
        summary="Sync a server-side folder: new, changed and deleted files are reflected",
    )
    def sync(name: str, body: SyncIn, user: Annotated[Principal, principal_dep]) -> UploadOut:
        svc = get_service()
        try:
            batch_id, job_id = svc.sync_folder(user, name, body.folder, body.allowed_groups)
        except CollectionNotFound:
            raise _not_found(f"collection {name!r}") from None
        except SyncRootError as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc)) from None
        return UploadOut(batch_id=batch_id, job_id=job_id, accepted=[], rejected=[])

    @router.get(
        "/jobs/{job_id}",
        response_model=JobOut,
        responses=problem_responses(401, 404),
        summary="Ingestion job status, progress and per-file results",
    )
    def job(job_id: int, user: Annotated[Principal, principal_dep]) -> JobOut:
        svc = get_service()
        try:
            owner = svc.ingestor.batch_of_job(job_id)
        except JobNotFoundError:
            owner = None
        if owner is None or owner[1] != user.tenant_id:
            raise _not_found(f"job {job_id}")
        st = svc.queue.status(job_id)
        files = [
            {**item, "source_uri": item["source_uri"], "updated_at": item["updated_at"].isoformat()}
            for item in svc.ingestor.items(batch_id=owner[0])
        ]
        return JobOut(
            job_id=job_id, status=st.status, done=st.done, total=st.total, message=st.message, error=st.error,
            files=files,
        )  # fmt: skip

    @router.post(
        "/collections/{name}/search",
        response_model=list[SearchResult],
        responses=problem_responses(401, 404, 422),
        summary="Hybrid (default), dense or full-text search as the caller (ACL applied in SQL)",
    )
    def search(name: str, body: SearchIn, user: Annotated[Principal, principal_dep]) -> list[SearchResult]:
        svc = get_service()
        query = _check_question(body.query, settings)
        try:
            return svc.search(user, name, query, body.k, body.mode, body.filters)
        except CollectionNotFound:
            raise _not_found(f"collection {name!r}") from None

    @router.post(
        "/chat",
        response_model=ChatOut,
        responses=problem_responses(401, 404, 422, 503),
        summary="Ask a question; grounded answer with [n] citations, or 'not found in the documents'",
        description="The question passes the shared input rail (a blocked one: 422 input-refused naming the "
        "categories) and the answer the output rail (a blocked one is withheld: `blocked` true).",
    )
    def chat(body: ChatIn, user: Annotated[Principal, principal_dep]) -> ChatOut:
        svc = get_service()
        question = _check_question(body.question, settings)
        try:
            answer, conv_id, message_id = svc.chat(
                user, body.collection, question, conversation_id=body.conversation_id, k=body.k, filters=body.filters
            )
        except CollectionNotFound:
            raise _not_found(f"collection {body.collection!r}") from None
        except ConversationNotFound:
            raise _not_found(f"conversation {body.conversation_id!r}") from None
        except QuestionRefused as exc:
            raise _refused(exc) from None
        return ChatOut(
            conversation_id=conv_id, message_id=message_id, answer=answer.text, abstained=answer.abstained,
            citations=answer.citations, question=answer.question, evidence_score=answer.evidence_score,
            blocked=answer.blocked, moderation=answer.moderation,
        )  # fmt: skip

    @router.post(
        "/chat/stream",
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "token*, [blocked], citations, final (or error); tokens are released sentence by "
                "sentence after the output rail checked them",
            },
            **problem_responses(401, 404, 422),
        },
        summary="Like /chat, streamed as server-sent events",
    )
    def chat_stream(body: ChatIn, user: Annotated[Principal, principal_dep]) -> StreamingResponse:
        svc = get_service()
        question = _check_question(body.question, settings)
        try:
            events = svc.chat_stream(
                user, body.collection, question, conversation_id=body.conversation_id, k=body.k, filters=body.filters
            )
        except CollectionNotFound:
            raise _not_found(f"collection {body.collection!r}") from None
        except ConversationNotFound:
            raise _not_found(f"conversation {body.conversation_id!r}") from None
        except QuestionRefused as exc:
            raise _refused(exc) from None
        return sse_response((e.event, e.data) for e in events)

    @router.get("/conversations", response_model=list[ConversationOut], summary="The caller's conversations")
    def conversations(user: Annotated[Principal, principal_dep]) -> list[ConversationOut]:
        svc = get_service()
        return svc.conversations.list(user)

    @router.get(
        "/conversations/{conversation_id}",
        response_model=ConversationOut,
        responses=problem_responses(401, 404),
        summary="One of the caller's conversations with its messages and citations",
    )
    def conversation(conversation_id: str, user: Annotated[Principal, principal_dep]) -> ConversationOut:
        svc = get_service()
        conv = svc.conversations.get(user, conversation_id)
        if conv is None:
            raise _not_found(f"conversation {conversation_id!r}")
        return conv

    @router.post(
        "/feedback",
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(401, 404, 422),
        summary="Thumbs up/down (+ comment) on an answer, stored for evaluation",
    )
    def feedback(body: FeedbackIn, user: Annotated[Principal, principal_dep]) -> dict[str, str]:
        svc = get_service()
        if not svc.conversations.add_feedback(user, body.message_id, 1 if body.rating == "up" else -1, body.comment):
            raise _not_found(f"message {body.message_id}")
        return {"status": "recorded"}

    return router
