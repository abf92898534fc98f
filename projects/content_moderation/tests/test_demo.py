"""``make demo``'s loader on the real service: the forum day lands with every kind of outcome, the reviewers'
morning leaves an escalation and an appeal in the queue, and a second run stores nothing new."""

from __future__ import annotations

from projects.content_moderation.demo import load_demo_data
from projects.content_moderation.demo_data import DEMO_IMAGES, DEMO_POSTS
from projects.content_moderation.tests.conftest import count
from shared.api.context import ServiceContext


def test_demo_loads_once_with_every_outcome_and_a_working_queue(database_url: str, settings) -> None:
    settings = settings.model_copy(update={"tiers": "full"})  # the self-harm disclosure needs the k-NN tier
    ctx = ServiceContext(database_url=database_url)
    counts = load_demo_data(ctx, settings)
    assert sum(counts.values()) == len(DEMO_POSTS) + len(DEMO_IMAGES)
    assert set(counts) == {"allow", "flag", "review", "block"}
    decisions = count(database_url, "cm_decisions")
    items = count(database_url, "cm_review_items")
    assert decisions == len(DEMO_POSTS) + len(DEMO_IMAGES)
    assert count(database_url, "cm_review_items", "status = 'escalated'") == 1  # the self-harm disclosure
    assert count(database_url, "cm_review_items", "status = 'appealed'") == 1  # the blocked news quote
    assert count(database_url, "cm_review_items", "status = 'decided' AND decided_by = 'rita'") >= 1
    assert count(database_url, "cm_media") >= 1  # an image sent to review keeps its bytes for the reviewer

    assert load_demo_data(ctx, settings) == counts  # idempotent: replayed by key, reviewers act on pending only
    assert count(database_url, "cm_decisions") == decisions and count(database_url, "cm_review_items") == items
