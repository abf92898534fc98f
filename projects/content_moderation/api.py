"""HTTP layer of content moderation (mounted by the platform under ``/moderation``; standalone via ``app.py``).

Routes translate HTTP to :class:`ModerationService` / :class:`ReviewQueue` calls and their exceptions to RFC 7807
problems in one place (:func:`service_problems`). The caller comes from the shared identity headers
(``X-User-Id``, ``X-Tenant-Id``, ``X-Groups``); everything is tenant-scoped, and review routes need the reviewer
group (``CONTENTMOD__REVIEWER_GROUP``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile, status

from projects.content_moderation.calibration import propose
from projects.content_moderation.inputs import TextInputError
from projects.content_moderation.models import (
    SURFACE_PATTERN,
    AppealIn,
    CalibrationOut,
    DecideIn,
    DecisionOut,
    EscalateIn,
    JobIn,
    JobOut,
    LabelledOut,
    ModerateImageOut,
    ModerateIn,
    ModerateOut,
    NoteIn,
    PolicyOut,
    ReviewItemDetail,
    ReviewItemOut,
)
from projects.content_moderation.review import ItemNotFound, ReviewConflict
from projects.content_moderation.service import (
    AppealRefused,
    DecisionNotFound,
    IdempotencyConflict,
    JobNotFound,
    JobStateError,
    MediaNotFound,
    ModerationService,
)
from projects.content_moderation.settings import ContentModerationSettings, get_content_moderation_settings
from projects.content_moderation.webhooks import WebhookUrlError
from shared.api.context import ServiceContext, lazy_service
from shared.api.identity import principal_dep
from shared.api.problems import PROBLEM_TYPE_BASE, ProblemError, problem_responses
from shared.retrieval.models import Principal
from shared.vision.images import SUPPORTED_MEDIA_TYPES, ImageInputError

_TITLES = {403: "Forbidden", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content"}
_IMAGE_STATUS = {"too_large": 413, "unsupported_type": 415}  # every other ImageInputError code is 422
REPLAY_HEADER = "Idempotent-Replayed"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="repeat a request safely: the same key and body return the stored result (409 for another body)",
    ),
]


def _problem(status_: int, code: str, detail: str, **error: Any) -> ProblemError:
    title = _TITLES.get(status_) or {404: "Not Found", 409: "Conflict"}[status_]
    return ProblemError(status_, title, detail, type_=PROBLEM_TYPE_BASE + code, errors=[{"code": code, **error}])


def image_problem(exc: ImageInputError) -> ProblemError:
    """A refused upload: 413 (size), 415 (not an image type we read) or 422 (empty, corrupt, bomb, dimensions);
    the problem ``type`` is stable: ``image-`` + the loader's code (``image-too-large``, ``image-corrupt``...)."""
    return _problem(_IMAGE_STATUS.get(exc.code, 422), "image-" + exc.code.replace("_", "-"), str(exc))


@contextmanager
def service_problems() -> Iterator[None]:
    """The service's exceptions as RFC 7807 problems: one mapping for every route."""
    try:
        yield
    except ImageInputError as exc:
        raise image_problem(exc) from None
    except TextInputError as exc:
        error = {"index": exc.index, **exc.extra} if exc.index is not None else dict(exc.extra)
        raise _problem(exc.status, exc.code, str(exc), **error) from None
    except WebhookUrlError as exc:
        raise _problem(403 if exc.code == "webhook-not-allowed" else 422, exc.code, str(exc)) from None
    except (DecisionNotFound, JobNotFound, ItemNotFound, MediaNotFound) as exc:
        raise _problem(404, "not-found", str(exc)) from None
    except IdempotencyConflict as exc:
        raise _problem(409, "idempotency-key-reused", str(exc)) from None
    except ReviewConflict as exc:
        raise _problem(409, "review-conflict", str(exc), holder=exc.holder, status=exc.status) from None
    except (JobStateError, AppealRefused) as exc:
        raise _problem(409, "invalid-state", str(exc)) from None


def _replayed(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers[REPLAY_HEADER] = "true"


def create_router(
    ctx: ServiceContext,
    settings: ContentModerationSettings | None = None,
    service: ModerationService | None = None,
) -> APIRouter:
    """Build the router; the service (schema, cascade, inline worker) starts on the first request."""
    settings = settings or get_content_moderation_settings()

    def build() -> ModerationService:
        svc = ModerationService(ctx.db_url(), settings, moderation=ctx.settings.moderation)
        svc.start_inline_worker()
        return svc

    get_service = lazy_service(build, service)
    router = APIRouter(tags=["content-moderation"])
    router.get_moderation_service = get_service  # type: ignore[attr-defined]

    def reviewer(user: Principal) -> str:
        group = settings.reviewer_group
        if group and group not in user.groups:
            raise _problem(403, "not-a-reviewer", f"review actions need the {group!r} group (X-Groups)")
        return user.user_id

    # -- moderation ------------------------------------------------------------------------------------

    @router.post(
        "/moderate",
        response_model=ModerateOut,
        responses=problem_responses(400, 401, 409, 413, 415, 422),
        summary="Moderate one text (`text`) or a batch (`texts`) against the tenant's policy",
        description="Every text gets an action (allow, flag, review, block), per-category scores and actions, and "
        "evidence spans in the original text; `review` sends it to the human queue (`review_item_id`). Refused: "
        "empty/invisible text (422 `empty-text`), a text over CONTENTMOD__MAX_TEXT_BYTES (413 `text-too-large`), "
        "too many texts (413 `too-many-texts`), lone surrogates (422 `invalid-unicode`), binary data (422 "
        "`binary-content`), a body that is not UTF-8 JSON (400 `malformed-json`). With `Idempotency-Key` a repeat "
        "returns the stored result (header `Idempotent-Replayed: true`); the same key with another body is 409.",
    )
    def moderate(
        body: ModerateIn,
        user: Annotated[Principal, principal_dep],
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        with service_problems():
            out, replayed = get_service().moderate(
                body.all_texts(), user.tenant_id, body.surface, idempotency_key=idempotency_key,
                source_ref=body.source_ref, reach=body.reach,
            )  # fmt: skip
        _replayed(response, replayed)
        return out

    @router.post(
        "/moderate/image",
        response_model=ModerateImageOut,
        responses=problem_responses(401, 409, 413, 415, 422),
        summary="Moderate one uploaded image: NSFW detection and the text OCR reads from it, against the tenant policy",
        description="Multipart upload (`file`, optional form fields `surface`, `reach`, `source_ref`). The image "
        "gets one decision like a text: the NSFW detector scores `sexual` from what it shows, the text cascade "
        "judges the `ocr_text` read from it, and per category the stronger source wins; evidence carries `source` "
        "(`image_region` | `ocr_text`) and `box` ([x, y, w, h] in the image). Only an image sent to review is "
        "stored (for the reviewer: GET /review/items/{id}/media); otherwise its SHA-256 and size are kept. "
        f"Accepted: {', '.join(SUPPORTED_MEDIA_TYPES)} (type read from the bytes, never the file name). Refused, "
        "storing nothing: over CONTENTMOD__MAX_IMAGE_BYTES (413 `image-too-large`), not a supported image (415 "
        "`image-unsupported-type`), an empty file (422 `image-empty`), truncated/undecodable data (422 "
        "`image-corrupt`), a decompression bomb (422 `image-too-many-pixels`), degenerate dimensions (422 "
        "`image-bad-dimensions`). `Idempotency-Key` as for /moderate (the same key with another image is 409).",
    )
    def moderate_image(
        user: Annotated[Principal, principal_dep],
        response: Response,
        file: Annotated[UploadFile, File(description="the image (JPEG, PNG, WebP, GIF, TIFF)")],
        surface: Annotated[str, Form(pattern=SURFACE_PATTERN, description="policy surface")] = "default",
        reach: Annotated[int, Form(ge=1, le=1_000_000_000, description="audience size; orders the review queue")] = 1,
        source_ref: Annotated[str | None, Form(max_length=500, description="your id of the content")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        limit = settings.max_image_bytes
        data = file.file.read(limit + 1)  # one byte over the limit is enough to refuse, whatever the real size
        if len(data) > limit:
            raise image_problem(ImageInputError("too_large", f"{file.filename!r} is over the {limit:,}-byte limit"))
        with service_problems():
            out, replayed = get_service().moderate_image(
                data, file.filename, user.tenant_id, surface, idempotency_key=idempotency_key, source_ref=source_ref,
                reach=reach,
            )  # fmt: skip
        _replayed(response, replayed)
        return out

    @router.get("/policy", response_model=PolicyOut, summary="The caller's tenant policy and its version")
    def policy(user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        svc = get_service()
        p = svc.policy(user.tenant_id)
        return {
            "name": p.name, "version": p.version, "version_id": p.version_id, "description": p.description,
            "categories": {c: r.model_dump() for c, r in p.categories.items()}, "surfaces": p.surfaces,
            "tiers": settings.tiers, "review_actions": list(settings.review_actions),
        }  # fmt: skip

    @router.get(
        "/decisions/{decision_id}",
        response_model=DecisionOut,
        responses=problem_responses(401, 404),
        summary="One stored decision (the text itself is not stored: its SHA-256 and size are)",
    )
    def get_decision(decision_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().get_decision(user.tenant_id, decision_id)

    @router.get("/decisions", response_model=list[DecisionOut], summary="Recent decisions, newest first")
    def list_decisions(
        user: Annotated[Principal, principal_dep], limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> list[dict[str, Any]]:
        return get_service().list_decisions(user.tenant_id, limit)

    # -- asynchronous jobs -----------------------------------------------------------------------------

    @router.post(
        "/jobs",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=JobOut,
        responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
        summary="Moderate a batch in the background; results by polling or a signed webhook callback",
        description="`webhook_url` must pass CONTENTMOD__WEBHOOK_ALLOWLIST (403 `webhook-not-allowed`; a malformed "
        "URL or one with credentials is 422 `invalid-webhook-url`); a refused job stores nothing. The callback is "
        "a POST of the job's results signed with `X-Moderation-Signature: t=<unix>, v1=<hex HMAC-SHA256 of "
        "'t.body'>` (verify with `projects.content_moderation.webhooks.verify_signature`), retried with backoff; "
        "every attempt is listed in `deliveries`. Text limits as for /moderate; `Idempotency-Key` as well.",
    )
    def submit_job(
        body: JobIn,
        user: Annotated[Principal, principal_dep],
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        with service_problems():
            job, replayed = get_service().submit_job(
                body.texts, user.tenant_id, user.user_id, webhook_url=body.webhook_url, surface=body.surface,
                reach=body.reach, source_ref=body.source_ref, idempotency_key=idempotency_key,
            )  # fmt: skip
        _replayed(response, replayed)
        return job

    @router.get("/jobs", response_model=list[JobOut], summary="Recent jobs, newest first (without results)")
    def list_jobs(
        user: Annotated[Principal, principal_dep], limit: Annotated[int, Query(ge=1, le=200)] = 20
    ) -> list[dict[str, Any]]:
        return get_service().list_jobs(user.tenant_id, limit)

    @router.get(
        "/jobs/{job_id}",
        response_model=JobOut,
        responses=problem_responses(401, 404),
        summary="A job's status, progress (done/total), results and callback deliveries",
    )
    def get_job(job_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().get_job(user.tenant_id, job_id)

    @router.post(
        "/jobs/{job_id}/retry",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=JobOut,
        responses=problem_responses(401, 404, 409),
        summary="Re-run a failed job (stored results are kept; only a failed callback is re-sent)",
    )
    def retry_job(job_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().retry_job(user.tenant_id, job_id)

    # -- appeals ---------------------------------------------------------------------------------------

    @router.post(
        "/appeals",
        status_code=status.HTTP_201_CREATED,
        response_model=ReviewItemOut,
        responses=problem_responses(401, 404, 409, 422),
        summary="The author appeals a decision: it returns to the review queue for a different reviewer",
        description="A reviewed decision is re-opened (the reviewer who decided it cannot decide the appeal). An "
        "automated decision needs the original `text` (422 `text-required` / `text-mismatch`): texts are not "
        "stored, only their hash. 409 when the text was allowed, is still in review, or was already appealed.",
    )
    def appeal(body: AppealIn, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        with service_problems():
            return get_service().appeal(user.tenant_id, user.user_id, body.decision_id, body.reason, body.text)

    # -- review ----------------------------------------------------------------------------------------

    @router.get(
        "/review/queue",
        response_model=list[ReviewItemOut],
        responses=problem_responses(401, 403),
        summary="Open review items by priority (severity × reach × age); `escalated=true` for senior reviewers",
    )
    def review_queue(
        user: Annotated[Principal, principal_dep],
        escalated: bool = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> list[dict[str, Any]]:
        reviewer(user)
        return get_service().review.next_items(user.tenant_id, limit, escalated=escalated)

    @router.get(
        "/review/labelled",
        response_model=list[LabelledOut],
        responses=problem_responses(401, 403),
        summary="Final reviewer decisions as labelled rows (for threshold calibration and the k-NN examples)",
    )
    def labelled(user: Annotated[Principal, principal_dep]) -> list[dict[str, Any]]:
        reviewer(user)
        return get_service().review.labelled_data(user.tenant_id)

    @router.get(
        "/review/calibration",
        response_model=CalibrationOut,
        responses=problem_responses(401, 403),
        summary="A threshold proposal from reviewer decisions (the next policy version, never applied automatically)",
        description="Lowers `block` where reviewers removed ≥ 95 % of the items above a score, raises `review` "
        "where they removed ≤ 5 % below one (each with ≥ 20 labelled items; see calibration.py). The YAML is for a "
        "human to read and commit as the policy's next version.",
    )
    def calibration(user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        reviewer(user)
        svc = get_service()
        return propose(svc.policy(user.tenant_id), svc.review.labelled_data(user.tenant_id)).to_dict()

    @router.get(
        "/review/items/{item_id}",
        response_model=ReviewItemDetail,
        responses=problem_responses(401, 403, 404),
        summary="One review item with its audit history",
    )
    def review_item(item_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        reviewer(user)
        queue = get_service().review
        with service_problems():
            _check_id(item_id)
            return {**queue.get(user.tenant_id, item_id), "history": queue.history(user.tenant_id, item_id)}

    @router.get(
        "/review/items/{item_id}/media",
        response_class=Response,
        responses={
            200: {"content": {m: {} for m in SUPPORTED_MEDIA_TYPES}, "description": "the uploaded image's bytes"},
            **problem_responses(401, 403, 404),
        },
        summary="The image of an image review item (404 `not-found` for a text item)",
    )
    def review_media(item_id: str, user: Annotated[Principal, principal_dep]) -> Response:
        reviewer(user)
        with service_problems():
            data, media_type = get_service().review_media(user.tenant_id, item_id)
        # private: moderation evidence must not sit in shared caches; nosniff: serve it only as the sniffed type
        return Response(
            data,
            media_type=media_type,
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        )

    conflict_doc = "409 `review-conflict` when another reviewer acted first: `errors[0].holder` names them."

    @router.post(
        "/review/items/{item_id}/claim",
        response_model=ReviewItemOut,
        responses=problem_responses(401, 403, 404, 409),
        summary="Claim an open item (appeals: not by the reviewer who decided it first)",
        description=conflict_doc,
    )
    def claim(item_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        who = reviewer(user)
        with service_problems():
            _check_id(item_id)
            return get_service().review.claim(user.tenant_id, item_id, who)

    @router.post(
        "/review/items/{item_id}/decide",
        response_model=ReviewItemOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Decide an item (allow or remove); an open item is claimed and decided in one step",
        description="Of two reviewers deciding the same item at once exactly one wins; the other gets " + conflict_doc,
    )
    def decide(item_id: str, body: DecideIn, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        who = reviewer(user)
        with service_problems():
            _check_id(item_id)
            return get_service().review.decide(user.tenant_id, item_id, who, body.decision, body.note, claim=True)

    @router.post(
        "/review/items/{item_id}/escalate",
        response_model=ReviewItemOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Hand a claimed item to senior reviewers (it leaves the normal queue)",
    )
    def escalate(item_id: str, body: EscalateIn, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        who = reviewer(user)
        with service_problems():
            _check_id(item_id)
            return get_service().review.escalate(user.tenant_id, item_id, who, body.note)

    @router.post(
        "/review/items/{item_id}/release",
        response_model=ReviewItemOut,
        responses=problem_responses(401, 403, 404, 409),
        summary="Give a claimed item back to the queue",
    )
    def release(item_id: str, user: Annotated[Principal, principal_dep]) -> dict[str, Any]:
        who = reviewer(user)
        with service_problems():
            _check_id(item_id)
            return get_service().review.release(user.tenant_id, item_id, who)

    @router.post(
        "/review/items/{item_id}/note",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(401, 403, 404, 422),
        summary="Add a note to the item's audit log",
    )
    def note(item_id: str, body: NoteIn, user: Annotated[Principal, principal_dep]) -> Response:
        who = reviewer(user)
        with service_problems():
            _check_id(item_id)
            get_service().review.note(user.tenant_id, item_id, who, body.text)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


def _check_id(item_id: str) -> None:
    """Review item ids are UUIDs: anything else is not found (the cast would otherwise be a 500)."""
    try:
        uuid.UUID(item_id)
    except ValueError:
        raise ItemNotFound(f"no review item {item_id!r}") from None
