"""NL-to-SQL analytics configuration (environment prefix ``NL2SQL__``, e.g. ``NL2SQL__ROW_LIMIT=500``).

Model ids, URLs and the platform database live in ``shared.settings``; this holds the project's own knobs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import REPO_ROOT

PROJECT_DIR = Path(__file__).resolve().parent


class Nl2SqlSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NL2SQL__", env_file=".env", extra="ignore", env_file_encoding="utf-8")

    # -- SQL safety: validation, row-level security, execution --------------------
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
    # -- demo data, semantic layer, charts and insights -----------------------------
    demo_seed: int = Field(default=7, description="seed of the generated demo database (same seed, same rows)")
    demo_customers: int = Field(default=3000, ge=10, le=1_000_000, description="demo size; ~5 orders per customer")
    semantic_dir: Path = Field(
        default=PROJECT_DIR / "semantic", description="one YAML semantic layer per connection: <connection>.yaml"
    )
    chart_max_points: int = Field(default=5000, ge=10, description="rows embedded in a chart spec (the table has all)")
    pie_max_slices: int = Field(default=8, ge=2, le=20, description="more categories than this → bar, not pie")
    bar_max_categories: int = Field(default=50, ge=2, description="more categories than this → table only")
    insight_top_k: int = Field(default=3, ge=1, le=10, description="top categories reported as facts")
    insight_outlier_z: float = Field(
        default=3.5, gt=0, description="robust z-score (median/MAD) beyond which a value is an outlier"
    )
    insight_max_tokens: int = Field(default=100, ge=16, le=1024, description="LLM budget for the insight sentences")
    # -- service, API and dashboard (connections, tiles, history, export) ----------------
    data_dir: Path = Field(
        default=REPO_ROOT / "var" / "nl2sql",
        description="writable workspace: the demo SQLite file and semantic layers edited in the UI",
    )
    policies_dir: Path = Field(
        default=PROJECT_DIR / "policies", description="row-level security per connection: <connection>.yaml"
    )
    sqlite_roots: list[Path] = Field(
        default_factory=list,
        description="folders SQLite files may be registered from (data_dir always allowed): no reading arbitrary files",
    )
    max_question_chars: int = Field(default=2000, ge=10, description="longer questions are refused (422)")
    max_sql_chars: int = Field(default=20_000, ge=100, description="longer hand-written SQL is refused (422)")
    export_row_limit: int = Field(default=100_000, ge=1, description="rows a CSV export may hold; more are cut")
    schema_cache_s: float = Field(default=300.0, ge=0, description="introspected schemas are reused this long")
    connect_timeout_s: int = Field(default=5, ge=1, description="a PostgreSQL connection being registered must open")
    max_tiles_per_user: int = Field(default=50, ge=1, description="dashboard size limit per user")

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

    # -- pipeline: questions, generation, retries -------------------------------------------------------
    max_retries: int = Field(default=2, ge=0, le=5, description="LLM retries after a validation error is fed back")
    sql_max_tokens: int = Field(default=320, ge=32, le=4096, description="completion budget of one SQL generation")

    # -- schema linking and examples ---------------------------------------------------
    link_max_tables: int = Field(
        default=6, ge=1, le=50, description="tables retrieved for a question before join tables are added"
    )
    link_whole_schema_tables: int = Field(
        default=0, ge=0, le=100, description="schemas with at most this many tables are given whole (in linked order)"
    )
    link_max_join_tables: int = Field(
        default=4, ge=0, le=20, description="extra tables the linker may add only to JOIN the retrieved ones"
    )
    link_max_columns: int = Field(
        default=16, ge=2, le=200, description="columns rendered per linked table (keys and matched columns first)"
    )
    link_max_chars: int = Field(
        default=6000, ge=500, description="character budget of the linked-schema prompt (~1,500 tokens)"
    )
    link_candidates: int = Field(
        default=40, ge=5, le=200, description="schema documents taken from hybrid search before score aggregation"
    )
    link_min_relative_score: float = Field(
        default=0.3, ge=0, le=1, description="a retrieved table is kept if its score is at least this x the best one"
    )
    link_value_max_distinct: int = Field(
        default=60, ge=1, le=1000, description="text columns with more distinct values are not value-indexed"
    )
    link_value_scan_rows: int = Field(
        default=20_000, ge=100, description="rows scanned per text column when collecting values (bounded)"
    )
    link_max_values: int = Field(
        default=20_000, ge=0, description="values stored per connection for value matching, at most"
    )
    link_value_min_similarity: float = Field(
        default=0.75, gt=0, le=1, description="pg_trgm word similarity at which a question phrase matches a value"
    )
    link_description_chars: int = Field(default=160, ge=0, description="column/table comments are cut to this")
    examples_k: int = Field(default=3, ge=0, le=20, description="verified examples given to the generator as few-shot")
    examples_min_score: float = Field(
        default=0.35, ge=-1, le=1, description="cosine similarity below which an example is not shown"
    )
    examples_dir: Path = Field(
        default=PROJECT_DIR / "examples", description="seed files of verified question/SQL pairs: <connection>.yaml"
    )


@lru_cache(maxsize=1)
def get_nl2sql_settings() -> Nl2SqlSettings:
    return Nl2SqlSettings()
