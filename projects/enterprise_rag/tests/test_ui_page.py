"""The portal page, headless with AppTest, against the real standalone API on a socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from projects.enterprise_rag.app import build_app
from projects.enterprise_rag.demo import TENANT as DEMO_TENANT
from projects.enterprise_rag.settings import get_rag_settings
from shared.api.context import ServiceContext
from shared.settings import get_settings
from shared.testing.portal import api_for_portal, run_page_with_api_down

from .conftest import headers

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[tuple[str, object]]:
    monkeypatch.setenv("RAG__INLINE_WORKER", "false")
    get_rag_settings.cache_clear()
    get_settings.cache_clear()
    app = build_app(ServiceContext(database_url=database_url))
    with api_for_portal(app, monkeypatch) as url:
        yield url, app
    get_rag_settings.cache_clear()
    get_settings.cache_clear()


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_admin_upload_progress_and_chat(live_api) -> None:
    url, app = live_api
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception, at.exception
    at.sidebar.radio[0].set_value("Collections").run()
    form_inputs = [t for t in at.text_input if t.label.startswith(("Name", "Description", "Default"))]
    form_inputs[0].set_value("handbook")
    at.button[0].click().run()
    assert not at.exception and "created handbook" in at.success[0].value

    # upload over HTTP (AppTest cannot drive a file uploader), then the page shows the job's progress
    resp = httpx.post(
        f"{url}/rag/collections/handbook/documents",
        files=[("files", ("leave.txt", b"Employees receive 28 days of paid annual leave."))],
        headers=headers(tenant=DEMO_TENANT),  # the page acts in the demo's tenant by default
    )
    assert resp.status_code == 202
    app.state.rag_service().ingestor.drain()
    at.sidebar.radio[0].set_value("Upload")
    at.session_state["rag_job"] = resp.json()["job_id"]
    at.run()
    assert not at.exception
    files = at.dataframe[0].value.to_dict("records")
    assert files[0]["status"] == "inserted" and files[0]["chunks"] == 1

    at.sidebar.radio[0].set_value("Chat").run()
    at.chat_input[0].set_value("What is the orbital period of Neptune's moon Triton?").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.chat_message[1].markdown[0].value == "not found in the documents"
