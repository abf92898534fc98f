"""The standalone worker process picks up a queued document and processes it (what scaling out relies on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from fastapi.testclient import TestClient

from shared.settings import REPO_ROOT

from .conftest import headers, upload
from .parsing_docs import invoice_pdf


def test_worker_process_processes_queued_documents(client: TestClient, database_url: str) -> None:
    doc_id = upload(client, "inv.pdf", invoice_pdf()).json()["id"]  # the API has no inline worker here
    env = {
        **os.environ, "PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": database_url, "HF_HUB_OFFLINE": "1",
        "DOCINT__EXTRACT_LLM": "false", "DOCINT__CLASSIFY_LLM_FALLBACK": "false",
    }  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "projects.document_intelligence.worker"], env=env, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 180
        while True:
            doc = client.get(f"/docintel/documents/{doc_id}", headers=headers()).json()
            if doc["status"] in ("done", "needs_review", "failed"):
                break
            assert proc.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, f"not processed in time: {doc['status']}"
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert doc["status"] in ("done", "needs_review") and doc["doc_type"] == "invoice" and doc["pages_done"] == 1
