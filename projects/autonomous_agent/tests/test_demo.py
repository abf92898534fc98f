"""The demo world: generated deterministically, loaded idempotently into the real database (operations schema,
reader role, knowledge base, queued goals), and usable by the real tools — ``sql_query`` answers the demo's
question through the read-only role, ``knowledge_search`` finds the runbook for the demo tenant only."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from projects.autonomous_agent.demo import DEMO_GOALS, TENANT, load_demo_data, reader_url, ready_reader_url
from projects.autonomous_agent.demo_data import DOCUMENTS, SPIKE_MONTH, generate
from projects.autonomous_agent.settings import AgentSettings
from projects.autonomous_agent.tools import KnowledgeSearchTool, SqlQueryTool, default_registry
from projects.autonomous_agent.types import ToolContext
from shared.api.context import ServiceContext
from shared.retrieval import PgVectorStore

MAY_BY_REGION = (
    "SELECT r.name, count(*) AS incidents FROM incidents i JOIN regions r ON r.code = i.region_code "
    "WHERE i.opened_at >= '2026-05-01' AND i.opened_at < '2026-06-01' GROUP BY r.name ORDER BY incidents DESC"
)


@pytest.fixture(scope="module")
def embedder():
    from shared.serving import get_embedder

    return get_embedder()


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(workspace_root=tmp_path / "ws", memory=False, inline_worker=False)


def counts(url: str, settings: AgentSettings) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        out = {t: conn.execute(f"SELECT count(*) FROM agent_demo.{t}").fetchone()[0]
               for t in ("regions", "products", "orders", "incidents")}  # fmt: skip
        out["chunks"] = conn.execute(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.collection = %s",
            (settings.knowledge_collection,),
        ).fetchone()[0]
        out["runs"] = conn.execute("SELECT count(*) FROM ag_runs WHERE tenant = %s", (TENANT,)).fetchone()[0]
    return out


def test_generation_is_deterministic_and_has_a_story() -> None:
    a, b = generate(7), generate(7)
    assert a.checksum() == b.checksum() and a.rows == b.rows
    assert generate(8).checksum() != a.checksum()
    data = generate()
    assert data.row_counts() == {"regions": 5, "products": 16, "orders": 360, "incidents": 169}
    regions = {r["code"] for r in data.rows["regions"]}
    skus = {p["sku"] for p in data.rows["products"]}
    assert all(o["region_code"] in regions and o["product_sku"] in skus for o in data.rows["orders"])
    assert [r["id"] for r in data.rows["incidents"]] == list(range(1, 170))
    may = sorted(data.incidents_by_region(SPIKE_MONTH).items(), key=lambda kv: -kv[1])
    assert may[0] == ("NA-E", 14) and may[1][1] < 14  # one clear answer to the demo's question
    assert len({d.slug for d in DOCUMENTS}) == len(DOCUMENTS) >= 6


def test_load_is_idempotent_and_the_tools_use_the_demo(database_url: str, settings, embedder, tmp_path) -> None:
    ctx = ServiceContext(database_url=database_url)
    first = load_demo_data(ctx, settings, goals=True)
    assert first["database"]["written"] and first["database"]["reader_role"] == "agent_demo_reader"
    assert first["knowledge"] == {"inserted": len(DOCUMENTS)} and len(first["runs"]) == len(DEMO_GOALS)
    with psycopg.connect(database_url) as conn:
        queued = conn.execute("SELECT agent, tools, status FROM ag_runs ORDER BY created_at").fetchall()
    assert queued[0] == ("agent", ["sql_query", "calculator"], "queued") and queued[2][0] == "supervisor"
    loaded = counts(database_url, settings)
    assert loaded["incidents"] == 169 and loaded["chunks"] >= len(DOCUMENTS) and loaded["runs"] == len(DEMO_GOALS)

    again = load_demo_data(ctx, settings, goals=True)
    assert not again["database"]["written"] and again["knowledge"] == {"unchanged": len(DOCUMENTS)}
    assert again["runs"] == [] and counts(database_url, settings) == loaded  # nothing added

    # sql_query on the read-only role: bare table names, the right answer, nothing else readable, no writes
    assert ready_reader_url(database_url, settings) == reader_url(database_url, settings)  # what make demo uses
    reader = settings.model_copy(update={"sql_database_url": reader_url(database_url, settings)})
    registry = default_registry(
        reader, knowledge=KnowledgeSearchTool(PgVectorStore(database_url), embedder, settings=reader), http=False
    )
    tool_ctx = ToolContext(run_id="run_000000000001", workspace=tmp_path, tenant=TENANT)
    answer = registry.call("sql_query", {"query": MAY_BY_REGION}, tool_ctx)
    assert answer.ok, answer.error
    assert answer.output.splitlines()[:2] == ["name\tincidents", "North America East\t14"]
    listing = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
    tables = registry.call("sql_query", {"query": listing}, tool_ctx)  # how a model discovers the schema
    assert tables.ok and [r[0] for r in tables.data["rows"]] == ["demo_meta", "incidents", "orders", "products",
                                                                 "regions"]  # fmt: skip
    private = registry.call("sql_query", {"query": "SELECT count(*) FROM public.ag_runs"}, tool_ctx)
    assert not private.ok and "permission denied" in private.error
    write = registry.call("sql_query", {"query": "DELETE FROM incidents"}, tool_ctx)
    assert not write.ok and "read-only" in write.error
    # without the role (the platform's own connection) the same tables are schema-qualified
    qualified = MAY_BY_REGION.replace("FROM incidents", "FROM agent_demo.incidents").replace(
        "JOIN regions", "JOIN agent_demo.regions"
    )
    admin = SqlQueryTool(database_url, settings).run({"query": qualified}, tool_ctx)
    assert admin.ok and admin.data["rows"][0] == ["North America East", 14]

    # knowledge_search: the runbook for the demo tenant, nothing for another tenant
    found = registry.call("knowledge_search", {"query": "what to do when the payment gateway times out"}, tool_ctx)
    assert found.ok and found.data["passages"][0]["title"] == "Runbook: payment gateway timeouts"
    assert "secondary gateway" in found.output
    other = registry.call("knowledge_search", {"query": "payment gateway timeouts"},
                          tool_ctx.model_copy(update={"tenant": "acme"}))  # fmt: skip
    assert other.ok and other.data["passages"] == []
