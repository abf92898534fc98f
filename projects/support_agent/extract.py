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


EXCEPTION = re.compile(
    r"\bexception\b|bend (?:the|your) rules?|just (?:this|one) (?:once|time)|(?:do|change|accept) it anyway", re.I
)


def asks_exception(text: str) -> bool:
    """The customer pushes back on a rule ("make an exception", "just this once")."""
    return bool(EXCEPTION.search(text))


def negative(text: str) -> bool:
    return bool(NEGATIVE.search(text))


def words(text: str) -> set[str]:
    """The message's lower-case words (letters and digits)."""
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def items(text: str, lines: list[dict[str, Any]]) -> list[str]:
    """Item ids of the order ``lines`` the message points at: by item id, by product name, or all of them."""
    t = text.lower()
    hit = [ln["item_id"] for ln in lines if ln["item_id"].lower() in t]
    if hit:
        return hit
    if ALL_ITEMS.search(text):
        return [ln["item_id"] for ln in lines]
    said = words(text)
    by_name = []
    for ln in lines:
        name_words = {w for w in words(ln.get("name") or "") if len(w) > 2}
        if name_words and name_words & said:
            by_name.append(ln["item_id"])
    return by_name


def new_variants(text: str, product: dict[str, Any], old_item_id: str) -> str | None:
    """The available variant of ``product`` whose option values the message names most (not the old one)."""
    said = words(text)
    best, best_score = None, 0
    for item_id, v in (product.get("variants") or {}).items():
        if item_id == old_item_id or not v.get("available", True):
            continue
        if item_id.lower() in text.lower():
            return item_id
        values = {str(x).lower() for x in (v.get("options") or {}).values()}
        score = sum(1 for value in values if words(value) <= said)
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


# -- order changes: what to change, and a US-style address ------------------------------------------------------
_CHANGE_KINDS = (
    ("address", r"\baddress\b|\bship(?:ping)? (?:it )?to\b|\bdeliver(?:ed|y)? (?:it )?to\b|\bsend it to\b|\bmoved\b"),
    ("payment", r"\bpay(?:ment|ing|pal)?\b|\bcard\b|\bgift ?card\b|\bcharge\b|\bbilling\b"),
    (
        "items",
        r"\bitems?\b|\bswap\b|\bsize\b|\bcolou?r\b|\bvariant\b|\boption\b|\binstead of\b|\bexchange\b|"
        r"\bsmaller\b|\blarger\b|\bbigger\b",
    ),
)


def change_kind(text: str) -> str | None:
    """What a "change my order" message is about: ``address``, ``payment`` or ``items`` (None: unclear, or more
    than one — the agent asks rather than guesses)."""
    text = re.sub(r"\be-?mail address(?:es)?\b", "email", text, flags=re.IGNORECASE)  # not a postal address
    kinds = [kind for kind, pattern in _CHANGE_KINDS if re.search(pattern, text, re.IGNORECASE)]
    return kinds[0] if len(kinds) == 1 else None


US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID",
    "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN", "texas": "TX",
    "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA", "west virginia": "WV",
    "wisconsin": "WI", "wyoming": "WY", "district of columbia": "DC",
}  # fmt: skip
_STATE_CODES = frozenset(US_STATES.values())
_STREET = re.compile(
    r"\b(\d{1,6}\s+(?:[A-Za-z0-9.'-]+\s+){0,5}?(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|"
    r"court|ct|way|place|pl|terrace|parkway|pkwy|circle|cir|highway|hwy|square|sq|trail|trl)\b\.?)",
    re.IGNORECASE,
)
_UNIT = re.compile(r"\b((?:apt|apartment|suite|ste|unit)\.?\s*#?\s*[A-Za-z0-9-]+|#\s*\d+[A-Za-z]?)", re.IGNORECASE)
# "City, ST 12345" / "City, State 12345" / "City ST 12345"
_CITY_STATE_ZIP = re.compile(
    r"([A-Za-z][A-Za-z .'-]*?)\s*,?\s+([A-Za-z]{2}|" + "|".join(sorted(US_STATES, key=len, reverse=True)) + r")"
    r"\s*,?\s+(\d{5})(?:-\d{4})?\b",
    re.IGNORECASE,
)
ADDRESS_FIELDS = ("address1", "address2", "city", "state", "country", "zip")
REQUIRED_ADDRESS = ("address1", "city", "state", "zip")


def address(text: str) -> dict[str, str]:
    """The parts of a US-style address the message contains: ``address1`` (number + street), ``address2``
    (apartment/suite), ``city``, ``state`` (two-letter code), ``zip``, ``country``. Partial on purpose: the agent
    asks for the missing parts and merges the answers."""
    out: dict[str, str] = {}
    street = _STREET.search(text)
    rest = text
    if street:
        out["address1"] = " ".join(street.group(1).split()).rstrip(".")
        rest = text[street.end() :]
    if unit := _UNIT.search(rest):
        out["address2"] = " ".join(unit.group(1).split())
        rest = rest[: unit.start()] + " " + rest[unit.end() :]
    for m in _CITY_STATE_ZIP.finditer(rest):
        raw_state = m.group(2).lower()
        state = US_STATES.get(raw_state) or (raw_state.upper() if raw_state.upper() in _STATE_CODES else None)
        if state is None:
            continue
        city = re.split(r"[,;:]|\b(?:in|to|at)\s", m.group(1).strip(), flags=re.IGNORECASE)[-1].strip()
        if city:
            out["city"] = " ".join(w.capitalize() if w.islower() else w for w in city.split())
        out["state"], out["zip"] = state, m.group(3)
        break
    if "zip" not in out and out and (z := zip_code(rest)):
        out["zip"] = z
    if out and re.search(r"\b(?:usa|united states|u\.s\.a?\.?)\b", text, re.IGNORECASE):
        out["country"] = "USA"
    return out
