"""The cascade with the real detectors, as the API, the rails and the evaluation build it."""

from __future__ import annotations

from typing import Literal

from projects.content_moderation.cascade import Cascade
from projects.content_moderation.policy import Policy, load_policy
from projects.content_moderation.settings import ModerationSettings, get_moderation_settings

Tiers = Literal["keywords", "fast", "full"]


def build_cascade(
    settings: ModerationSettings | None = None, *, tiers: Tiers = "full", policy: Policy | None = None
) -> Cascade:
    """``keywords``: tier 0 only (the baseline); ``fast``: + the packaged classifiers; ``full``: + the k-NN."""
    from projects.content_moderation.keywords import KeywordDetector
    from projects.content_moderation.normalize import normalize

    settings = settings or get_moderation_settings()
    detectors: list = [KeywordDetector()]
    if tiers in ("fast", "full"):
        from projects.content_moderation.packaged import PackagedDetector

        detectors.append(PackagedDetector())
    if tiers == "full":
        from projects.content_moderation.knn import KnnDetector

        detectors.append(KnnDetector(k=settings.knn_k))
    return Cascade(
        detectors,
        policy or load_policy(settings.policy),
        normalize,
        uncertain=(settings.uncertain_low, settings.uncertain_high),
    )
