"""The portal page, headless with AppTest, against the real API on a socket (the pipeline is a canned double
whose answer is real SQL run through the service; /sql, tiles, semantic and connections are the real path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from projects.nl2sql_analytics.api import create_router
from projects.nl2sql_analytics.workspace import edited_semantic_path
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.testing.portal import api_for_portal, run_page_with_api_down

from .api_support import CannedPipeline

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"
BY_STATUS = "SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY n DESC"


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str, service, pipeline: CannedPipeline) -> Iterator[str]:
    pipeline.answer = lambda q, c: service.run_sql("analyst", c, BY_STATUS, question=q, record=False)
    router = create_router(ServiceContext(database_url=database_url), service.settings, service=service)
    with api_for_portal(create_app("nl2sql-ui-test", routers=[("/analytics", router)]), monkeypatch) as url:
        yield url


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _text_area(at: AppTest, label_start: str):
    return next(t for t in at.text_area if t.label.startswith(label_start))


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_ask_edit_sql_save_tile_and_dashboard(live_api: str, pipeline: CannedPipeline) -> None:
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception, at.exception
    _text_area(at, "Ask a question").set_value("How many orders per status?")
    _button(at, "Ask").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert pipeline.calls[0]["question"] == "How many orders per status?" and pipeline.calls[0]["user"] == "analyst"
    progress = at.status[0]  # st.status: one line per streamed stage, then done
    assert progress.label == "Done" and len(progress.children) == 4
    charts = at.get("vega_lite_chart")  # the chart from the answer's Vega-Lite spec
    assert len(charts) == 1 and "bar" in charts[0].proto.spec
    table = at.dataframe[0].value
    assert list(table.columns) == ["status", "n"] and len(table) == 5
    assert _text_area(at, "SQL").value.startswith("SELECT status")

    _text_area(at, "SQL").set_value("drop table orders")
    _button(at, "Run edited SQL").click().run()
    assert any("NOT_READ_ONLY" in e.value for e in at.error)

    _text_area(at, "SQL").set_value("SELECT name, region_id FROM regions ORDER BY region_id")
    _button(at, "Run edited SQL").click().run()
    assert not at.exception and list(at.dataframe[0].value.columns) == ["name", "region_id"]
    next(t for t in at.text_input if t.label == "Tile title").set_value("Regions")
    _button(at, "Save as tile").click().run()
    assert "Saved tile 'Regions'" in at.success[0].value

    at.sidebar.radio[0].set_value("Dashboard").run()
    assert not at.exception and not at.error
    assert [s.value for s in at.subheader] == ["Regions"] and len(at.dataframe[0].value) == 5


def test_semantic_editor_shows_problems_and_saves_nothing(live_api: str, nl_settings) -> None:
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    at.sidebar.radio[0].set_value("Semantic layer").run()
    editor = _text_area(at, "Semantic layer")
    assert "connection: demo" in editor.value
    editor.set_value(editor.value.replace("sql: SUM(order_items.quantity)", "sql: SUM(order_items.qty)"))
    _button(at, "Validate and save").click().run()
    assert not at.exception and "422" in at.error[0].value
    assert any("order_items.qty" in m.value for m in at.markdown)
    assert not edited_semantic_path(nl_settings, "demo").exists()

    at.sidebar.radio[0].set_value("Connections").run()
    assert not at.exception and at.dataframe[0].value["name"].tolist() == ["demo"]
