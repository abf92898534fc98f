"""Deterministic slot extractors: what a regular expression or a lookup in the customer's own data can read.

Why code first: an e-mail, an order id like ``#W1234567``, a zip code, a yes/no or a cancel reason is read
exactly and instantly by a pattern, and a 0.5B model reads them worse and 100x slower. Item and payment-method
references ("the lamp", "my gift card", "the original card") are matched against the verified customer's own
order lines and payment methods, so an extractor can never produce an id the customer does not have. The model
(``agent.py``) is asked only for what these cannot get (a free-form address, a name without a pattern).
"""

from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ORDER_ID = re.compile(r"(?<![A-Za-z0-9])#?\s?W(\d{1,12})\b", re.IGNORECASE)
ZIP = re.compile(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)")
NAME_PATTERNS = (
    re.compile(r"\b(?:my name is|name's|i am|i'm|this is)\s+([A-Za-z][a-z'-]+)\s+([A-Za-z][a-z'-]+)", re.IGNORECASE),
    re.compile(r"^\s*([A-Z][a-z'-]+)\s+([A-Z][a-z'-]+)\s*,?\s*(?:zip\s*(?:code)?\s*:?\s*)?\d{5}\b"),
)
YES = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|confirm(?:ed)?|correct|please do|go ahead|do it|that'?s right|"
    r"y)\b(?!\s*,?\s*but)",
    re.IGNORECASE,
)
NO = re.compile(
    r"^\s*(?:no|nope|nah|don'?t|do not|cancel that|stop|never ?mind|wait|not? (?:that|this))\b", re.IGNORECASE
)
CORRECTION = re.compile(
    r"\b(?:the other (?:one|order)|other order|wrong order|not (?:that|this) (?:one|order)|different order|"
    r"i meant|that'?s not (?:it|the one|right))\b",
    re.IGNORECASE,
)
HUMAN = re.compile(
    r"\b(?:human|real person|live (?:agent|person)|representative|(?:talk|speak) to (?:an? )?(?:agent|someone|"
    r"person|manager|supervisor)|operator)\b",
    re.IGNORECASE,
)
ALL_ITEMS = re.compile(r"\b(?:all|everything|every item|whole order|entire order|both)\b", re.IGNORECASE)
# Frustration lexicon (the negative-sentiment signal next to the moderation verdict's harassment score): words
# that, in a support chat, say "this is going badly" even when nothing abusive is said.
NEGATIVE = re.compile(
    r"\b(?:frustrat\w*|ridiculous|terrible|awful|worst|angry|furious|unacceptable|useless|disappointed|"
    r"fed up|sick of|waste of time|hopeless|pathetic|outrageous)\b",
    re.IGNORECASE,
)


def email(text: str) -> str | None:
    m = EMAIL.search(text)
    return m.group(0) if m else None


def order_ids(text: str) -> list[str]:
    """Every order id mentioned, in the catalogue's form ``#W<digits>`` (users type ``w123``, ``# W123``…)."""
    return [f"#W{m.group(1)}" for m in ORDER_ID.finditer(text)]


def zip_code(text: str) -> str | None:
    m = ZIP.search(text)
    return m.group(1) if m else None


def name(text: str) -> tuple[str, str] | None:
    for pattern in NAME_PATTERNS:
        m = pattern.search(text)
        if m:
            return m.group(1).capitalize(), m.group(2).capitalize()
    return None


def yes_no(text: str) -> bool | None:
    """True for a plain yes, False for a plain no, None when the message is neither (or both)."""
    y, n = bool(YES.search(text)), bool(NO.search(text))
    return None if y == n else y


def cancel_reason(text: str) -> str | None:
    t = text.lower()
    if "mistake" in t or "by accident" in t or "accidentally" in t or "wrong item" in t:
        return "ordered by mistake"
    if re.search(r"no longer|don'?t (?:need|want)|do not (?:need|want)|not needed|changed my mind|found .* cheaper", t):
        return "no longer needed"
    return None


def is_correction(text: str) -> bool:
    return bool(CORRECTION.search(text))


def wants_human(text: str) -> bool:
    return bool(HUMAN.search(text))


def negative(text: str) -> bool:
    return bool(NEGATIVE.search(text))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def items(text: str, lines: list[dict[str, Any]]) -> list[str]:
    """Item ids of the order ``lines`` the message points at: by item id, by product name, or all of them."""
    t = text.lower()
    hit = [ln["item_id"] for ln in lines if ln["item_id"].lower() in t]
    if hit:
        return hit
    if ALL_ITEMS.search(text):
        return [ln["item_id"] for ln in lines]
    words = _words(text)
    by_name = []
    for ln in lines:
        name_words = {w for w in _words(ln.get("name") or "") if len(w) > 2}
        if name_words and name_words & words:
            by_name.append(ln["item_id"])
    return by_name


def new_variants(text: str, product: dict[str, Any], old_item_id: str) -> str | None:
    """The available variant of ``product`` whose option values the message names most (not the old one)."""
    words = _words(text)
    best, best_score = None, 0
    for item_id, v in (product.get("variants") or {}).items():
        if item_id == old_item_id or not v.get("available", True):
            continue
        if item_id.lower() in text.lower():
            return item_id
        values = {str(x).lower() for x in (v.get("options") or {}).values()}
        score = sum(1 for value in values if set(re.findall(r"[a-z0-9]+", value)) <= words)
        if score > best_score:
            best, best_score = item_id, score
    return best


def payment_method(text: str, methods: list[dict[str, Any]], original: str | None = None) -> str | None:
    """A payment method id of the customer: named by id, by kind (gift card, paypal, card), by last four digits,
    or "the original/same one" (``original``)."""
    t = text.lower()
    for m in methods:
        if m["id"].lower() in t:
            return m["id"]
    if original and re.search(r"\b(?:original|same|where it came from|how i paid|that one)\b", t):
        return original
    for m in methods:
        if m.get("last_four") and m["last_four"] in t:
            return m["id"]
    kinds = {
        "gift_card": r"gift ?card",
        "paypal": r"pay ?pal",
        "credit_card": r"credit ?card|\bcard\b|visa|mastercard|amex|discover",
    }
    for source, pattern in kinds.items():
        if re.search(pattern, t):
            matching = [m["id"] for m in methods if m.get("source") == source]
            if len(matching) == 1:
                return matching[0]
    return None
