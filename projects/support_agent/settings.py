"""Support-agent configuration (environment prefix ``SUPPORT__``, e.g. ``SUPPORT__RETURN_WINDOW_DAYS=14``).

Only what the deterministic core needs lives here so far: the policy limits that code (not the model) enforces.
Each field says what it protects.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SupportSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUPPORT__", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    # -- policy (enforced in projects/support_agent/policy.py) ------------------------------------------
    return_window_days: int = Field(
        default=30,
        ge=0,
        description="returns/exchanges only within this many days of delivery, when the delivery date is known "
        "(τ-bench rows have none, so their window is not checked)",
    )
    confirmation_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        description="a proposed write (PendingAction) older than this cannot be confirmed: a 'yes' an hour later "
        "is not consent to what was shown an hour ago",
    )


@lru_cache
def get_support_settings() -> SupportSettings:
    return SupportSettings()
