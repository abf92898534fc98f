"""``make demo``'s loader: the generated repository is written once, a bug planted, registered and indexed."""

from __future__ import annotations

import subprocess
import sys

from projects.code_assistant.demo import DEMO_REPO, demo_root, load_demo_data
from shared.api.context import ServiceContext


def test_demo_repository_is_generated_indexed_and_idempotent(database_url, code_settings, embedder, monkeypatch):
    ctx = ServiceContext(database_url=database_url)
    monkeypatch.setattr(ctx, "embedder", lambda: embedder)
    monkeypatch.setattr(ctx, "chat_model", lambda: None)  # indexing needs no chat model
    first = load_demo_data(ctx, code_settings)
    assert first["generated"] and first["status"] == "ready" and first["files"] >= 10 and first["symbols"] > 40
    root = demo_root(code_settings)
    log = subprocess.run(["git", "-C", str(root), "log", "--oneline"], capture_output=True, text=True).stdout
    assert log.splitlines()[0].endswith("Refactor bulk_discount_rate")  # the planted bug, on its own commit
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], cwd=root,
                           capture_output=True, text=True)  # fmt: skip
    assert tests.returncode == 1 and "failed" in tests.stdout  # the planted bug shows
    again = load_demo_data(ctx, code_settings)
    assert not again["generated"] and again["files"] == first["files"]
    assert again["status"] == "ready" and DEMO_REPO == "invoicing"
