"""Portal page tests: serve an app on a real socket for the page to call, or point the page at nothing.

Every project's ``ui/page.py`` is tested the same two ways with ``AppTest``: against its real API on a
socket, and with the API unreachable (the page must say so, not crash). Both need ``PORTAL__API_URL`` set and
the cached settings reset around the test; these helpers do that in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from streamlit.testing.v1 import AppTest

from shared.api.serve import serve_in_thread
from shared.settings import get_settings

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@contextmanager
def api_for_portal(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Serve ``app`` in a thread and make the portal client call it; yields the base URL."""
    with serve_in_thread(app) as url:
        monkeypatch.setenv("PORTAL__API_URL", url)
        get_settings.cache_clear()
        try:
            yield url
        finally:
            get_settings.cache_clear()


def run_page_with_api_down(page: Path, monkeypatch: pytest.MonkeyPatch, timeout: float = 60) -> AppTest:
    """Run ``page`` once with the API unreachable."""
    monkeypatch.setenv("PORTAL__API_URL", UNREACHABLE)
    get_settings.cache_clear()
    try:
        return AppTest.from_file(str(page), default_timeout=timeout).run()
    finally:
        get_settings.cache_clear()


@contextmanager
def background_worker(drain: Callable[[], None], name: str = "portal-test-worker") -> Iterator[None]:
    """Call ``drain`` (a service's "run what is queued") in a background thread while a page polls: in tests
    the API's inline worker is off, so this is what works the jobs the page starts."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            drain()
            stop.wait(0.2)

    thread = threading.Thread(target=loop, daemon=True, name=name)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)
