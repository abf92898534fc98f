"""Insights: facts computed from hand-made frames, number verification, LLM phrasing with a safe fallback."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from projects.nl2sql_analytics.insights import (
    Fact,
    compute_facts,
    phrase_insight,
    template_insight,
    verify_numbers,
)
from shared.serving.base import ChatModel, ServingError
from shared.serving.types import ChatRequest, ChatResult, StreamChunk


class ScriptedChat(ChatModel):
    """Answers with a fixed text (or raises) and records the requests."""

    backend = "test"
    model = "scripted"

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.calls: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResult:
        self.calls.append(request)
        if isinstance(self.reply, Exception):
            raise self.reply
        return ChatResult(text=self.reply, model=self.model, backend=self.backend)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        raise NotImplementedError


REGIONS = pd.DataFrame(
    {
        "region": ["North America", "Western Europe", "Asia Pacific", "Latin America", "Northern Europe"],
        "revenue": [2_600_000.5, 1_900_000.25, 1_300_000.0, 900_000.0, 700_000.0],
    }
)
MONTHLY = pd.DataFrame(
    {
        "month": pd.date_range("2024-01-01", periods=12, freq="MS"),
        "orders": [100, 110, 105, 120, 130, 125, 140, 150, 145, 160, 400, 210],
    }
)


def by_key(facts: list[Fact]) -> dict[str, Fact]:
    return {f.key: f for f in facts}


def test_category_facts_total_mean_top_k_and_shares() -> None:
    f = by_key(compute_facts(REGIONS, top_k=3, outlier_z=3.5))
    assert f["row_count"].value == 5
    assert f["total:revenue"].value == pytest.approx(7_400_000.75) and f["total:revenue"].formatted == "7,400,000.75"
    assert f["mean:revenue"].value == pytest.approx(1_480_000.15)
    assert [f[f"top:{i}:region"].subject for i in (1, 2, 3)] == ["North America", "Western Europe", "Asia Pacific"]
    assert "top:4:region" not in f
    assert f["share:1:region"].formatted == "35.1%" and f["share:1:region"].value == 35.1
    assert f["distinct:region"].value == 5


def test_repeated_categories_are_summed_before_ranking() -> None:
    df = pd.DataFrame({"segment": ["A", "B", "A", "C"], "units": [5, 8, 4, 1]})
    f = by_key(compute_facts(df, top_k=2, outlier_z=3.5))
    assert (f["top:1:segment"].subject, f["top:1:segment"].value) == ("A", 9)
    assert f["share:1:segment"].formatted == "50.0%"


def test_time_series_trend_peak_and_outlier() -> None:
    f = by_key(compute_facts(MONTHLY, top_k=3, outlier_z=3.5))
    assert (f["first:orders"].subject, f["first:orders"].value) == ("2024-01", 100)
    assert (f["last:orders"].subject, f["last:orders"].value) == ("2024-12", 210)
    assert f["change:orders"].formatted == "+110.0%"
    assert f["peak:orders"].subject == "2024-11"
    outliers = [x for x in f.values() if x.kind == "outlier"]
    assert [(o.subject, o.value) for o in outliers] == [("2024-11", 400)]


def test_unsorted_time_series_is_ordered_by_time_and_decline_is_negative() -> None:
    df = pd.DataFrame({"year": [2025, 2023, 2024], "revenue": [50.0, 200.0, 100.0]})
    f = by_key(compute_facts(df, top_k=3, outlier_z=3.5))
    assert f["first:revenue"].subject == "2023" and f["last:revenue"].subject == "2025"
    assert f["change:revenue"].formatted == "-75.0%"


def test_rates_get_no_total_and_single_values_are_reported_as_is() -> None:
    df = pd.DataFrame({"method": ["card", "paypal"], "refund_rate": [0.04, 0.06]})
    assert "total:refund_rate" not in by_key(compute_facts(df, top_k=3, outlier_z=3.5))
    repeated = pd.DataFrame({"method": ["card", "card", "paypal"], "refund_rate": [0.02, 0.04, 0.05]})
    f = by_key(compute_facts(repeated, top_k=3, outlier_z=3.5))
    assert f["top:2:method"].value == pytest.approx(0.03) and "share:1:method" not in f  # averaged, no shares
    f = by_key(compute_facts(pd.DataFrame({"revenue": [1234.5], "orders": [10]}), top_k=3, outlier_z=3.5))
    assert f["value:revenue"].formatted == "1,234.50" and f["value:orders"].formatted == "10"


def test_outliers_by_iqr_when_most_values_are_equal() -> None:
    df = pd.DataFrame({"store": list("abcdefgh"), "returns": [3, 3, 3, 3, 3, 3, 4, 40]})
    outliers = [x for x in compute_facts(df, top_k=3, outlier_z=3.5) if x.kind == "outlier"]
    assert outliers[0].subject == "h"
    assert all(o.subject != "a" for o in outliers)


def test_no_outliers_in_smooth_data_and_empty_frames_have_only_a_count() -> None:
    df = pd.DataFrame({"x": list("abcdef"), "v": [10, 11, 12, 13, 14, 15]})
    assert not [x for x in compute_facts(df, top_k=3, outlier_z=3.5) if x.kind == "outlier"]
    assert [f.key for f in compute_facts(REGIONS.iloc[0:0], top_k=3, outlier_z=3.5)] == ["row_count"]


@pytest.mark.parametrize(
    "text",
    [
        "North America leads with 2,600,000.50, i.e. 35.1% of the total.",
        "Revenue totals about 7.4 million; North America brings $2.6M.",
        "North America contributes 35% and Western Europe 1.9m.",
        "The average region made 1,480,000.15 across 5 regions.",
        "North America's share is 0.351 of the total.",
    ],
)
def test_verify_accepts_fact_numbers_in_any_reasonable_format(text) -> None:
    check = verify_numbers(text, compute_facts(REGIONS, top_k=3, outlier_z=3.5))
    assert check.ok, check.unverified


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("North America leads with 2,700,000.", "2,700,000"),
        ("Revenue grew 12% year on year.", "12%"),
        ("North America contributes 35.4% of the total.", "35.4%"),
        ("Revenue totals 7.5 million.", "7.5 million"),
        ("Orders peaked in 2023-11.", "2023-11"),
    ],
)
def test_verify_catches_invented_numbers(text, bad) -> None:
    facts = compute_facts(REGIONS, top_k=3, outlier_z=3.5) + compute_facts(MONTHLY, top_k=3, outlier_z=3.5)
    check = verify_numbers(text, facts)
    assert not check.ok and check.unverified == [bad]


def test_verify_accepts_dates_and_years_of_fact_periods() -> None:
    facts = compute_facts(MONTHLY, top_k=3, outlier_z=3.5)
    assert verify_numbers("Orders rose from 100 in 2024-01 to 210 in 2024-12 (+110.0%), peaking in 2024.", facts).ok


def test_template_only_uses_fact_numbers() -> None:
    for df in (REGIONS, MONTHLY, pd.DataFrame({"revenue": [1234.5]})):
        facts = compute_facts(df, top_k=3, outlier_z=3.5)
        text = template_insight(facts)
        assert verify_numbers(text, facts).ok, text
        assert 1 <= text.count(". ") + 1 <= 3


def test_phrase_insight_keeps_verified_llm_text() -> None:
    facts = compute_facts(REGIONS, top_k=3, outlier_z=3.5)
    chat = ScriptedChat("North America leads with 2,600,000.50 (35.1% of total revenue).")
    insight = phrase_insight(facts, "Which region sells most?", chat, max_tokens=64)
    assert insight.source == "llm" and insight.text.startswith("North America leads")
    prompt = chat.calls[0].messages[0].content
    assert "2,600,000.50" in prompt and "Which region sells most?" in prompt
    assert chat.calls[0].temperature == 0.0


def test_phrase_insight_falls_back_when_the_llm_invents_a_number() -> None:
    facts = compute_facts(REGIONS, top_k=3, outlier_z=3.5)
    chat = ScriptedChat("North America leads with 2.6M, up 23% on last year.")
    insight = phrase_insight(facts, "Which region sells most?", chat, max_tokens=64)
    assert insight.source == "template" and insight.unverified == ["23%"]
    assert insight.text == template_insight(facts) and "23%" not in insight.text
    assert insight.llm_text and "23%" in insight.llm_text


def test_phrase_insight_allows_numbers_from_the_question_and_survives_backend_errors() -> None:
    facts = compute_facts(REGIONS, top_k=3, outlier_z=3.5)
    ok = phrase_insight(
        facts, "top 4 regions", ScriptedChat("Of the top 4 regions, North America leads."), max_tokens=64
    )
    assert ok.source == "llm"
    down = phrase_insight(facts, "top regions", ScriptedChat(ServingError("backend down")), max_tokens=64)
    assert down.source == "template" and down.text == template_insight(facts)
    empty = phrase_insight(facts, "top regions", ScriptedChat("   "), max_tokens=64)
    assert empty.source == "template"


def test_phrase_insight_with_the_real_local_model() -> None:
    """The default shared chat model phrases real facts; whatever it writes, no unverified number is shown."""
    facts = compute_facts(REGIONS, top_k=3, outlier_z=3.5)
    insight = phrase_insight(facts, "Which regions bring the most revenue?", max_tokens=80)
    assert insight.text.strip()
    assert verify_numbers(insight.text, facts, extra_allowed=[]).ok
    assert insight.source in ("llm", "template")
    assert insight.llm_text is not None  # the model was really asked
    if insight.source == "template":
        assert insight.unverified or not insight.llm_text.strip()
        assert insight.text == template_insight(facts)
    else:
        assert insight.text == insight.llm_text
