"""What one question produces, end to end: the contract between the pipeline, the API, the UI and the eval.

Every stage reports what it did (linked schema, few-shot examples, each SQL attempt with its error, the
policy-rewritten SQL that actually ran, timings), because a user who cannot see *why* an answer is what it
is cannot trust it — the top complaint about NL-to-SQL tools.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


def json_value(value: Any) -> Any:
    """A database cell as JSON (PostgreSQL gives Decimal, date, datetime, bytes): the one conversion the
    pipeline, the SQL editor, tiles and CSV export share."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


AnswerStatus = Literal["ok", "clarify", "refused", "failed"]


class ProblemDetail(BaseModel):
    """A machine-readable reason (``SqlSafetyError.code``: NOT_READ_ONLY, UNKNOWN_COLUMN, TIMEOUT, ...)."""

    code: str
    message: str
    suggestion: str | None = None


class Attempt(BaseModel):
    """One generated statement and what validation or execution said about it (fed back on retry)."""

    sql: str
    error: ProblemDetail | None = None


class LinkedSchema(BaseModel):
    """The slice of the schema the generator sees: a 100-table database still fits a small model's context."""

    tables: list[str] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list, description="table.column")
    metrics: list[str] = Field(default_factory=list, description="semantic-layer metric names")
    values: list[str] = Field(default_factory=list, description="table.column = 'value' matched in the question")
    joins: list[str] = Field(default_factory=list, description="a.col = b.col join paths between linked tables")
    prompt: str = Field(default="", description="the schema text given to the model")


class Example(BaseModel):
    """A verified question → SQL pair (few-shot; users save corrected pairs and the system learns from use)."""

    question: str
    sql: str
    score: float | None = None


class Chart(BaseModel):
    kind: Literal["line", "bar", "pie", "scatter", "kpi", "table"]
    reason: str = ""
    vega_lite: dict[str, Any] | None = None


class InsightOut(BaseModel):
    text: str
    source: Literal["llm", "template"]
    facts: list[dict[str, Any]] = Field(default_factory=list)


class Answer(BaseModel):
    question: str
    connection: str
    status: AnswerStatus
    sql: str | None = Field(default=None, description="the validated statement (before row-level security)")
    executed_sql: str | None = Field(default=None, description="what ran: policies injected, row limit applied")
    dialect: str = "sqlite"
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    truncated: bool = False
    chart: Chart | None = None
    insight: InsightOut | None = None
    assumptions: list[str] = Field(default_factory=list, description="stated when the question was ambiguous")
    clarification: str | None = Field(default=None, description="a question back to the user (status clarify)")
    error: ProblemDetail | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    linked: LinkedSchema | None = None
    examples: list[Example] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="per stage: linking, generation, validation, execution, insight"
    )


class AskPipeline(Protocol):
    """What the API, UI and eval call; :class:`projects.nl2sql_analytics.pipeline.Nl2SqlPipeline` implements it."""

    def ask(self, question: str, connection: str, *, user: str | None = None, insight: bool = True) -> Answer: ...
