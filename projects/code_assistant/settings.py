"""Code-assistant configuration (environment prefix ``CODE__``, e.g. ``CODE__MAX_FILE_BYTES=2000000``).

Model ids and URLs live in ``shared.settings``; this section holds what only the code assistant has. Each limit
says what it protects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

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

    # -- debug loop (debug.py, localize.py): how much the model sees and how long it may try ---------------------
    debug_max_attempts: int = Field(
        default=4, ge=1, le=20, description="model answers per debug run; each costs a generation and a test run"
    )
    debug_max_tokens: int = Field(
        default=400, ge=32, description="answer budget per attempt: an edit block is short, rambling is not a fix"
    )
    debug_context_lines: int = Field(
        default=120, ge=10, description="code lines shown to the model (localised regions); the main prompt cost"
    )
    debug_max_region_lines: int = Field(
        default=60, ge=5, description="one region's cap (a 500-line function is clipped around the failing line)"
    )
    debug_failure_chars: int = Field(
        default=2500, ge=200, description="test output shown per attempt: head plus assertion lines, the rest cut"
    )
    debug_max_parse_files: int = Field(
        default=5000, ge=1, description="files parsed on the fly to find definitions when no index is plugged in"
    )
    debug_test_timeout_s: float = Field(
        default=120.0, gt=0, description="wall clock of one sandboxed test run (the whole suite, not one test)"
    )
    debug_max_failures: int = Field(
        default=20, ge=1, description="pytest --maxfail: enough failures to compare attempts, bounded run time"
    )
    debug_strategies: list[Literal["infill", "chat"]] = Field(
        default=["infill", "chat"],
        description="repair strategies in order: 'infill' re-predicts single lines of the suspect functions with FIM "
        "(what a 0.5B model is good at), 'chat' asks for SEARCH/REPLACE edits and iterates on the test output",
    )
    debug_infill_candidates: int = Field(
        default=24,
        ge=0,
        description="FIM requests (masked lines) per debug run; each candidate passing the compile "
        "check costs one sandboxed test run",
    )
    debug_infill_regions: int = Field(default=3, ge=1, description="top-ranked code regions whose lines are infilled")
    debug_pytest_plugins: bool = Field(
        default=False,
        description="let pytest autoload the server's installed plugins in the sandbox; off: 0.6 s instead of 2.6 s "
        "per run here and no dependence on what the server has installed; on: for tests needing e.g. pytest-asyncio",
    )


@lru_cache
def get_code_settings() -> CodeSettings:
    return CodeSettings()
