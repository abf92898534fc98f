"""Request and response models of the moderation API (the OpenAPI schema the reviewer console and clients use)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

Action = Literal["allow", "flag", "review", "block"]
SURFACE_PATTERN = r"^[a-z0-9_\-]{1,64}$"


class ModerateIn(BaseModel):
    """Exactly one of ``text`` (one text) or ``texts`` (a batch); limits are checked by the service (413/422)."""

    text: str | None = Field(default=None, description="one text")
    texts: list[str] | None = Field(default=None, description="a batch (up to CONTENTMOD__MAX_BATCH_TEXTS)")
    surface: str = Field(
        default="default", pattern=SURFACE_PATTERN, description="policy surface: default, llm_input, llm_output, ..."
    )
    reach: int = Field(default=1, ge=1, le=1_000_000_000, description="audience size; orders the review queue")
    source_ref: str | None = Field(default=None, max_length=500, description="your id of the content (post id...)")

    @model_validator(mode="after")
    def _one_of(self) -> ModerateIn:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send exactly one of `text` or `texts`")
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class JobIn(BaseModel):
    texts: list[str] = Field(description="the batch (up to CONTENTMOD__MAX_JOB_TEXTS)")
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="called with the signed results when the job ends; must pass CONTENTMOD__WEBHOOK_ALLOWLIST",
    )
    surface: str = Field(default="default", pattern=SURFACE_PATTERN)
    reach: int = Field(default=1, ge=1, le=1_000_000_000)
    source_ref: str | None = Field(default=None, max_length=500)


class EvidenceOut(BaseModel):
    start: int = Field(description="offset in the ORIGINAL text (characters); for images, in `ocr_text`")
    end: int
    text: str = Field(description="the original span, as the user wrote it")
    why: str
    source: Literal["image_region", "ocr_text"] | None = Field(
        default=None,
        description="images only (absent for texts): a region the NSFW detector found (start = end = 0, text "
        "empty) or a span of the OCR text",
    )
    box: list[int] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="images only: [x, y, width, height] in the uploaded image's pixels (the OCR line for ocr_text)",
    )

    @model_serializer(mode="wrap")
    def _text_shape(self, handler: SerializerFunctionWrapHandler):  # no return annotation: keeps the field schema
        """A text's evidence keeps exactly its four fields (what webhooks and stored results carry too); image
        fields appear only on image evidence. (Annotating the return type would turn the OpenAPI schema of
        this model into a bare object.)"""
        out = handler(self)
        if self.source is None:
            out.pop("source", None)
            out.pop("box", None)
        return out


class CategoryOut(BaseModel):
    score: float
    action: Action
    detectors: dict[str, float] = Field(default_factory=dict, description="each detector's score")
    evidence: list[EvidenceOut] = Field(default_factory=list)


class ResultOut(BaseModel):
    id: str = Field(description="the decision id (GET /decisions/{id}, POST /appeals)")
    action: Action
    flagged: list[str]
    categories: dict[str, CategoryOut]
    review_item_id: str | None = Field(default=None, description="set when the text went to human review")
    tiers_run: list[int]
    timings_ms: dict[str, float]


class ModerateOut(BaseModel):
    policy_version: str = Field(description="name@version+sha8 of the policy that decided")
    surface: str
    results: list[ResultOut] = Field(description="one per input text, in order")


class ModerateImageOut(ModerateOut):
    """The text response (one result) plus what was learnt from the image."""

    ocr_text: str = Field(description="the text OCR read from the image (moderated by the text cascade); may be ''")
    image_sha256: str = Field(description="SHA-256 of the uploaded bytes (the decision's `text_sha256`)")
    width: int
    height: int
    media_type: str = Field(description="the type sniffed from the bytes (the file name is not trusted)")
    warnings: list[str] = Field(description="e.g. a file name whose extension disagrees with the content")


class DeliveryOut(BaseModel):
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: float
    created_at: datetime


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    total: int
    done: int
    surface: str
    policy_version: str | None
    error: str | None
    webhook_url: str | None
    webhook_status: Literal["none", "pending", "delivered", "failed"]
    deliveries: list[DeliveryOut]
    results: list[ResultOut] | None = Field(description="once moderated (kept even when the callback failed)")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class DecisionOut(BaseModel):
    id: str
    action: Action
    categories: dict[str, Any] = Field(description="the flagged categories: score, action, detectors, evidence")
    policy_version: str
    surface: str
    source_ref: str | None
    text_sha256: str
    text_bytes: int
    job_id: str | None
    review_item_id: str | None
    tiers_run: list[int]
    timings_ms: dict[str, float]
    created_at: datetime


class PolicyOut(BaseModel):
    name: str
    version: int
    version_id: str = Field(description="what every decision records")
    description: str
    categories: dict[str, dict[str, float | int | str]] = Field(description="severity, thresholds, description")
    surfaces: dict[str, dict[str, dict[str, float]]]
    tiers: str = Field(description="cascade tiers this service runs (CONTENTMOD__TIERS)")
    review_actions: list[str]


class ReviewItemOut(BaseModel):
    id: UUID
    source_ref: str | None
    text: str
    surface: str | None
    policy_version: str
    action: Action
    categories: dict[str, Any]
    severity: int
    reach: int
    status: Literal["pending", "claimed", "escalated", "decided", "appealed"]
    claimed_by: str | None
    claimed_at: datetime | None
    decision: Literal["allow", "remove"] | None
    decided_by: str | None
    first_decided_by: str | None
    decided_at: datetime | None
    appeal_reason: str | None
    version: int
    sla_due_at: datetime
    created_at: datetime
    updated_at: datetime
    priority: float
    overdue: bool
    media_sha256: str | None = Field(
        default=None, description="an image item: its bytes are at GET /review/items/{id}/media; `text` is its OCR text"
    )


class HistoryOut(BaseModel):
    actor: str
    action: str
    from_status: str | None
    to_status: str
    note: str | None
    created_at: datetime


class ReviewItemDetail(ReviewItemOut):
    history: list[HistoryOut]


class DecideIn(BaseModel):
    decision: Literal["allow", "remove"]
    note: str | None = Field(default=None, max_length=4000)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class EscalateIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="why a senior reviewer should look")


class AppealIn(BaseModel):
    decision_id: str = Field(description="the `id` of a result from POST /moderate or a job")
    reason: str = Field(min_length=1, max_length=4000)
    text: str | None = Field(
        default=None, description="the original text: required for automated decisions (checked against its hash)"
    )


class LabelledOut(BaseModel):
    text: str
    categories: list[str]
    decision: Literal["allow", "remove"]
    label: int = Field(description="1 = removed (a positive for the flagged categories)")
    policy_version: str
    decided_by: str
    decided_at: datetime


class ThresholdChangeOut(BaseModel):
    category: str
    threshold: Literal["block", "review"]
    old: float
    new: float
    support: int = Field(description="labelled items on the moved side of the new threshold")
    rate: float = Field(description="their removal rate")
    description: str


class CalibrationOut(BaseModel):
    policy_version: str = Field(description="the tenant's current policy (the proposal is its next version)")
    labelled: int = Field(description="reviewer decisions used")
    per_category: dict[str, int]
    changes: list[ThresholdChangeOut]
    policy_yaml: str | None = Field(description="the proposed next policy version; null when nothing changes")
