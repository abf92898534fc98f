"""/ask, /ask/stream and /examples orchestration with a canned pipeline: input handling, history, SSE stages."""

from __future__ import annotations

import json

import psycopg
from fastapi.testclient import TestClient

from projects.nl2sql_analytics.models import Answer

from .api_support import CannedPipeline, RecordingExamples, headers


def _ask(client: TestClient, question: str, connection: str = "demo", user: str = "dana"):
    return client.post("/analytics/ask", json={"connection": connection, "question": question}, headers=headers(user))


def test_ask_returns_the_pipelines_answer_as_the_user_and_records_it(
    client: TestClient, pipeline: CannedPipeline
) -> None:
    resp = _ask(client, "How many orders?")
    assert resp.status_code == 200
    answer = Answer.model_validate(resp.json())
    assert answer.status == "ok" and answer.rows == [[42]]
    assert pipeline.calls == [{"question": "How many orders?", "connection": "demo", "user": "dana", "insight": True}]
    history = client.get("/analytics/history", headers=headers("dana")).json()
    assert [(h["kind"], h["question"], h["status"], h["row_count"]) for h in history] == [
        ("ask", "How many orders?", "ok", 1)
    ]
    assert history[0]["timings_ms"]["generation"] == 2.0


def test_bad_questions_are_422_and_never_reach_the_pipeline(
    client: TestClient, pipeline: CannedPipeline, nl_settings, database_url: str
) -> None:
    for question in ("", "   \n\t ", "\x00\x01", "x" * (nl_settings.max_question_chars + 1)):
        resp = _ask(client, question)
        assert resp.status_code == 422, repr(question[:10])
        assert resp.headers["content-type"].startswith("application/problem+json")
        stream = client.post("/analytics/ask/stream", json={"question": question}, headers=headers())
        assert stream.status_code == 422
    assert _ask(client, "how many orders?", connection="nope").status_code == 404
    assert (
        client.post(
            "/analytics/ask/stream", json={"question": "hi", "connection": "nope"}, headers=headers()
        ).status_code
        == 404
    )
    assert client.post("/analytics/ask", json={"question": "hi"}).status_code == 401
    assert pipeline.calls == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM nl2sql_history").fetchone()[0] == 0


def test_unicode_control_characters_and_broken_encodings(client: TestClient, pipeline: CannedPipeline) -> None:
    assert _ask(client, "Выручка по регионам? 売上 📈").status_code == 200
    assert _ask(client, "revenue\x00 by\x1b[31m region\u200b").status_code == 200
    # a lone surrogate escape is JSON but not Unicode text: a 422 problem, not a 500
    raw = b'{"question": "orders \\ud800 per month"}'
    resp = client.post("/analytics/ask", content=raw, headers={**headers(), "Content-Type": "application/json"})
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    # non-UTF-8 bytes are not JSON at all
    latin1 = '{"question": "caf\u00e9 revenue"}'.encode("latin-1")
    bad = client.post("/analytics/ask", content=latin1, headers={**headers(), "Content-Type": "application/json"})
    assert bad.status_code in (400, 422) and bad.headers["content-type"].startswith("application/problem+json")
    assert [c["question"] for c in pipeline.calls] == [
        "Выручка по регионам? 売上 📈",
        "revenue by[31m region\u200b",
    ]


def test_ask_stream_reports_each_stage_then_the_answer(client: TestClient) -> None:
    with client.stream("POST", "/analytics/ask/stream", json={"question": "orders?"}, headers=headers()) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        text = "".join(resp.iter_text())
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in text.strip().split("\n\n")
    ]
    assert [e for e, _ in events] == ["stage"] * 4 + ["answer"]
    assert [d["stage"] for e, d in events if e == "stage"] == ["linking", "generation", "validation", "execution"]
    assert Answer.model_validate(events[-1][1]).rows == [[42]]


def test_a_pipeline_failure_mid_stream_is_reported_in_band(client: TestClient, pipeline: CannedPipeline) -> None:
    def boom(q: str, c: str) -> Answer:
        raise RuntimeError("model server went away")

    pipeline.answer = boom
    with client.stream("POST", "/analytics/ask/stream", json={"question": "orders?"}, headers=headers()) as resp:
        text = "".join(resp.iter_text())
    assert "event: error" in text and "model server went away" in text


def test_save_a_corrected_example(client: TestClient, service) -> None:
    body = {"question": "orders per status", "sql": "SELECT status, COUNT(*) FROM orders GROUP BY status"}
    assert client.post("/analytics/examples", json=body, headers=headers()).status_code == 503  # no store wired
    store = RecordingExamples()
    service.examples = store
    assert client.post("/analytics/examples", json=body, headers=headers()).status_code == 201
    bad = client.post("/analytics/examples", json={**body, "sql": "DELETE FROM orders"}, headers=headers())
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "NOT_READ_ONLY"
    assert client.post("/analytics/examples", json={**body, "question": " "}, headers=headers()).status_code == 422
    assert store.added == [("demo", body["question"], body["sql"], "analyst")]
