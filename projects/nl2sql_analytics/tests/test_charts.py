"""Chart choice: one test per rule, plus the rendered Vega-Lite."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import pytest

from projects.nl2sql_analytics.charts import auto_chart, choose_chart, profile, render


def test_profile_treats_ids_as_labels_and_named_years_as_time() -> None:
    df = pd.DataFrame({"customer_id": [1, 2], "year": [2024, 2025], "revenue": [1.0, 2.0], "region": ["a", "b"]})
    roles = profile(df)
    assert roles.temporal == ["year"] and roles.measures == ["revenue"]
    assert roles.categories == ["customer_id", "region"]


@pytest.mark.parametrize(
    "time_col",
    [
        pd.date_range("2024-01-01", periods=6, freq="MS"),  # datetime64
        [f"2024-{m:02d}" for m in range(1, 7)],  # year-month text (SQLite strftime)
        [dt.date(2024, m, 1) for m in range(1, 7)],  # date objects (PostgreSQL DATE)
        [f"2024-{m:02d}-15 10:00:00" for m in range(1, 7)],  # timestamp text
    ],
)
def test_time_series_is_a_line(time_col) -> None:
    df = pd.DataFrame({"period": time_col, "revenue": [5.0, 6, 7, 6, 8, 9]})
    result = auto_chart(df, "monthly revenue")
    assert result.spec.kind == "line" and result.spec.x == "period" and result.spec.y == ["revenue"]
    assert result.vega_lite["mark"]["type"] == "line"
    assert result.vega_lite["encoding"]["x"]["type"] == "temporal"
    assert result.vega_lite["encoding"]["x"]["title"] == "period"


def test_year_numbers_line_is_ordinal_and_one_small_category_becomes_the_colour() -> None:
    df = pd.DataFrame({"year": [2022, 2022, 2023, 2023], "segment": ["A", "B", "A", "B"], "orders": [1, 2, 3, 4]})
    result = auto_chart(df)
    assert result.spec.kind == "line" and result.spec.color == "segment"
    assert result.vega_lite["encoding"]["x"]["type"] == "ordinal"
    assert result.vega_lite["encoding"]["color"]["title"] == "segment"


def test_several_measures_over_time_are_folded_into_one_line_each() -> None:
    df = pd.DataFrame({"month": ["2024-01", "2024-02"], "revenue": [1.0, 2.0], "orders": [3, 4]})
    result = auto_chart(df)
    assert result.spec.kind == "line" and result.spec.y == ["revenue", "orders"]
    data = next(iter(result.vega_lite["datasets"].values()))
    assert {row["measure"] for row in data} == {"revenue", "orders"} and len(data) == 4


def test_category_versus_measure_is_a_bar_sorted_by_value() -> None:
    df = pd.DataFrame({"category": ["Books", "Toys", "Electronics"], "revenue": [10.0, 30.0, 50.0]})
    result = auto_chart(df, "revenue by category")
    assert result.spec.kind == "bar"
    assert result.vega_lite["mark"]["type"] == "bar" and result.vega_lite["encoding"]["x"]["sort"] == "-y"


@pytest.mark.parametrize(
    ("question", "values", "kind"),
    [
        ("what share of revenue comes from each region?", [10.0, 30.0, 50.0], "pie"),
        ("percentage of orders by payment method", [10.0, 30.0, 50.0], "pie"),
        ("revenue by region", [20.0, 30.0, 50.0], "pie"),  # sums to 100: parts of a whole
        ("revenue by region", [0.2, 0.3, 0.5], "pie"),  # sums to 1
        ("revenue by region", [10.0, 30.0, 50.0], "bar"),
        ("share of revenue by region", [10.0, -30.0, 50.0], "bar"),  # negative slices cannot be a pie
    ],
)
def test_share_is_a_pie_only_when_it_is_parts_of_a_whole(question, values, kind) -> None:
    df = pd.DataFrame({"region": ["North", "South", "West"], "revenue": values})
    assert choose_chart(df, question).kind == kind


def test_share_with_too_many_slices_is_a_bar() -> None:
    df = pd.DataFrame({"city": [f"c{i}" for i in range(12)], "pct": [100 / 12] * 12})
    assert choose_chart(df, "share by city", pie_max_slices=8, bar_max_categories=50).kind == "bar"
    df = pd.DataFrame({"city": [f"c{i}" for i in range(60)], "orders": range(60)})
    assert choose_chart(df, pie_max_slices=8, bar_max_categories=50).kind == "table"


def test_pie_vega_lite_uses_theta_and_escapes_odd_column_names() -> None:
    df = pd.DataFrame({"p.method": ["card", "paypal"], "SUM(p.amount)": [60.0, 40.0]})
    result = auto_chart(df, "distribution of payments")
    assert result.spec.kind == "pie"
    enc = result.vega_lite["encoding"]
    assert enc["theta"]["title"] == "SUM(p.amount)" and "." not in enc["theta"]["field"]
    assert enc["color"]["title"] == "p.method"


def test_two_measures_are_a_scatter_with_labels_in_the_tooltip() -> None:
    df = pd.DataFrame({"customer": ["a", "b", "c"], "orders": [1, 5, 9], "revenue": [10.0, 40.0, 95.0]})
    result = auto_chart(df)
    assert result.spec.kind == "scatter" and result.spec.x == "orders" and result.spec.y == ["revenue"]
    assert result.vega_lite["mark"]["type"] == "point"
    assert [t["title"] for t in result.vega_lite["encoding"]["tooltip"]] == ["customer", "orders", "revenue"]


@pytest.mark.parametrize(
    "df",
    [pd.DataFrame({"revenue": [1234.5]}), pd.DataFrame({"orders": [10], "revenue": [99.0]})],
)
def test_a_single_row_of_numbers_is_a_kpi_without_chart(df) -> None:
    result = auto_chart(df)
    assert result.spec.kind == "kpi" and result.chart is None and result.vega_lite is None


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"revenue": []}),
        pd.DataFrame({"name": ["a", "b"], "email": ["x", "y"]}),  # no measure
        pd.DataFrame({"name": ["a"], "a": [1], "b": [2], "c": [3]}),  # three measures and a label
    ],
)
def test_other_shapes_are_a_table_only(df) -> None:
    result = auto_chart(df)
    assert result.spec.kind == "table" and result.vega_lite is None


def test_render_caps_the_embedded_rows() -> None:
    df = pd.DataFrame({"day": pd.date_range("2020-01-01", periods=300, freq="D"), "orders": range(300)})
    chart = render(df, choose_chart(df), max_points=100)
    assert isinstance(chart, alt.Chart)
    assert len(next(iter(chart.to_dict()["datasets"].values()))) == 100
