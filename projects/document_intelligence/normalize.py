"""Value normalisation: dates to ISO, amounts to Decimal, text to one spacing — shared by extraction and the eval.

Why one module for both: a field is "correct" in the eval exactly when the extractor's normalised value
equals the gold's normalised value, so the two must never drift apart. Parsers here are regex-based and
deliberately strict about ranges (a "date" of 45/13/2018 is not a date) because their second job is to
serve as format validators.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12, "januari": 1, "februari": 2, "mac": 3, "mei": 5, "julai": 7, "ogos": 8,
    "okt": 10, "dis": 12,
}  # fmt: skip
_MON = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec|mac|mei|ogo|okt|dis)[a-z]*\.?"
_Y4 = r"(?:19|20)\d{2}"

# Ordered: the first pattern that matches at a position wins (ISO before numeric D/M/Y, textual months last).
_DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ymd", re.compile(rf"(?<!\d)(?P<y>{_Y4})[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}})(?!\d)")),
    ("dmy", re.compile(r"(?<!\d)(?P<a>\d{1,2})\s?[-/.]\s?(?P<b>\d{1,2})\s?[-/.]\s?(?P<y>\d{4}|\d{2})(?!\d)")),
    ("d_mon_y", re.compile(
        rf"(?<![\d])(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s\-/.]*{_MON}[\s\-/.,']*(?P<y>\d{{4}}|\d{{2}})(?!\d)", re.I
    )),
    ("mon_d_y", re.compile(rf"(?<![a-z]){_MON}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s*(?P<y>\d{{4}})(?!\d)", re.I)),
    ("ymd8", re.compile(rf"(?<!\d)(?P<y>{_Y4})(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)")),
]  # fmt: skip


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 70 else 1900
    return y


def _make(y: int, m: int, d: int, min_year: int, max_year: int) -> date | None:
    if not min_year <= y <= max_year:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month(token: str) -> int | None:
    token = token.lower().rstrip(".")
    for key in (token, token[:4], token[:3]):
        if key in MONTHS:
            return MONTHS[key]
    return None


def _from_match(kind: str, m: re.Match[str], day_first: bool, min_year: int, max_year: int) -> date | None:
    g = m.groupdict()
    if kind in ("ymd", "ymd8"):
        return _make(int(g["y"]), int(g["m"]), int(g["d"]), min_year, max_year)
    if kind == "dmy":
        a, b, y = int(g["a"]), int(g["b"]), _year(g["y"])
        first, second = (a, b) if day_first else (b, a)
        # the preferred order first; the other when the preferred one is impossible (12/28/2017 is month-first)
        return _make(y, second, first, min_year, max_year) or _make(y, first, second, min_year, max_year)
    month = _month(g["mon"])
    if month is None:
        return None
    return _make(_year(g["y"]), month, int(g["d"]), min_year, max_year)


def find_dates(
    text: str, *, day_first: bool = True, min_year: int = 1900, max_year: int = 2100
) -> list[tuple[int, int, str]]:
    """Every date in ``text`` as ``(start, end, iso)``, left to right, non-overlapping."""
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            d = _from_match(kind, m, day_first, min_year, max_year)
            if d is not None:
                found.append((m.start(), m.end(), d.isoformat()))
                taken.append((m.start(), m.end()))
    return sorted(found)


def normalize_date(raw: str | None, *, day_first: bool = True) -> str | None:
    """The first date in ``raw`` as ``YYYY-MM-DD``, or None when there is none (or it is impossible)."""
    if not raw:
        return None
    hits = find_dates(raw.strip(), day_first=day_first)
    return hits[0][2] if hits else None


# --------------------------------------------------------------------------- amounts

_CURRENCY = re.compile(
    r"(?<![A-Za-z])(?:RM|MYR|SGD|USD|EUR|GBP|SR|SAR|AED|INR|RS|IDR|RP|THB|CHF|JPY|CNY|HKD|AUD|CAD|NZD)(?![A-Za-z])"
    r"|[$€£¥₹]",
    re.I,
)
_AMOUNT_TOKEN = re.compile(
    r"(?<![\w.,])(?P<neg1>[-−(])?\s*(?:(?:RM|MYR|SGD|USD|EUR|GBP|\$|€|£)\s*)?(?P<neg2>-)?\s*"
    r"(?P<num>\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d{1,3})?|\d+[.,]\d{1,3}|\d+|(?<![\d])\.\d{2}(?!\d))"
    r"(?P<neg3>-|\))?(?![\w.,]*\d)",
    re.I,
)


def normalize_amount(raw: str | None) -> Decimal | None:
    """A money amount as Decimal: ``RM 9.00``, ``1,234.50``, ``1.234,50``, ``9.00 SR``, ``5.59-``, ``(5.59)``.

    Separator rule: when both ``,`` and ``.`` occur, the last one is the decimal mark; a lone separator
    followed by exactly three digits in groups (``1,234`` / ``1.234.567``) is a thousands mark, except a
    single ``.`` (``9.000`` on a receipt is a price with three decimals, not nine thousand).
    """
    if raw is None:
        return None
    s = _CURRENCY.sub(" ", str(raw)).strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s.endswith("-") or s.endswith("CR") or s.endswith("cr"):
        negative, s = True, s.rstrip("-CRcr ").strip()
    if s.startswith(("-", "−")):
        negative, s = True, s[1:].strip()
    s = s.replace(" ", "").replace("'", "")
    if s.startswith(".") and re.fullmatch(r"\.\d{2}", s):
        s = "0" + s  # ".01" on a receipt's rounding line
    if not s or not re.fullmatch(r"\d[\d.,]*", s):
        return None
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        thou = "." if dec == "," else ","
        s = s.replace(thou, "").replace(dec, ".")
    elif "," in s:
        s = s.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", s) else s.replace(",", ".")
    elif s.count(".") > 1:
        if not re.fullmatch(r"\d{1,3}(\.\d{3})+", s):
            return None
        s = s.replace(".", "")
    if s.count(".") > 1:
        return None
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    return -value if negative else value


def format_amount(value: Decimal | None) -> str | None:
    """Canonical string: two decimals unless more are significant (``9`` → ``9.00``, ``9.000`` → ``9.00``)."""
    if value is None:
        return None
    if value == value.quantize(Decimal("0.01")):
        return f"{value:.2f}"
    return format(value.normalize(), "f")


def find_amounts(text: str) -> list[tuple[int, int, Decimal, bool]]:
    """Amount-looking tokens in ``text`` as ``(start, end, value, has_decimals)``; integers are kept but flagged
    (a quantity ``2`` and a price ``2.00`` are different evidence)."""
    out = []
    for m in _AMOUNT_TOKEN.finditer(text):
        value = normalize_amount(m.group(0))
        if value is None:
            continue
        has_decimals = bool(re.search(r"[.,]\d{1,3}$", m.group("num")))
        out.append((m.start(), m.end(), value, has_decimals))
    return out


# --------------------------------------------------------------------------- text and ids


def normalize_text(raw: str | None) -> str | None:
    """One space between words, no leading/trailing space; None for empty."""
    if raw is None:
        return None
    s = " ".join(str(raw).split())
    return s or None


def normalize_id(raw: str | None) -> str | None:
    """Identifiers: upper case, inner spaces and a leading "No." removed (``no. ab 12-3`` → ``AB12-3``)."""
    s = normalize_text(raw)
    if s is None:
        return None
    s = re.sub(r"^(?:no\.?|number|#|:)\s*", "", s, flags=re.I).strip(" :#.")
    s = re.sub(r"\s+", "", s).upper()
    return s or None


def text_key(raw: str | None) -> str:
    """Comparison key for text fields: case-folded, ALL whitespace removed.

    Whitespace-insensitive on purpose: OCR and annotators disagree on spaces around punctuation
    (``27,JALAN`` vs ``27, JALAN``), which is not an extraction error.
    """
    return "".join((raw or "").split()).casefold()


def normalize_value(kind: str, raw: str | None, *, day_first: bool = True) -> str | None:
    """Normalise by field kind (date/amount/number/id/currency/text); None when it does not parse."""
    if raw is None or not str(raw).strip():
        return None
    if kind == "date":
        return normalize_date(str(raw), day_first=day_first)
    if kind in ("amount", "number"):
        return format_amount(normalize_amount(str(raw)))
    if kind == "id":
        return normalize_id(str(raw))
    if kind == "currency":
        m = _CURRENCY.search(str(raw))
        symbol = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "RM": "MYR"}
        token = m.group(0).upper() if m else str(raw).strip().upper()
        return symbol.get(token, token)[:3] or None
    return normalize_text(str(raw))


def values_equal(kind: str, a: str | None, b: str | None, *, day_first: bool = True) -> bool:
    """Equality after normalisation: dates as dates, amounts numerically, text ignoring case and whitespace."""
    if kind == "date":
        na, nb = normalize_date(a, day_first=day_first), normalize_date(b, day_first=day_first)
        return na is not None and na == nb
    if kind in ("amount", "number"):
        x, y = normalize_amount(a), normalize_amount(b)
        return x is not None and y is not None and x == y
    if kind == "id":
        return bool(normalize_id(a)) and normalize_id(a) == normalize_id(b)
    return bool(text_key(a)) and text_key(a) == text_key(b)
