"""NL-to-SQL analytics configuration (environment prefix ``NL2SQL__``, e.g. ``NL2SQL__ROW_LIMIT=500``).

Model ids, URLs and the platform database live in ``shared.settings``; this holds the project's own knobs.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Nl2SqlSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NL2SQL__", env_file=".env", extra="ignore", env_file_encoding="utf-8")

    # -- SQL safety: validation, row-level security, execution (helper: nl2sql-safety) --------------------
    row_limit: int = Field(
        default=1000, ge=1, le=1_000_000, description="rows a query may return; more are cut and reported as truncated"
    )
    statement_timeout_ms: int = Field(
        default=10_000, ge=1, description="a query running longer is cancelled (QueryTimeoutError)"
    )
    sample_values: int = Field(
        default=5, ge=0, le=50, description="distinct sample values introspected per text column (for value linking)"
    )
    sample_scan_rows: int = Field(
        default=2000, ge=1, description="rows scanned per text column to find sample values: bounded even on big tables"
    )
    sample_value_max_chars: int = Field(default=80, ge=1, description="longer sample values are cut to this")


@lru_cache(maxsize=1)
def get_nl2sql_settings() -> Nl2SqlSettings:
    return Nl2SqlSettings()
