"""Content moderation configuration (environment prefix ``MODERATION__``).

Model ids live in ``shared.settings``; this section holds the policy choice and the cascade's knobs.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModerationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODERATION__", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    policy: str = Field(default="default", description="policies/<name>.yaml")
    knn_k: int = Field(default=10, ge=1, le=200, description="neighbours voting in the embedding k-NN tier")
    uncertain_low: float = Field(default=0.3, ge=0, le=1, description="the LLM judge sees texts whose top score is")
    uncertain_high: float = Field(default=0.7, ge=0, le=1, description="within [uncertain_low, uncertain_high)")


@lru_cache
def get_moderation_settings() -> ModerationSettings:
    return ModerationSettings()
