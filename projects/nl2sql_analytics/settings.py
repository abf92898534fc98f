"""NL-to-SQL analytics configuration (environment prefix ``NL2SQL__``, e.g. ``NL2SQL__EVAL_TIMEOUT_S=5``).

Model ids, URLs and the database live in ``shared.settings``; this holds the project's own knobs.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Nl2SqlSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NL2SQL__", env_file=".env", extra="ignore", env_file_encoding="utf-8")

    # -- evaluation (projects/nl2sql_analytics/eval.py) ------------------------------------------------
    eval_timeout_s: float = Field(
        default=10.0, gt=0, description="wall-clock budget per statement when the eval executes gold/generated SQL"
    )
    eval_max_rows: int = Field(
        default=100_000, ge=1, description="rows the eval fetches per statement; a larger result counts as an error"
    )
    naive_max_tokens: int = Field(
        default=256, ge=16, le=4096, description="completion budget of the naive baseline's single LLM call"
    )


@lru_cache(maxsize=1)
def get_nl2sql_settings() -> Nl2SqlSettings:
    return Nl2SqlSettings()
