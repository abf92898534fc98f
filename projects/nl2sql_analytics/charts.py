"""Pick a chart for a query result and render it with Altair (Vega-Lite).

Why rules and not the LLM: the shape of a result decides the honest chart (a time axis wants a line, a
handful of parts of a whole wants a pie), the rules are instant and testable, and a small model asked to
"choose a chart" is wrong often enough to be a liability. Rules, in order:

1. empty result → table;  one row of one to four numbers and no labels → KPI (no chart);
2. a time column (date/datetime, ``YYYY-MM[-DD]`` text, or an integer column named year/month/...) and a
   measure → line (one line per measure, or per category when one small category column is present);
3. a category and one measure → pie when it is a share (the question asks for share/percentage/
   distribution, or the values sum to ~100 % / ~1) with few non-negative slices; otherwise bar (stacked by a
   second small category); too many categories → table;
4. two measures → scatter (labels in the tooltip);
5. anything else → table only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import altair as alt
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, Field

ChartKind = Literal["line", "bar", "pie", "scatter", "kpi", "table"]

_DATE_TEXT = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_QUARTER_TEXT = re.compile(r"^\d{4}[- ]?Q[1-4]$", re.IGNORECASE)
_TIME_NAME = re.compile(r"(^|_)(year|yr|month|quarter|qtr|week|day|date|period|yyyymm)($|_)", re.IGNORECASE)
_ID_NAME = re.compile(r"(^id$|_id$|^id_)", re.IGNORECASE)
_SHARE_WORDS = re.compile(
    r"\b(share|shares|percent|percentage|percentages|proportion|proportions|distribution|breakdown|split|mix|"
    r"composition|fraction|portion|pct)\b|%",
    re.IGNORECASE,
)
_SHARE_NAME = re.compile(r"(share|pct|percent|proportion|fraction)", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnRoles:
    """How each column of a result can be used: time axis, measure (number) or category (label)."""

    temporal: list[str] = field(default_factory=list)
    measures: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


def _is_temporal(name: str, s: pd.Series) -> bool:
    if ptypes.is_datetime64_any_dtype(s):
        return True
    values = s.dropna()
    if values.empty:
        return False
    if ptypes.is_integer_dtype(s) and not ptypes.is_bool_dtype(s):
        return bool(_TIME_NAME.search(str(name)))
    if ptypes.is_object_dtype(s) or ptypes.is_string_dtype(s):
        sample = values.astype(str).head(200)
        if all(_DATE_TEXT.match(v) for v in sample):
            return True
        if all(_QUARTER_TEXT.match(v) for v in sample):
            return True
        if len(sample) and all(hasattr(v, "isoformat") for v in values.head(200)):  # datetime.date objects
            return True
    return False


def profile(df: pd.DataFrame) -> ColumnRoles:
    """Classify columns; identifiers (``*_id``) count as labels, never as measures."""
    roles = ColumnRoles()
    for name in df.columns:
        s = df[name]
        if _is_temporal(str(name), s):
            roles.temporal.append(name)
        elif ptypes.is_numeric_dtype(s) and not ptypes.is_bool_dtype(s) and not _ID_NAME.search(str(name)):
            roles.measures.append(name)
        else:
            roles.categories.append(name)
    return roles


def is_share(df: pd.DataFrame, measure: str, question: str = "") -> bool:
    """Does this category/measure pair describe parts of a whole?"""
    if _SHARE_WORDS.search(question or "") or _SHARE_NAME.search(str(measure)):
        return True
    values = pd.to_numeric(df[measure], errors="coerce").dropna()
    if values.empty or (values < 0).any():
        return False
    total = float(values.sum())
    return abs(total - 100) <= 0.5 or abs(total - 1) <= 0.005


class ChartSpec(BaseModel):
    """The chosen chart: what goes on which channel, and the rule that chose it (shown to users)."""

    kind: ChartKind
    x: str | None = None
    y: list[str] = Field(default_factory=list)
    color: str | None = None
    tooltip: list[str] = Field(default_factory=list)
    reason: str


def choose_chart(
    df: pd.DataFrame,
    question: str = "",
    *,
    pie_max_slices: int | None = None,
    bar_max_categories: int | None = None,
) -> ChartSpec:
    """Apply the rules in the module docstring to ``df`` (and the question, for share intent)."""
    if pie_max_slices is None or bar_max_categories is None:
        from projects.nl2sql_analytics.settings import get_nl2sql_settings

        s = get_nl2sql_settings()
        pie_max_slices = pie_max_slices or s.pie_max_slices
        bar_max_categories = bar_max_categories or s.bar_max_categories
    roles = profile(df)
    cols = [str(c) for c in df.columns]
    if df.empty or not cols:
        return ChartSpec(kind="table", reason="empty result")
    if len(df) == 1 and roles.measures and not roles.categories and not roles.temporal and len(roles.measures) <= 4:
        return ChartSpec(kind="kpi", y=roles.measures, reason="a single row of numbers")
    small_cats = [c for c in roles.categories if df[c].nunique(dropna=False) <= 10]

    if roles.temporal and roles.measures and df[roles.temporal[0]].nunique() >= 2:
        x = roles.temporal[0]
        color = small_cats[0] if len(roles.measures) == 1 and small_cats else None
        return ChartSpec(
            kind="line",
            x=x,
            y=roles.measures,
            color=color,
            tooltip=cols,
            reason=f"time column {x!r} with measure(s) {roles.measures}",
        )
    if len(roles.measures) == 1 and roles.categories:
        x, y = roles.categories[0], roles.measures[0]
        n = df[x].nunique(dropna=False)
        duplicated = df[x].duplicated().any()
        if not duplicated and n <= pie_max_slices and is_share(df, y, question) and (df[y].dropna() >= 0).all():
            return ChartSpec(kind="pie", x=x, y=[y], tooltip=cols, reason=f"share of {y!r} across {n} {x!r} values")
        if n <= bar_max_categories:
            color = next((c for c in small_cats if c != x), None) if len(roles.categories) > 1 else None
            return ChartSpec(kind="bar", x=x, y=[y], color=color, tooltip=cols, reason=f"{y!r} by category {x!r}")
        return ChartSpec(kind="table", reason=f"{n} categories are too many to chart")
    if len(roles.measures) == 2:
        x, y = roles.measures
        return ChartSpec(kind="scatter", x=x, y=[y], tooltip=cols, reason=f"two measures {x!r} and {y!r}")
    return ChartSpec(kind="table", reason="no chart rule matches this shape")


# -- rendering --------------------------------------------------------------------------------------------
def _temporal_type(s: pd.Series) -> tuple[pd.Series, str]:
    """Convert a time column for Vega-Lite: real dates → temporal; year numbers and quarters → ordinal."""
    if ptypes.is_datetime64_any_dtype(s):
        return s, "temporal"
    if ptypes.is_integer_dtype(s):
        return s.astype(str), "ordinal"
    text = s.astype(str)
    if text.str.match(_DATE_TEXT).all():
        return pd.to_datetime(text, errors="coerce"), "temporal"
    if all(hasattr(v, "isoformat") for v in s.dropna()):
        return pd.to_datetime(s, errors="coerce"), "temporal"
    return text, "ordinal"


def render(df: pd.DataFrame, spec: ChartSpec, *, max_points: int | None = None) -> alt.Chart | None:
    """An Altair chart for ``spec`` (None for KPI and table).

    Columns are renamed to safe field names (``f0``, ``f1``...) with the original names as titles, because
    result columns such as ``SUM(o.amount)`` contain characters Vega-Lite field names treat as syntax.
    """
    if spec.kind in ("kpi", "table"):
        return None
    if max_points is None:
        from projects.nl2sql_analytics.settings import get_nl2sql_settings

        max_points = get_nl2sql_settings().chart_max_points
    names = {c: f"f{i}" for i, c in enumerate(df.columns)}
    data = df.head(max_points).rename(columns=names).copy()
    tooltip = [alt.Tooltip(names[c], title=str(c)) for c in spec.tooltip if c in names]

    def q(col: str) -> dict[str, Any]:
        return {"field": names[col], "type": "quantitative", "title": str(col)}

    def n(col: str) -> dict[str, Any]:
        return {"field": names[col], "type": "nominal", "title": str(col)}

    if spec.kind == "line":
        assert spec.x is not None
        data[names[spec.x]], xtype = _temporal_type(data[names[spec.x]])
        data = data.sort_values(names[spec.x])
        x = alt.X(field=names[spec.x], type=xtype, title=str(spec.x))
        if len(spec.y) > 1:  # one line per measure: long format, measure names as the legend
            long = data.melt(id_vars=[names[spec.x]], value_vars=[names[c] for c in spec.y], var_name="measure")
            long["measure"] = long["measure"].map({names[c]: str(c) for c in spec.y})
            chart = (
                alt.Chart(long)
                .mark_line(point=True)
                .encode(x=x, y=alt.Y("value:Q", title="value"), color=alt.Color("measure:N", title="measure"))
            )
        else:
            enc: dict[str, Any] = {"x": x, "y": alt.Y(**q(spec.y[0])), "tooltip": tooltip}
            if spec.color:
                enc["color"] = alt.Color(**n(spec.color))
            chart = alt.Chart(data).mark_line(point=True).encode(**enc)
    elif spec.kind == "bar":
        assert spec.x is not None
        enc = {
            "x": alt.X(**n(spec.x), sort="-y" if not spec.color else None),
            "y": alt.Y(**q(spec.y[0])),
            "tooltip": tooltip,
        }
        if spec.color:
            enc["color"] = alt.Color(**n(spec.color))
        chart = alt.Chart(data).mark_bar().encode(**enc)
    elif spec.kind == "pie":
        assert spec.x is not None
        chart = (
            alt.Chart(data)
            .mark_arc()
            .encode(theta=alt.Theta(**q(spec.y[0])), color=alt.Color(**n(spec.x)), tooltip=tooltip)
        )
    else:  # scatter
        assert spec.x is not None
        chart = alt.Chart(data).mark_point().encode(x=alt.X(**q(spec.x)), y=alt.Y(**q(spec.y[0])), tooltip=tooltip)
    return chart.properties(width="container")


class ChartResult(BaseModel):
    spec: ChartSpec
    vega_lite: dict[str, Any] | None = None

    model_config = {"arbitrary_types_allowed": True}
    chart: Any = Field(default=None, exclude=True, description="the altair.Chart (None for KPI/table)")


def auto_chart(df: pd.DataFrame, question: str = "") -> ChartResult:
    """Choose and render in one call: the spec, the Altair chart and its Vega-Lite JSON (for the API/UI)."""
    spec = choose_chart(df, question)
    chart = render(df, spec)
    return ChartResult(spec=spec, chart=chart, vega_lite=chart.to_dict() if chart is not None else None)
