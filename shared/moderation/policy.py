"""Versioned moderation policies: a YAML taxonomy with per-category thresholds and actions, per surface.

A decision is only auditable if it says which rules produced it, so every decision carries
``policy.version_id`` = ``name@version+sha8``: the declared version *and* a hash of the exact file, so an edit
that forgot to bump the version still shows up. Tenants pick a policy file; surfaces (``llm_input``,
``llm_output``, ``comments``...) override thresholds of single categories within it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from shared.moderation.signals import CATEGORIES

Action = Literal["allow", "flag", "review", "block"]
ACTION_ORDER: dict[str, int] = {"allow": 0, "flag": 1, "review": 2, "block": 3}
POLICY_DIR = Path(__file__).resolve().parent / "policies"


class CategoryRule(BaseModel):
    severity: int = Field(default=2, ge=1, le=4)
    flag: float = Field(ge=0, le=1.01)
    review: float = Field(ge=0, le=1.01)
    block: float = Field(ge=0, le=1.01, description="1.01 = never")
    description: str = Field(default="", description="one line: what the category covers (the LLM judge's prompt)")

    @model_validator(mode="after")
    def _ordered(self) -> CategoryRule:
        if not self.flag <= self.review <= self.block:
            raise ValueError(
                f"thresholds must satisfy flag ≤ review ≤ block, got {self.flag}/{self.review}/{self.block}"
            )
        return self

    def action(self, score: float) -> Action:
        if score >= self.block:
            return "block"
        if score >= self.review:
            return "review"
        if score >= self.flag:
            return "flag"
        return "allow"


class Policy(BaseModel):
    name: str
    version: int = Field(ge=1)
    description: str = ""
    categories: dict[str, CategoryRule]
    surfaces: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)
    sha8: str = ""

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = set(CATEGORIES) - set(self.categories)
        unknown = set(self.categories) - set(CATEGORIES)
        if missing or unknown:
            raise ValueError(f"policy categories: missing {sorted(missing)}, unknown {sorted(unknown)}")
        for surface, overrides in self.surfaces.items():
            if bad := set(overrides) - set(CATEGORIES):
                raise ValueError(f"surface {surface!r} overrides unknown categories {sorted(bad)}")
        return self

    @property
    def version_id(self) -> str:
        return f"{self.name}@{self.version}+{self.sha8}"

    def rules(self, surface: str | None = None) -> dict[str, CategoryRule]:
        """The category rules for ``surface`` (its overrides applied over the defaults)."""
        if surface is None or surface not in self.surfaces:
            return dict(self.categories)
        out = dict(self.categories)
        for category, fields in self.surfaces[surface].items():
            out[category] = out[category].model_copy(update=fields)
            CategoryRule.model_validate(out[category].model_dump())  # re-check the ordering
        return out


def parse_policy(text: str) -> Policy:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("a policy is a YAML mapping")
    data["sha8"] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return Policy.model_validate(data)


@lru_cache(maxsize=32)
def load_policy(name: str = "default", directory: Path = POLICY_DIR) -> Policy:
    """``policies/<name>.yaml``; names are plain identifiers (no paths)."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"invalid policy name {name!r}")
    return parse_policy((directory / f"{name}.yaml").read_text(encoding="utf-8"))
