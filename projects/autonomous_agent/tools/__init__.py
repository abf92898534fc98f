"""The agent's tools: a registry that makes every call safe to make, the built-in tools, and MCP both ways.

``default_registry(settings)`` is what a run uses; ``ToolRegistry.call`` never raises for tool problems (see
``registry.py``). Built-ins: ``python`` (sandboxed code, the run's workspace as cwd), ``read_file``/``write_file``/
``list_files`` (workspace only), ``calculator``, ``knowledge_search``, ``sql_query`` (read-only), ``http_get``
(allow-list). ``mcp_bridge`` consumes MCP servers' tools and serves a registry as an MCP server.
"""

from __future__ import annotations

from projects.autonomous_agent.settings import AgentSettings, get_agent_settings
from projects.autonomous_agent.tools.calculator import CalculatorTool
from projects.autonomous_agent.tools.files import ListFilesTool, ReadFileTool, WorkspaceError, WriteFileTool
from projects.autonomous_agent.tools.http import HttpGetTool
from projects.autonomous_agent.tools.knowledge import KnowledgeSearchTool
from projects.autonomous_agent.tools.python_exec import PythonTool
from projects.autonomous_agent.tools.registry import ToolRegistry
from projects.autonomous_agent.tools.sql import SqlQueryTool
from shared.retrieval import PgVectorStore
from shared.serving.base import Embedder


def default_registry(
    settings: AgentSettings | None = None,
    *,
    knowledge: KnowledgeSearchTool | bool = True,
    sql_url: str | bool | None = None,
    http: bool = True,
    url: str | None = None,
    embedder: Embedder | None = None,
) -> ToolRegistry:
    """The standard tool set.

    ``knowledge``: True = search ``settings.knowledge_collection`` on the platform database (store and embedder
    load lazily, on the first search), a ``KnowledgeSearchTool`` to use that one, False = leave it out.
    ``sql_url``: the database ``sql_query`` reads (None = ``AGENT__SQL_DATABASE_URL``, else the platform database;
    False = leave it out). ``http``: False leaves ``http_get`` out (it is also useless with an empty allow-list,
    but listing it tells the model that the network exists and is refused). ``url`` / ``embedder``: the caller's
    database and embedder (a service's), used by ``knowledge_search`` and as ``sql_query``'s fallback, so the tools
    read the database the service was built on and no second embedder loads.
    Nothing here connects or loads a model: building a registry is cheap.
    """
    settings = settings or get_agent_settings()
    tools = [
        PythonTool(settings),
        ReadFileTool(settings),
        WriteFileTool(settings),
        ListFilesTool(settings),
        CalculatorTool(),
    ]
    if knowledge is not False:
        given = knowledge if isinstance(knowledge, KnowledgeSearchTool) else None
        store = PgVectorStore(url) if url else None
        tools.append(given or KnowledgeSearchTool(store, embedder, settings=settings))
    if sql_url is not False:
        sql = sql_url if isinstance(sql_url, str) else (settings.sql_database_url or url)
        tools.append(SqlQueryTool(sql, settings))
    if http:
        tools.append(HttpGetTool(settings))
    return ToolRegistry(tools, settings)


__all__ = [
    "CalculatorTool",
    "HttpGetTool",
    "KnowledgeSearchTool",
    "ListFilesTool",
    "PythonTool",
    "ReadFileTool",
    "SqlQueryTool",
    "ToolRegistry",
    "WorkspaceError",
    "WriteFileTool",
    "default_registry",
]
