"""Chat over HTTP: JSON answer, SSE stream, conversations per user, feedback (recording ChatModel double)."""

from __future__ import annotations

import json

import psycopg
from fastapi.testclient import TestClient

from projects.enterprise_rag.service import RagService
from shared.serving.base import ServingError
from shared.serving.types import StreamChunk

from .conftest import RecordingChat, headers, upload


def _setup(client: TestClient, service: RagService) -> None:
    assert client.post("/rag/collections", json={"name": "kb"}, headers=headers()).status_code == 201
    files = {"leave.txt": b"Employees receive 28 days of paid annual leave per year.", "vpn.txt": b"Use WireGuard."}
    assert upload(client, "kb", files).status_code == 202
    service.ingestor.drain()


def test_chat_conversation_and_feedback(client: TestClient, service: RagService, chat: RecordingChat) -> None:
    _setup(client, service)
    chat.replies = ["You get 28 days [1]."]
    first = client.post("/rag/chat", json={"collection": "kb", "question": "How much annual leave?"}, headers=headers())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["answer"] == "You get 28 days [1]." and not body["abstained"]
    assert body["citations"][0]["source_uri"] == "upload://leave.txt"

    chat.replies = ["How much paid annual leave do employees get per year?", "28 days [1]."]
    follow = client.post(
        "/rag/chat",
        json={"collection": "kb", "question": "and is it paid?", "conversation_id": body["conversation_id"]},
        headers=headers(),
    ).json()
    assert follow["conversation_id"] == body["conversation_id"]
    assert follow["question"].startswith("How much paid annual leave")

    convs = client.get("/rag/conversations", headers=headers()).json()
    assert [c["id"] for c in convs] == [body["conversation_id"]]
    assert client.get("/rag/conversations", headers=headers(user="mallory")).json() == []
    conv = client.get(f"/rag/conversations/{body['conversation_id']}", headers=headers()).json()
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant", "user", "assistant"]
    assert conv["messages"][1]["citations"][0]["n"] == 1
    other = client.get(f"/rag/conversations/{body['conversation_id']}", headers=headers(user="mallory"))
    assert other.status_code == 404

    fb = {"message_id": body["message_id"], "rating": "down", "comment": "too short"}
    assert client.post("/rag/feedback", json=fb, headers=headers()).status_code == 201
    assert client.post("/rag/feedback", json=fb | {"rating": "up"}, headers=headers()).status_code == 201
    assert client.post("/rag/feedback", json=fb, headers=headers(user="mallory")).status_code == 404
    with psycopg.connect(service.url) as conn:
        assert conn.execute("SELECT rating, comment FROM rag_feedback").fetchall() == [(1, "too short")]


def test_chat_stream_is_sse_and_stores_the_turn(client: TestClient, service: RagService, chat: RecordingChat) -> None:
    _setup(client, service)
    chat.replies = ["Leave is 28 days [1]."]
    with client.stream(
        "POST", "/rag/chat/stream", json={"collection": "kb", "question": "How much annual leave?"}, headers=headers()
    ) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        raw = "".join(resp.iter_text())
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in raw.strip().split("\n\n")
    ]
    assert [e for e, _ in events][-2:] == ["citations", "final"]
    text = "".join(d["delta"] for e, d in events if e == "token")
    final = events[-1][1]
    assert text == final["text"] == "Leave is 28 days [1]."
    conv = client.get(f"/rag/conversations/{final['conversation_id']}", headers=headers()).json()
    assert conv["messages"][-1]["id"] == final["message_id"]


def _dies_after_two_tokens(request):
    """A stream whose model backend dies mid-answer (a vLLM replica restarting), after one complete sentence."""
    yield StreamChunk(delta="Leave is 28 days.")
    yield StreamChunk(delta=" It")
    raise ServingError("backend connection reset")


def _events(raw: str) -> list[tuple[str, dict]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in raw.strip().split("\n\n")
    ]


def test_a_mid_stream_failure_ends_with_an_error_event_and_stores_no_half_answer(
    client: TestClient, service: RagService, chat: RecordingChat, monkeypatch
) -> None:
    _setup(client, service)
    monkeypatch.setattr(chat, "stream", _dies_after_two_tokens)
    with client.stream(
        "POST", "/rag/chat/stream", json={"collection": "kb", "question": "How much annual leave?"}, headers=headers()
    ) as resp:
        assert resp.status_code == 200  # headers were sent before the model failed: the error is in-band
        events = _events("".join(resp.iter_text()))
    # the checked sentence was delivered; the unchecked fragment " It" never leaves the server
    assert [e for e, _ in events] == ["token", "error"] and events[0][1]["delta"] == "Leave is 28 days."
    assert "backend connection reset" in events[-1][1]["detail"]
    with psycopg.connect(service.url) as conn:
        assert conn.execute("SELECT count(*) FROM rag_messages").fetchone() == (0,)  # no half answer stored

    chat.replies = ["Leave is 28 days [1]."]  # the retry succeeds and is stored once
    retry = client.post("/rag/chat", json={"collection": "kb", "question": "How much annual leave?"}, headers=headers())
    assert retry.status_code == 200 and retry.json()["answer"] == "Leave is 28 days [1]."
    with psycopg.connect(service.url) as conn:
        assert conn.execute("SELECT role FROM rag_messages ORDER BY id").fetchall() == [("user",), ("assistant",)]


def test_pii_redaction_covers_json_and_stream_answers(
    client: TestClient, service: RagService, chat: RecordingChat
) -> None:
    _setup(client, service)
    service.settings.redact_pii = True
    leaky = "Ask Jane Miller at jane.miller@northwind-traders.com or +1 415 555 0134 about 28 days of leave [1]."
    chat.replies = [leaky]
    body = client.post(
        "/rag/chat", json={"collection": "kb", "question": "How much annual leave?"}, headers=headers()
    ).json()
    assert "jane.miller@northwind-traders.com" not in body["answer"] and "555 0134" not in body["answer"]
    assert "28 days" in body["answer"] and body["citations"][0]["n"] == 1

    with client.stream(
        "POST", "/rag/chat/stream", json={"collection": "kb", "question": "How much annual leave?"}, headers=headers()
    ) as resp:
        raw = "".join(resp.iter_text())
    assert "jane.miller" not in raw and "555 0134" not in raw  # no raw token ever left the server
    events = _events(raw)
    assert [e for e, _ in events] == ["token", "citations", "final"]  # one sentence: one checked delta
    assert events[0][1]["delta"] == events[-1][1]["text"] == body["answer"]
    with psycopg.connect(service.url) as conn:
        stored = " ".join(t for (t,) in conn.execute("SELECT content FROM rag_messages WHERE role = 'assistant'"))
    assert "jane.miller" not in stored and "28 days" in stored
