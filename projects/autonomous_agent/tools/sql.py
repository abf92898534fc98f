"""``sql_query``: one SQL statement against a PostgreSQL database, read-only by construction.

Three layers, so a model-written ``DELETE`` fails however it is phrased: the connection is opened with
``default_transaction_read_only=on``, the statement runs inside ``SET TRANSACTION READ ONLY`` (PostgreSQL itself
refuses INSERT/UPDATE/DELETE/DDL with "cannot execute ... in a read-only transaction"), and the transaction is
always rolled back. ``SELECT 1; DROP ...`` reaches the server as two statements (psycopg sends a query without
parameters with the simple protocol) and the second is refused by the read-only transaction like any write. A
``statement_timeout`` bounds runaway queries and only ``sql_max_rows`` rows are fetched.

Production: also give the URL a role with only SELECT grants (``AGENT__SQL_DATABASE_URL``); this tool's guards
are defence in depth, not the permission model of the database.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import psycopg

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.types import Permission, ToolContext, ToolResult

_CELL_CHARS = 200  # one cell in the text table; the model needs to see values, not whole documents


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\t", " ").replace("\n", " ")
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def format_table(columns: list[str], rows: list[list[Any]]) -> str:
    """Tab-separated with a header: compact for the context, and unambiguous for a small model to read."""
    lines = ["\t".join(columns)]
    lines += ["\t".join(_cell(v) for v in row) for row in rows]
    return "\n".join(lines)


class SqlQueryTool:
    name = "sql_query"
    permission: Permission = "read"

    def __init__(self, url: str | None = None, settings: AgentSettings | None = None) -> None:
        self.settings = settings or get_agent_settings()
        self._url = url or self.settings.sql_database_url
        self.description = (
            "Run one read-only SQL query (PostgreSQL) and return the rows as a tab-separated table. Writes are "
            f"refused. At most {self.settings.sql_max_rows} rows are returned; use WHERE/LIMIT/aggregates. Tip: "
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = "
            "current_schema() lists the tables."
        )
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 1, "description": "one SQL statement"}},
            "required": ["query"],
            "additionalProperties": False,
        }

    @property
    def url(self) -> str:
        """Resolved on first use: the platform database starts (embedded) only when a query needs it."""
        if self._url is None:
            from shared.db import database_url

            self._url = database_url()
        return self._url

    def timeout_for(self, arguments: dict[str, Any]) -> float:
        return self.settings.sql_statement_timeout_ms / 1000 + 10.0  # + connecting; the server stops it first

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        query = arguments["query"].strip().rstrip(";").strip()
        cap = self.settings.sql_max_rows
        timeout_ms = int(self.settings.sql_statement_timeout_ms)
        options = f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms}"
        try:
            with psycopg.connect(self.url, options=options, connect_timeout=10) as conn:
                try:
                    conn.execute("SET TRANSACTION READ ONLY")
                    cur = conn.execute(query)  # type: ignore[arg-type]  # model-written, by design
                    if cur.description is None:
                        return ToolResult(ok=True, output=f"{cur.statusmessage} (no rows)", data={"columns": []})
                    columns = [c.name for c in cur.description]
                    fetched = cur.fetchmany(cap + 1)
                finally:
                    conn.rollback()
        except psycopg.Error as exc:
            message = (exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)).strip()
            hint = f" (hint: {exc.diag.message_hint})" if exc.diag and exc.diag.message_hint else ""
            if "read-only transaction" in message:
                hint = " (this database is read-only for the agent: only SELECT queries run)"
            return ToolResult(ok=False, error=f"SQL error: {message}{hint}")
        more = len(fetched) > cap
        rows = [[_jsonable(v) for v in row] for row in fetched[:cap]]
        output = format_table(columns, rows)
        output += f"\n({len(rows)} row{'s' if len(rows) != 1 else ''}" + (f"; more rows cut at {cap})" if more else ")")
        return ToolResult(ok=True, output=output, data={"columns": columns, "rows": rows}, truncated=more)
