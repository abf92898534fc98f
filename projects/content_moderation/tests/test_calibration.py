"""Threshold calibration from reviewer decisions: which thresholds move, by how much, on what evidence, and that
the proposal is a loadable next policy version — end to end from decisions stored in the review queue."""

from __future__ import annotations

import random
from datetime import timedelta

from projects.content_moderation.calibration import highest_clean_threshold, lowest_precise_threshold, propose
from projects.content_moderation.review import ReviewQueue
from shared.moderation.cascade import CategoryVerdict, Verdict
from shared.moderation.policy import load_policy, parse_policy
from shared.moderation.signals import CATEGORIES


def rows(category: str, labelled: list[tuple[float, int]]) -> list[dict]:
    return [{"scores": {category: s}, "label": y} for s, y in labelled]


def test_block_threshold_drops_to_where_reviewers_always_remove() -> None:
    policy = load_policy("default")  # hate: review 0.55, block 0.85
    rng = random.Random(0)
    clear = [(round(rng.uniform(0.70, 0.85), 3), 1) for _ in range(30)]  # reviewers removed every one
    mixed = [(round(0.55 + i * 0.005, 3), i % 2) for i in range(30)]  # alternating: stays in review
    proposal = propose(policy, rows("hate", clear + mixed))
    [change] = [c for c in proposal.changes if c.threshold == "block"]
    assert change.category == "hate" and change.old == 0.85
    assert change.new <= min(s for s, _ in clear)
    wrongly_blocked = [s for s, y in mixed if s >= change.new and not y]
    assert len(wrongly_blocked) <= 1  # at most a step into the band where reviewers disagree
    assert change.support >= 30 and change.rate >= 0.95
    new = parse_policy(proposal.policy_yaml or "")
    assert new.version == policy.version + 1 and new.categories["hate"].block == change.new
    assert new.categories["harassment"] == policy.categories["harassment"]  # untouched categories stay
    assert "calibrated: hate: block 0.85" in (proposal.policy_yaml or "")


def test_review_threshold_rises_where_reviewers_always_allow() -> None:
    policy = load_policy("default")  # violence: review 0.65, block 0.90
    noise = [(0.65 + i * 0.003, 0) for i in range(25)]  # all allowed: these should only be flags
    real = [(0.75 + i * 0.004, i % 3 != 0) for i in range(25)]
    proposal = propose(policy, rows("violence", noise + real))
    [change] = [c for c in proposal.changes if c.threshold == "review"]
    assert change.old == 0.65 and 0.72 <= change.new <= 0.754 and change.rate == 0.0  # real[0] was allowed too
    assert not [c for c in proposal.changes if c.threshold == "block"]  # 2/3 precision is not enough to block


def test_too_few_labels_or_noisy_labels_change_nothing() -> None:
    policy = load_policy("default")
    assert propose(policy, rows("hate", [(0.8, 1)] * 10)).changes == []  # below min_support
    noisy = [(0.56 + i * 0.01, i % 2) for i in range(28)]
    proposal = propose(policy, rows("hate", noisy))
    assert proposal.changes == [] and proposal.policy_yaml is None
    assert proposal.per_category == {"hate": 28} and proposal.labelled == 28


def test_thresholds_never_split_tied_scores() -> None:
    tied = [(0.8, 1)] * 19 + [(0.8, 0)] + [(0.9, 1)] * 5
    hit = lowest_precise_threshold(tied, 0.95, 5)
    assert hit is not None and hit[0] == 0.8 and hit[1] == 25  # the whole tie is counted, not 19 of it
    assert highest_clean_threshold([(0.6, 0)] * 30, 0.05, 5) is None  # no gap to cut in


def test_a_proposal_from_decisions_in_the_review_queue(database_url: str) -> None:
    queue = ReviewQueue(database_url, sla=timedelta(hours=1))
    tenant = "calib-tenant"
    cats = {c: CategoryVerdict(c, 0.0, "allow") for c in CATEGORIES}
    for i in range(24):
        score = 0.72 + i * 0.005
        v = Verdict(
            "review",
            {**cats, "hate": CategoryVerdict("hate", score, "review")},  # type: ignore[arg-type]
            load_policy("default").version_id,
            "comments",
            [0, 1],
        )
        item = queue.enqueue(tenant, f"post {i}", v, severity=3)
        queue.claim(tenant, item, "rita")
        queue.decide(tenant, item, "rita", "remove")
    labelled = queue.labelled_data(tenant)
    assert labelled[0]["scores"] == {"hate": 0.72}
    proposal = propose(load_policy("default"), labelled)
    assert [(c.category, c.threshold, c.new) for c in proposal.changes] == [("hate", "block", 0.72)]


def test_the_calibration_endpoint_is_for_reviewers(client, service) -> None:
    from projects.content_moderation.tests.conftest import PREFIX, headers, reviewer

    assert client.get(f"{PREFIX}/review/calibration", headers=headers("mallory")).status_code == 403
    resp = client.get(f"{PREFIX}/review/calibration", headers=reviewer("rita"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["labelled"] == 0 and body["changes"] == [] and body["policy_yaml"] is None
    assert body["policy_version"] == load_policy("default").version_id
