"""Question → linked schema → SQL (few-shot, bounded retries) → validate → row policies → run → chart → insight.

Why each stage exists (the anchors' users' top complaints):

* **Schema linking** keeps a large schema inside a small model's context (only linked tables, with
  descriptions, sample values, metrics and join hints) — "it fails on our 100-table warehouse".
* **Validation before execution** (sqlglot) catches hallucinated columns and non-SELECTs, and its
  machine-readable error (``UNKNOWN_COLUMN ... Hint: did you mean customer_id``) goes back to the model
  for a bounded number of retries — "it invents columns", "local models fail".
* **Row-level security** is injected into the AST *after* validation, never trusted to the prompt, so no
  phrasing can read another region's rows; a policy denial is final, not retried.
* **Deterministic repairs** (``repair.py``: ambiguous join columns qualified) run before validation: no model
  call for what needs no judgement.
* **Numbers in the insight come from computed facts** (``insights.verify_numbers``), never from the model.

Write intents ("delete all orders") are refused before any model call: the assistant only reads, and
saying so is clearer than a validation error about a DELETE the user never saw.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

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
    json_value,
)
from projects.nl2sql_analytics.policies import PolicySet, apply_policies
from projects.nl2sql_analytics.repair import qualify_ambiguous_columns
from projects.nl2sql_analytics.semantic import SemanticLayer
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from projects.nl2sql_analytics.validation import validate
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
        schemas: Callable[[str], SchemaInfo] | None = None,
        settings: Nl2SqlSettings | None = None,
    ) -> None:
        self._chat = chat
        self._schema_lookup = schemas
        self._indexed: dict[str, int] = {}
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
        if self._schema_lookup is not None:  # the service's cache (shared with the SQL editor and tiles)
            return self._schema_lookup(connection.name)
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
        answer = Answer(question=q, connection=conn.name, status="failed", dialect=conn.dialect)
        timings = answer.timings_ms
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
            self._ensure_indexed(conn, schema, layer)
            linked = self.linker.link(conn.name, q, schema, layer)
            examples = self.examples.similar(conn.name, q, self.settings.examples_k) if self.examples else []
            examples = [e for e in examples if e.score is None or e.score >= self.settings.examples_min_score]
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

            result = self._generate_and_run(q, linked, examples, schema, conn, user, instructions, answer, notify)
            if result is None:
                return answer
            answer.status = "ok"
            answer.assumptions.extend(_metric_assumptions(answer.sql or "", linked, layer))
            answer.assumptions.extend(_reading_assumptions(q, answer.sql or "", conn.dialect))
            answer.columns = result.columns
            answer.rows = [[json_value(v) for v in row] for row in result.rows]
            answer.truncated = result.truncated
            if result.truncated:
                answer.assumptions.append(f"Only the first {len(result.rows)} rows are shown (row limit).")
            self._present(q, answer, insight, notify)
        return answer

    def _ensure_indexed(self, conn: Connection, schema: SchemaInfo, layer: SemanticLayer | None) -> None:
        """Re-index the schema documents when the schema or the semantic layer changed (an edit in the UI)."""
        index = getattr(self.linker, "index", None)
        if index is None:
            return
        key = hash((schema.model_dump_json(), layer.model_dump_json() if layer else ""))
        if self._indexed.get(conn.name) != key:
            index(conn.name, schema, layer)
            self._indexed[conn.name] = key

    def _generate_and_run(
        self,
        question: str,
        linked: LinkedSchema,
        examples: list[Example],
        schema: SchemaInfo,
        conn: Connection,
        user: str | None,
        instructions: str,
        answer: Answer,
        notify: Callable[[str, dict[str, Any]], None],
    ) -> QueryResult | None:
        """Generate → validate → police → execute. A validation or execution error is fed back to the model
        (at most ``1 + max_retries`` generations); a policy denial or a timeout ends the question."""
        timings = answer.timings_ms
        for attempt_no in range(1 + self.settings.max_retries):
            t0 = time.perf_counter()
            notify("generation", {"attempt": attempt_no + 1})
            messages = build_messages(
                question, linked.prompt, conn.dialect, instructions=instructions, examples=examples,
                attempts=answer.attempts,
            )  # fmt: skip
            generated = generate_sql(self.chat, messages, max_tokens=self.settings.sql_max_tokens)
            _add(timings, "generation", t0)
            for assumption in generated.assumptions:
                if assumption not in answer.assumptions:
                    answer.assumptions.append(assumption)
            t0 = time.perf_counter()
            if generated.sql:
                generated.sql = qualify_ambiguous_columns(generated.sql, schema, conn.dialect)
            attempt = Attempt(sql=generated.sql or generated.raw[:500])
            answer.attempts.append(attempt)
            try:
                validated = validate(generated.sql, schema, conn.dialect, row_limit=self.settings.row_limit)
                policies = self.policies(conn.name)
                policed = apply_policies(validated, policies, user, schema) if policies else validated
            except PolicyDeniedError as exc:
                attempt.error = _problem(exc)
                answer.status, answer.error, answer.sql = "refused", attempt.error, generated.sql
                return None
            except SqlSafetyError as exc:
                attempt.error = _problem(exc)
                notify("validation", {"ok": False, "code": exc.code})
                continue
            finally:
                _add(timings, "validation", t0)
            notify("validation", {"ok": True})
            answer.sql, answer.executed_sql = generated.sql, policed.sql
            t0 = time.perf_counter()
            notify("execution", {})
            try:
                return execute(conn, policed, self.settings)
            except QueryTimeoutError as exc:
                attempt.error = _problem(exc)
                answer.status, answer.error = "failed", attempt.error
                return None
            except SqlSafetyError as exc:  # the database's own error (types, functions): fed back
                attempt.error = _problem(exc)
                notify("execution", {"ok": False, "code": exc.code})
            finally:
                _add(timings, "execution", t0)
        answer.status = "failed"
        answer.error = answer.attempts[-1].error if answer.attempts else None
        return None

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


def _metric_assumptions(sql: str, linked: LinkedSchema, layer: SemanticLayer | None) -> list[str]:
    """Name the business definitions the query used ("revenue" is not self-evident: gross? net of refunds?)."""
    if layer is None:
        return []
    flat = "".join(sql.lower().split())
    out = []
    for name in linked.metrics:
        metric = layer.metrics.get(name)
        if metric and "".join(metric.sql.lower().split()) in flat:
            out.append(f"'{name}' is {metric.sql} (semantic layer: {metric.description})")
    return out


_VAGUE = re.compile(
    r"\b(best|worst|top|bottom|most|least|biggest|largest|smallest|highest|lowest|popular|important|good|bad|"
    r"recent|latest|main|key|leading)\b",
    re.I,
)


def _reading_assumptions(question: str, sql: str, dialect: str) -> list[str]:
    """For a vague question ("best customers", "recent orders"), say how the query read it — the ranking and the
    cut-off it chose — so the user can correct it instead of trusting a silent guess."""
    if not _VAGUE.search(question) or not sql:
        return []
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return []
    out = []
    order = tree.args.get("order")
    if order is not None:
        selected = tree.selects if isinstance(tree, exp.Select) else []

        def name(node: exp.Expression) -> str:  # ORDER BY 2 → the second selected column's name
            if isinstance(node, exp.Literal) and node.is_int and 0 < int(node.this) <= len(selected):
                sel = selected[int(node.this) - 1]
                return sel.alias or (sel.name if isinstance(sel, exp.Column) else sel.sql(dialect=dialect))
            return node.sql(dialect=dialect)

        keys = [f"{name(o.this)} ({'highest' if o.args.get('desc') else 'lowest'} first)" for o in order.expressions]
        out.append("'" + _VAGUE.search(question).group(1) + "' was read as: ranked by " + ", ".join(keys))
    limit = tree.args.get("limit")
    if limit is not None and limit.expression is not None:
        out.append(f"Only the first {limit.expression.sql(dialect=dialect)} rows of that ranking are shown.")
    return out


def _problem(exc: SqlSafetyError) -> ProblemDetail:
    return ProblemDetail(code=exc.code, message=exc.message, suggestion=exc.suggestion)


def _add(timings: dict[str, float], stage: str, t0: float) -> None:
    timings[stage] = round(timings.get(stage, 0.0) + (time.perf_counter() - t0) * 1000, 1)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


def _unique(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
        out.append(c if seen[c] == 1 else f"{c}_{seen[c]}")
    return out


def build_pipeline(ctx: Any, service: Any, settings: Nl2SqlSettings) -> Nl2SqlPipeline:
    """The production pipeline of the API (``api.default_pipeline``): the platform's chat model and embedder,
    the service's connections, schemas, semantic layers, policies and examples store."""
    from projects.nl2sql_analytics.linking import SchemaLinker

    return Nl2SqlPipeline(
        ctx.chat_model,
        SchemaLinker(ctx.db_url(), ctx.embedder(), settings),
        connections=service.connection,
        semantic=service.semantic_layer,
        policies=service.policies,
        examples=service.examples,
        schemas=service.schema,
        settings=settings,
    )
