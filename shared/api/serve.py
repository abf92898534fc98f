"""Run an ASGI app on a real socket inside the current process (tests, notebooks, contract tests).

Uvicorn's ``Server`` in a background thread, bound to a free port by default. Tests that must see
real HTTP behaviour (SSE streaming chunk by chunk, the OpenAI client against the model server)
use this instead of an in-memory transport that buffers whole responses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


@contextmanager
def serve_in_thread(app, *, host: str = "127.0.0.1", port: int = 0, startup_timeout_s: float = 60.0) -> Iterator[str]:
    """Yield the base URL (``http://host:port``) of ``app`` served by uvicorn until the block exits."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited during startup (see log)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"uvicorn did not start within {startup_timeout_s} s")
        time.sleep(0.02)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
