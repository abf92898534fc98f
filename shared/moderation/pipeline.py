"""The cascade with the real detectors, as the API, the rails and the evaluation build it."""

from __future__ import annotations

from typing import Literal

from shared.moderation.cascade import Cascade
from shared.moderation.policy import Policy, load_policy
from shared.settings import ModerationSettings, get_settings

Tiers = Literal["keywords", "fast", "full"]


def build_cascade(
    settings: ModerationSettings | None = None,
    *,
    tiers: Tiers = "full",
    policy: Policy | None = None,
    fast_path: bool = False,
) -> Cascade:
    """``keywords``: tier 0 only (the baseline); ``fast``: + the packaged classifiers; ``full``: + the k-NN.

    ``fast_path``: a tier-0 block ends the cascade (for rails, which need the action, not every category).
    """
    from shared.moderation.keywords import KeywordDetector
    from shared.moderation.normalize import normalize

    settings = settings or get_settings().moderation
    detectors: list = [KeywordDetector()]
    if tiers in ("fast", "full"):
        from shared.moderation.packaged import PackagedDetector

        detectors.append(PackagedDetector())
    if tiers == "full":
        from shared.moderation.knn import KnnDetector

        detectors.append(KnnDetector(k=settings.knn_k))
    return Cascade(
        detectors,
        policy or load_policy(settings.policy),
        normalize,
        uncertain=(settings.uncertain_low, settings.uncertain_high),
        fast_path=fast_path,
    )
