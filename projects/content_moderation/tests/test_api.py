"""The HTTP surface on the real service (embedded PostgreSQL, the real cascade at tier ``fast``): happy paths,
every bad input the issue lists (a precise problem, nothing stored), idempotency under concurrency, and two
reviewers deciding the same item at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from projects.content_moderation.service import ModerationService
from projects.content_moderation.tests.conftest import PREFIX, count, headers, reviewer
from shared.testing.concurrency import concurrently

SLUR = "you f.a.g.g.o.t"  # obfuscated with dots: the normaliser undoes it, the evidence is the original span
SELF_HARM = "I want to hurt myself"
MIXED = "Привет! Bonjour, 你好, how are you today?"
EMOJI = "😀🎉👍🏽❤️"


def moderate(client: TestClient, body: dict[str, Any], **hdr: str) -> httpx.Response:
    return client.post(f"{PREFIX}/moderate", json=body, headers={**headers(), **hdr})


def test_single_and_batch_verdicts_with_evidence_and_policy_version(client: TestClient, database_url: str) -> None:
    one = moderate(client, {"text": "Have a lovely day, see you at the match!"})
    assert one.status_code == 200, one.text
    assert one.json()["results"][0]["action"] == "allow" and one.json()["results"][0]["flagged"] == []

    batch = moderate(client, {"texts": [SLUR, MIXED, EMOJI, SELF_HARM], "surface": "comments", "reach": 500})
    assert batch.status_code == 200, batch.text
    body = batch.json()
    slur, mixed, emoji, harm = body["results"]
    assert slur["action"] == "block" and slur["flagged"][0] == "hate"  # every category is scored (no fast path)
    [evidence] = slur["categories"]["hate"]["evidence"]
    assert SLUR[evidence["start"] : evidence["end"]] == evidence["text"] == "f.a.g.g.o.t"
    assert slur["tiers_run"] == [0, 1]  # the service scores every category (no fast path)
    assert mixed["action"] != "block" and not {"hate", "harassment", "violence"} & set(mixed["flagged"])
    assert emoji["action"] == "allow"
    assert harm["action"] == "review" and harm["review_item_id"]
    assert set(slur["categories"]) >= {"hate", "self-harm", "prompt_injection", "sexual/minors"}

    policy = client.get(f"{PREFIX}/policy", headers=headers()).json()
    assert body["policy_version"] == policy["version_id"] and policy["tiers"] == "fast"
    assert count(database_url, "cm_decisions") == 5
    assert count(database_url, "cm_decisions", f"policy_version = '{policy['version_id']}'") == 5
    stored = client.get(f"{PREFIX}/decisions/{slur['id']}", headers=headers()).json()
    assert stored["action"] == "block" and stored["surface"] == "comments" and "hate" in stored["categories"]
    assert "text" not in stored and len(stored["text_sha256"]) == 64  # the text is not kept, its hash is
    assert client.get(f"{PREFIX}/decisions/{slur['id']}", headers=headers(tenant="other")).status_code == 404
    item = client.get(f"{PREFIX}/review/items/{harm['review_item_id']}", headers=reviewer("rita")).json()
    assert item["text"] == SELF_HARM and item["reach"] == 500 and item["severity"] == 4
    assert [h["action"] for h in item["history"]] == ["enqueue"]


def test_bad_inputs_get_precise_problems_and_store_nothing(client: TestClient, database_url: str) -> None:
    def problem(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        body = resp.json()
        if code:
            assert body["type"].endswith("/" + code) and body["errors"][0]["code"] == code
        return body

    problem(moderate(client, {"text": ""}), 422, "empty-text")
    body = problem(moderate(client, {"texts": ["fine", " \n\t\u200b\u2060 "]}), 422, "empty-text")
    assert body["errors"][0]["index"] == 1
    body = problem(moderate(client, {"text": "a" * 1_000_000}), 413, "text-too-large")  # a 1 MB text
    assert body["errors"][0] == {"code": "text-too-large", "index": 0, "bytes": 1_000_000, "limit": 65_536}
    assert "65,536" in body["detail"]
    over = problem(moderate(client, {"text": "é" * 40_000}), 413, "text-too-large")  # bytes, not characters
    assert over["errors"][0]["bytes"] == 80_000
    problem(moderate(client, {"texts": ["ok"] * 6}), 413, "too-many-texts")
    problem(moderate(client, {"texts": []}), 422, "no-texts")
    problem(moderate(client, {"text": "a\x00b"}), 422, "binary-content")
    problem(moderate(client, {"text": bytes(range(1, 32)).decode("ascii") * 4}), 422, "binary-content")
    problem(moderate(client, {"text": "\ufffd\ufffd\ufffdPNG\ufffd\ufffd"}), 422, "binary-content")
    raw = {**headers(), "Content-Type": "application/json"}
    lone = client.post(f"{PREFIX}/moderate", content=b'{"text": "abc \\ud800 def"}', headers=raw)
    problem(lone, 422, "invalid-unicode")
    latin1 = client.post(f"{PREFIX}/moderate", content='{"text": "caf\xe9 \xff\xfe"}'.encode("latin-1"), headers=raw)
    problem(latin1, 400)  # not UTF-8: refused before any handler runs
    png = client.post(f"{PREFIX}/moderate", content=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", headers=raw)
    problem(png, 400)
    plain = client.post(f"{PREFIX}/moderate", content=b"hello", headers={**headers(), "Content-Type": "text/plain"})
    problem(plain, 415)
    problem(moderate(client, {"text": "a", "texts": ["b"]}), 422)
    problem(moderate(client, {}), 422)
    problem(moderate(client, {"text": "ok", "surface": "../../etc"}), 422)
    problem(client.post(f"{PREFIX}/moderate", json={"text": "hi"}), 401)
    assert count(database_url, "cm_decisions") == 0 and count(database_url, "cm_review_items") == 0


def test_idempotency_key_replays_the_stored_result(client: TestClient, database_url: str) -> None:
    body = {"texts": [SELF_HARM, "nice photo"]}
    first = moderate(client, body, **{"Idempotency-Key": "post-1"})
    again = moderate(client, body, **{"Idempotency-Key": "post-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(database_url, "cm_decisions") == 2 and count(database_url, "cm_review_items") == 1
    other = moderate(client, {"text": "different"}, **{"Idempotency-Key": "post-1"})
    assert other.status_code == 409 and other.json()["errors"][0]["code"] == "idempotency-key-reused"
    elsewhere = client.post(
        f"{PREFIX}/moderate", json=body, headers={**headers(tenant="globex"), "Idempotency-Key": "post-1"}
    )
    assert elsewhere.status_code == 200 and elsewhere.json()["results"][0]["id"] != first.json()["results"][0]["id"]
    assert count(database_url, "cm_decisions") == 4


def test_concurrent_identical_submissions_store_one_decision(client: TestClient, database_url: str) -> None:
    def submit() -> httpx.Response:
        return moderate(client, {"text": SELF_HARM}, **{"Idempotency-Key": "dup-7"})

    a, b = concurrently(submit, submit)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert a.json() == b.json()
    assert [a.headers.get("Idempotent-Replayed"), b.headers.get("Idempotent-Replayed")].count("true") == 1
    assert count(database_url, "cm_decisions") == 1 and count(database_url, "cm_review_items") == 1


def test_two_reviewers_deciding_at_once_one_wins_and_the_other_is_told(client: TestClient) -> None:
    item = moderate(client, {"text": SELF_HARM}).json()["results"][0]["review_item_id"]
    url = f"{PREFIX}/review/items/{item}/decide"

    def decide(name: str, decision: str) -> Callable[[], httpx.Response]:
        return lambda: client.post(url, json={"decision": decision}, headers=reviewer(name))

    rita, sam = concurrently(decide("rita", "remove"), decide("sam", "allow"))
    assert sorted([rita.status_code, sam.status_code]) == [200, 409], (rita.text, sam.text)
    winner, loser = (rita, sam) if rita.status_code == 200 else (sam, rita)
    won_by = winner.json()["decided_by"]
    problem = loser.json()
    assert problem["errors"][0]["code"] == "review-conflict" and problem["errors"][0]["holder"] == won_by
    assert won_by in problem["detail"]
    history = client.get(f"{PREFIX}/review/items/{item}", headers=reviewer("rita")).json()["history"]
    assert sum(h["action"].startswith("decide:") for h in history) == 1


def test_review_console_flow_appeal_and_labelled_export(client: TestClient) -> None:
    decision = moderate(client, {"text": SELF_HARM, "source_ref": "post-42"}).json()["results"][0]
    item = decision["review_item_id"]
    assert client.get(f"{PREFIX}/review/queue", headers=headers("mallory")).status_code == 403  # not a reviewer
    queue = client.get(f"{PREFIX}/review/queue", headers=reviewer("rita")).json()
    assert [q["id"] for q in queue] == [item] and queue[0]["source_ref"] == "post-42" and not queue[0]["overdue"]
    assert client.get(f"{PREFIX}/review/queue", headers=reviewer("rita", tenant="globex")).json() == []

    base = f"{PREFIX}/review/items/{item}"
    assert client.post(f"{base}/claim", headers=reviewer("rita")).json()["claimed_by"] == "rita"
    taken = client.post(f"{base}/claim", headers=reviewer("sam"))
    assert taken.status_code == 409 and taken.json()["errors"][0]["holder"] == "rita"
    noted = client.post(f"{base}/note", json={"text": "outreach resources sent"}, headers=reviewer("rita"))
    assert noted.status_code == 204
    assert client.post(f"{base}/escalate", json={"note": "senior look"}, headers=reviewer("rita")).status_code == 200
    escalated = client.get(f"{PREFIX}/review/queue", params={"escalated": "true"}, headers=reviewer("sam")).json()
    assert [q["id"] for q in escalated] == [item]
    decided = client.post(f"{base}/decide", json={"decision": "remove", "note": "risk"}, headers=reviewer("sam"))
    assert decided.status_code == 200 and decided.json()["decision"] == "remove"

    appeal = client.post(
        f"{PREFIX}/appeals", json={"decision_id": decision["id"], "reason": "song lyrics"}, headers=headers("author")
    )
    assert appeal.status_code == 201 and appeal.json()["status"] == "appealed"
    own = client.post(f"{base}/decide", json={"decision": "remove"}, headers=reviewer("sam"))
    assert own.status_code == 409 and "second reviewer" in own.json()["detail"]
    final = client.post(f"{base}/decide", json={"decision": "allow"}, headers=reviewer("rita"))
    assert final.status_code == 200 and final.json()["first_decided_by"] == "sam"
    again = client.post(
        f"{PREFIX}/appeals", json={"decision_id": decision["id"], "reason": "again"}, headers=headers("author")
    )
    assert again.status_code == 409
    detail = client.get(base, headers=reviewer("rita")).json()
    assert [h["action"] for h in detail["history"]] == [
        "enqueue", "claim", "note", "escalate", "decide:remove", "appeal", "decide:allow",
    ]  # fmt: skip
    labelled = client.get(f"{PREFIX}/review/labelled", headers=reviewer("rita")).json()
    assert [(r["text"], r["label"], r["categories"]) for r in labelled] == [(SELF_HARM, 0, ["self-harm"])]
    assert client.get(f"{PREFIX}/review/items/not-a-uuid", headers=reviewer("rita")).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"{PREFIX}/review/items/{missing}/claim", headers=reviewer("rita")).status_code == 404


def test_appealing_an_automated_decision_needs_the_original_text(client: TestClient, database_url: str) -> None:
    blocked, allowed = moderate(client, {"texts": [SLUR, "lovely weather"]}).json()["results"]
    url = f"{PREFIX}/appeals"
    hdr = headers("author")

    def appeal(**body: Any) -> httpx.Response:
        return client.post(url, json={"decision_id": blocked["id"], "reason": "reclaimed term", **body}, headers=hdr)

    assert appeal().json()["errors"][0]["code"] == "text-required"
    assert appeal(text="something else").json()["errors"][0]["code"] == "text-mismatch"
    ok = appeal(text=SLUR)
    assert ok.status_code == 201, ok.text
    item = ok.json()
    assert (item["status"], item["decision"], item["text"], item["severity"]) == ("appealed", "remove", SLUR, 3)
    assert appeal(text=SLUR).status_code == 409  # already appealed
    nothing = client.post(url, json={"decision_id": allowed["id"], "reason": "?"}, headers=hdr)
    assert nothing.status_code == 409 and "allowed" in nothing.json()["detail"]
    assert client.post(url, json={"decision_id": "nope", "reason": "?"}, headers=hdr).status_code == 404
    decide_url = f"{PREFIX}/review/items/{item['id']}/decide"
    decided = client.post(decide_url, json={"decision": "allow"}, headers=reviewer("rita"))
    assert decided.status_code == 200 and decided.json()["decided_by"] == "rita"
    assert count(database_url, "cm_review_items") == 1


def test_openapi_documents_the_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"409", "413", "415", "422"} <= set(paths[f"{PREFIX}/moderate"]["post"]["responses"])
    assert {"403", "409", "413", "422"} <= set(paths[f"{PREFIX}/jobs"]["post"]["responses"])
    assert "409" in paths[f"{PREFIX}/review/items/{{item_id}}/decide"]["post"]["responses"]
    params = {p["name"] for p in paths[f"{PREFIX}/moderate"]["post"]["parameters"]}
    assert "Idempotency-Key" in params


def test_standalone_app_serves_health_metrics_and_ready(database_url: str, service: ModerationService) -> None:
    from projects.content_moderation.app import build_app
    from shared.api.context import ServiceContext

    app = build_app(ServiceContext(database_url=database_url))
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/ready").status_code == 200  # the service fixture created the tables
        assert "http_requests_total" in c.get("/metrics").text


def test_tenants_get_their_own_policy(database_url: str, settings) -> None:
    """The same text under two tenants' policies: the youth policy reviews a child's phone number that the
    default policy only flags, and each decision records the policy that made it."""
    from projects.content_moderation.api import create_router
    from shared.api.app import create_app
    from shared.api.context import ServiceContext
    from shared.moderation.policy import load_policy

    settings = settings.model_copy(update={"tenant_policies": {"school": "youth"}})
    svc = ModerationService(database_url, settings)
    app = create_app("cm-policy", routers=[(PREFIX, create_router(ServiceContext(database_url=database_url), settings,
                                                                  service=svc))])  # fmt: skip
    text = {"text": "I am 12, text me on 0176 5550 1234 or mail lily.m@example.com after school!"}
    try:
        with TestClient(app) as c:
            adult = moderate(c, text).json()
            school = moderate(c, text, **{"X-Tenant-Id": "school"}).json()
            assert c.get(f"{PREFIX}/policy", headers=headers(tenant="school")).json()["name"] == "youth"
    finally:
        svc.queue.close()
    assert adult["policy_version"] == load_policy("default").version_id
    assert school["policy_version"] == load_policy("youth").version_id
    assert adult["results"][0]["categories"]["pii"]["action"] == "flag"
    assert school["results"][0]["categories"]["pii"]["action"] == "review"
    assert school["results"][0]["review_item_id"] and not adult["results"][0]["review_item_id"]
