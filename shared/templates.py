"""Template expansion for the labelled examples projects generate (moderation k-NN examples, support intents).

Generated training text is a product of templates and slot values; writing that product once keeps two example
generators from drifting apart in how they treat templates that use only some of the slots.
"""

from __future__ import annotations

import itertools


def fill_templates(templates: list[str], **slots: list[str]) -> list[str]:
    """Every template with every combination of the slots it uses (templates may use any subset, or none)."""
    out: list[str] = []
    for template in templates:
        names = [n for n in slots if "{" + n + "}" in template]
        for combo in itertools.product(*(slots[n] for n in names)):
            out.append(template.format(**dict(zip(names, combo, strict=True))))
    return out
