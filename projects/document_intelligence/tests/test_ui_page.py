"""The portal page, headless with AppTest, against the real standalone API on a socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from projects.document_intelligence.app import build_app
from projects.document_intelligence.demo import TENANT as DEMO_TENANT
from projects.document_intelligence.settings import get_docint_settings
from shared.api.context import ServiceContext
from shared.settings import get_settings
from shared.testing.portal import api_for_portal, run_page_with_api_down

from .conftest import headers
from .parsing_docs import invoice_pdf

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[tuple[str, object]]:
    monkeypatch.setenv("DOCINT__INLINE_WORKER", "false")
    monkeypatch.setenv("DOCINT__EXTRACT_LLM", "false")
    get_docint_settings.cache_clear()
    get_settings.cache_clear()
    app = build_app(ServiceContext(database_url=database_url))
    with api_for_portal(app, monkeypatch) as url:
        yield url, app
    get_docint_settings.cache_clear()
    get_settings.cache_clear()


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_upload_progress_fields_review_and_export(live_api, database_url: str) -> None:
    url, app = live_api
    at = AppTest.from_file(str(PAGE), default_timeout=90).run()
    assert not at.exception, at.exception
    assert "No documents yet" in at.info[0].value

    # upload over HTTP (AppTest cannot drive a file uploader), process it, then the page shows the result
    resp = httpx.post(
        f"{url}/docintel/documents", files={"file": ("invoice.pdf", invoice_pdf())},
        headers=headers(tenant=DEMO_TENANT), timeout=60,
    )  # fmt: skip
    assert resp.status_code == 202, resp.text
    doc_id = resp.json()["id"]
    app.state.docint_service().drain()

    at.sidebar.radio[0].set_value("Upload")
    at.session_state["di_job_doc"] = doc_id
    at.run()
    assert not at.exception, at.exception
    assert at.success and "invoice" in at.success[0].value
    fields = {r["field"]: r["value"] for r in at.dataframe[0].value.to_dict("records")}
    assert fields["total"] == "50.50" and fields["invoice_number"] == "INV-2024-001"

    at.sidebar.radio[0].set_value("Documents").run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric][:2] == ["invoice", "1"]
    assert any("Total: 50.50" in c.value for c in at.code)  # the Markdown tab
    assert len(at.get("image")) >= 1  # the page rendered with the field boxes

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE di_documents SET status = 'needs_review' WHERE id = %s", (doc_id,))
    at.sidebar.radio[0].set_value("Review queue").run()
    assert not at.exception, at.exception
    due = next(t for t in at.text_input if t.label.startswith("due_date"))
    due.set_value("31/01/2025")
    at.button[0].click().run()  # the form's "Save review" (approve is ticked by default)
    assert not at.exception, at.exception
    assert "1 correction(s), status approved" in at.success[0].value
    got = httpx.get(f"{url}/docintel/documents/{doc_id}", headers=headers(tenant=DEMO_TENANT)).json()
    assert got["status"] == "approved" and got["extraction"]["fields"]["due_date"]["value"] == "2025-01-31"

    at.sidebar.radio[0].set_value("Export").run()
    assert not at.exception and at.metric[0].value == "1"
