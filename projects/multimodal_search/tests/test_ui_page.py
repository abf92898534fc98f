"""The portal page, headless with AppTest, against the real standalone API on a socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from projects.multimodal_search.app import build_app
from projects.multimodal_search.demo import TENANT as DEMO_TENANT
from projects.multimodal_search.settings import get_multimodal_settings
from projects.multimodal_search.tests.images import encode, photo_bytes, sign
from shared.api.context import ServiceContext
from shared.settings import get_settings
from shared.testing.portal import api_for_portal, run_page_with_api_down

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Iterator[tuple[str, object]]:
    monkeypatch.setenv("MMSEARCH__INLINE_WORKER", "false")
    monkeypatch.setenv("MMSEARCH__MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("MMSEARCH__OCR", "false")
    get_multimodal_settings.cache_clear()
    get_settings.cache_clear()
    app = build_app(ServiceContext(database_url=database_url))
    with api_for_portal(app, monkeypatch) as url:
        yield url, app
    get_multimodal_settings.cache_clear()
    get_settings.cache_clear()


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_search_grid_filters_detail_and_more_like_this(live_api) -> None:
    url, app = live_api
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not at.exception, at.exception
    assert "0 images in the library" in at.info[0].value

    # add images over HTTP (AppTest cannot drive a file uploader), index them, then search in the page
    files = [
        ("files", ("flower.jpg", photo_bytes("flower"))),
        ("files", ("china.jpg", photo_bytes("china"))),
        ("files", ("sign.png", encode(sign("BAKERY"), "PNG"))),
    ]
    resp = httpx.post(
        f"{url}/search/images", files=files, data={"tags": "garden"},
        headers={"X-User-Id": "demo-user", "X-Tenant-Id": DEMO_TENANT}, timeout=60,
    )  # fmt: skip
    assert resp.status_code == 202, resp.text
    app.state.multimodal_service().drain()

    at.text_input(key="mms_q").set_value("a daisy").run()
    assert not at.exception, at.exception
    assert "Results for “a daisy”" in at.subheader[0].value
    assert len(at.get("image")) == 3  # one thumbnail per hit
    first_caption = at.caption[1].value
    assert "flower.jpg" in first_caption and "sim " in first_caption

    at.sidebar.selectbox(key="mms_f_orient").set_value("portrait").run()  # nothing is portrait
    assert not at.exception and "No results" in at.warning[0].value
    at.sidebar.selectbox(key="mms_f_orient").set_value("any").run()

    at.button(key=next(b.key for b in at.button if b.key.startswith("mms_detail_"))).click().run()
    assert not at.exception, at.exception
    assert at.subheader[-1].value == "flower.jpg"
    assert any("daisy" in m.value for m in at.markdown)  # the labels in the detail view
    assert any(m.value == "**Similar images**" for m in at.markdown)
    assert len(at.get("image")) == 3 + 1 + 2  # the grid, the picture, its two similar images
    at.button(key="mms_more").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "More like this" and len(at.get("image")) == 2

    at.sidebar.radio(key="mms_view").set_value("Library").run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric][:2] == ["3", "3"]
    assert any("upload" in m.value and "done" in m.value for m in at.markdown)
