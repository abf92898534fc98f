"""GSM8K: loading the items, the gold number, and reading a number out of a model's (or a program's) answer.

The gold is the number after ``####`` in the dataset's ``answer`` (thousands separators removed). A prediction is
read the way GSM8K graders do it: the number after the last ``####`` if the text has one, otherwise the last number
in the text; ``$``, ``,`` thousands separators, units and a trailing full stop are ignored. Two answers match when
they are the same number (``18``, ``18.0`` and ``$18.00`` are one answer).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

# a number: optional sign, digits with optional thousands separators, optional decimals; or a bare ".5"
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")
_MARKER = "####"


@dataclass(frozen=True, slots=True)
class MathItem:
    """One GSM8K problem: ``id`` is ``gsm8k_<line index>`` (the file has no ids), ``gold`` the canonical number."""

    id: str
    question: str
    gold: str


def normalise_number(text: str) -> str | None:
    """Canonical decimal string of a number written as in GSM8K answers (``"1,234.50"`` -> ``"1234.5"``)."""
    try:
        value = Decimal(text.replace(",", "").replace("$", "").strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def parse_answer(text: str | None) -> str | None:
    """The number a free-text answer ends with, canonicalised; None when there is none.

    After a ``####`` marker only the text following the last one is read (the model's own final-answer line);
    otherwise the last number anywhere, which is where chain-of-thought answers put the result.
    """
    if not text:
        return None
    if _MARKER in text:
        tail = text.rsplit(_MARKER, 1)[1]
        found = _NUMBER.findall(tail)
        if found:
            return normalise_number(found[0])
    found = _NUMBER.findall(text)
    return normalise_number(found[-1]) if found else None


def gold_answer(answer: str) -> str:
    """The gold number of a GSM8K ``answer`` field (the text after ``####``)."""
    if _MARKER not in answer:
        raise ValueError(f"GSM8K answer has no '####' line: {answer[-80:]!r}")
    value = normalise_number(answer.rsplit(_MARKER, 1)[1])
    if value is None:
        raise ValueError(f"GSM8K gold is not a number: {answer.rsplit(_MARKER, 1)[1]!r}")
    return value


def answers_match(prediction: str | None, gold: str) -> bool:
    """Numeric equality of two canonical numbers (``None`` never matches)."""
    if prediction is None:
        return False
    try:
        return Decimal(prediction) == Decimal(gold)
    except InvalidOperation:
        return False


def load_gsm8k(path: str | Path, limit: int | None = None) -> list[MathItem]:
    """Read ``{"question", "answer"}`` lines; a line without a parsable gold raises with its line number."""
    items: list[MathItem] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                gold = gold_answer(row["answer"])
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
            items.append(MathItem(str(row.get("id", f"gsm8k_{len(items)}")), row["question"], gold))
            if limit is not None and len(items) >= limit:
                break
    return items
