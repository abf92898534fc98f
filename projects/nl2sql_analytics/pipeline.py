"""Question → linked schema → SQL (few-shot, bounded retries) → validate → row policies → run → chart → insight.

Why each stage exists (the anchors' users' top complaints):

* **Schema linking** keeps a large schema inside a small model's context (only linked tables, with
  descriptions, sample values, metrics and join hints) — "it fails on our 100-table warehouse".
* **Validation before execution** (sqlglot) catches hallucinated columns and non-SELECTs, and its
  machine-readable error (``UNKNOWN_COLUMN ... Hint: did you mean customer_id``) goes back to the model
  for a bounded number of retries — "it invents columns", "local models fail".
* **Row-level security** is injected into the AST *after* validation, never trusted to the prompt, so no
  phrasing can read another region's rows; a policy denial is final, not retried.
* **Numbers in the insight come from computed facts** (``insights.verify_numbers``), never from the model.

Write intents ("delete all orders") are refused before any model call: the assistant only reads, and
saying so is clearer than a validation error about a DELETE the user never saw.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from projects.nl2sql_analytics.charts import auto_chart
from projects.nl2sql_analytics.connections import Connection, SchemaInfo, introspect
from projects.nl2sql_analytics.errors import PolicyDeniedError, QueryTimeoutError, SqlSafetyError
from projects.nl2sql_analytics.executor import QueryResult, execute
from projects.nl2sql_analytics.generation import build_messages, generate_sql
from projects.nl2sql_analytics.insights import compute_facts, phrase_insight
from projects.nl2sql_analytics.models import (
    Answer,
    Attempt,
    Chart,
    Example,
    InsightOut,
    LinkedSchema,
    ProblemDetail,
)
from projects.nl2sql_analytics.policies import PolicySet, apply_policies
from projects.nl2sql_analytics.semantic import SemanticLayer
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from projects.nl2sql_analytics.validation import ValidatedQuery, validate
from shared.observability.tracing import span
from shared.serving.base import ChatModel

log = logging.getLogger(__name__)

_WRITE_INTENT = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+|now\s+)?(delete|drop|remove|truncate|update|insert|alter|create|"
    r"rename|grant|revoke|modify|overwrite|wipe|erase|add a (?:row|column|table))\b",
    re.I,
)


class Linker(Protocol):
    def link(
        self, connection_name: str, question: str, schema: SchemaInfo, layer: SemanticLayer | None = None
    ) -> LinkedSchema: ...


class ExampleSource(Protocol):
    def similar(self, connection: str, question: str, k: int) -> list[Example]: ...


class QuestionError(ValueError):
    """The question itself is unusable (empty, too long): a 422, not an answer."""


def check_question(question: str, settings: Nl2SqlSettings) -> str:
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("the question is empty")
    if len(q) > settings.max_question_chars:
        raise QuestionError(f"the question has {len(q)} characters; the limit is {settings.max_question_chars}")
    return q


def json_value(value: Any) -> Any:
    """Database values as JSON: Decimals to float, dates to ISO strings, bytes to a marker."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    return value


class Nl2SqlPipeline:
    """One instance per process; connections, schemas and semantic layers are looked up per question."""

    def __init__(
        self,
        chat: ChatModel | Callable[[], ChatModel],
        linker: Linker,
        *,
        connections: Callable[[str], Connection],
        semantic: Callable[[str], SemanticLayer | None] = lambda _name: None,
        policies: Callable[[str], PolicySet | None] = lambda _name: None,
        examples: ExampleSource | None = None,
        settings: Nl2SqlSettings | None = None,
    ) -> None:
        self._chat = chat
        self.linker = linker
        self.connections = connections
        self.semantic = semantic
        self.policies = policies
        self.examples = examples
        self.settings = settings or get_nl2sql_settings()
        self._schemas: dict[str, SchemaInfo] = {}

    @property
    def chat(self) -> ChatModel:
        """Resolved on first use, so an API that only runs hand-written SQL never loads a model."""
        if not isinstance(self._chat, ChatModel):
            self._chat = self._chat()
        return self._chat

    def schema(self, connection: Connection, *, refresh: bool = False) -> SchemaInfo:
        if refresh or connection.name not in self._schemas:
            self._schemas[connection.name] = introspect(connection, self.settings)
        return self._schemas[connection.name]

    # -- the pipeline ------------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        connection: str,
        *,
        user: str | None = None,
        insight: bool = True,
        instructions: str = "",
        on_stage: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> Answer:
        """Answer ``question`` on the named connection as ``user``; never raises for a bad *answer*, only for
        a bad *question* (:class:`QuestionError`) or an unknown connection (``KeyError`` from the lookup)."""
        q = check_question(question, self.settings)
        conn = self.connections(connection)
        notify = on_stage or (lambda _stage, _data: None)
        timings: dict[str, float] = {}
        answer = Answer(question=q, connection=conn.name, status="failed", dialect=conn.dialect, timings_ms=timings)
        if _WRITE_INTENT.search(q):
            answer.status = "refused"
            answer.error = ProblemDetail(
                code="WRITE_REFUSED",
                message="This assistant only reads data; it never changes, deletes or creates anything.",
                suggestion="Ask a question about the data instead, e.g. 'how many orders were cancelled last month?'",
            )
            return answer
        with span("nl2sql.ask", connection=conn.name):
            schema = self.schema(conn)
            layer = self.semantic(conn.name)

            t0 = time.perf_counter()
            notify("linking", {})
            linked = self.linker.link(conn.name, q, schema, layer)
            examples = self.examples.similar(conn.name, q, self.settings.few_shot_k) if self.examples else []
            examples = [e for e in examples if e.score is None or e.score >= self.settings.few_shot_min_score]
            timings["linking"] = _ms(t0)
            answer.linked, answer.examples = linked, examples
            notify("linked", {"tables": linked.tables, "examples": len(examples)})
            if not linked.tables:
                answer.status = "clarify"
                answer.clarification = (
                    "I could not match this question to the data. Which of these would you like to ask about: "
                    + ", ".join(schema.table_names()[:12])
                    + "?"
                )
                return answer

            validated = self._generate_valid(q, linked, examples, schema, conn, instructions, answer, notify)
            if validated is None:
                return answer
            result = self._run(validated, conn, schema, user, answer, notify)
            if result is None:
                return answer
            answer.status = "ok"
            answer.columns = result.columns
            answer.rows = [[json_value(v) for v in row] for row in result.rows]
            answer.truncated = result.truncated
            if result.truncated:
                answer.assumptions.append(f"Only the first {len(result.rows)} rows are shown (row limit).")
            self._present(q, answer, insight, notify)
        return answer

    def _generate_valid(
        self,
        question: str,
        linked: LinkedSchema,
        examples: list[Example],
        schema: SchemaInfo,
        conn: Connection,
        instructions: str,
        answer: Answer,
        notify: Callable[[str, dict[str, Any]], None],
    ) -> ValidatedQuery | None:
        """Generate, validate, and on a validation error feed it back — at most ``1 + max_retries`` calls."""
        timings = answer.timings_ms
        for attempt_no in range(1 + self.settings.max_retries):
            t0 = time.perf_counter()
            notify("generation", {"attempt": attempt_no + 1})
            messages = build_messages(
                question, linked.prompt, conn.dialect, instructions=instructions, examples=examples,
                attempts=answer.attempts,
            )  # fmt: skip
            generated = generate_sql(self.chat, messages, max_tokens=self.settings.sql_max_tokens)
            timings["generation"] = timings.get("generation", 0.0) + _ms(t0)
            for assumption in generated.assumptions:
                if assumption not in answer.assumptions:
                    answer.assumptions.append(assumption)
            t0 = time.perf_counter()
            try:
                validated = validate(generated.sql, schema, conn.dialect, row_limit=self.settings.row_limit)
            except SqlSafetyError as exc:
                answer.attempts.append(Attempt(sql=generated.sql or generated.raw[:500], error=_problem(exc)))
                notify("validation", {"ok": False, "code": exc.code})
                continue
            finally:
                timings["validation"] = timings.get("validation", 0.0) + _ms(t0)
            answer.attempts.append(Attempt(sql=generated.sql))
            answer.sql = generated.sql
            notify("validation", {"ok": True})
            return validated
        answer.status = "failed"
        answer.error = answer.attempts[-1].error if answer.attempts else None
        return None

    def _run(
        self,
        validated: ValidatedQuery,
        conn: Connection,
        schema: SchemaInfo,
        user: str | None,
        answer: Answer,
        notify: Callable[[str, dict[str, Any]], None],
    ) -> QueryResult | None:
        timings = answer.timings_ms
        t0 = time.perf_counter()
        notify("execution", {})
        try:
            policies = self.policies(conn.name)
            policed = apply_policies(validated, policies, user, schema) if policies else validated
            answer.executed_sql = policed.sql
            result = execute(conn, policed, self.settings)
        except PolicyDeniedError as exc:
            answer.status, answer.error = "refused", _problem(exc)
            return None
        except QueryTimeoutError as exc:
            answer.status, answer.error = "failed", _problem(exc)
            return None
        except SqlSafetyError as exc:  # a run-time error (type mismatch, division...): shown, retriable by the user
            answer.status, answer.error = "failed", _problem(exc)
            if answer.attempts:
                answer.attempts[-1].error = answer.error
            return None
        finally:
            timings["execution"] = _ms(t0)
        return result

    def _present(
        self, question: str, answer: Answer, insight: bool, notify: Callable[[str, dict[str, Any]], None]
    ) -> None:
        """Chart and insight are best-effort: a rendering or model failure never loses the rows."""
        t0 = time.perf_counter()
        df = pd.DataFrame(answer.rows, columns=_unique(answer.columns))
        try:
            chart = auto_chart(df, question)
            answer.chart = Chart(kind=chart.spec.kind, reason=chart.spec.reason, vega_lite=chart.vega_lite)
        except Exception as exc:
            log.warning("chart failed: %s", exc)
        if insight and len(df):
            notify("insight", {})
            try:
                facts = compute_facts(df)
                out = phrase_insight(facts, question, self.chat, max_tokens=self.settings.insight_max_tokens)
                answer.insight = InsightOut(
                    text=out.text, source=out.source, facts=[f.model_dump(mode="json") for f in out.facts]
                )
            except Exception as exc:
                log.warning("insight failed: %s", exc)
        answer.timings_ms["insight"] = _ms(t0)


def _problem(exc: SqlSafetyError) -> ProblemDetail:
    return ProblemDetail(code=exc.code, message=exc.message, suggestion=exc.suggestion)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


def _unique(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
        out.append(c if seen[c] == 1 else f"{c}_{seen[c]}")
    return out
