"""Acceptance test of ``make demo``: ``python -m scripts.demo --smoke`` on free ports and a temporary database.

It brings up the embedded PostgreSQL, the platform API and the portal as real processes, checks
/health, /ready, the portal home and one chat completion from the local model (streamed and
not), and shuts everything down; the script exits 0 only when every check passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.db
def test_make_demo_smoke(tmp_path: Path, free_port) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE__URL")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    # document intelligence processes 2 of its demo documents before the API starts (8 in a real demo): the
    # loader's real path (OCR, classifier, LLM extraction) without minutes of CI time; the rest stay queued
    env["DOCINT__DEMO_SYNC"] = "2"
    # multimodal search indexes a 6-image library (48 in a real demo) through the same import job
    env["MMSEARCH__DEMO_IMAGES"] = "6"
    api_port, portal_port = free_port(), free_port()
    while portal_port == api_port:
        portal_port = free_port()
    proc = subprocess.run(
        [
            sys.executable, "-m", "scripts.demo", "--smoke",
            "--api-port", str(api_port), "--portal-port", str(portal_port),
            "--data-dir", str(tmp_path / "pgdata"), "--max-tokens", "16",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert "smoke summary: 5/5 checks passed" in proc.stdout, out[-6000:]
    assert proc.returncode == 0, out[-6000:]
    for check in ("GET /health", "GET /ready", "portal home", "chat completion", "chat completion (streamed)"):
        assert f"PASS  {check}:" in proc.stdout
    assert "database stopped" in proc.stdout
    # everything it started is gone: nothing listens on the ports any more
    import socket

    for port in (api_port, portal_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
