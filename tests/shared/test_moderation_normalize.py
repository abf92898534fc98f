"""Normalisation undoes evasion and keeps exact offsets back to the original text."""

from __future__ import annotations

import pytest

from shared.moderation.normalize import LEET, SCRIPT_CONFUSABLES, normalize


def _check_offsets(original: str) -> None:
    """Offsets are in range, never go backwards, and each normalised char comes from its original char."""
    nt = normalize(original)
    assert len(nt.offsets) == len(nt.normalized)
    assert all(0 <= o < len(original) for o in nt.offsets)
    assert list(nt.offsets) == sorted(nt.offsets)
    for ch, o in zip(nt.normalized, nt.offsets, strict=True):
        # the source character, normalised alone, is this character (or its leet / look-alike reading)
        src = normalize(original[o]).normalized
        assert ch in src or ch in (LEET.get(src), SCRIPT_CONFUSABLES.get(src)), (ch, original[o])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("k i l l yourself", "kill yourself"),
        ("f.u.c.k off", "fuck off"),
        ("k-i-l-l", "kill"),
        ("k_i_l_l", "kill"),
        ("k1ll y0urself", "kill yourself"),
        ("sh!t a$$ @ss", "shit ass ass"),
        ("k\u0456ll", "kill"),  # Cyrillic і
        ("id\u043eit", "idoit"),  # Cyrillic о
        ("ki\u200bll", "kill"),  # zero-width space
        ("ki\u00adll", "kill"),  # soft hyphen
        ("k\ufe0fi\u2060ll", "kill"),  # variation selector, word joiner
        ("stuuuupid", "stupid"),
        ("KILL", "kill"),
        ("\uff2b\uff49\uff4c\uff4c", "kill"),  # fullwidth
        ("\U0001d432\U0001d428\U0001d42e", "you"),  # mathematical bold
        ("z\u0334a\u0334l\u0334g\u0334o\u0334", "zalgo"),  # combining decoration
        ("caf\u00e9", "cafe"),
        ("Stra\u00dfe", "strasse"),
        ("don\u2019t", "don't"),
    ],
)
def test_evasions_are_undone(raw: str, expected: str) -> None:
    assert normalize(raw).normalized == expected


@pytest.mark.parametrize(
    "raw",
    [
        "It costs $100 in 2024.",
        "Call 555-0100, room 1337, 3.14159",
        "1st place, 100mg, 5pm, $5k, covid19, win10",
        "I feel good, all cool, keep it",
    ],
)
def test_numbers_prices_and_doubles_survive(raw: str) -> None:
    assert normalize(raw).normalized == raw.lower()


def test_urls_and_addresses_are_not_rewritten() -> None:
    raw = "see www.example.com or mail joe1@site.io, send to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
    assert normalize(raw).normalized == raw.lower()


def test_pure_cyrillic_and_greek_words_are_kept() -> None:
    raw = "Привет мир, кот и собака; Καλημέρα κόσμε"
    out = normalize(raw).normalized
    assert out.startswith("привет мир, кот и собака")
    assert "καλημερα" in out  # accents off, script kept


@pytest.mark.parametrize(
    "raw",
    [
        "k i l l yourself, y0u stuuupid \u200bidi\u043et!!! $100 in 2024",
        "Stra\u00dfe \ufb01ne \u2460 caf\u00e9 \U0001d432\U0001d428\U0001d42e",
        "mixed \u0434\u0430 and \u4e2d\u6587 and \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \U0001f600\u200d\U0001f525",
        "plain ascii text",
    ],
)
def test_offsets_round_trip(raw: str) -> None:
    _check_offsets(raw)


def test_spans_map_back_to_the_obfuscated_original() -> None:
    raw = "well, k1ll   y\u200bo\u200bu\u200brself now"
    nt = normalize(raw)
    i = nt.normalized.index("kill")
    s, e = nt.to_original(i, i + 4)
    assert raw[s:e] == "k1ll"
    j = nt.normalized.index("yourself")
    s, e = nt.to_original(j, j + len("yourself"))
    assert raw[s:e] == "y\u200bo\u200bu\u200brself"


def test_collapsed_run_is_covered_by_original_span() -> None:
    raw = "so stuuuupiddddd."
    nt = normalize(raw)
    i = nt.normalized.index("stupid")
    s, e = nt.to_original(i, i + 6)
    assert raw[s:e] == "stuuuupiddddd"


def test_empty_emoji_and_mixed_script() -> None:
    empty = normalize("")
    assert empty.normalized == "" and empty.offsets == ()
    emoji = normalize("\U0001f600\U0001f525\U0001f44d\U0001f3fd")
    assert emoji.normalized == "\U0001f600\U0001f525\U0001f44d\U0001f3fd"
    assert emoji.offsets == (0, 1, 2, 3)
    ws = normalize("   \n\t ")
    assert ws.normalized == "   \n\t "


def test_one_megabyte_text() -> None:
    unit = "The quick brown fox, k1ll y0urself \u200b stuuupid $100. "
    raw = unit * (1_000_000 // len(unit))
    nt = normalize(raw)
    assert nt.normalized.count("kill yourself") == raw.count("k1ll y0urself")
    assert len(nt.offsets) == len(nt.normalized)
    last = nt.normalized.rindex("stupid")
    s, e = nt.to_original(last, last + 6)
    assert raw[s:e] == "stuuupid"


def test_spacing_collapse_needs_three_letters_and_single_letters_only() -> None:
    assert normalize("a b").normalized == "a b"
    assert normalize("e.g. this").normalized == "e.g. this"
    assert normalize("I am a bit").normalized == "i am a bit"
    assert normalize("1 2 3 go").normalized == "1 2 3 go"
