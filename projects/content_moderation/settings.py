"""Content-moderation service configuration (environment prefix ``CONTENTMOD__``, e.g. ``CONTENTMOD__MAX_TEXT_BYTES``).

The cascade itself (policy file, k-NN neighbours, uncertainty band) is the shared ``moderation`` section
(``MODERATION__*``), because the guardrail rails of the other projects run the same cascade. This section holds
what only the service has: input limits, which cascade tiers the API runs, tenant policies, the review-queue
rules, and the webhook contract of asynchronous jobs. Each limit says what it protects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Tiers = Literal["keywords", "fast", "full"]
Action = Literal["allow", "flag", "review", "block"]


class ContentModerationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONTENTMOD__", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    # -- input limits ------------------------------------------------------------------------------------
    max_text_bytes: int = Field(
        default=64 * 1024,
        ge=1,
        description="UTF-8 bytes per text; longer texts are refused with 413 (tier-1 models slow down linearly, "
        "and a 1 MB 'comment' is an attack or a file, not a message)",
    )
    max_image_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1,
        description="bytes per uploaded image (POST /moderate/image), checked while reading the upload (413): "
        "decoding, NSFW detection and OCR all scale with it, and an image is kept only when it goes to review",
    )
    max_batch_texts: int = Field(default=100, ge=1, description="texts per synchronous POST /moderate")
    max_job_texts: int = Field(default=1000, ge=1, description="texts per asynchronous job (POST /jobs)")
    job_batch_size: int = Field(default=32, ge=1, description="texts the job worker moderates per cascade call")

    # -- the cascade -------------------------------------------------------------------------------------
    tiers: Tiers = Field(
        default="full", description="cascade the API runs: keywords (tier 0), fast (+ packaged), full (+ k-NN)"
    )
    tenant_policies: dict[str, str] = Field(
        default_factory=dict,
        description="tenant id → policy name (shared/moderation/policies/<name>.yaml); others use MODERATION__POLICY",
    )

    # -- review queue ------------------------------------------------------------------------------------
    review_actions: list[Action] = Field(
        default_factory=lambda: ["review"],
        description="verdict actions that put the text in the human review queue (add 'block' to audit blocks)",
    )
    review_sla_hours: float = Field(default=24.0, gt=0, description="time to a first decision before `overdue`")
    reviewer_group: str | None = Field(
        default="moderators",
        description="X-Groups value required for /review endpoints (403 otherwise); empty = any user of the tenant",
    )

    # -- asynchronous jobs and webhooks ------------------------------------------------------------------
    webhook_allowlist: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"],
        description="hosts ('hooks.example.com', '*.example.com') or URL prefixes ('https://h.example.com/cb/') "
        "a job's callback may go to; anything else is refused (403) before the job is stored (no SSRF)",
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr("dev-only-webhook-secret-change-me"),
        description="HMAC-SHA256 key of the X-Moderation-Signature header (t=<unix>, v1=<hex>); set it in prod",
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="per delivery attempt (connect + read)")
    webhook_max_attempts: int = Field(default=3, ge=1, le=10, description="deliveries tried before the job fails")
    webhook_backoff_s: float = Field(default=1.0, ge=0, description="wait before retry n is backoff × 2^(n-1)")
    job_queue: str = Field(default="moderation", description="shared job queue name of moderation jobs")
    inline_worker: bool = Field(default=True, description="run jobs in a thread of the API process")


@lru_cache
def get_content_moderation_settings() -> ContentModerationSettings:
    return ContentModerationSettings()
