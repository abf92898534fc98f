"""The reviewer console, headless with AppTest, against the real API on a socket (real cascade at tier ``fast``,
real embedded PostgreSQL): try a text, work the queue (open, remove, audit log), see a concurrent reviewer's
win, appeal, and the calibration view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from projects.content_moderation.api import create_router
from projects.content_moderation.demo import TENANT
from projects.content_moderation.service import ModerationService
from shared.api.app import create_app
from shared.api.context import ServiceContext
from shared.testing.portal import api_for_portal, run_page_with_api_down

PAGE = Path(__file__).resolve().parents[1] / "ui" / "page.py"
INSULT = "Only an idiot would leave the bandsaw running like that. Are you stupid or just lazy?"


@pytest.fixture
def live_api(monkeypatch: pytest.MonkeyPatch, database_url: str, service: ModerationService, settings) -> Iterator[str]:
    ctx = ServiceContext(database_url=database_url)
    app = create_app("cm-ui-test", routers=[("/moderation", create_router(ctx, settings, service=service))])
    with api_for_portal(app, monkeypatch) as url:
        yield url


def test_page_shows_error_when_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page_with_api_down(PAGE, monkeypatch)
    assert not at.exception and "API unreachable" in at.error[0].value


def test_try_it_review_queue_conflict_appeal_and_calibration(live_api: str, service: ModerationService) -> None:
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not at.exception, at.exception
    assert "default@" in at.caption[0].value  # the policy version the page works under
    assert "queue is empty" in at.info[0].value

    at.sidebar.radio(key="cm_view").set_value("Try it").run()
    at.text_area(key="cm_text").set_value(INSULT).run()
    at.button(key="cm_go").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value.endswith("REVIEW")
    assert any("<mark" in m.value and "idiot" in m.value for m in at.markdown)  # the evidence, highlighted
    assert "Sent to the review queue." in at.info[0].value

    at.sidebar.radio(key="cm_view").set_value("Review queue").run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "1"
    at.button(key=next(b.key for b in at.button if b.key.startswith("cm_open_"))).click().run()
    assert not at.exception, at.exception
    item_id = next(b.key for b in at.button if b.key.startswith("cm_open_")).removeprefix("cm_open_")
    assert at.subheader[0].value.startswith(f"Item {item_id[:8]}") and "SLA due in" in at.caption[1].value

    # another reviewer decides first: the page says who won instead of overwriting the decision
    other = {"X-User-Id": "sam", "X-Tenant-Id": TENANT, "X-Groups": "moderators"}
    won = httpx.post(f"{live_api}/moderation/review/items/{item_id}/decide", json={"decision": "allow"}, headers=other)
    assert won.status_code == 200, won.text
    at.button(key=f"cm_decide_Remove_{item_id}").click().run()
    assert not at.exception, at.exception
    assert "sam" in at.error[0].value and "review-conflict" in at.error[0].value
    assert any(row == "decide:allow" for row in at.dataframe[-1].value["action"].tolist())  # the audit log

    # the author appeals the decision; rita did not decide it, so she may take the appeal
    at.sidebar.radio(key="cm_view").set_value("Appeals").run()
    assert not at.exception, at.exception
    at.text_input(key="cm_appeal_reason").set_value("It was a safety warning, not an insult").run()
    at.button(key="cm_appeal_go").click().run()
    assert not at.exception, at.exception
    assert "Appeal queued" in at.success[0].value
    assert service.review.next_items(TENANT)[0]["status"] == "appealed"

    at.sidebar.radio(key="cm_view").set_value("Calibration").run()
    assert not at.exception, at.exception
    # sam's decision is under appeal, so it is not a label (yet): calibration learns from final decisions only
    assert at.metric[0].value == "0" and "No threshold change" in at.info[0].value
