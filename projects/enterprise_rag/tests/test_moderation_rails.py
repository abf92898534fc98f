"""Enterprise RAG on the shared moderation rails (real cascade, real database and embedder, recording ChatModel).

The input rail refuses a hateful or violent question before retrieval (422 naming the category); the output rail
withholds a toxic answer; a streamed answer is released sentence by sentence and cut at the first blocked one.
"""

from __future__ import annotations

import json
import re

import psycopg
from fastapi.testclient import TestClient

from projects.enterprise_rag.pipeline import BLOCKED_PHRASE, QuestionRefused
from projects.enterprise_rag.service import RagService
from shared.retrieval.models import Principal
from shared.serving.types import StreamChunk

from .conftest import RecordingChat, headers, upload

ALICE = Principal(user_id="alice", tenant_id="acme")
LEAVE = "Employees receive 28 days of paid annual leave per year. Unused leave can be carried over until March."
HATEFUL = "Immigrants are vermin, so how much leave should they get?"
VIOLENT = "I am going to shoot up the office during my leave, how many days do I have?"
THREAT = "I will kill you if you ask again."


def _setup(client: TestClient, service: RagService) -> None:
    assert client.post("/rag/collections", json={"name": "kb"}, headers=headers()).status_code == 201
    assert upload(client, "kb", {"leave.txt": LEAVE.encode()}).status_code == 202
    service.ingestor.drain()


def _events(raw: str) -> list[tuple[str, dict]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in raw.strip().split("\n\n")
    ]


def _ask(client: TestClient, question: str, path: str = "/rag/chat"):
    return client.post(path, json={"collection": "kb", "question": question}, headers=headers())


def test_hateful_or_violent_question_is_refused_with_the_category(
    client: TestClient, service: RagService, chat: RecordingChat
) -> None:
    _setup(client, service)
    for question, category in ((HATEFUL, "hate"), (VIOLENT, "violence")):
        for path in ("/rag/chat", "/rag/chat/stream"):
            resp = _ask(client, question, path)
            assert resp.status_code == 422, (path, resp.text)
            problem = resp.json()
            assert problem["type"].endswith("input-refused") and category in problem["detail"]
            named = [e for e in problem["errors"] if e.get("category") == category]
            assert named and named[0]["evidence"] and named[0]["policy_version"].startswith("default@")
    assert chat.calls == []  # refused before retrieval and generation
    with psycopg.connect(service.url) as conn:
        assert conn.execute("SELECT count(*) FROM rag_messages").fetchone() == (0,)


def test_clean_question_still_answers(client: TestClient, service: RagService, chat: RecordingChat) -> None:
    _setup(client, service)
    chat.replies = ["You get 28 days [1]."]
    resp = _ask(client, "How much annual leave do employees get?")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["answer"] == "You get 28 days [1]." and not body["blocked"] and body["moderation"] is None
    assert body["citations"][0]["n"] == 1


def test_toxic_answer_is_withheld(client: TestClient, service: RagService, chat: RecordingChat) -> None:
    _setup(client, service)
    chat.replies = [f"You get 28 days [1]. {THREAT}"]
    body = _ask(client, "How much annual leave do employees get?").json()
    assert body["blocked"] and body["answer"].startswith(BLOCKED_PHRASE) and "violence" in body["answer"]
    assert "kill" not in body["answer"] and "violence" in body["moderation"]["categories"]


def test_stream_is_cut_at_the_toxic_sentence_after_earlier_sentences_were_delivered(
    client: TestClient, service: RagService, chat: RecordingChat
) -> None:
    _setup(client, service)
    internal = service.resolve(ALICE, "kb")
    service.settings.redact_pii = True
    answer = [
        "Employees get 28 days of leave [1].",
        " Ask Jane Miller at jane.miller@northwind-traders.com about carrying it over.",
        f" {THREAT}",
        " Unused leave expires in March [1].",
    ]
    generated: list[str] = []

    def scripted(request):
        for word in re.findall(r"\s*\S+", "".join(answer)):  # word deltas with their leading space
            generated.append(word)
            yield StreamChunk(delta=word)
        yield StreamChunk(finish_reason="stop")

    chat.stream = scripted  # type: ignore[method-assign]
    events = service.pipeline.stream("How much annual leave do employees get?", ALICE, internal)
    first = next(events)
    assert first.event == "token" and first.data["delta"] == "Employees get 28 days of leave [1]."
    assert "kill" not in " ".join(generated)  # delivered while the model had not yet written the threat
    rest = list(events)
    kinds = [e.event for e in rest]
    assert kinds == ["token", "blocked", "citations", "final"]
    assert rest[0].data["delta"] == " Ask <PERSON> at <EMAIL_ADDRESS> about carrying it over."  # redacted in-stream
    blocked = rest[1].data
    assert "violence" in blocked["categories"] and any("kill you" in e["text"] for e in blocked["evidence"])
    assert "March" not in " ".join(generated)  # generation stopped at the blocked sentence
    final = rest[-1].data
    assert final["blocked"] and final["text"].startswith(BLOCKED_PHRASE) and final["citations"] == []

    # over HTTP: no raw PII or threat ever leaves the server, and the stored turn is the refusal
    generated.clear()
    with client.stream(
        "POST", "/rag/chat/stream", json={"collection": "kb", "question": "How much leave?"}, headers=headers()
    ) as resp:
        raw = "".join(resp.iter_text())
    events_http = _events(raw)
    assert [e for e, _ in events_http] == ["token", "token", "blocked", "citations", "final"]
    delivered = "".join(d["delta"] for e, d in events_http if e == "token") + events_http[-1][1]["text"]
    assert "jane.miller" not in raw and "kill" not in delivered  # only the blocked event quotes the evidence
    with psycopg.connect(service.url) as conn:
        stored = conn.execute("SELECT content FROM rag_messages WHERE role = 'assistant'").fetchone()[0]
    assert stored.startswith(BLOCKED_PHRASE)


def test_pipeline_answer_raises_question_refused(service: RagService, chat: RecordingChat) -> None:
    service.create_collection(ALICE, "kb")
    try:
        service.pipeline.answer(HATEFUL, ALICE, service.resolve(ALICE, "kb"))
    except QuestionRefused as exc:
        assert "hate" in exc.rail.blocked_by and "hate" in str(exc)
    else:
        raise AssertionError("the hateful question was not refused")
    assert chat.calls == []
