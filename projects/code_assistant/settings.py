"""Code-assistant configuration (environment prefix ``CODE__``, e.g. ``CODE__MAX_FILE_BYTES=2000000``).

Model ids and URLs live in ``shared.settings``; this section holds what only the code assistant has. Each limit
says what it protects.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CodeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CODE__",
        env_file=".env",
        extra="ignore",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
    )

    # -- indexing: what is read, and how much ------------------------------------------------------------
    max_file_bytes: int = Field(
        default=1_000_000,
        ge=1,
        description="larger files are skipped (minified bundles, data dumps, the 200 MB binary someone committed): "
        "they are rarely what a question is about and would dominate embedding time",
    )
    max_files: int = Field(
        default=200_000, ge=1, description="files one index run may take; the rest are reported as skipped"
    )
    index_batch_files: int = Field(
        default=200,
        ge=1,
        description="files parsed, embedded and written per batch: bounds memory on large repositories",
    )
    chunk_max_lines: int = Field(
        default=150, ge=10, description="a definition longer than this is split into line windows (keeps its symbol)"
    )
    line_chunk_lines: int = Field(default=60, ge=5, description="window size for files without a grammar")
    line_chunk_overlap: int = Field(default=10, ge=0, description="lines shared by consecutive windows")

    # -- document / review: bounds on what one docstring, README section or diff review costs --------------------
    doc_max_code_chars: int = Field(
        default=6000, ge=200, description="definition code shown to the model; a longer class is shown as an outline"
    )
    doc_max_callee_signatures: int = Field(
        default=8, ge=0, description="signatures of same-file functions the definition calls, given as context"
    )
    doc_max_tokens: int = Field(default=200, ge=16, description="model answer budget for one docstring")
    doc_max_lines: int = Field(default=40, ge=1, description="a longer generated docstring is cut at this many lines")
    doc_max_chars: int = Field(default=2000, ge=40, description="a longer generated docstring is cut (line boundary)")
    readme_map_tokens: int = Field(
        default=1024, ge=64, description="repo-map budget describing a package to the model for its README section"
    )
    readme_max_symbols: int = Field(default=60, ge=1, description="public API entries listed in a README section")
    readme_max_tokens: int = Field(default=320, ge=32, description="model answer budget for the overview + example")
    review_max_diff_chars: int = Field(
        default=2_000_000, ge=1000, description="a larger diff is refused outright (parsing it is already the cost)"
    )
    review_max_hunks: int = Field(
        default=24, ge=0, description="hunks sent to the model per review; the rest get the rule-based checks only"
    )
    review_hunk_max_lines: int = Field(default=120, ge=5, description="lines of one hunk shown to the model")
    review_max_tokens: int = Field(default=256, ge=32, description="model answer budget for one hunk's comments")
    review_max_comments_per_hunk: int = Field(default=5, ge=1, description="model comments kept per hunk")
    review_concurrency: int = Field(
        default=8, ge=1, le=32, description="hunks reviewed at once (the local backend batches up to 8 requests)"
    )
    review_structured_retries: int = Field(
        default=1, ge=0, description="re-asks after schema-invalid JSON for one hunk before giving up on it"
    )


@lru_cache
def get_code_settings() -> CodeSettings:
    return CodeSettings()
