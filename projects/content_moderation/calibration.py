"""Threshold calibration from reviewer decisions: the queue teaches the policy where its thresholds should be.

Only items the cascade sent to review (or users appealed) get a human label, so the labelled scores of a
category sit mostly between its ``review`` and ``block`` thresholds. That is exactly the band calibration can
move, in two directions:

- **Lower ``block``** when reviewers remove almost everything above some score (precision ≥ ``block_precision``
  with at least ``min_support`` items above it): those items were never in doubt, and every one of them costs a
  reviewer minutes.
- **Raise ``review``** when reviewers allow almost everything below some score (removal rate ≤
  ``allow_rate`` with ``min_support`` items below it): those items become flags, visible but not queued.

A proposal is a new policy *version* (never an in-place edit: decisions record ``name@version+sha8``), with
each change carrying the evidence behind it, for a human to read and commit. Nothing is applied automatically:
a burst of sloppy or adversarial reviews must not silently loosen a block threshold.

Labels are per item, not per category: a removed item counts as positive for every category it was queued for.
That over-credits a secondary category on a multi-category item; the ``min_support`` floor and the high
precision target keep that noise from moving a threshold on a handful of items.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from shared.moderation.policy import CategoryRule, Policy, parse_policy


@dataclass(frozen=True)
class ThresholdChange:
    category: str
    threshold: str  # "block" or "review"
    old: float
    new: float
    support: int  # labelled items on the moved side of the new threshold
    rate: float  # their removal rate (precision for block, false-removal rate for review)

    def describe(self) -> str:
        if self.threshold == "block":
            return (
                f"{self.category}: block {self.old:.2f} → {self.new:.2f} "
                f"(reviewers removed {self.rate:.0%} of {self.support} items scoring ≥ {self.new:.2f})"
            )
        return (
            f"{self.category}: review {self.old:.2f} → {self.new:.2f} "
            f"(reviewers removed {self.rate:.0%} of {self.support} items scoring < {self.new:.2f})"
        )


@dataclass
class CalibrationProposal:
    policy_version: str  # the policy the labels were collected under
    labelled: int
    per_category: dict[str, int]
    changes: list[ThresholdChange] = field(default_factory=list)
    policy_yaml: str | None = None  # the proposed next version; None when nothing changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "labelled": self.labelled,
            "per_category": self.per_category,
            "changes": [{**c.__dict__, "description": c.describe()} for c in self.changes],
            "policy_yaml": self.policy_yaml,
        }


def category_samples(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[float, int]]]:
    """``{category: [(score, label), ...]}`` from labelled rows (``scores`` mapping + item ``label``)."""
    out: dict[str, list[tuple[float, int]]] = {}
    for row in rows:
        for category, score in (row.get("scores") or {}).items():
            out.setdefault(category, []).append((float(score), int(row["label"])))
    return out


def window(min_support: int) -> int:
    """How many items next to a cut must meet the target on their own."""
    return max(5, min_support // 2)


def local_rate(ranked: list[tuple[float, int]], end: int, min_support: int) -> float:
    """Removal rate of the ``window`` items before ``end`` in ``ranked``, widened to a whole tie of scores (the
    order inside a tie is arbitrary, so a window must not cut one)."""
    start = max(0, end - window(min_support))
    while start > 0 and ranked[start - 1][0] == ranked[start][0]:
        start -= 1
    chunk = ranked[start:end]
    return sum(y for _, y in chunk) / len(chunk)


def lowest_precise_threshold(
    samples: list[tuple[float, int]], precision: float, min_support: int
) -> tuple[float, int, float] | None:
    """The lowest observed score t with removal rate ≥ ``precision`` among the ≥ ``min_support`` items scoring ≥ t.

    The lowest ``window(min_support)`` of those items must meet the target on their own too: a long run of
    certain removals at the top would otherwise carry the cut into a band where reviewers disagree.
    """
    ranked = sorted(samples, key=lambda s: -s[0])
    best = None
    positives = 0
    for i, (score, label) in enumerate(ranked, start=1):
        positives += label
        tie_follows = i < len(ranked) and ranked[i][0] == score
        if i < min_support or tie_follows:
            continue
        if positives / i >= precision and local_rate(ranked, i, min_support) >= precision:
            best = (score, i, positives / i)
    return best


def highest_clean_threshold(
    samples: list[tuple[float, int]], allow_rate: float, min_support: int
) -> tuple[float, int, float] | None:
    """The highest score t with removal rate ≤ ``allow_rate`` among the ≥ ``min_support`` items scoring < t
    (and among the top ``window(min_support)`` of them: the mirror of :func:`lowest_precise_threshold`)."""
    ranked = sorted(samples, key=lambda s: s[0])
    best = None
    positives = 0
    for i, (score, label) in enumerate(ranked, start=1):
        positives += label
        nxt = ranked[i][0] if i < len(ranked) else None
        if nxt is None or nxt == score:  # the cut must fall strictly between two observed scores
            continue
        if i >= min_support and positives / i <= allow_rate and local_rate(ranked, i, min_support) <= allow_rate:
            best = (round((score + nxt) / 2, 4), i, positives / i)
    return best


def propose(
    policy: Policy,
    rows: Iterable[Mapping[str, Any]],
    *,
    block_precision: float = 0.95,
    allow_rate: float = 0.05,
    min_support: int = 20,
) -> CalibrationProposal:
    """A threshold proposal for ``policy`` from reviewer-labelled rows (see the module docstring for the rules)."""
    rows = list(rows)
    samples = category_samples(rows)
    changes: list[ThresholdChange] = []
    rules: dict[str, CategoryRule] = dict(policy.categories)
    for category, points in sorted(samples.items()):
        if category not in rules:
            continue
        rule = rules[category]
        block, review = rule.block, rule.review
        hit = lowest_precise_threshold(points, block_precision, min_support)
        if hit is not None and hit[0] < block and block <= 1.0:
            block = max(hit[0], review)
            changes.append(ThresholdChange(category, "block", rule.block, block, hit[1], hit[2]))
        clean = highest_clean_threshold(points, allow_rate, min_support)
        if clean is not None and clean[0] > review and review <= 1.0:
            review = min(clean[0], block)
            changes.append(ThresholdChange(category, "review", rule.review, review, clean[1], clean[2]))
        rules[category] = rule.model_copy(update={"block": block, "review": review})
    proposal = CalibrationProposal(
        policy_version=policy.version_id,
        labelled=len(rows),
        per_category={c: len(p) for c, p in sorted(samples.items())},
        changes=changes,
    )
    if changes:
        proposal.policy_yaml = policy_yaml(policy, rules, version=policy.version + 1, changes=changes)
    return proposal


def policy_yaml(
    policy: Policy, rules: Mapping[str, CategoryRule], *, version: int, changes: list[ThresholdChange]
) -> str:
    """The next policy version as YAML (round-trips through :func:`parse_policy`), changes listed on top."""
    header = "".join(f"# calibrated: {c.describe()}\n" for c in changes)
    data = {
        "name": policy.name,
        "version": version,
        "description": policy.description,
        "categories": {c: rules[c].model_dump() for c in policy.categories},
        "surfaces": policy.surfaces,
    }
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parse_policy(text)  # a proposal that does not load is a bug here, not a surprise for the reader
    return text
