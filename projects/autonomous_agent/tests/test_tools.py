"""The tool layer against the real sandbox, the real PostgreSQL and a real local HTTP server (no model).

What must hold: a bad call (unknown tool, wrong arguments, a raising/hanging/flooding tool) is an observation, not
a crash; model-written code is contained (fork bomb, 10 GB, sleeping, sockets) and says which limit stopped it;
file tools stay in the run's workspace; SQL cannot write; HTTP reaches only allow-listed hosts.
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projects.autonomous_agent.settings import AgentSettings
from projects.autonomous_agent.tools import (
    CalculatorTool,
    HttpGetTool,
    KnowledgeSearchTool,
    PythonTool,
    SqlQueryTool,
    ToolRegistry,
    default_registry,
)
from projects.autonomous_agent.tools.calculator import CalculatorError, evaluate
from projects.autonomous_agent.tools.http import host_allowed
from projects.autonomous_agent.tools.registry import cap_text
from projects.autonomous_agent.types import ToolContext, ToolResult


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(
        workspace_root=tmp_path / "workspaces",
        tool_output_max_chars=2000,
        tool_timeout_s=20.0,
        python_wall_s=5.0,
        python_max_wall_s=10.0,
        python_memory_mb=512,
        python_max_processes=16,
        python_max_output_bytes=50_000,
        workspace_max_file_bytes=100_000,
        sql_max_rows=5,
        sql_statement_timeout_ms=300,
        http_allowlist=[],
        http_max_bytes=4096,
    )


@pytest.fixture
def registry(settings: AgentSettings) -> ToolRegistry:
    return default_registry(settings, knowledge=False, sql_url=False)


def make_ctx(settings: AgentSettings, run_id: str = "run-a") -> ToolContext:
    return ToolContext(run_id=run_id, workspace=settings.workspace_root / run_id)


@pytest.fixture
def ctx(settings: AgentSettings) -> ToolContext:
    return make_ctx(settings)


# -- registry -------------------------------------------------------------------------------------------------


class _Tool:
    """A configurable test tool: what ``run`` does is the test's function."""

    description = "test tool"
    permission = "read"

    def __init__(self, name: str, fn: Any, timeout: float | None = None) -> None:
        self.name = name
        self.fn = fn
        self.parameters = {"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": False}
        if timeout is not None:
            self.timeout_for = lambda arguments: timeout

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return self.fn(arguments)


def _raise_type_error(arguments: dict[str, Any]) -> ToolResult:
    return len(42)  # type: ignore[arg-type,return-value]


def test_registry_lists_tools_with_specs_and_permissions(registry: ToolRegistry) -> None:
    assert registry.names() == ["calculator", "http_get", "list_files", "python", "read_file", "write_file"]
    assert [s.name for s in registry.specs(["python", "nope", "calculator"])] == ["python", "calculator"]
    spec = registry.specs(["python"])[0]
    assert spec.parameters["required"] == ["code"]
    assert registry.permission("write_file") == "write_scratch"
    assert registry.permission("http_get") == "network"
    assert registry.permission("python") == "compute"
    assert registry.subset(["calculator"]).names() == ["calculator"]


def test_full_default_registry_builds_without_connecting(settings: AgentSettings) -> None:
    # sql_url/knowledge resolve lazily: a registry is cheap and needs no database until a query runs.
    names = default_registry(settings, sql_url="postgresql:///nonexistent").names()
    assert {"knowledge_search", "sql_query"} <= set(names)


def test_unknown_tool_is_an_observation_listing_known_tools(registry: ToolRegistry, ctx: ToolContext) -> None:
    result = registry.call("pythn", {"code": "1"}, ctx)
    assert not result.ok
    assert "unknown tool 'pythn'" in result.error
    assert "python" in result.error and "calculator" in result.error


def test_invalid_arguments_name_the_field(registry: ToolRegistry, ctx: ToolContext) -> None:
    missing = registry.call("write_file", {"path": "a.txt"}, ctx)
    assert not missing.ok and "'content' is a required property" in missing.error
    wrong_type = registry.call("write_file", {"path": "a.txt", "content": 5}, ctx)
    assert "arguments.content: 5 is not of type 'string'" in wrong_type.error
    extra = registry.call("calculator", {"expression": "1", "precision": 3}, ctx)
    assert "'precision' was unexpected" in extra.error and "Parameters: expression" in extra.error
    not_object = registry.call("calculator", ["1+1"], ctx)
    assert not not_object.ok and "must be a JSON object, got list" in not_object.error
    too_long = registry.call("python", {"code": "pass", "timeout_s": 1000}, ctx)
    assert "arguments.timeout_s: 1000 is greater than the maximum of 10" in too_long.error
    assert not (ctx.workspace / "a.txt").exists()


def test_invalid_schema_is_refused_at_registration(settings: AgentSettings) -> None:
    tool = _Tool("bad", lambda a: ToolResult(ok=True))
    tool.parameters = {"type": "objekt"}
    with pytest.raises(ValueError, match="invalid parameters schema"):
        ToolRegistry([tool], settings)


def test_a_raising_tool_gives_one_line_with_its_last_frame(settings: AgentSettings, ctx: ToolContext) -> None:
    registry = ToolRegistry([_Tool("boom", _raise_type_error)], settings)
    result = registry.call("boom", {}, ctx)
    assert not result.ok
    assert result.error.startswith("TypeError: object of type 'int' has no len()")
    assert "(at test_tools.py:" in result.error and "_raise_type_error" in result.error
    assert "\n" not in result.error and "Traceback" not in result.error


def test_a_hanging_tool_times_out(settings: AgentSettings, ctx: ToolContext) -> None:
    release = threading.Event()
    registry = ToolRegistry([_Tool("hang", lambda a: release.wait(30) and ToolResult(ok=True), timeout=0.3)], settings)
    result = registry.call("hang", {}, ctx)
    release.set()
    assert not result.ok
    assert "timeout" in result.error and "0.3 s" in result.error


def test_a_tool_returning_10_mb_is_capped(settings: AgentSettings, ctx: ToolContext) -> None:
    def flood(arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(ok=True, output="HEAD" + "x" * 10_000_000 + "TAIL", data={"blob": "y" * 10_000_000})

    registry = ToolRegistry([_Tool("flood", flood)], settings)
    result = registry.call("flood", {}, ctx)
    assert result.ok and result.truncated
    assert len(result.output) <= settings.tool_output_max_chars
    assert result.output.startswith("HEAD") and result.output.endswith("TAIL")
    assert "characters cut" in result.output
    # What the checkpoint would store: the result as JSON, not 20 MB.
    assert len(result.model_dump_json()) < 3 * settings.tool_output_max_chars
    assert result.duration_s > 0


def test_a_tool_returning_garbage_is_reported(settings: AgentSettings, ctx: ToolContext) -> None:
    registry = ToolRegistry([_Tool("odd", lambda a: "just a string")], settings)
    result = registry.call("odd", {}, ctx)
    assert not result.ok and "returned str, not a ToolResult" in result.error


def test_cap_text_keeps_short_text_whole() -> None:
    assert cap_text("short", 100) == ("short", False)
    text, cut = cap_text("a" * 500 + "b" * 500, 200)
    assert cut and len(text) <= 200 and text.startswith("a") and text.endswith("b")


# -- calculator -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(17*3 + 4) / 5", "11"),
        ("0.1 + 0.2", "0.3"),
        ("2**100", "1267650600228229401496703205376"),
        ("7 // 2 + 7 % 2", "4"),
        ("-3 ** 2", "-9"),
        ("sqrt(16) + abs(-2) + max(1, 5, 3)", "11"),
        ("round(pi, 3)", "3.142"),
        ("log(8, 2)", "3"),
        ("2^3", "8"),
    ],
)
def test_calculator_computes(expression: str, expected: str, ctx: ToolContext) -> None:
    result = CalculatorTool().run({"expression": expression}, ctx)
    assert result.ok, result.error
    assert result.output == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9**9**9", "exponent 387420489 is too large"),
        ("2**100000", "too large"),
        ("1/0", "division by zero"),
        ("__import__('os').system('id')", "unknown function"),
        ("open('x')", "unknown function 'open'"),
        ("(1).__class__", "unsupported syntax"),
        ("x + 1", "unknown name 'x'"),
        ("'a' * 3", "only numbers"),
        ("sqrt(-1)", "math error"),
        ("1 +", "syntax error"),
        ("exp(1000)", "too large for a floating-point number"),
    ],
)
def test_calculator_refuses(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError, match=re.escape(message)):
        evaluate(expression)


# -- workspace files ------------------------------------------------------------------------------------------


def test_write_read_list_round_trip(registry: ToolRegistry, ctx: ToolContext) -> None:
    assert registry.call("write_file", {"path": "notes/a.txt", "content": "hello"}, ctx).ok
    assert registry.call("write_file", {"path": "notes/a.txt", "content": " world", "append": True}, ctx).ok
    assert registry.call("read_file", {"path": "notes/a.txt"}, ctx).output == "hello world"
    listing = registry.call("list_files", {}, ctx)
    assert "notes/\t" in listing.output and "notes/a.txt\t11" in listing.output
    assert registry.call("read_file", {"path": "notes/a.txt", "offset": 6, "max_chars": 3}, ctx).output.startswith(
        "wor"
    )
    missing = registry.call("read_file", {"path": "nope.txt"}, ctx)
    assert not missing.ok and "no such file" in missing.error


@pytest.mark.parametrize("path", ["/etc/passwd", "../run-b/secret.txt", "a/../../x", "~/x"])
def test_path_escapes_are_refused(path: str, registry: ToolRegistry, ctx: ToolContext) -> None:
    for tool, args in [("read_file", {"path": path}), ("write_file", {"path": path, "content": "x"})]:
        result = registry.call(tool, args, ctx)
        assert not result.ok, (tool, path)
        assert "workspace" in result.error or "absolute" in result.error


def test_symlinks_leading_out_are_refused(registry: ToolRegistry, ctx: ToolContext, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cret")
    ctx.workspace.mkdir(parents=True, exist_ok=True)
    (ctx.workspace / "link").symlink_to(outside)
    (ctx.workspace / "file_link.txt").symlink_to(outside / "secret.txt")
    assert "outside the workspace" in registry.call("read_file", {"path": "link/secret.txt"}, ctx).error
    assert "outside the workspace" in registry.call("read_file", {"path": "file_link.txt"}, ctx).error
    write = registry.call("write_file", {"path": "link/new.txt", "content": "x"}, ctx)
    assert not write.ok and not (outside / "new.txt").exists()
    assert not registry.call("list_files", {"path": "link"}, ctx).ok
    assert (outside / "secret.txt").read_text() == "s3cret"


def test_file_size_caps(registry: ToolRegistry, ctx: ToolContext, settings: AgentSettings) -> None:
    big = "x" * (settings.workspace_max_file_bytes + 1)
    result = registry.call("write_file", {"path": "big.txt", "content": big}, ctx)
    assert not result.ok and f"the limit is {settings.workspace_max_file_bytes} bytes" in result.error
    (ctx.workspace / "huge.txt").write_text("y" * (settings.workspace_max_file_bytes * 3))
    read = registry.call("read_file", {"path": "huge.txt"}, ctx)
    assert read.ok and read.truncated and len(read.output) <= settings.tool_output_max_chars


def test_two_runs_writing_the_same_file_are_isolated(registry: ToolRegistry, settings: AgentSettings) -> None:
    a, b = make_ctx(settings, "run-a"), make_ctx(settings, "run-b")
    assert registry.call("write_file", {"path": "out.txt", "content": "from a"}, a).ok
    assert registry.call("write_file", {"path": "out.txt", "content": "from b"}, b).ok
    # the code tool too, concurrently, the same relative file in each run's workspace
    results: dict[str, ToolResult] = {}

    def code(c: ToolContext, tag: str) -> None:
        results[tag] = registry.call("python", {"code": f"open('code.txt', 'w').write('{tag}')"}, c)

    threads = [threading.Thread(target=code, args=(c, c.run_id)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in results.values()), results
    assert registry.call("read_file", {"path": "out.txt"}, a).output == "from a"
    assert registry.call("read_file", {"path": "out.txt"}, b).output == "from b"
    assert (a.workspace / "code.txt").read_text() == "run-a"
    assert (b.workspace / "code.txt").read_text() == "run-b"


# -- python (the real sandbox) -------------------------------------------------------------------------------


def test_python_output_is_the_observation(registry: ToolRegistry, ctx: ToolContext) -> None:
    result = registry.call("python", {"code": "print(sum(range(101)))"}, ctx)
    assert result.ok and "--- stdout ---\n5050" in result.output
    assert result.data["network_isolated"] is True
    failing = registry.call("python", {"code": "print('before')\n1/0"}, ctx)
    assert not failing.ok
    assert failing.error == "exit status 1: ZeroDivisionError: division by zero"
    assert "before" in failing.output and 'File "main.py", line 2' in failing.output


def test_python_shares_the_workspace_with_file_tools(registry: ToolRegistry, ctx: ToolContext) -> None:
    registry.call("write_file", {"path": "data/in.csv", "content": "a,b\n1,2\n3,4\n"}, ctx)
    code = (
        "import csv, os\n"
        "rows = list(csv.DictReader(open('data/in.csv')))\n"
        "open('total.txt', 'w').write(str(sum(int(r['b']) for r in rows)))\n"
        "os.symlink('/etc/passwd', 'pw')\n"
        "os.remove('data/in.csv')\n"
        "print('cwd', os.getcwd().endswith('ws'))"
    )
    result = registry.call("python", {"code": code}, ctx)
    assert result.ok, result.output
    assert "+total.txt" in result.output and "-data/in.csv" in result.output
    assert "pw (symbolic link)" in result.output
    assert registry.call("read_file", {"path": "total.txt"}, ctx).output == "6"
    assert not (ctx.workspace / "pw").exists() and not (ctx.workspace / "data" / "in.csv").exists()


def test_python_cannot_write_outside_its_workspace(registry: ToolRegistry, ctx: ToolContext, tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    repo_target = Path(__file__).with_name("written_by_agent.txt")
    attempt = "try:\n    open({!r}, 'w').write('x')\n    print('WROTE')\nexcept OSError as e:\n    print(repr(e))"
    code = "\n".join(attempt.format(str(p)) for p in (target, repo_target))
    result = registry.call("python", {"code": code}, ctx)
    assert "WROTE" not in result.output
    assert not target.exists() and not repo_target.exists()


def test_fork_bomb_is_contained(registry: ToolRegistry, ctx: ToolContext, settings: AgentSettings) -> None:
    code = "import os\nwhile True:\n    os.fork()"
    result = registry.call("python", {"code": code}, ctx)
    assert not result.ok
    assert f"process limit of {settings.python_max_processes} processes" in result.error


def test_allocating_10_gb_is_contained(registry: ToolRegistry, ctx: ToolContext, settings: AgentSettings) -> None:
    result = registry.call("python", {"code": "x = bytearray(10 * 1024**3)\nprint('allocated')"}, ctx)
    assert not result.ok
    assert f"memory limit of {settings.python_memory_mb} MB" in result.error
    assert "allocated" not in result.output


def test_sleeping_forever_is_killed_at_the_wall_clock(registry: ToolRegistry, ctx: ToolContext) -> None:
    result = registry.call(
        "python", {"code": "import time\nprint('start', flush=True)\ntime.sleep(10**6)", "timeout_s": 1}, ctx
    )
    assert not result.ok
    assert "wall-clock limit of 1 s" in result.error and "timeout_s" in result.error
    assert "start" in result.output  # what it printed before the kill is kept


def test_output_flood_is_cut(registry: ToolRegistry, ctx: ToolContext, settings: AgentSettings) -> None:
    result = registry.call("python", {"code": "while True:\n    print('x' * 1000)"}, ctx)
    assert not result.ok and result.truncated
    assert f"output limit of {settings.python_max_output_bytes} bytes" in result.error
    assert len(result.output) <= settings.tool_output_max_chars


@pytest.fixture
def local_tcp_server() -> Iterator[tuple[int, list[Any]]]:
    """A TCP server on the host's 127.0.0.1 that records every connection it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[Any] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            accepted.append(addr)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_sockets_are_contained(
    registry: ToolRegistry, ctx: ToolContext, local_tcp_server: tuple[int, list[Any]]
) -> None:
    port, accepted = local_tcp_server
    for host, p in (("1.1.1.1", 80), ("127.0.0.1", port)):
        code = f"import socket\nsocket.create_connection(({host!r}, {p}), timeout=3)\nprint('CONNECTED')"
        result = registry.call("python", {"code": code}, ctx)
        assert not result.ok, host
        assert "CONNECTED" not in result.output
        assert result.error.startswith("no network"), result.error
    assert accepted == []  # the host's local server never saw the sandboxed code


# -- sql_query (real PostgreSQL) -----------------------------------------------------------------------------


@pytest.fixture
def sql_tool(database_url: str, settings: AgentSettings) -> SqlQueryTool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text, price numeric)")
        conn.execute("INSERT INTO items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 20) g")
    return SqlQueryTool(database_url, settings)


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def test_sql_reads_rows(sql_tool: SqlQueryTool, ctx: ToolContext, settings: AgentSettings) -> None:
    registry = ToolRegistry([sql_tool], settings)
    result = registry.call("sql_query", {"query": "SELECT id, name, price FROM items WHERE id <= 2 ORDER BY id;"}, ctx)
    assert result.ok, result.error
    assert result.output.splitlines()[:3] == ["id\tname\tprice", "1\titem 1\t1.5", "2\titem 2\t3.0"]
    assert result.data["rows"] == [[1, "item 1", 1.5], [2, "item 2", 3.0]]
    capped = registry.call("sql_query", {"query": "SELECT id FROM items"}, ctx)
    assert capped.truncated and len(capped.data["rows"]) == settings.sql_max_rows
    assert "more rows cut at 5" in capped.output


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM items",
        "INSERT INTO items VALUES (100, 'x', 1)",
        "UPDATE items SET price = 0",
        "DROP TABLE items",
        "CREATE TABLE evil (x int)",
        "SELECT 1; DELETE FROM items",
        "WITH d AS (DELETE FROM items RETURNING id) SELECT count(*) FROM d",
    ],
)
def test_sql_writes_are_refused(query: str, sql_tool: SqlQueryTool, ctx: ToolContext, database_url: str) -> None:
    result = sql_tool.run({"query": query}, ctx)
    assert not result.ok
    assert result.error.startswith("SQL error:")
    assert _count(database_url) == 20


def test_sql_statement_timeout_and_errors(sql_tool: SqlQueryTool, ctx: ToolContext) -> None:
    slow = sql_tool.run({"query": "SELECT pg_sleep(5)"}, ctx)
    assert not slow.ok and "statement timeout" in slow.error
    bad = sql_tool.run({"query": "SELECT nope FROM items"}, ctx)
    assert not bad.ok and 'column "nope" does not exist' in bad.error


# -- http_get (a real local server) -------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path == "/hello":
            self._send(200, b"hello agent")
        elif self.path == "/big":
            self._send(200, b"z" * 100_000)
        elif self.path == "/redirect-ok":
            self._redirect(f"http://127.0.0.1:{port}/hello")
        elif self.path == "/redirect-away":
            self._redirect(f"http://localhost:{port}/hello")
        else:
            self._send(404, b"not found")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_get_allow_listed_host(http_base: str, settings: AgentSettings, ctx: ToolContext) -> None:
    registry = ToolRegistry([HttpGetTool(settings, allowlist=["127.0.0.1"])], settings)
    ok = registry.call("http_get", {"url": f"{http_base}/hello"}, ctx)
    assert ok.ok and ok.output.endswith("hello agent") and ok.output.startswith("HTTP 200")
    followed = registry.call("http_get", {"url": f"{http_base}/redirect-ok"}, ctx)
    assert followed.ok and followed.data["redirects"] == [f"{http_base}/redirect-ok"]
    big = registry.call("http_get", {"url": f"{http_base}/big"}, ctx)
    assert big.ok and big.truncated and big.data["bytes"] == settings.http_max_bytes
    missing = registry.call("http_get", {"url": f"{http_base}/missing"}, ctx)
    assert not missing.ok and missing.error == "HTTP 404 Not Found"


def test_http_get_refuses_hosts_off_the_list(http_base: str, settings: AgentSettings, ctx: ToolContext) -> None:
    tool = HttpGetTool(settings, allowlist=["127.0.0.1"])
    away = tool.run({"url": f"{http_base}/redirect-away"}, ctx)
    assert not away.ok and "'localhost' is not on the HTTP allow-list" in away.error and "redirected from" in away.error
    other = tool.run({"url": "http://1.1.1.1/"}, ctx)
    assert not other.ok and "not on the HTTP allow-list" in other.error
    scheme = tool.run({"url": "file:///etc/passwd"}, ctx)
    assert not scheme.ok and "only http and https" in scheme.error
    closed = HttpGetTool(settings).run({"url": f"{http_base}/hello"}, ctx)  # default: empty list
    assert not closed.ok and "network access is disabled" in closed.error


def test_host_allowed_rules() -> None:
    assert host_allowed("https://api.example.org/x", [".example.org"])
    assert host_allowed("https://example.org/x", [".example.org"])
    assert not host_allowed("https://evilexample.org/x", [".example.org"])
    assert host_allowed("http://127.0.0.1:8080/", ["127.0.0.1:8080"])
    assert not host_allowed("http://127.0.0.1:9090/", ["127.0.0.1:8080"])
    assert not host_allowed("http://example.org@evil.com/", ["example.org"])
    assert host_allowed("http://[::1]:80/", ["[::1]:80"])


def test_allowlist_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT__HTTP_ALLOWLIST", "Example.org, 127.0.0.1:8000")
    assert AgentSettings().http_allowlist == ["example.org", "127.0.0.1:8000"]


# -- knowledge_search (real pgvector + the packaged embedder) -------------------------------------------------


@pytest.fixture(scope="module")
def embedder():
    from shared.serving import get_embedder

    return get_embedder()


def test_knowledge_search_returns_passages_with_ids(database_url: str, embedder, settings: AgentSettings) -> None:
    from shared.retrieval import Document, Indexer, PgVectorStore, upgrade

    upgrade(database_url)
    store = PgVectorStore(database_url)
    store.create_collection("agent_kb", embedding_model=embedder.model, embedding_dim=embedder.dim)
    docs = [
        ("refunds.md", "Refunds are paid to the original card within 5 business days."),
        ("shipping.md", "Standard shipping takes 3 to 7 business days after processing."),
        ("other.md", "The cafeteria serves lunch from noon."),
    ]
    for tenant in ("acme", "globex"):
        Indexer(store, embedder).index_many(
            [Document(collection="agent_kb", source_uri=f"{tenant}/{u}", text=t, tenant_id=tenant) for u, t in docs]
        )
    tool = KnowledgeSearchTool(store, embedder, settings=settings)
    ctx = ToolContext(run_id="kb", workspace=settings.workspace_root / "kb", tenant="acme")
    result = ToolRegistry([tool], settings).call(
        "knowledge_search", {"query": "how long does a refund take", "k": 2}, ctx
    )
    assert result.ok, result.error
    top = result.data["passages"][0]
    assert top["source"] == "acme/refunds.md" and "5 business days" in top["text"]
    assert f"[{top['id']}]" in result.output
    assert all(p["source"].startswith("acme/") for p in result.data["passages"])  # the run's tenant only
    gone = KnowledgeSearchTool(store, embedder, collection="nope", settings=settings).run({"query": "x"}, ctx)
    assert not gone.ok and "does not exist" in gone.error


def test_python_deadline_follows_the_requested_timeout(settings: AgentSettings) -> None:
    # the python tool's registry deadline follows the sandbox limit it asked for (long jobs are not cut early)
    tool = PythonTool(settings)
    registry = ToolRegistry([tool], settings)
    assert registry.timeout_for("python", {"code": "x", "timeout_s": 9}) > 9
    assert registry.timeout_for("python", {"code": "x"}) > settings.python_wall_s
