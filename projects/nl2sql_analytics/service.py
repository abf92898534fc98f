"""NL-to-SQL service: the logic behind the HTTP routes (router = HTTP, service = logic, as in Enterprise RAG).

Everything that runs SQL goes through one path, :meth:`Nl2SqlService.run_sql`: validate (one read-only SELECT
over known names, row limit) → row-level security for the calling user → read-only execution with a timeout.
Hand-edited SQL, dashboard tile refreshes and CSV exports all take it, so none of them can bypass a check the
question pipeline applies. Metadata (connections, tiles, history) lives in the platform PostgreSQL; the
databases users ask about are only ever opened read-only.
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import os
import queue
import re
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd
import psycopg
import yaml
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, ValidationError

from projects.nl2sql_analytics import semantic
from projects.nl2sql_analytics.charts import auto_chart
from projects.nl2sql_analytics.connections import Connection, SchemaInfo, introspect, open_readonly
from projects.nl2sql_analytics.errors import SqlSafetyError, SqlValidationError
from projects.nl2sql_analytics.executor import QueryResult, execute
from projects.nl2sql_analytics.insights import compute_facts, template_insight
from projects.nl2sql_analytics.models import Answer, AskPipeline, Chart, InsightOut, ProblemDetail, json_value
from projects.nl2sql_analytics.policies import PolicySet, apply_policies
from projects.nl2sql_analytics.schema import ensure_schema
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from projects.nl2sql_analytics.validation import validate
from projects.nl2sql_analytics.workspace import edited_semantic_path, load_policies, semantic_path

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STAGES = ("linking", "generation", "validation", "execution", "insight")
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- errors (no HTTP here: the router maps each to a problem) ----------------------------------------------


class ConnectionNotFound(LookupError):
    pass


class ConnectionInvalid(ValueError):
    """A target that does not open read-only (missing file, not a database, unreachable server...)."""


class ConnectionConflict(ValueError):
    """The name is registered with a different target."""


class TileNotFound(LookupError):
    """Unknown, or another user's (existence is not leaked)."""


class TileLimitReached(ValueError):
    pass


class SemanticInvalid(ValueError):
    """The YAML does not parse, does not fit the model, or names tables/columns the database lacks."""

    def __init__(self, problems: list[semantic.Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems[:5]))
        self.problems = problems


class Unavailable(RuntimeError):
    """A collaborator (the question pipeline, the examples store) is not configured in this process."""


class ExampleStore(Protocol):
    """Where verified question → SQL pairs go (few-shot examples; the system learns from corrections)."""

    def add(self, connection: str, question: str, sql: str, user: str | None) -> Any: ...


StageCallback = Callable[[str, dict[str, Any]], None]  # (stage, details), as Nl2SqlPipeline.ask calls it


# -- response models ---------------------------------------------------------------------------------------


class ConnectionOut(BaseModel):
    name: str
    target: str = Field(description="the SQLite path or PostgreSQL URL, password redacted")
    dialect: Literal["sqlite", "postgres"]
    description: str = ""
    created_by: str
    created_at: dt.datetime


class SemanticOut(BaseModel):
    connection: str
    yaml: str
    source: Literal["edited", "shipped", "draft"] = Field(
        description="edited: saved from the UI; shipped: the file in the code; draft: generated from the schema"
    )


class TileOut(BaseModel):
    id: int
    connection: str
    title: str
    question: str
    sql: str
    chart_kind: str | None
    position: int
    created_at: dt.datetime
    refreshed_at: dt.datetime | None


class TileResult(BaseModel):
    tile: TileOut
    answer: Answer


class HistoryOut(BaseModel):
    id: int
    connection: str
    kind: Literal["ask", "sql"]
    question: str
    status: str
    sql: str | None
    executed_sql: str | None
    error_code: str | None
    row_count: int | None
    timings_ms: dict[str, float]
    created_at: dt.datetime


class CsvExport(BaseModel):
    model_config = {"arbitrary_types_allowed": True}

    chunks: Any = Field(description="an iterator of CSV text chunks")
    rows: int
    truncated: bool


# -- helpers -----------------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """NFC-normalised text without control characters or lone surrogates (PostgreSQL rejects NUL; a stray
    escape code or half a surrogate pair from a broken client must not reach the model or the database)."""
    text = unicodedata.normalize("NFC", text.encode("utf-8", "ignore").decode("utf-8"))
    kept = (c for c in text if c in "\t\n" or unicodedata.category(c) not in ("Cc", "Cs"))
    return "".join(kept).strip()


def redact(target: str) -> str:
    """A connection target fit to show: passwords in URLs and ``password=`` key/value pairs masked."""
    return _PASSWORD_KV.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***@", target))


def _csv_cell(value: Any) -> Any:
    """Spreadsheet formula injection guard: a text cell starting with = + - @ is prefixed with a quote."""
    value = json_value(value)
    if isinstance(value, str) and value.startswith(_CSV_FORMULA_START):
        return "'" + value
    return value


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tables_of(schema: SchemaInfo) -> dict[str, dict[str, str]]:
    return {t.name: {c.name: c.type for c in t.columns} for t in schema.tables}


def _accepts_on_stage(pipeline: AskPipeline) -> bool:
    try:
        params = inspect.signature(pipeline.ask).parameters
    except (TypeError, ValueError):
        return False
    return "on_stage" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


# -- the service -------------------------------------------------------------------------------------------


class Nl2SqlService:
    """Connections, schema, semantic layers, questions, safe SQL runs, tiles, CSV export, examples, history.

    ``pipeline`` answers questions (:class:`models.AskPipeline`); it may be given later (``service.pipeline =
    ...``) or as a zero-argument factory called on first use, because building it loads models.
    """

    def __init__(
        self,
        url: str,
        settings: Nl2SqlSettings | None = None,
        *,
        pipeline: AskPipeline | Callable[[], AskPipeline] | None = None,
        examples: ExampleStore | None = None,
        migrate: bool = True,
    ) -> None:
        if migrate:
            ensure_schema(url)
        self.url = url
        self.settings = settings or get_nl2sql_settings()
        self._pipeline = pipeline
        self.examples = examples
        self._lock = threading.Lock()
        self._schemas: dict[str, tuple[str, float, SchemaInfo]] = {}

    # -- connections -------------------------------------------------------------------------------------

    def _allowed_sqlite(self, path: Path) -> bool:
        roots = [self.settings.data_dir, *self.settings.sqlite_roots]
        return any(path.is_relative_to(Path(root).resolve()) for root in roots)

    def _check_target(self, connection: Connection) -> Connection:
        """Open the target read-only and run a trivial query; return it normalised (absolute SQLite path)."""
        if connection.dialect == "sqlite":
            path = connection.sqlite_path.expanduser().resolve()
            if not self._allowed_sqlite(path):
                raise ConnectionInvalid(f"SQLite files may only be registered from the configured folders: {path}")
            if not path.is_file():
                raise ConnectionInvalid(f"SQLite database not found: {path}")
            connection = connection.model_copy(update={"target": str(path)})
            try:
                with open_readonly(connection) as conn:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except Exception as exc:  # sqlite3.DatabaseError: "file is not a database", permissions...
                raise ConnectionInvalid(f"{path.name} does not open as a SQLite database: {exc}") from None
            return connection
        try:
            with psycopg.connect(connection.target, connect_timeout=self.settings.connect_timeout_s) as conn:
                conn.execute("SELECT 1").fetchone()
        except (psycopg.Error, ValueError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConnectionInvalid(f"PostgreSQL connection failed: {redact(message)}") from None
        return connection

    def register_connection(
        self, user: str, name: str, target: str, description: str = "", *, replace: bool = False
    ) -> ConnectionOut:
        """Register a database after proving it opens read-only; idempotent for the same name and target.

        ``replace`` re-points an existing name (the demo loader after the data folder moved); the API never
        sets it, so one user cannot silently redirect a connection others rely on.
        """
        if not NAME_RE.match(name):
            raise ConnectionInvalid("name: lowercase letters, digits, '-' and '_' (at most 63)")
        connection = self._check_target(Connection(name=name, target=target.strip()))
        conflict = (
            "DO UPDATE SET target = EXCLUDED.target, dialect = EXCLUDED.dialect, description = EXCLUDED.description"
            if replace
            else "DO NOTHING"
        )
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO nl2sql_connections (name, target, dialect, description, created_by) "
                f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) {conflict}",
                (name, connection.target, connection.dialect, description, user),
            )
        row = self._row(name)
        if row["target"] != connection.target:
            raise ConnectionConflict(f"connection {name!r} is already registered with another target")
        self._schemas.pop(name, None)
        return self._out(row)

    def _row(self, name: str) -> dict[str, Any]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute("SELECT * FROM nl2sql_connections WHERE name = %s", (name,)).fetchone()
        if row is None:
            raise ConnectionNotFound(name)
        return row

    @staticmethod
    def _out(row: dict[str, Any]) -> ConnectionOut:
        return ConnectionOut(**{**row, "target": redact(row["target"])})

    def list_connections(self) -> list[ConnectionOut]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute("SELECT * FROM nl2sql_connections ORDER BY name").fetchall()
        return [self._out(r) for r in rows]

    def connection(self, name: str) -> Connection:
        """The registered connection (with its real target: never return this to a client)."""
        return Connection(name=name, target=self._row(name)["target"])

    def schema(self, name: str, *, refresh: bool = False) -> SchemaInfo:
        """Introspected schema, cached ``schema_cache_s`` seconds per connection (and per target)."""
        connection = self.connection(name)
        cached = self._schemas.get(name)
        now = time.monotonic()
        if not refresh and cached and cached[0] == connection.target and now - cached[1] < self.settings.schema_cache_s:
            return cached[2]
        info = introspect(connection, self.settings)
        self._schemas[name] = (connection.target, now, info)
        return info

    def policies(self, name: str) -> PolicySet:
        return load_policies(self.settings, name)

    def semantic_layer(self, name: str) -> semantic.SemanticLayer | None:
        """The parsed layer in effect (what the pipeline links and generates with), or None."""
        path = semantic_path(self.settings, name)
        return semantic.load(path) if path is not None else None

    # -- semantic layer ----------------------------------------------------------------------------------

    def get_semantic(self, name: str) -> SemanticOut:
        """The layer in effect as YAML text; a draft bootstrapped from the schema when there is none yet."""
        self.connection(name)
        path = semantic_path(self.settings, name)
        if path is not None:
            source = "edited" if path == edited_semantic_path(self.settings, name) else "shipped"
            return SemanticOut(connection=name, yaml=path.read_text(encoding="utf-8"), source=source)
        info = self.schema(name)
        fks = [(t.name, fk.column, fk.ref_table, fk.ref_column) for t in info.tables for fk in t.foreign_keys]
        draft = semantic.bootstrap(_tables_of(info), fks, connection=name, dialect=info.dialect)
        return SemanticOut(connection=name, yaml=semantic.dumps(draft), source="draft")

    def check_semantic(self, name: str, text: str) -> semantic.SemanticLayer:
        """Parse and validate YAML against the live schema; raise :class:`SemanticInvalid` with every problem."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"yaml line {mark.line + 1}" if mark is not None else "yaml"
            raise SemanticInvalid([semantic.Problem(where=where, message=str(exc).splitlines()[0])]) from None
        if not isinstance(data, dict):
            raise SemanticInvalid([semantic.Problem(where="yaml", message="the document must be a mapping")])
        data.setdefault("connection", name)
        try:
            layer = semantic.SemanticLayer.model_validate(data)
        except ValidationError as exc:
            problems = [
                semantic.Problem(where=".".join(str(p) for p in e["loc"]) or "yaml", message=e["msg"])
                for e in exc.errors()
            ]
            raise SemanticInvalid(problems) from None
        problems = []
        if layer.connection != name:
            problems.append(semantic.Problem(where="connection", message=f"must be {name!r}"))
        problems += semantic.validate_against(layer, _tables_of(self.schema(name)))
        if problems:
            raise SemanticInvalid(problems)
        return layer

    def put_semantic(self, name: str, text: str) -> SemanticOut:
        """Save the layer exactly as written (comments kept) if it is valid; otherwise nothing is written."""
        self.connection(name)
        self.check_semantic(name, text)
        _atomic_write(edited_semantic_path(self.settings, name), text)
        return SemanticOut(connection=name, yaml=text, source="edited")

    # -- questions ---------------------------------------------------------------------------------------

    @property
    def pipeline(self) -> AskPipeline:
        if self._pipeline is None:
            raise Unavailable("the question pipeline is not configured in this process")
        if not hasattr(self._pipeline, "ask"):  # a factory: build once, on first use
            with self._lock:
                if not hasattr(self._pipeline, "ask"):
                    self._pipeline = self._pipeline()  # type: ignore[operator]
        return self._pipeline  # type: ignore[return-value]

    @pipeline.setter
    def pipeline(self, value: AskPipeline | Callable[[], AskPipeline] | None) -> None:
        self._pipeline = value

    def ask(
        self,
        user: str,
        connection: str,
        question: str,
        *,
        insight: bool = True,
        on_stage: StageCallback | None = None,
    ) -> Answer:
        """Answer with the pipeline (stage callbacks if it supports them) and record it in the user's history."""
        self.connection(connection)
        pipeline = self.pipeline
        kwargs: dict[str, Any] = {"user": user, "insight": insight}
        if on_stage is not None and _accepts_on_stage(pipeline):
            kwargs["on_stage"] = on_stage
        try:
            answer = pipeline.ask(question, connection, **kwargs)
        except KeyError:  # the pipeline's connection lookup: unregistered between our check and its lookup
            raise ConnectionNotFound(connection) from None
        self._record(user, connection, "ask", question, answer)
        return answer

    def ask_events(
        self, user: str, connection: str, question: str, *, insight: bool = True
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(event, data)`` pairs: ``stage`` {stage, ...} as the pipeline reports it, then ``answer`` (or ``error``).

        The pipeline runs in a worker thread so stage events reach the client while it works. A pipeline
        without stage callbacks still streams: its stages are reported from the answer's timings at the end.
        """
        self.connection(connection)
        events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        seen: list[str] = []

        def on_stage(stage: str, data: dict[str, Any]) -> None:
            seen.append(stage)
            events.put(("stage", {**data, "stage": stage}))

        def work() -> None:
            try:
                answer = self.ask(user, connection, question, insight=insight, on_stage=on_stage)
                for stage in STAGES:
                    if stage in answer.timings_ms and stage not in seen:
                        events.put(("stage", {"stage": stage, "ms": answer.timings_ms[stage]}))
                events.put(("answer", answer.model_dump(mode="json")))
            except Exception as exc:  # the stream has started: report in-band
                events.put(("error", {"detail": f"{type(exc).__name__}: {exc}"}))
            finally:
                events.put(None)

        threading.Thread(target=work, name="nl2sql-ask", daemon=True).start()
        while (item := events.get()) is not None:
            yield item

    # -- the one safe path for SQL -----------------------------------------------------------------------

    def _safe_execute(self, user: str, name: str, sql: str, row_limit: int) -> tuple[str, str, QueryResult, float]:
        """validate → apply_policies(user) → execute read-only; returns (sql, executed_sql, result, validate ms)."""
        connection, info = self.connection(name), self.schema(name)
        start = time.perf_counter()
        validated = validate(sql, info, row_limit=row_limit)
        guarded = apply_policies(validated, self.policies(name), user, info)
        validation_ms = (time.perf_counter() - start) * 1000
        result = execute(connection, guarded, self.settings)
        return validated.sql, guarded.sql, result, validation_ms

    def run_sql(self, user: str, connection: str, sql: str, *, question: str = "", record: bool = True) -> Answer:
        """Run hand-written SQL exactly as safely as generated SQL; the result is shaped like an answer.

        Raises :class:`SqlSafetyError` (validation, policy, timeout, execution) after recording the refusal.
        """
        try:
            checked, executed, result, validation_ms = self._safe_execute(
                user, connection, sql, self.settings.row_limit
            )
        except SqlSafetyError as exc:
            if record:
                self._record_refusal(user, connection, question, sql, exc)
            raise
        answer = self._answer(connection, question, checked, executed, result, validation_ms)
        if record:
            self._record(user, connection, "sql", question, answer)
        return answer

    def _answer(
        self, connection: str, question: str, sql: str, executed: str, result: QueryResult, validation_ms: float
    ) -> Answer:
        rows = [[json_value(v) for v in row] for row in result.rows]
        df = pd.DataFrame(rows, columns=result.columns)
        chart = auto_chart(df, question)
        facts = compute_facts(df) if len(df.columns) else []
        return Answer(
            question=question,
            connection=connection,
            status="ok",
            sql=sql,
            executed_sql=executed,
            dialect=self.connection(connection).dialect,
            columns=result.columns,
            rows=rows,
            truncated=result.truncated,
            chart=Chart(kind=chart.spec.kind, reason=chart.spec.reason, vega_lite=chart.vega_lite),
            insight=InsightOut(
                text=template_insight(facts), source="template", facts=[f.model_dump(mode="json") for f in facts]
            )
            if facts
            else None,
            timings_ms={"validation": round(validation_ms, 2), "execution": result.elapsed_ms},
        )

    def export_csv(self, user: str, connection: str, sql: str) -> CsvExport:
        """The result of ``sql`` as CSV (at most ``export_row_limit`` rows), through the same safe path."""
        _, _, result, _ = self._safe_execute(user, connection, sql, self.settings.export_row_limit)

        def chunks(batch: int = 1000) -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(result.columns)
            for i, row in enumerate(result.rows, 1):
                writer.writerow([_csv_cell(v) for v in row])
                if i % batch == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return CsvExport(chunks=chunks(), rows=len(result.rows), truncated=result.truncated)

    # -- dashboard tiles ---------------------------------------------------------------------------------

    _TILE_COLUMNS = "id, connection, title, question, sql, chart_kind, position, created_at, refreshed_at"

    def create_tile(
        self,
        user: str,
        connection: str,
        title: str,
        sql: str,
        *,
        question: str = "",
        chart_kind: str | None = None,
    ) -> TileResult:
        """Save a tile after running its SQL once as ``user``: a tile that cannot run safely is never saved."""
        answer = self.run_sql(user, connection, sql, question=question or title, record=False)
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("nl2sql_tiles:" + user,))
            count = cur.execute("SELECT count(*) AS n FROM nl2sql_tiles WHERE user_id = %s", (user,)).fetchone()["n"]
            if count >= self.settings.max_tiles_per_user:
                raise TileLimitReached(f"at most {self.settings.max_tiles_per_user} tiles per user")
            row = cur.execute(
                "INSERT INTO nl2sql_tiles (user_id, connection, title, question, sql, chart_kind, position, "
                "refreshed_at) SELECT %s, %s, %s, %s, %s, %s, COALESCE(MAX(position) + 1, 0), now() "
                f"FROM nl2sql_tiles WHERE user_id = %s RETURNING {self._TILE_COLUMNS}",
                (user, connection, title, question, sql.strip(), chart_kind or (answer.chart and answer.chart.kind),
                 user),
            ).fetchone()  # fmt: skip
        return TileResult(tile=TileOut(**row), answer=answer)

    def list_tiles(self, user: str) -> list[TileOut]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"SELECT {self._TILE_COLUMNS} FROM nl2sql_tiles WHERE user_id = %s ORDER BY position, id", (user,)
            ).fetchall()
        return [TileOut(**r) for r in rows]

    def _tile(self, user: str, tile_id: int) -> TileOut:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                f"SELECT {self._TILE_COLUMNS} FROM nl2sql_tiles WHERE id = %s AND user_id = %s", (tile_id, user)
            ).fetchone()
        if row is None:
            raise TileNotFound(tile_id)
        return TileOut(**row)

    def delete_tile(self, user: str, tile_id: int) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            deleted = conn.execute(
                "DELETE FROM nl2sql_tiles WHERE id = %s AND user_id = %s", (tile_id, user)
            ).rowcount  # fmt: skip
        if not deleted:
            raise TileNotFound(tile_id)

    def refresh_tile(self, user: str, tile_id: int) -> TileResult:
        """Re-run the tile's SQL now, as ``user``, through the safe path (policies apply at every refresh)."""
        tile = self._tile(user, tile_id)
        answer = self.run_sql(user, tile.connection, tile.sql, question=tile.question or tile.title, record=False)
        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                f"UPDATE nl2sql_tiles SET refreshed_at = now() WHERE id = %s RETURNING {self._TILE_COLUMNS}",
                (tile_id,),
            ).fetchone()
        return TileResult(tile=TileOut(**row) if row else tile, answer=answer)

    # -- examples and history ----------------------------------------------------------------------------

    def add_example(self, user: str, connection: str, question: str, sql: str) -> str:
        """Hand a verified pair to the examples store after checking the SQL is a valid read-only query."""
        if self.examples is None:
            raise Unavailable("no examples store is configured in this process")
        validate(sql, self.schema(connection), row_limit=None)
        self.examples.add(connection, question, sql.strip(), user)
        return sql.strip()

    def _record(self, user: str, connection: str, kind: str, question: str, answer: Answer) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO nl2sql_history (user_id, connection, kind, question, status, sql, executed_sql, "
                "error_code, row_count, timings_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (user, connection, kind, question, answer.status, answer.sql, answer.executed_sql,
                 answer.error.code if answer.error else None, len(answer.rows), Jsonb(answer.timings_ms)),
            )  # fmt: skip

    def _record_refusal(self, user: str, connection: str, question: str, sql: str, exc: SqlSafetyError) -> None:
        answer = Answer(
            question=question,
            connection=connection,
            status="refused" if isinstance(exc, SqlValidationError) else "failed",
            sql=sql,
            error=ProblemDetail(code=exc.code, message=exc.message, suggestion=exc.suggestion),
        )
        self._record(user, connection, "sql", question, answer)

    def history(self, user: str, limit: int = 50) -> list[HistoryOut]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT id, connection, kind, question, status, sql, executed_sql, error_code, row_count, timings_ms, "
                "created_at FROM nl2sql_history WHERE user_id = %s ORDER BY id DESC LIMIT %s",
                (user, limit),
            ).fetchall()
        return [HistoryOut(**r) for r in rows]
