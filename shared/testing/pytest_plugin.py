"""Pytest fixtures every project's tests share: a real PostgreSQL (embedded) and offline env.

Registered with ``-p shared.testing.pytest_plugin`` in pyproject, so the top level needs no
conftest. One embedded server per test session; each test that asks for ``database_url``
gets a fresh, empty database on it (created in ~50 ms, dropped afterwards), so tests never
see each other's rows. ``TEST_DATABASE_URL`` points the suite at an external server instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of the session's server (embedded unless TEST_DATABASE_URL is set)."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    from shared.db import start_embedded, stop_embedded

    # Outside pytest's basetemp: pytest prunes old basetemps, and a concurrent pytest session
    # (another worktree, a helper) could delete a live server's data directory under it.
    root = Path(tempfile.mkdtemp(prefix="genai-test-pg-"))
    try:
        yield start_embedded(root / "data", cleanup_mode="delete")
    finally:
        stop_embedded()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh database with pgvector and pg_trgm installed; dropped after the test."""
    from shared.db import close_pools, ensure_extensions, with_dbname

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(pg_server_url, name)
    ensure_extensions(url)
    try:
        yield url
    finally:
        close_pools()
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
