"""``make demo``: database, schema, demo data, then the platform API and the portal on 127.0.0.1.

Starts the embedded PostgreSQL (unless ``DATABASE_URL`` names one), migrates it, loads each
landed project's demo data, and launches two children with ``DATABASE_URL`` set: the platform
API (uvicorn) and the Streamlit portal. It waits until both answer, waits for the model to be
warm (``/ready``), prints the URLs, and on Ctrl-C / SIGTERM stops the children, then the database.

``--smoke`` is the acceptance check of the whole thing: bring everything up, probe it (health,
readiness, portal, one chat completion streamed and one not), print a summary, shut down and
exit 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.settings import REPO_ROOT, Settings, get_settings

PORTAL_HOME = REPO_ROOT / "projects" / "platform" / "portal" / "Home.py"
SMOKE_PROMPT = "Reply with one short sentence: what is PostgreSQL?"
# A different prompt for the streamed check, so the response cache cannot answer it from the first one.
SMOKE_STREAM_PROMPT = "Reply with one short sentence: what is Python?"
STOP = threading.Event()
"""Set by SIGINT/SIGTERM; every wait checks it so Ctrl-C works at any stage."""


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


# ------------------------------------------------------------------------------------ database


def start_database(settings: Settings, data_dir: Path) -> tuple[str, bool]:
    """The database URL, and whether this process started (and so must stop) the embedded server."""
    external = settings.effective_database_url()
    if external:
        say("using the external database from DATABASE_URL")
        return external, False
    from shared.db import start_embedded

    say(f"starting embedded PostgreSQL in {data_dir}")
    return start_embedded(data_dir, cleanup_mode="stop"), True


def migrate(url: str) -> None:
    from shared.retrieval.migrations import upgrade

    upgrade(url)
    say("schema migrated")


def load_demo_data(settings: Settings, url: str) -> None:
    from projects.platform.registry import PROJECTS
    from shared.api.context import ServiceContext

    ctx = ServiceContext(settings=settings, database_url=url)
    loaders = [p for p in PROJECTS if p.has_demo_data()]
    if not loaders:
        say("no project demo data to load yet")
    for project in loaders:
        say(f"loading demo data: {project.title}")
        project.load_demo_loader()(ctx)


# ---------------------------------------------------------------------------------------- children


@dataclass
class Child:
    name: str
    cmd: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        # Own process group: Ctrl-C reaches only the launcher, which then stops children in order.
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=REPO_ROOT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop in {timeout_s:.0f} s; killing it")
            self.proc.kill()
            self.proc.wait()


def child_env(url: str, api_url: str, api_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        API__PORT=str(api_port),
        PORTAL__API_URL=api_url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    # The agent's sql_query reads the demo operations schema through its read-only role, when its loader could
    # create that role on this server.
    from projects.autonomous_agent.demo import ready_reader_url

    reader = ready_reader_url(url)
    if reader:
        env.setdefault("AGENT__SQL_DATABASE_URL", reader)
    return env


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, children: list[Child]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if STOP.is_set():
            raise RuntimeError("interrupted")
        for child in children:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited with code {child.proc.returncode if child.proc else '?'}")
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not up within {timeout_s:.0f} s")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(api_url: str, timeout_s: float, children: list[Child]) -> None:
    """Wait for /ready; stop early when a model reports that it failed to load (waiting would not help)."""

    def ready() -> bool:
        try:
            resp = httpx.get(api_url + "/ready", timeout=10)
        except httpx.HTTPError:
            return False
        if resp.status_code == 200:
            return True
        for err in resp.json().get("errors", []):
            if "failed to load" in str(err.get("error", "")):
                raise RuntimeError(f"readiness check {err['check']!r}: {err['error']}")
        return False

    wait_until(ready, timeout_s, "readiness (model warm-up)", children)


# ------------------------------------------------------------------------------------------- smoke


@dataclass
class SmokeReport:
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, fn: Callable[[], str]) -> None:
        start = time.perf_counter()
        try:
            detail = fn()
            ok = True
        except Exception as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        self.results.append((name, ok, f"{detail} ({time.perf_counter() - start:.1f} s)"))
        say(f"{'PASS' if ok else 'FAIL'} {name}: {self.results[-1][2]}")

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(ok for _, ok, _ in self.results)

    def summary(self) -> str:
        passed = sum(ok for _, ok, _ in self.results)
        lines = [f"smoke summary: {passed}/{len(self.results)} checks passed"]
        lines += [f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}" for name, ok, detail in self.results]
        return "\n".join(lines)


def _expect_200(url: str) -> str:
    resp = httpx.get(url, timeout=30)
    if resp.status_code != 200:
        raise AssertionError(f"HTTP {resp.status_code}: {resp.text[:300]}")
    return "200"


def _portal_home(portal_url: str) -> str:
    _expect_200(portal_url + "/_stcore/health")
    page = httpx.get(portal_url + "/", timeout=30)
    if page.status_code != 200 or "<html" not in page.text.lower():
        raise AssertionError(f"portal home: HTTP {page.status_code}")
    from streamlit.testing.v1 import AppTest  # the page script itself, executed headless

    at = AppTest.from_file(str(PORTAL_HOME), default_timeout=60).run()
    if at.exception:
        raise AssertionError(f"portal home raised: {at.exception[0].message}")
    rows = len(at.dataframe[0].value)
    return f"health 200, page 200, home script lists {rows} projects"


def _served_model(api_url: str) -> str:
    resp = httpx.get(api_url + "/v1/models", timeout=30)
    resp.raise_for_status()
    return resp.json()["data"][0]["id"]


def _chat(api_url: str, max_tokens: int) -> str:
    body = {
        "model": _served_model(api_url),
        "messages": [{"role": "user", "content": SMOKE_PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    resp = httpx.post(api_url + "/v1/chat/completions", json=body, timeout=600)
    if resp.status_code != 200:
        raise AssertionError(f"HTTP {resp.status_code}: {resp.text[:300]}")
    text = resp.json()["choices"][0]["message"]["content"] or ""
    if not text.strip():
        raise AssertionError("empty completion")
    return repr(text.strip()[:80])


def _chat_stream(api_url: str, max_tokens: int) -> str:
    body = {
        "model": _served_model(api_url),
        "messages": [{"role": "user", "content": SMOKE_STREAM_PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    parts: list[str] = []
    chunks = 0
    with httpx.stream("POST", api_url + "/v1/chat/completions", json=body, timeout=600) as resp:
        if resp.status_code != 200:
            raise AssertionError(f"HTTP {resp.status_code}: {resp.read()[:300]!r}")
        if not resp.headers.get("content-type", "").startswith("text/event-stream"):
            raise AssertionError(f"not an event stream: {resp.headers.get('content-type')}")
        for line in resp.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunks += 1
            for choice in json.loads(data).get("choices", []):
                parts.append((choice.get("delta") or {}).get("content") or "")
    text = "".join(parts).strip()
    if not text:
        raise AssertionError(f"empty streamed completion ({chunks} chunks)")
    return f"{chunks} chunks, {text[:80]!r}"


def run_smoke(api_url: str, portal_url: str, max_tokens: int) -> SmokeReport:
    report = SmokeReport()
    report.check("GET /health", lambda: _expect_200(api_url + "/health"))
    report.check("GET /ready", lambda: _expect_200(api_url + "/ready"))
    report.check("portal home", lambda: _portal_home(portal_url))
    report.check("chat completion", lambda: _chat(api_url, max_tokens))
    report.check("chat completion (streamed)", lambda: _chat_stream(api_url, max_tokens))
    return report


# -------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="start, check, stop; exit 0 when every check passed")
    parser.add_argument("--api-port", type=int, default=settings.api.port)
    parser.add_argument("--portal-port", type=int, default=settings.portal.port)
    parser.add_argument("--data-dir", type=Path, default=settings.database.embedded_data_dir)
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds for the processes to answer")
    parser.add_argument("--ready-timeout", type=float, default=900.0, help="seconds for the model to warm up")
    parser.add_argument("--max-tokens", type=int, default=24, help="smoke completions' length")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    args = parse_args(argv, settings)
    host = "127.0.0.1"
    api_url = f"http://{host}:{args.api_port}"
    portal_url = f"http://{host}:{args.portal_port}"

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: STOP.set())
    os.environ["PORTAL__API_URL"] = api_url  # the smoke check runs the portal's home script in this process
    get_settings.cache_clear()

    owns_db = False
    children: list[Child] = []
    code = 1
    try:
        url, owns_db = start_database(settings, args.data_dir.resolve())
        migrate(url)
        load_demo_data(settings, url)
        env = child_env(url, api_url, args.api_port)
        children = [
            Child(
                "platform API",
                [sys.executable, "-m", "projects.platform.app", "--host", host, "--port", str(args.api_port)],
                env,
            ),
            Child(
                "portal",
                [
                    sys.executable, "-m", "streamlit", "run", str(PORTAL_HOME),
                    "--server.address", host, "--server.port", str(args.portal_port),
                    "--server.headless", "true", "--browser.gatherUsageStats", "false",
                ],
                env,
            ),
        ]  # fmt: skip
        for child in children:
            child.start()
        wait_until(lambda: answers(api_url + "/health"), args.startup_timeout, "platform API", children)
        wait_until(lambda: answers(portal_url + "/_stcore/health"), args.startup_timeout, "portal", children)
        say("API and portal are up; warming the model (first run converts it once, later runs take seconds)")
        if args.smoke:
            try:
                wait_ready(api_url, args.ready_timeout, children)
            except (RuntimeError, TimeoutError) as exc:
                say(f"not ready: {exc}")
            report = run_smoke(api_url, portal_url, args.max_tokens)
            print(report.summary(), flush=True)
            code = 0 if report.ok else 1
        else:
            wait_ready(api_url, args.ready_timeout, children)
            say(f"platform API: {api_url}  (docs: {api_url}/docs, metrics: {api_url}/metrics)")
            say(f"portal:       {portal_url}")
            say("press Ctrl-C to stop")
            while not STOP.wait(0.5):
                dead = [c for c in children if not c.alive()]
                if dead:
                    say(f"{dead[0].name} exited unexpectedly; shutting down")
                    break
            code = 0 if STOP.is_set() else 1
    except (RuntimeError, TimeoutError) as exc:
        say(f"ERROR: {exc}")
    finally:
        for child in reversed(children):
            child.stop()
        if owns_db:
            from shared.db import stop_embedded

            stop_embedded()
            say("database stopped")
        say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
