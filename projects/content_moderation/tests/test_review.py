"""The review queue on the real embedded PostgreSQL: priority, claims, one-winner concurrency, escalation,
appeals with a second reviewer, the audit log and the labelled-data export."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest

from projects.content_moderation.review import ItemNotFound, ReviewConflict, ReviewQueue
from shared.moderation.cascade import CategoryVerdict, Verdict
from shared.moderation.signals import CATEGORIES

T = "acme"


def verdict(category: str = "harassment", score: float = 0.7, action: str = "review") -> Verdict:
    cats = {c: CategoryVerdict(c, 0.0, "allow") for c in CATEGORIES}
    cats[category] = CategoryVerdict(category, score, action)  # type: ignore[arg-type]
    return Verdict(action, cats, "default@1+abcd1234", "comments", [0, 1])  # type: ignore[arg-type]


@pytest.fixture
def queue(database_url: str) -> ReviewQueue:
    return ReviewQueue(database_url, sla=timedelta(hours=24))


def test_priority_orders_by_severity_reach_and_age(queue: ReviewQueue, database_url: str) -> None:
    low = queue.enqueue(T, "meh", verdict("spam"), severity=1, reach=1)
    high = queue.enqueue(T, "threat", verdict("violence"), severity=3, reach=5000)
    old = queue.enqueue(T, "old spam", verdict("spam"), severity=1, reach=1)
    with psycopg.connect(database_url, autocommit=True) as conn:  # two SLA periods old
        conn.execute("UPDATE cm_review_items SET created_at = now() - interval '48 hours' WHERE id = %s", (old,))
    order = [str(i["id"]) for i in queue.next_items(T)]
    assert order[0] == high and order.index(old) < order.index(low)
    assert queue.get(T, old)["overdue"] is False  # SLA due is set at intake; created_at moved only
    assert queue.next_items("other-tenant") == []
    item = queue.get(T, high)
    assert item["policy_version"] == "default@1+abcd1234" and item["categories"] == {
        "violence": {"score": 0.7, "action": "review", "detectors": {}, "evidence": []}
    }


def test_claim_decide_and_the_audit_log(queue: ReviewQueue) -> None:
    item = queue.enqueue(T, "you idiot", verdict(), severity=2)
    with pytest.raises(ReviewConflict, match="claim it first"):
        queue.decide(T, item, "rita", "remove")
    queue.claim(T, item, "rita")
    with pytest.raises(ReviewConflict, match="claimed"):
        queue.claim(T, item, "sam")
    queue.note(T, item, "rita", "insult, no threat")
    decided = queue.decide(T, item, "rita", "remove", note="insult")
    assert (decided["status"], decided["decision"], decided["decided_by"]) == ("decided", "remove", "rita")
    actions = [(h["actor"], h["action"], h["to_status"]) for h in queue.history(T, item)]
    assert actions == [
        ("system", "enqueue", "pending"), ("rita", "claim", "claimed"), ("rita", "note", "claimed"),
        ("rita", "decide:remove", "decided"),
    ]  # fmt: skip
    rows = queue.labelled_data(T)
    assert [(r["text"], r["label"], r["categories"], r["decided_by"]) for r in rows] == [
        ("you idiot", 1, ["harassment"], "rita")
    ]
    with pytest.raises(ItemNotFound):
        queue.get("other-tenant", item)


def test_concurrent_claims_one_wins_and_the_other_is_told(queue: ReviewQueue) -> None:
    item = queue.enqueue(T, "borderline", verdict(), severity=2)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def claim(reviewer: str) -> None:
        barrier.wait()
        try:
            results[reviewer] = queue.claim(T, item, reviewer)["claimed_by"]
        except ReviewConflict as exc:
            results[reviewer] = exc

    threads = [threading.Thread(target=claim, args=(r,)) for r in ("rita", "sam")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r, v in results.items() if v == r]
    losers = [v for v in results.values() if isinstance(v, ReviewConflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert winners[0] in str(losers[0])  # the loser is told who has it
    assert [h["action"] for h in queue.history(T, item)].count("claim") == 1


def test_escalation_and_appeal_with_a_second_reviewer(queue: ReviewQueue) -> None:
    item = queue.enqueue(T, "ambiguous threat", verdict("violence"), severity=3)
    queue.claim(T, item, "rita")
    queue.escalate(T, item, "rita", "needs a senior look")
    assert [str(i["id"]) for i in queue.next_items(T, escalated=True)] == [item]
    assert queue.next_items(T) == []
    queue.claim(T, item, "senior")
    queue.decide(T, item, "senior", "remove")
    with pytest.raises(ReviewConflict, match="only decided items"):
        queue.appeal(T, queue.enqueue(T, "x", verdict(), severity=1), "author", "why")
    appealed = queue.appeal(T, item, "author", "it was a quote from a film")
    assert appealed["status"] == "appealed" and next(str(i["id"]) for i in queue.next_items(T)) == item
    with pytest.raises(ReviewConflict, match="second reviewer"):
        queue.claim(T, item, "senior")
    queue.claim(T, item, "rita")
    final = queue.decide(T, item, "rita", "allow", note="film quote")
    assert (final["decision"], final["decided_by"], final["first_decided_by"]) == ("allow", "rita", "senior")
    with pytest.raises(ReviewConflict, match="already appealed"):
        queue.appeal(T, item, "author", "again")
    assert [h["action"] for h in queue.history(T, item)][-3:] == ["appeal", "claim", "decide:allow"]
