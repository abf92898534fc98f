"""Portal pages driven headless by Streamlit's AppTest, against a real platform app or none at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from projects.platform.app import create_platform_app
from projects.platform.registry import PROJECTS
from shared.api.serve import serve_in_thread
from shared.settings import ServingSettings, Settings

PORTAL = Path(__file__).resolve().parents[2] / "projects" / "platform" / "portal"


def _run(script: str) -> AppTest:
    at = AppTest.from_file(str(PORTAL / script), default_timeout=60)
    return at.run()


@pytest.fixture
def api_down(fresh_settings: pytest.MonkeyPatch, free_port) -> str:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    fresh_settings.setenv("PORTAL__API_URL", url)
    return url


@pytest.fixture
def live_platform(fresh_settings: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    """The real platform app on a socket (models not warmed: the test must not load an LLM)."""
    app = create_platform_app(Settings(), database_url=database_url, warm_models=False)
    with serve_in_thread(app) as url:
        fresh_settings.setenv("PORTAL__API_URL", url)
        yield url


def test_home_lists_the_eight_projects_with_status(api_down: str) -> None:
    at = _run("Home.py")
    assert not at.exception
    assert at.title[0].value == "GenAI reference systems"
    table = at.dataframe[0].value
    assert list(table["Project"]) == [p.title for p in PROJECTS]
    assert set(table["Status"]) <= {"planned", "alpha", "beta", "stable"}
    for project, api_cell in zip(PROJECTS, table["API"], strict=True):
        assert project.prefix in api_cell or api_cell.startswith(api_down + "/docs")
    assert any(api_down + "/docs" in md.value for md in at.markdown)


def test_playground_shows_error_when_api_is_down(api_down: str) -> None:
    at = _run("views/playground.py")
    assert not at.exception
    assert at.title[0].value == "Model playground"
    assert len(at.error) == 1 and api_down in at.error[0].value and "unreachable" in at.error[0].value
    assert len(at.chat_input) == 0  # no chat box when there is nothing to chat with


def test_status_shows_error_when_api_is_down(api_down: str) -> None:
    at = _run("views/status.py")
    assert not at.exception
    assert "API unreachable" in at.error[0].value


@pytest.mark.db
def test_status_page_against_running_platform(live_platform: str) -> None:
    at = _run("views/status.py")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Liveness (/health)"] == "up"
    # the model is not warmed in this test, so readiness honestly says so, per check
    assert metrics["Readiness (/ready)"] == "not ready"
    checks = {row["check"]: row["status"] for row in at.dataframe[0].value.to_dict("records")}
    assert checks == {"database": "ok", "chat_model": "fail"}
    assert float(metrics["HTTP requests"].replace(",", "")) >= 2  # /health and /ready were counted


@pytest.mark.slow
@pytest.mark.db
def test_playground_streams_an_answer_from_the_running_platform(
    fresh_settings: pytest.MonkeyPatch, database_url: str
) -> None:
    """End to end, nothing mocked: portal page -> OpenAI client -> /v1/chat/completions (SSE) -> real tiny model."""
    settings = Settings(serving=ServingSettings(local_model="smollm2-135m-instruct", response_cache_enabled=False))
    app = create_platform_app(settings, database_url=database_url, warm_models=False)
    with serve_in_thread(app) as url:
        fresh_settings.setenv("PORTAL__API_URL", url)
        at = _run("views/playground.py")
        assert not at.exception and not at.error
        assert at.selectbox[0].value == "smollm2-135m-instruct"
        at.sidebar.slider[1].set_value(16)  # max tokens: keep it short
        at.chat_input[0].set_value("Say hello.").run(timeout=300)
    assert not at.exception and not at.error, [e.value for e in at.error]
    roles = [m.name for m in at.chat_message]
    assert roles == ["user", "assistant"]
    answer = " ".join(md.value for md in at.chat_message[1].markdown)
    assert answer.strip()
    assert (
        at.session_state["messages"][-1] == {"role": "assistant", "content": answer.strip()}
        or answer.strip() in (at.session_state["messages"][-1]["content"])
    )
