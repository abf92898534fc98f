"""Reviewer corrections applied to a stored extraction result (pure functions; the service adds the audit rows).

A corrected field keeps its source box (the reviewer fixed the value, the location is still where
it came from) and becomes ``method = "human"`` with confidence 1, so the training export can tell
model output from human labels. Values are normalised with the same normalisers as extraction, so
a reviewer typing "25/12/2018" stores the ISO date like every other path.
"""

from __future__ import annotations

import copy
from typing import Any

from projects.document_intelligence.normalize import normalize_value
from projects.document_intelligence.schemas import specs_for


def normalise_value(doc_type: str | None, field: str, value: str | None) -> str | None:
    """Normalise a reviewer's value by the field's kind in its schema (date → ISO, amount → decimal)."""
    if value is None or not value.strip():
        return None
    spec = specs_for(doc_type or "other").get(field)
    if spec is None:
        raise ValueError(f"{field!r} is not a field of a {doc_type or 'document'}")
    normalised = normalize_value(spec.kind, value)
    if normalised is None:
        raise ValueError(f"{value!r} is not a valid {spec.kind} for {field!r}")
    return normalised


def apply_corrections(
    extraction: dict[str, Any] | None, corrections: dict[str, str | None]
) -> tuple[dict[str, Any], list[tuple[str, str | None, str | None]]]:
    """Return the updated extraction JSON and ``(field, old, new)`` for every value that changed."""
    result = copy.deepcopy(extraction or {"fields": {}, "line_items": [], "issues": []})
    fields: dict[str, Any] = result.setdefault("fields", {})
    doc_type = result.get("doc_type")
    changes: list[tuple[str, str | None, str | None]] = []
    for name, raw in corrections.items():
        new = normalise_value(doc_type, name, raw)
        current = fields.get(name) or {"name": name, "value": None, "source": None, "issues": []}
        old = current.get("value")
        if old == new and current.get("method") == "human":
            continue
        fields[name] = {**current, "value": new, "raw": raw, "confidence": 1.0, "method": "human", "issues": []}
        if old != new:
            changes.append((name, old, new))
    result["needs_review"] = False
    return result, changes
