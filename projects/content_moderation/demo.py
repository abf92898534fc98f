"""Demo data for ``make demo``: the generated forum day (``demo_data.py``) moderated through the real service
into tenant ``demo``, then a morning of reviewer work so every console view has something to show: decisions
by ``rita``, an escalation by ``sam``, and an appeal by an author whose news quote was blocked automatically
(a known weakness of keyword rules on quoted speech, left visible on purpose).

``load_demo_data(ctx)`` is idempotent: every post is submitted with the idempotency key ``demo-<ref>``, so a
second run replays the stored decisions instead of storing new ones, and reviewer actions run only on items
still pending.
"""

from __future__ import annotations

import logging
from typing import Any

from projects.content_moderation.settings import ContentModerationSettings, get_content_moderation_settings
from shared.api.context import ServiceContext

TENANT = "demo"
SURFACE = {"help-bot": "llm_input"}  # the help bot's channel is an LLM's input: injection blocks earlier there
log = logging.getLogger(__name__)


def load_demo_data(ctx: ServiceContext, settings: ContentModerationSettings | None = None) -> dict[str, Any]:
    """Moderate the demo forum and play the reviewers' morning; returns counts per action."""
    from projects.content_moderation.demo_data import DEMO_IMAGES, DEMO_POSTS, render_image
    from projects.content_moderation.service import ModerationService

    settings = (settings or get_content_moderation_settings()).model_copy(update={"inline_worker": False})
    service = ModerationService(ctx.db_url(), settings, moderation=ctx.settings.moderation)
    counts: dict[str, int] = {}
    decisions: dict[str, dict[str, Any]] = {}
    try:
        for post in DEMO_POSTS:
            out, _ = service.moderate(
                [post.text], TENANT, SURFACE.get(post.channel, "default"), idempotency_key=f"demo-{post.ref}",
                source_ref=post.ref, reach=post.reach,
            )  # fmt: skip
            decisions[post.ref] = out["results"][0]
            counts[out["results"][0]["action"]] = counts.get(out["results"][0]["action"], 0) + 1
        for image in DEMO_IMAGES:
            out, _ = service.moderate_image(
                render_image(image.filename), image.filename, TENANT, idempotency_key=f"demo-{image.ref}",
                source_ref=image.ref, reach=image.reach,
            )  # fmt: skip
            counts[out["results"][0]["action"]] = counts.get(out["results"][0]["action"], 0) + 1
        reviewers_morning(service, decisions)
    finally:
        service.queue.close()
    log.info("content moderation demo: %s", counts)
    return counts


def reviewers_morning(service: Any, decisions: dict[str, dict[str, Any]]) -> None:
    """rita works the top of the queue, sam escalates a self-harm disclosure, an author appeals a block."""
    from projects.content_moderation.demo_data import DEMO_POSTS
    from projects.content_moderation.review import ReviewConflict
    from projects.content_moderation.service import AppealRefused

    queue = service.review
    by_ref = {p.ref: p for p in DEMO_POSTS}
    pending = {str(i["source_ref"]): i for i in queue.next_items(TENANT, limit=200) if i["status"] == "pending"}
    for ref, item in pending.items():
        post = by_ref.get(ref)
        if post is None:
            continue
        try:
            if post.author == "dealz4u":  # spam and drug offers: removed
                queue.decide(TENANT, str(item["id"]), "rita", "remove", "marketplace spam", claim=True)
            elif "ending it all" in post.text:  # outreach, not removal: a senior moderator reaches out
                queue.claim(TENANT, str(item["id"]), "sam")
                queue.escalate(TENANT, str(item["id"]), "sam", "self-harm disclosure: please reach out to the member")
        except ReviewConflict:  # a previous demo run already acted
            pass
    quote = next(p for p in DEMO_POSTS if p.text.startswith("Quoting the news"))
    decision = decisions.get(quote.ref)
    if decision and decision["action"] != "allow" and not decision.get("review_item_id"):
        try:
            service.appeal(
                TENANT, quote.author, decision["id"],
                "I was quoting a news report about the attack to condemn it, not saying it myself.", text=quote.text,
            )  # fmt: skip
        except (ReviewConflict, AppealRefused) as exc:  # already appealed on a previous run
            log.info("demo appeal not re-filed: %s", exc)
