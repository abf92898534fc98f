"""The agent's tools as an MCP server over stdio: ``python -m projects.autonomous_agent.mcp_server``.

Example client configuration (Claude Desktop, an IDE, or another agent's ``MCPToolset``)::

    {"command": "python", "args": ["-m", "projects.autonomous_agent.mcp_server", "--tools", "calculator,python"]}

Without ``--tools`` every default tool is served. ``--no-knowledge`` / ``--no-sql`` leave out the tools that need the
database (so the server starts without one); ``--workspace DIR`` keeps files in DIR instead of a scratch directory
deleted on exit. Settings come from the environment as for the agent (``AGENT__*``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from projects.autonomous_agent.settings import get_agent_settings
from projects.autonomous_agent.tools import default_registry
from projects.autonomous_agent.tools.mcp_bridge import serve_registry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", help="comma-separated tool names to serve (default: all)")
    parser.add_argument("--no-knowledge", action="store_true", help="leave out knowledge_search")
    parser.add_argument("--no-sql", action="store_true", help="leave out sql_query")
    parser.add_argument("--workspace", type=Path, help="workspace directory (default: a scratch dir, removed)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)  # stdout carries the protocol
    registry = default_registry(
        get_agent_settings(), knowledge=not args.no_knowledge, sql_url=False if args.no_sql else None
    )
    if args.tools:
        wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
        unknown = sorted(set(wanted) - set(registry.names()))
        if unknown:
            parser.error(f"unknown tools: {', '.join(unknown)}; available: {', '.join(registry.names())}")
        registry = registry.subset(wanted)
    serve_registry(registry, workspace=args.workspace)


if __name__ == "__main__":
    main()
