"""Fixtures for the platform tests: settings pointed at a given API URL, and a free port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from shared.settings import get_settings


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Clear the settings cache around a test that changes the environment."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port():
    """A function returning a currently free TCP port on 127.0.0.1."""
    return _free_port
