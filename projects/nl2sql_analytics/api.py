"""HTTP layer of NL-to-SQL analytics (mounted by the platform under ``/analytics``; standalone via ``app.py``).

Routes only translate HTTP to :class:`Nl2SqlService` calls and errors to RFC 7807 problems. A refused or
failed SQL statement is a problem whose ``errors[0]`` carries the safety core's machine-readable ``code``
(NOT_READ_ONLY, UNKNOWN_COLUMN, POLICY_DENIED, TIMEOUT, ...), its message and a suggestion.

Identity: the end user comes from ``X-User-Id`` (row-level security, tiles and history are per user). As in
Enterprise RAG this is the integration point for an identity provider: a gateway/OIDC proxy authenticates the
user and sets the header (stripping client-sent ones); the API key of the platform kit authenticates the
client application.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from projects.nl2sql_analytics.connections import SchemaInfo
from projects.nl2sql_analytics.errors import PolicyDeniedError, QueryTimeoutError, SqlSafetyError
from projects.nl2sql_analytics.models import Answer, AskPipeline
from projects.nl2sql_analytics.service import (
    NAME_RE,
    ConnectionConflict,
    ConnectionInvalid,
    ConnectionNotFound,
    ConnectionOut,
    ExampleStore,
    HistoryOut,
    Nl2SqlService,
    SemanticInvalid,
    SemanticOut,
    TileLimitReached,
    TileNotFound,
    TileOut,
    TileResult,
    Unavailable,
    clean_text,
)
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from shared.api.context import ServiceContext
from shared.api.problems import PROBLEM_TYPE_BASE, ProblemError, problem_responses
from shared.api.sse import sse_response

MAX_USER_CHARS = 200

# -- identity ---------------------------------------------------------------------------------------------


def current_user(
    x_user_id: Annotated[str | None, Header(description="the end user (set by your IdP gateway)")] = None,
) -> str:
    user = clean_text(x_user_id or "")
    if not user or len(user) > MAX_USER_CHARS:
        raise ProblemError(401, "Unauthorized", "an X-User-Id header is required")
    return user


user_dep = Depends(current_user)


# -- request models ---------------------------------------------------------------------------------------


class AskIn(BaseModel):
    connection: str = Field(default="demo", max_length=63)
    question: str = Field(max_length=100_000, description="limited further by NL2SQL__MAX_QUESTION_CHARS")
    insight: bool = Field(default=True, description="phrase an insight with the LLM (facts are always computed)")


class SqlIn(BaseModel):
    connection: str = Field(default="demo", max_length=63)
    sql: str = Field(max_length=1_000_000, description="one read-only SELECT; limited by NL2SQL__MAX_SQL_CHARS")
    question: str = Field(default="", max_length=100_000, description="what it answers (chart choice, history)")


class ConnectionIn(BaseModel):
    name: str = Field(pattern=NAME_RE.pattern, description="lowercase letters, digits, '-' and '_'")
    target: str = Field(min_length=1, max_length=4000, description="SQLite file path or postgresql:// URL")
    description: str = Field(default="", max_length=2000)


class SemanticIn(BaseModel):
    yaml: str = Field(max_length=1_000_000, description="the whole semantic layer as YAML")


class TileIn(BaseModel):
    connection: str = Field(default="demo", max_length=63)
    title: str = Field(min_length=1, max_length=200)
    sql: str = Field(max_length=1_000_000)
    question: str = Field(default="", max_length=100_000)
    chart_kind: str | None = Field(default=None, description="default: the kind chosen for the first result")


class ExampleIn(BaseModel):
    connection: str = Field(default="demo", max_length=63)
    question: str = Field(max_length=100_000)
    sql: str = Field(max_length=1_000_000)


class ExampleOut(BaseModel):
    connection: str
    question: str
    sql: str


# -- error mapping ----------------------------------------------------------------------------------------


def _not_found(what: str) -> ProblemError:
    return ProblemError(404, "Not Found", f"{what} not found", type_=PROBLEM_TYPE_BASE + "not-found")


def _unprocessable(detail: str, kind: str = "validation-error", errors: list[dict] | None = None) -> ProblemError:
    return ProblemError(422, "Unprocessable Content", detail, type_=PROBLEM_TYPE_BASE + kind, errors=errors)


def _sql_problem(exc: SqlSafetyError) -> ProblemError:
    """Policy → 403, timeout → 504, anything else the statement did wrong → 422; the code travels in errors[0]."""
    status_, title = 422, "Unprocessable Content"
    if isinstance(exc, PolicyDeniedError):
        status_, title = 403, "Forbidden"
    elif isinstance(exc, QueryTimeoutError):
        status_, title = 504, "Gateway Timeout"
    detail = exc.message + (f" {exc.suggestion}" if exc.suggestion else "")
    kind = "sql-" + exc.code.lower().replace("_", "-")
    return ProblemError(status_, title, detail, type_=PROBLEM_TYPE_BASE + kind, errors=[exc.to_dict()])


def _text(value: str, what: str, limit: int) -> str:
    """Cleaned text (control characters and lone surrogates dropped), non-empty and at most ``limit`` chars."""
    text = clean_text(value)
    if not text:
        raise _unprocessable(f"the {what} is empty", "empty-" + what)
    if len(text) > limit:
        raise _unprocessable(f"the {what} has {len(text)} characters; the limit is {limit}", what + "-too-long")
    return text


SQL_ERRORS = problem_responses(401, 403, 404, 422, 504)


# -- router -----------------------------------------------------------------------------------------------


def default_pipeline(ctx: ServiceContext, service: Nl2SqlService, settings: Nl2SqlSettings) -> AskPipeline:
    """The production pipeline: ``projects.nl2sql_analytics.pipeline.build_pipeline(ctx, service, settings)``
    (the service resolves connections, semantic layers and policies for it). Built on the first question."""
    from projects.nl2sql_analytics import pipeline as module

    build = getattr(module, "build_pipeline", None)
    if build is None:
        raise Unavailable("projects.nl2sql_analytics.pipeline has no build_pipeline(ctx, service, settings)")
    return build(ctx, service, settings)


class LazyExampleStore:
    """The real :class:`examples.ExampleStore`, built on first use: listing connections must not load the
    embedder, saving or retrieving an example may."""

    def __init__(self, ctx: ServiceContext, settings: Nl2SqlSettings) -> None:
        self._ctx, self._settings = ctx, settings
        self._store: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._store is None:
                from projects.nl2sql_analytics.examples import ExampleStore

                self._store = ExampleStore(self._ctx.db_url(), self._ctx.embedder(), self._settings)
        return self._store

    def add(self, connection: str, question: str, sql: str, user: str) -> str:
        return self._get().add(connection, question, sql, user)

    def similar(self, connection: str, question: str, k: int) -> list[Any]:
        return self._get().similar(connection, question, k)


def create_router(
    ctx: ServiceContext,
    settings: Nl2SqlSettings | None = None,
    *,
    service: Nl2SqlService | None = None,
    pipeline: AskPipeline | None = None,
    examples: ExampleStore | None = None,
) -> APIRouter:
    """Build the router. Nothing touches the database or loads a model here: the service (and with it the
    project's idempotent schema migration) is created on the first request and the pipeline on the first
    question, so the platform still starts, and reports not-ready, when the database is down."""
    settings = settings or (service.settings if service else get_nl2sql_settings())
    lock = threading.Lock()
    holder: list[Nl2SqlService] = [service] if service is not None else []

    def get_service() -> Nl2SqlService:
        if not holder:
            with lock:
                if not holder:
                    svc = Nl2SqlService(ctx.db_url(), settings, examples=examples or LazyExampleStore(ctx, settings))
                    svc.pipeline = pipeline or (lambda: default_pipeline(ctx, svc, settings))
                    holder.append(svc)
        svc = holder[0]
        if pipeline is not None and svc._pipeline is None:
            svc.pipeline = pipeline
        if examples is not None and svc.examples is None:
            svc.examples = examples
        return svc

    router = APIRouter(tags=["nl2sql-analytics"])
    router.get_nl2sql_service = get_service  # type: ignore[attr-defined]  # for the standalone app and tools

    def known(name: str) -> None:
        try:
            get_service().connection(name)
        except ConnectionNotFound:
            raise _not_found(f"connection {name!r}") from None

    def question_of(text: str) -> str:
        return _text(text, "question", settings.max_question_chars)

    def sql_of(text: str) -> str:
        return _text(text, "sql", settings.max_sql_chars)

    # -- questions ---------------------------------------------------------------------------------------

    @router.post(
        "/ask",
        response_model=Answer,
        responses=problem_responses(401, 404, 422, 503),
        summary="Ask a question in plain language: SQL, rows, chart and insight (or a clarifying question)",
        description="A refused or failed answer is still a 200 with ``status`` and ``error``: the attempts and "
        "the linked schema explain what happened. Bad *input* (empty or too long question, unknown connection) "
        "is a 4xx problem.",
    )
    def ask(body: AskIn, user: Annotated[str, user_dep]) -> Answer:
        question = question_of(body.question)
        known(body.connection)
        try:
            return get_service().ask(user, body.connection, question, insight=body.insight)
        except ConnectionNotFound:
            raise _not_found(f"connection {body.connection!r}") from None
        except Unavailable as exc:
            raise ProblemError(503, "Service Unavailable", str(exc)) from None
        except ValueError as exc:  # the pipeline's QuestionError
            raise _unprocessable(str(exc), "invalid-question") from None

    @router.post(
        "/ask/stream",
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "stage* (linking, generation, validation, execution, ...), then answer (or error)",
            },
            **problem_responses(401, 404, 422),
        },
        summary="Like /ask, streamed as server-sent events: progress per stage, then the Answer",
    )
    def ask_stream(body: AskIn, user: Annotated[str, user_dep]) -> StreamingResponse:
        question = question_of(body.question)
        known(body.connection)
        events = get_service().ask_events(user, body.connection, question, insight=body.insight)
        return sse_response(events)

    @router.post(
        "/sql",
        response_model=Answer,
        responses=SQL_ERRORS,
        summary="Run hand-edited SQL through the same checks as generated SQL (read-only, row policies, limits)",
    )
    def run_sql(body: SqlIn, user: Annotated[str, user_dep]) -> Answer:
        sql = sql_of(body.sql)
        known(body.connection)
        try:
            return get_service().run_sql(user, body.connection, sql, question=clean_text(body.question))
        except SqlSafetyError as exc:
            raise _sql_problem(exc) from None

    # -- connections -------------------------------------------------------------------------------------

    @router.get("/connections", response_model=list[ConnectionOut], summary="Registered databases")
    def list_connections(user: Annotated[str, user_dep]) -> list[ConnectionOut]:
        return get_service().list_connections()

    @router.post(
        "/connections",
        status_code=status.HTTP_201_CREATED,
        response_model=ConnectionOut,
        responses=problem_responses(401, 409, 422),
        summary="Register a SQLite file or PostgreSQL URL (it must open read-only now)",
    )
    def register_connection(body: ConnectionIn, user: Annotated[str, user_dep]) -> ConnectionOut:
        try:
            return get_service().register_connection(user, body.name, clean_text(body.target), body.description)
        except ConnectionInvalid as exc:
            raise _unprocessable(str(exc), "invalid-connection") from None
        except ConnectionConflict as exc:
            raise ProblemError(409, "Conflict", str(exc)) from None

    @router.get(
        "/connections/{name}/schema",
        response_model=SchemaInfo,
        responses=problem_responses(401, 404),
        summary="Tables, columns with types, keys and sample values",
    )
    def get_schema(name: str, user: Annotated[str, user_dep], refresh: Annotated[bool, Query()] = False) -> SchemaInfo:
        known(name)
        return get_service().schema(name, refresh=refresh)

    @router.get(
        "/connections/{name}/semantic",
        response_model=SemanticOut,
        responses=problem_responses(401, 404),
        summary="The semantic layer as YAML (a draft from the schema when none was written yet)",
    )
    def get_semantic(name: str, user: Annotated[str, user_dep]) -> SemanticOut:
        known(name)
        return get_service().get_semantic(name)

    @router.put(
        "/connections/{name}/semantic",
        response_model=SemanticOut,
        responses=problem_responses(401, 404, 422),
        summary="Replace the semantic layer; refused with every problem (nothing saved) if it disagrees with the "
        "database",
    )
    def put_semantic(name: str, body: SemanticIn, user: Annotated[str, user_dep]) -> SemanticOut:
        known(name)
        try:
            return get_service().put_semantic(name, body.yaml)
        except SemanticInvalid as exc:
            errors = [{"where": p.where, "message": p.message} for p in exc.problems]
            raise _unprocessable(f"{len(errors)} problem(s): {exc}", "invalid-semantic-layer", errors) from None

    # -- dashboard ---------------------------------------------------------------------------------------

    @router.get("/tiles", response_model=list[TileOut], summary="The caller's dashboard tiles, in order")
    def list_tiles(user: Annotated[str, user_dep]) -> list[TileOut]:
        return get_service().list_tiles(user)

    @router.post(
        "/tiles",
        status_code=status.HTTP_201_CREATED,
        response_model=TileResult,
        responses=SQL_ERRORS,
        summary="Save a question and its SQL as a tile (the SQL is run once, as the caller, before saving)",
    )
    def create_tile(body: TileIn, user: Annotated[str, user_dep]) -> TileResult:
        sql = sql_of(body.sql)
        title = _text(body.title, "title", 200)
        known(body.connection)
        try:
            return get_service().create_tile(
                user, body.connection, title, sql, question=clean_text(body.question), chart_kind=body.chart_kind
            )
        except SqlSafetyError as exc:
            raise _sql_problem(exc) from None
        except TileLimitReached as exc:
            raise _unprocessable(str(exc), "tile-limit") from None

    @router.delete(
        "/tiles/{tile_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(401, 404),
        summary="Remove one of the caller's tiles",
    )
    def delete_tile(tile_id: int, user: Annotated[str, user_dep]) -> Response:
        try:
            get_service().delete_tile(user, tile_id)
        except TileNotFound:
            raise _not_found(f"tile {tile_id}") from None
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/tiles/{tile_id}/refresh",
        response_model=TileResult,
        responses=SQL_ERRORS,
        summary="Re-run a tile's SQL now, as the caller, through the same safety path",
    )
    def refresh_tile(tile_id: int, user: Annotated[str, user_dep]) -> TileResult:
        try:
            return get_service().refresh_tile(user, tile_id)
        except TileNotFound:
            raise _not_found(f"tile {tile_id}") from None
        except ConnectionNotFound as exc:
            raise _not_found(f"connection {exc.args[0]!r}") from None
        except SqlSafetyError as exc:
            raise _sql_problem(exc) from None

    # -- export, examples, history -----------------------------------------------------------------------

    def _export(connection: str, sql: str, user: str) -> StreamingResponse:
        sql = sql_of(sql)
        known(connection)
        try:
            export = get_service().export_csv(user, connection, sql)
        except SqlSafetyError as exc:
            raise _sql_problem(exc) from None
        headers = {
            "Content-Disposition": f'attachment; filename="{connection}-export.csv"',
            "X-Row-Count": str(export.rows),
            "X-Truncated": "true" if export.truncated else "false",
        }
        return StreamingResponse(export.chunks, media_type="text/csv; charset=utf-8", headers=headers)

    csv_responses = {
        200: {"content": {"text/csv": {}}, "description": "the result (X-Truncated: true when cut at the limit)"},
        **SQL_ERRORS,
    }

    @router.get(
        "/export.csv",
        response_class=StreamingResponse,
        responses=csv_responses,
        summary="The result of a SQL statement as CSV (same checks; NL2SQL__EXPORT_ROW_LIMIT rows at most)",
    )
    def export_get(
        user: Annotated[str, user_dep],
        sql: Annotated[str, Query(max_length=100_000)],
        connection: Annotated[str, Query(max_length=63)] = "demo",
    ) -> StreamingResponse:
        return _export(connection, sql, user)

    @router.post(
        "/export.csv",
        response_class=StreamingResponse,
        responses=csv_responses,
        summary="Like GET /export.csv, for statements too long for a URL",
    )
    def export_post(body: SqlIn, user: Annotated[str, user_dep]) -> StreamingResponse:
        return _export(body.connection, body.sql, user)

    @router.post(
        "/examples",
        status_code=status.HTTP_201_CREATED,
        response_model=ExampleOut,
        responses=problem_responses(401, 404, 422, 503),
        summary="Save a verified question → SQL pair: future questions get it as a few-shot example",
    )
    def add_example(body: ExampleIn, user: Annotated[str, user_dep]) -> ExampleOut:
        question = question_of(body.question)
        sql = sql_of(body.sql)
        known(body.connection)
        try:
            saved = get_service().add_example(user, body.connection, question, sql)
        except SqlSafetyError as exc:
            raise _sql_problem(exc) from None
        except Unavailable as exc:
            raise ProblemError(503, "Service Unavailable", str(exc)) from None
        return ExampleOut(connection=body.connection, question=question, sql=saved)

    @router.get("/history", response_model=list[HistoryOut], summary="The caller's recent questions and SQL runs")
    def history(user: Annotated[str, user_dep], limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[HistoryOut]:
        return get_service().history(user, limit)

    return router
