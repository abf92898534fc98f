"""Demo data for ``make demo``: an operations database the agent can query, runbooks it can search, and a few
goals queued for the model — so the agent page opens on runs with plans, tool calls and answers.

1. **Operations database** (``demo_data.generate``, seed ``AGENT__DEMO_SEED``): regions, products, orders and
   incidents in their own schema (``AGENT__DEMO_SCHEMA``, default ``agent_demo``), plus a role
   (``AGENT__DEMO_READER_ROLE``) that may only SELECT from that schema and whose ``search_path`` is it.
   ``reader_url(url)`` is the connection ``sql_query`` should use (``AGENT__SQL_DATABASE_URL``): then the tool
   reads the demo tables by their bare names and cannot see the platform's own tables at all. Without it the
   tool reads the platform database, where the same tables are ``agent_demo.<table>``.
2. **Knowledge base**: the runbooks and policies of ``demo_data.DOCUMENTS`` indexed into
   ``AGENT__KNOWLEDGE_COLLECTION`` for tenant ``demo`` (``knowledge_search`` scopes to the run's tenant).
3. **Goals** (``AGENT__DEMO_GOALS``): ``DEMO_GOALS`` started for tenant ``demo`` through the service; they are
   only queued here (seconds), and the API's worker works them with the configured model.

Idempotent: the database is rewritten only when the generated data's checksum changed, documents are upserted by
content hash (unchanged ones are not re-embedded), and a goal tenant ``demo`` already has is not started again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from shared.api.context import ServiceContext
from shared.serving.base import ChatModel
from shared.serving.types import ChatRequest, ChatResult, StreamChunk

TENANT = "demo"


@dataclass(frozen=True)
class DemoGoal:
    """A goal the demo queues (and the page offers as an example). Naming the tables' columns and narrowing the
    tools is what a small local model needs to get there; a bigger one copes without."""

    goal: str
    agent: str = "agent"
    tools: tuple[str, ...] | None = None  # None: the default tool set


DEMO_GOALS: tuple[DemoGoal, ...] = (
    DemoGoal(
        "Which region had the most incidents opened in May 2026? Query the operations database: table "
        "agent_demo.incidents has columns id, opened_month (text such as '2026-05'), region_code, service, "
        "severity; table agent_demo.regions has columns code and name. Answer with the region's name and its "
        "incident count.",
        tools=("sql_query", "calculator"),
    ),
    DemoGoal(
        "Find the runbook for payment gateway timeouts in the knowledge base and write its steps as a short "
        "checklist to checklist.md.",
        tools=("knowledge_search", "write_file", "read_file"),
    ),
    DemoGoal(
        "How many sev1 incidents (severity 1) were opened in May 2026, and what must happen for every sev1 "
        "according to the escalation policy? Delegate the count to the analyst and the policy to the researcher.",
        agent="supervisor",
    ),
)
_LOCK_KEY = 0x41475F44454D4F31  # "AG_DEMO1": one loader at a time per database
_SQL_TYPES = {"int": "integer", "text": "text", "money": "numeric(10, 2)", "date": "date", "timestamp": "timestamp"}
log = logging.getLogger(__name__)


def reader_url(url: str, settings: AgentSettings | None = None) -> str:
    """``url`` with the demo reader role as its user: what ``AGENT__SQL_DATABASE_URL`` should be for the demo."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    settings = settings or get_agent_settings()
    params = conninfo_to_dict(url)
    params["user"] = settings.demo_reader_role
    params.pop("password", None)
    if settings.demo_reader_password is not None:
        params["password"] = settings.demo_reader_password.get_secret_value()
    return make_conninfo(**params)


def load_demo_data(
    ctx: ServiceContext, settings: AgentSettings | None = None, *, goals: bool | None = None
) -> dict[str, Any]:
    """Operations database, knowledge base and (``goals``, default ``AGENT__DEMO_GOALS``) queued demo goals."""
    from projects.autonomous_agent.demo_data import generate

    settings = settings or get_agent_settings()
    url = ctx.db_url()
    data = generate(settings.demo_seed)
    report: dict[str, Any] = {
        "database": ensure_operations_db(url, data, settings),
        "knowledge": ensure_knowledge_base(url, ctx.embedder(), data, settings),
        "runs": queue_demo_goals(ctx, settings) if (settings.demo_goals if goals is None else goals) else [],
    }
    log.info("autonomous agent demo: %s", report)
    return report


# -- 1. the operations database --------------------------------------------------------------------------------
def ensure_operations_db(url: str, data: Any, settings: AgentSettings) -> dict[str, Any]:
    """Create (or, when the data changed, recreate) the demo schema's tables; grant the reader role."""
    import psycopg
    from psycopg import sql

    from projects.autonomous_agent.demo_data import TABLES

    schema = sql.Identifier(settings.demo_schema)
    checksum = data.checksum()
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.demo_meta (key text PRIMARY KEY, value text NOT NULL)")
                     .format(schema))  # fmt: skip
        row = conn.execute(sql.SQL("SELECT value FROM {}.demo_meta WHERE key = 'checksum'").format(schema)).fetchone()
        written = row is None or row[0] != checksum
        if written:
            for table in reversed(TABLES):  # children first (foreign keys)
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(schema, sql.Identifier(table)))
            for table in TABLES:
                conn.execute(_create_table(schema, table))
                _copy_rows(conn, schema, table, data.rows[table])
            conn.execute(
                sql.SQL("INSERT INTO {}.demo_meta VALUES ('checksum', %s), ('seed', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value").format(schema),
                (checksum, str(data.seed)),
            )  # fmt: skip
    reader = _grant_reader(url, settings)
    return {"schema": settings.demo_schema, "written": written, "rows": data.row_counts(), "reader_role": reader}


def _create_table(schema: Any, table: str) -> Any:
    from psycopg import sql

    from projects.autonomous_agent.demo_data import FOREIGN_KEYS, PRIMARY_KEYS, TABLES

    columns = []
    for name, kind in TABLES[table].items():
        col = sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_SQL_TYPES[kind]))
        if name == PRIMARY_KEYS[table]:
            col = sql.SQL("{} PRIMARY KEY").format(col)
        elif name in FOREIGN_KEYS.get(table, {}):
            ref_table, ref_col = FOREIGN_KEYS[table][name].rstrip(")").split("(")
            col = sql.SQL("{} NOT NULL REFERENCES {}.{} ({})").format(
                col, schema, sql.Identifier(ref_table), sql.Identifier(ref_col)
            )
        columns.append(col)
    return sql.SQL("CREATE TABLE {}.{} ({})").format(schema, sql.Identifier(table), sql.SQL(", ").join(columns))


def _copy_rows(conn: Any, schema: Any, table: str, rows: list[dict[str, Any]]) -> None:
    from psycopg import sql

    from projects.autonomous_agent.demo_data import TABLES

    columns = list(TABLES[table])
    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        schema, sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def ready_reader_url(url: str, settings: AgentSettings | None = None) -> str | None:
    """:func:`reader_url` once the loader has created the reader role on this server; None when it could not (the
    platform user may not create roles), so ``sql_query`` keeps reading the platform database."""
    import psycopg

    settings = settings or get_agent_settings()
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.demo_reader_role,)).fetchone()
    return reader_url(url, settings) if exists else None


def _grant_reader(url: str, settings: AgentSettings) -> str | None:
    """The reader role, created once per server, with SELECT on the demo schema only; None when this database user
    may not create roles (an external server: ask its admin, and leave AGENT__SQL_DATABASE_URL as it is)."""
    import psycopg
    from psycopg import errors, sql

    role, schema = sql.Identifier(settings.demo_reader_role), sql.Identifier(settings.demo_schema)
    password = settings.demo_reader_password.get_secret_value() if settings.demo_reader_password else None
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.demo_reader_role,)).fetchone()
            if not exists:  # (or created meanwhile by a loader of another database on the same server)
                with contextlib.suppress(errors.DuplicateObject, errors.UniqueViolation):
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            if password is not None:
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
            wanted = [f"search_path={settings.demo_schema}", "default_transaction_read_only=on"]
            if _role_config(conn, settings.demo_reader_role) != sorted(wanted):  # role settings are server-wide:
                conn.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(role, schema))  # set them once
                conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role))
    except errors.InsufficientPrivilege as exc:
        log.warning("demo reader role %s not set up (%s): sql_query reads the platform database", role, exc)
        return None
    return settings.demo_reader_role


def _role_config(conn: Any, role: str) -> list[str]:
    row = conn.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        "WHERE r.rolname = %s AND s.setdatabase = 0",
        (role,),
    ).fetchone()
    return sorted(row[0]) if row and row[0] else []


# -- 2. the knowledge base -------------------------------------------------------------------------------------
def ensure_knowledge_base(url: str, embedder: Any, data: Any, settings: AgentSettings) -> dict[str, int]:
    """Index the demo documents for tenant ``demo``; returns upsert statuses counted (``unchanged`` on reload)."""
    from shared.retrieval import Document, Indexer, PgVectorStore, upgrade

    upgrade(url)
    store = PgVectorStore(url)
    collection = settings.knowledge_collection
    store.create_collection(collection, embedding_model=embedder.model, embedding_dim=embedder.dim)
    documents = [
        Document(collection=collection, source_uri=f"kb://agent-demo/{d.slug}", text=d.text, doc_type="md",
                 title=d.title, metadata={"title": d.title, "kind": d.kind, "slug": d.slug}, tenant_id=TENANT)
        for d in data.documents
    ]  # fmt: skip
    results = Indexer(store, embedder).index_many(documents)
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        raise errors[0]
    statuses = [r.status for r in results if not isinstance(r, Exception)]
    return {s: statuses.count(s) for s in sorted(set(statuses))}


# -- 3. goals for the model ------------------------------------------------------------------------------------
class _LazyChat(ChatModel):
    """The context's chat model, loaded only if something calls it: queueing runs never does, so the loader does
    not spend seconds and gigabytes loading a model the API process loads anyway."""

    backend = "lazy"
    model = "lazy"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def chat(self, request: ChatRequest) -> ChatResult:
        return self.ctx.chat_model().chat(request)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        return self.ctx.chat_model().stream(request)

    def count_tokens(self, text: str) -> int:
        return self.ctx.chat_model().count_tokens(text)


def queue_demo_goals(ctx: ServiceContext, settings: AgentSettings) -> list[str]:
    """Start each demo goal tenant ``demo`` does not have yet; returns the new run ids (queued, not worked)."""
    from projects.autonomous_agent.service import AgentService

    service = AgentService(ctx.db_url(), _LazyChat(ctx), None, settings.model_copy(update={"inline_worker": False}))
    try:
        have = {(r.agent, r.goal) for r in service.list_runs(TENANT, limit=200)}
        tools = set(service.registry.names())
        return [
            service.start_run(
                g.goal, tenant=TENANT, agent=g.agent, tools=[t for t in g.tools if t in tools] if g.tools else None
            ).id
            for g in DEMO_GOALS
            if (g.agent, g.goal) not in have
        ]
    finally:
        service.queue.close()
