"""Tier 0: the keyword/regex detector (also the evaluation's "keyword-list-only" baseline).

One compiled regex per category over the *normalised* text: the category's regex entries, then all its plain
terms as one trie-shaped alternation (shared prefixes are tested once, so hundreds of terms cost about as much
as a handful). A 1 MB text is one linear scan per category. Evidence spans are mapped back to the original text.

Score per category: the strongest hit's weight, plus a small boost for further *distinct* hits (several weak
insults together are likelier abuse than one), capped at 1. Categories without a hit get no signal (= 0).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from shared.moderation.lexicon import LEXICON, Entry
from shared.moderation.normalize import normalize
from shared.moderation.signals import Evidence, NormalizedText, Signal

BOOST_PER_EXTRA_HIT = 0.05
MAX_BOOST = 0.15
MAX_EVIDENCE = 10  # per category and text: a 1 MB spam dump needs a few spans, not thousands

_SEP = r"[\s\-_]+"  # a space in a term matches spaces, hyphens, underscores
_RUNS = re.compile(r"([^\W\d_])\1+")
_SEPS = re.compile(_SEP)


def _key(s: str) -> str:
    """Spelling-insensitive key: separators -> one space, doubled letters -> one ("kill" and "kil" share it)."""
    return _RUNS.sub(r"\1", _SEPS.sub(" ", s))


def _trie_pattern(words: list[str]) -> str:
    """One regex for many literal words, shaped like their prefix trie.

    A letter that repeats its predecessor is optional, because the normaliser turns "killll" into "kil"; such
    single-for-double matches are accepted only where the original really had a run (see ``_accept``).
    """
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict, parent: str) -> str:
        alts = []
        for ch in sorted(k for k in node if k):
            piece = _SEP if ch == " " else re.escape(ch) + ("?" if ch == parent and ch.isalpha() else "")
            alts.append(piece + emit(node[ch], ch))
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie, "")


@dataclass(frozen=True)
class _Category:
    name: str
    pattern: re.Pattern[str]
    regexes: tuple[Entry, ...]  # group r{i} -> regexes[i]
    by_key: dict[str, tuple[str, float]]  # _key(term variant) -> (term, weight)
    exact: frozenset[str]  # term variants as written


def _compile(name: str, entries: tuple[Entry, ...]) -> _Category:
    regexes = tuple(e for e in entries if e.regex)
    by_key: dict[str, tuple[str, float]] = {}
    exact: set[str] = set()
    for e in entries:
        if e.regex:
            continue
        variants = [e.pattern] + ([e.pattern + "s"] if e.pattern[-1].isalpha() else [])
        for v in variants:
            exact.add(v)
            k = _key(v)
            if k not in by_key or by_key[k][1] < e.weight:
                by_key[k] = (e.pattern, e.weight)
    # Word-bounded alternatives share one lookbehind: the engine then tries them only at word starts, which
    # makes the scan ~2.5x faster than a boundary per alternative.
    bounded = [f"(?P<r{i}>{e.pattern})" for i, e in enumerate(regexes) if e.bounded]
    if exact:
        bounded.append(f"(?P<t>{_trie_pattern(sorted(exact))})")
    parts = [rf"(?<!\w)(?:{'|'.join(bounded)})(?!\w)"] if bounded else []
    parts += [f"(?P<r{i}>{e.pattern})" for i, e in enumerate(regexes) if not e.bounded]
    return _Category(name, re.compile("|".join(parts)), regexes, by_key, frozenset(exact))


@dataclass(frozen=True)
class _Hit:
    label: str  # the term, or the regex's label
    weight: float
    start: int  # normalised span
    end: int
    why: str


class KeywordDetector:
    """Tier-0 detector: curated terms and patterns per category, matched on normalised text."""

    name = "keywords"
    tier = 0

    def __init__(self, lexicon: dict[str, tuple[Entry, ...]] | None = None) -> None:
        self._categories = [_compile(cat, entries) for cat, entries in (lexicon or LEXICON).items()]

    def detect(self, texts: list[NormalizedText]) -> list[list[Signal]]:
        return [self.detect_one(t) for t in texts]

    def scan(self, text: str) -> list[Signal]:
        """Convenience: normalise and detect one raw string."""
        return self.detect_one(normalize(text))

    def detect_one(self, nt: NormalizedText) -> list[Signal]:
        signals = []
        for cat in self._categories:
            hits = self._hits(cat, nt)
            if cat.name == "spam":
                hits += _repetition_hits(nt)
            if hits:
                signals.append(self._signal(cat.name, hits, nt))
        return signals

    def _hits(self, cat: _Category, nt: NormalizedText) -> list[_Hit]:
        hits = []
        for m in cat.pattern.finditer(nt.normalized):
            group = m.lastgroup
            if group == "t":
                hit = self._term_hit(cat, nt, m)
            else:
                entry = cat.regexes[int(group[1:])]
                shown = m.group()[:80]
                why = f"keyword '{shown}' ({entry.label})" if entry.label else f"keyword '{shown}'"
                hit = _Hit(entry.label or shown, entry.weight, m.start(), m.end(), why)
            if hit is not None:
                hits.append(hit)
        return hits

    @staticmethod
    def _term_hit(cat: _Category, nt: NormalizedText, m: re.Match[str]) -> _Hit | None:
        text = m.group()
        if text in cat.exact:  # the common case: spelled as listed
            term, weight = cat.by_key[_key(text)]
            return _Hit(term, weight, m.start(), m.end(), f"keyword '{term}'")
        text = _SEPS.sub(" ", text)
        found = cat.by_key.get(_key(text))
        if found is None:
            return None
        term, weight = found
        if text not in cat.exact:
            # "kil" only stands for "kill" if the original had a run the normaliser collapsed ("killll").
            s, e = nt.to_original(m.start(), m.end())
            if e - s <= m.end() - m.start():
                return None
        return _Hit(term, weight, m.start(), m.end(), f"keyword '{term}'")

    @staticmethod
    def _signal(category: str, hits: list[_Hit], nt: NormalizedText) -> Signal:
        best = max(h.weight for h in hits)
        distinct = len({h.label for h in hits})
        score = min(1.0, best + min(MAX_BOOST, BOOST_PER_EXTRA_HIT * (distinct - 1)))
        strongest_first = sorted(hits, key=lambda h: (-h.weight, h.start))[:MAX_EVIDENCE]
        evidence = []
        for h in sorted(strongest_first, key=lambda h: h.start):
            s, e = nt.to_original(h.start, h.end)
            evidence.append(Evidence(start=s, end=e, text=nt.original[s:e], why=h.why))
        return Signal(category=category, score=round(score, 4), detector=KeywordDetector.name, evidence=tuple(evidence))


# "Repeated promos": the same link, or one short phrase, over and over. Checked on the first 20k characters only.
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+")
_WORD = re.compile(r"\w+")
REPEAT_WINDOW = 20_000


def _repetition_hits(nt: NormalizedText) -> list[_Hit]:
    head = nt.normalized[:REPEAT_WINDOW]
    hits = []
    urls = Counter(m.group() for m in _URL.finditer(head))
    for url, n in urls.items():
        if n >= 3:
            m = _URL.search(head)
            while m and m.group() != url:
                m = _URL.search(head, m.end())
            if m:
                hits.append(
                    _Hit("repeated link", 0.7, m.start(), m.end(), f"keyword '{url[:80]}' (repeated link x{n})")
                )
    words = list(_WORD.finditer(head))
    if len(words) >= 9:
        grams = Counter(tuple(w.group() for w in words[i : i + 3]) for i in range(len(words) - 2))
        gram, n = grams.most_common(1)[0]
        if n >= 3 and 3 * n >= 0.5 * len(words) and len(set(gram)) > 1:  # the phrase is half the text
            i = next(i for i in range(len(words) - 2) if tuple(w.group() for w in words[i : i + 3]) == gram)
            phrase = " ".join(gram)
            hits.append(_Hit("repeated promo", 0.6, words[i].start(), words[i + 2].end(),
                             f"keyword '{phrase}' (repeated x{n})"))  # fmt: skip
    return hits


@cache
def keyword_detector() -> KeywordDetector:
    """The process-wide detector on the packaged lexicon (compiling the patterns takes a few milliseconds)."""
    return KeywordDetector()
