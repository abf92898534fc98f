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
    """``keywords``: tier 0 only (the baseline); ``fast``: + the packaged classifiers; ``full``: + the k-NN and,
    with ``settings.judge == "llm"``, the LLM judge (tier 2, uncertain texts only).

    ``fast_path``: a tier-0 block ends the cascade (for rails, which need the action, not every category).
    """
    from shared.moderation.keywords import KeywordDetector
    from shared.moderation.normalize import normalize

    settings = settings or get_settings().moderation
    detectors: list = [KeywordDetector()]
    if tiers in ("fast", "full"):
        from shared.moderation.packaged import PackagedDetector

        detectors.append(PackagedDetector())
    policy = policy or load_policy(settings.policy)
    if tiers == "full":
        from shared.moderation.knn import KnnDetector

        detectors.append(KnnDetector(k=settings.knn_k))
        if settings.judge == "llm":
            from shared.moderation.judge import JudgeDetector
            from shared.serving.factory import get_chat_model

            # the chat model loads on the first uncertain text, not here
            detectors.append(
                JudgeDetector(
                    get_chat_model, policy, max_tokens=settings.judge_max_tokens, concurrency=settings.judge_concurrency
                )
            )
    return Cascade(
        detectors,
        policy,
        normalize,
        uncertain=(settings.uncertain_low, settings.uncertain_high),
        fast_path=fast_path,
    )
