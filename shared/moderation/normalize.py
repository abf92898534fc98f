"""Evasion-resistant text normalisation with exact offsets back to the original (tier 0 of the cascade).

Users dodge keyword lists with look-alike letters (Cyrillic 'о', fullwidth, mathematical bold), invisible
characters inside words, leetspeak ("k1ll"), spaced-out letters ("k i l l") and stretched words ("stuuupid").
:func:`normalize` undoes these so every later tier reads one canonical form, while ``offsets`` keeps, for each
normalised character, the index of the original character it came from — evidence must point at what the user
actually wrote.

Everything is linear-time: the per-character mapping is a memoised ``str.translate`` table (C speed, the Python
work is per *distinct* character), and the later stages are single-pass regexes whose callbacks only run on the
few places that change. A 1 MB text normalises in a fraction of a second.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable

from shared.moderation.signals import NormalizedText

# Characters that render as nothing (or nothing visible) and are used to split words past a filter.
_INVISIBLE: frozenset[int] = frozenset(
    [
        *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
        *range(0x200B, 0x2010),  # zero-width space/non-joiner/joiner, LRM, RLM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2065),  # word joiner, invisible operators
        *range(0x2066, 0x206A),  # bidi isolates
        *range(0xFE00, 0xFE10),  # variation selectors
        *range(0xE0100, 0xE01F0),  # variation selectors supplement
        *range(0xE0000, 0xE0080),  # tag characters
    ]
)

# Generic combining marks (Zalgo decoration, accents) — not script-specific vowel signs, which carry meaning.
_DECORATIVE_MARKS: tuple[tuple[int, int], ...] = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)

# Look-alikes NFKC leaves alone, applied after casefolding (so only lower-case forms are needed). Fullwidth and
# mathematical alphanumerics are already folded by NFKC.
#
# Cyrillic and Greek look-alikes are folded only inside tokens that also hold a Latin letter ("kіll" with a
# Cyrillic 'і'): folding whole Russian or Greek words would turn real text into pseudo-English for every later
# tier (and into accidental keyword hits).
SCRIPT_CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ү": "y", "ӏ": "l", "з": "3", "ь": "b",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
}  # fmt: skip

# Latin-script variants and punctuation that are not NFKC decompositions: always folded.
LATIN_CONFUSABLES: dict[str, str] = {
    "ı": "i", "ȷ": "j", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ƀ": "b", "ɑ": "a", "ɩ": "i",
    "ɡ": "g", "ɪ": "i", "ʀ": "r", "ʏ": "y", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g",
    "ʜ": "h", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ꜱ": "s", "ᴛ": "t",
    "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
    # Punctuation that hides apostrophes and hyphens
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u201c": '"', "\u201d": '"',
}  # fmt: skip

# Leetspeak digits/symbols, applied only inside tokens that also contain letters.
LEET: dict[str, str] = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}


def _decorative(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _DECORATIVE_MARKS)


def _map_char(ch: str) -> str:
    """The canonical form of one character: NFKC, casefold, accents off, confusables folded ('' = drop it)."""
    cp = ord(ch)
    if cp in _INVISIBLE or _decorative(ch):
        return ""
    if ch.isascii():
        return LATIN_CONFUSABLES.get(ch, ch.lower())
    s = unicodedata.normalize("NFKC", ch).casefold()
    stripped = "".join(c for c in unicodedata.normalize("NFD", s) if not _decorative(c))
    s = unicodedata.normalize("NFC", stripped)
    return "".join(LATIN_CONFUSABLES.get(c, c) for c in s if ord(c) not in _INVISIBLE)


class _CharTable(dict):
    """A ``str.translate`` table that computes each character's mapping the first time it is seen."""

    def __missing__(self, cp: int) -> str:
        value = _map_char(chr(cp))
        self[cp] = value
        return value


_TABLE = _CharTable()


def _map_chars(text: str) -> tuple[str, list[int]]:
    """Stage 1: per-character mapping; offsets only need work where a character maps to other than one char."""
    mapped = text.translate(_TABLE)
    odd = [c for c in set(text) if len(_TABLE[ord(c)]) != 1]
    if not odd:
        return mapped, list(range(len(text)))
    offsets: list[int] = []
    pos = 0
    for m in re.finditer("[" + "".join(re.escape(c) for c in odd) + "]", text):
        i = m.start()
        offsets.extend(range(pos, i))
        offsets.extend([i] * len(_TABLE[ord(text[i])]))
        pos = i + 1
    offsets.extend(range(pos, len(text)))
    return mapped, offsets


# URLs, e-mail addresses and long identifiers (crypto addresses, hashes) are left as written by the later stages:
# "www" is not a stretched "w" and a bitcoin address is not leetspeak. The whole whitespace-delimited chunk around
# a URL/e-mail anchor is protected. Lookbehinds make each scan start only at a chunk/word start: linear time.
_TLDS = "com|net|org|io|ly|co|me|gg|xyz|info|biz|ru|app|link|site|online|shop|top|click"
_PROTECTED = re.compile(
    r"(?<!\S)\S*?(?:://|www\.|[\w.+-]@[\w-]+\.\w|\.(?:" + _TLDS + r")\b|0x[0-9a-f]{8})\S*"
    r"|(?<!\w)(?=\w{25})(?=\w*\d)(?=\w*[^\W\d_])\w+"
)


def _protected_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _PROTECTED.finditer(text)]


def _inside(spans: list[tuple[int, int]], starts: list[int], pos: int) -> bool:
    k = bisect.bisect_right(starts, pos) - 1
    return k >= 0 and spans[k][0] <= pos < spans[k][1]


def _rewrite(
    text: str,
    offsets: list[int],
    pattern: re.Pattern[str],
    fn: Callable[[re.Match[str]], tuple[str, list[int]] | None],
) -> tuple[str, list[int]]:
    """Replace matches of ``pattern`` by ``fn(match)`` = (new text, index into ``text`` of each new char) or None.

    One pass, pieces joined at the end: linear in the text, Python work only at matches.
    """
    parts: list[str] = []
    new_offsets: list[int] = []
    pos = 0
    spans: list[tuple[int, int]] | None = None  # computed on the first match: most texts have none
    starts: list[int] = []
    for m in pattern.finditer(text):
        if spans is None:
            spans = _protected_spans(text)
            starts = [s for s, _ in spans]
        if spans and _inside(spans, starts, m.start()):
            continue
        out = fn(m)
        if out is None:
            continue
        repl, idx = out
        parts.append(text[pos : m.start()])
        new_offsets.extend(offsets[pos : m.start()])
        parts.append(repl)
        new_offsets.extend(offsets[i] for i in idx)
        pos = m.end()
    if pos == 0:
        return text, offsets
    parts.append(text[pos:])
    new_offsets.extend(offsets[pos:])
    return "".join(parts), new_offsets


# Stage 2: Cyrillic/Greek look-alikes inside a token that also holds a Latin letter (1:1, offsets unchanged).
_MIXED = re.compile(rf"(?<!\w)\w*[{''.join(SCRIPT_CONFUSABLES)}]\w*")
_LATIN = re.compile(r"[a-z]")
_FOLD = str.maketrans(SCRIPT_CONFUSABLES)


def _fold_mixed(m: re.Match[str]) -> tuple[str, list[int]] | None:
    tok = m.group()
    if not _LATIN.search(tok):
        return None
    return tok.translate(_FOLD), list(range(m.start(), m.end()))


# Stage 3: three or more single letters (or leet digits) joined by one separator: "k i l l", "f.u.c.k", "k-1-l-l".
_ATOM = r"(?:[^\W\d_]|[0134578@$])"
_SPACED = re.compile(rf"(?<![\w@$]){_ATOM}(?:(?:[ .\-_*]|\. ){_ATOM}){{2,}}(?![\w@$])")


def _collapse_spaced(m: re.Match[str]) -> tuple[str, list[int]] | None:
    s, base = m.group(), m.start()
    keep = [i for i, c in enumerate(s) if c.isalpha() or c in LEET]
    letters = sum(1 for i in keep if s[i].isalpha())
    if letters < 2 or letters <= len(keep) - letters:
        return None
    return "".join(s[i] for i in keep), [base + i for i in keep]


# Stage 4: leetspeak inside tokens that also contain letters. Lookbehind: a token is only tried from its start.
_TOKEN = re.compile(r"(?<![\w@$!])(?=[\w@$!]*[^\W\d_])[\w@$!]*[0134578@$!][\w@$!]*")
_NUMBER_LIKE = re.compile(r"\$?\d+[a-z]{0,3}|[a-z]+\d{2,}")  # "$5k", "1st", "100mg", "covid19", "win10"


def _undo_leet(m: re.Match[str]) -> tuple[str, list[int]] | None:
    tok = m.group()
    core = tok.rstrip("!")  # "stupid!" is emphasis, not "stupidi"
    if not any(c.isalpha() for c in core) or _NUMBER_LIKE.fullmatch(core):
        return None
    new = "".join(LEET.get(c, c) for c in core) + tok[len(core) :]
    if new == tok:
        return None
    return new, list(range(m.start(), m.end()))


# Stage 5: a letter repeated three or more times becomes one ("stuuupid"); doubles ("kill", "good") are kept.
# Lexicon terms tolerate a lost double letter ("killll" -> "kil"), see keywords.py.
_REPEAT = re.compile(r"([^\W\d_])\1{2,}")


def _collapse_repeat(m: re.Match[str]) -> tuple[str, list[int]]:
    return m.group(1), [m.start()]


def normalize(text: str) -> NormalizedText:
    """Canonical, evasion-free form of ``text`` with per-character offsets into the original."""
    if not text:
        return NormalizedText(original=text, normalized="", offsets=())
    out, offsets = _map_chars(text)
    out, offsets = _rewrite(out, offsets, _MIXED, _fold_mixed)
    out, offsets = _rewrite(out, offsets, _SPACED, _collapse_spaced)
    out, offsets = _rewrite(out, offsets, _TOKEN, _undo_leet)
    out, offsets = _rewrite(out, offsets, _REPEAT, _collapse_repeat)
    return NormalizedText(original=text, normalized=out, offsets=tuple(offsets))
