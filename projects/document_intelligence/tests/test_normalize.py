"""Normalisers: the same functions decide extraction values and eval correctness, so their edge cases are pinned."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projects.document_intelligence.normalize import (
    find_amounts,
    find_dates,
    format_amount,
    normalize_amount,
    normalize_date,
    normalize_id,
    normalize_text,
    normalize_value,
    text_key,
    values_equal,
)


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("25/12/2018", "2018-12-25"),
        ("25-12-18", "2018-12-25"),
        ("2018-12-25", "2018-12-25"),
        ("25 Dec 2018", "2018-12-25"),
        ("Dec 25, 2018", "2018-12-25"),
        ("December 25th, 2018", "2018-12-25"),
        ("12.01.2019", "2019-01-12"),
        ("01-NOV-2017", "2017-11-01"),
        ("05 MAR 2018", "2018-03-05"),
        ("6/4/2018", "2018-04-06"),
        ("12/28/2017", "2017-12-28"),  # impossible day-first: read month-first
        ("DATE: 25/12/2018 8:13:39 PM", "2018-12-25"),
        ("20180125", "2018-01-25"),
    ],
)
def test_dates_to_iso(raw: str, iso: str) -> None:
    assert normalize_date(raw) == iso


def test_dates_reject_impossible_and_respect_month_first() -> None:
    assert normalize_date("31/02/2018") is None
    assert normalize_date("45/13/2018") is None
    assert normalize_date("no date here") is None
    assert normalize_date(None) is None
    assert normalize_date("01/02/2024") == "2024-02-01"
    assert normalize_date("01/02/2024", day_first=False) == "2024-01-02"


def test_find_dates_positions() -> None:
    text = "Issued 2024-03-01, due 31 Mar 2024"
    hits = find_dates(text)
    assert [h[2] for h in hits] == ["2024-03-01", "2024-03-31"]
    assert text[hits[1][0] : hits[1][1]] == "31 Mar 2024"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("RM 9.00", "9.00"),
        ("RM20.40", "20.40"),
        ("$8.20", "8.20"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("9.00 SR", "9.00"),
        ("5.59-", "-5.59"),
        ("-RM 0.02", "-0.02"),
        ("(5.59)", "-5.59"),
        ("9.000", "9.00"),
        ("1,234", "1234.00"),
        ("12,50", "12.50"),
        ("EUR 1.234.567", "1234567.00"),
        ("0.125", "0.125"),
    ],
)
def test_amounts(raw: str, value: str) -> None:
    assert format_amount(normalize_amount(raw)) == value


def test_amounts_reject_non_numbers() -> None:
    assert normalize_amount("abc") is None
    assert normalize_amount("") is None
    assert normalize_amount("1.2.3") is None


def test_find_amounts_flags_integers() -> None:
    hits = find_amounts("TOTAL AMT ..... RM 60.31  QTY 2")
    assert [(h[2], h[3]) for h in hits] == [(Decimal("60.31"), True), (Decimal("2"), False)]


def test_text_id_and_equality() -> None:
    assert normalize_text("  BOOK   TA .K \n SDN BHD ") == "BOOK TA .K SDN BHD"
    assert normalize_id("No. ab 12-3") == "AB12-3"
    assert text_key("27,JALAN  Dedap") == text_key("27, jalan dedap")
    assert values_equal("amount", "RM 9.00", "9")
    assert values_equal("date", "25/12/18", "2018-12-25")
    assert not values_equal("text", "", "")
    assert not values_equal("amount", "9.01", "9.00")
    assert normalize_value("currency", "RM 9.00") == "MYR"
    assert normalize_value("date", "garbage") is None
