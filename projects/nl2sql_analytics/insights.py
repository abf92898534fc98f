"""Insights about a query result: facts computed with pandas, phrased by the LLM, numbers checked.

Why this split: a language model summarising a table invents or mis-copies numbers, and a wrong number in a
dashboard is worse than no summary. So every number is computed here (row count, total and mean of the
measure, top categories with their share, first→last trend, outliers), the model only phrases those facts,
and :func:`verify_numbers` rejects any text carrying a number that is not one of them; the fallback is a
template sentence built from the same facts. Users therefore never see a number the data does not support.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, Field

from projects.nl2sql_analytics.charts import profile
from shared.observability.tracing import span
from shared.serving.base import ChatModel, ServingError
from shared.serving.types import ChatMessage, ChatRequest

log = logging.getLogger(__name__)

FactKind = Literal["count", "value", "total", "mean", "top", "share", "first", "last", "change", "peak", "outlier"]
# measures whose sum means nothing (a sum of averages or of rates); their total is not reported
_NON_ADDITIVE = re.compile(r"(avg|average|mean|median|rate|ratio|pct|percent|share|price|margin|score)", re.I)


class Fact(BaseModel):
    """One computed statement. ``key`` is stable across runs (tests and the UI address facts by it)."""

    key: str
    kind: FactKind
    label: str = Field(description="what the number is, in words, e.g. 'total revenue'")
    value: float | int | None = Field(default=None, description="the number, in display units (percent as 12.3)")
    unit: Literal["", "%"] = ""
    formatted: str = Field(description="the number as shown to users, e.g. '1,234.50' or '+12.3%'")
    subject: str | None = Field(default=None, description="the category or period the fact is about")

    def line(self) -> str:
        subject = f" ({self.subject})" if self.subject is not None else ""
        return f"{self.label}{subject}: {self.formatted}"


class Insight(BaseModel):
    text: str
    source: Literal["llm", "template"]
    facts: list[Fact]
    llm_text: str | None = Field(default=None, description="what the model wrote (kept when it was rejected)")
    unverified: list[str] = Field(default_factory=list, description="numbers in the model's text not in the facts")


# -- formatting -------------------------------------------------------------------------------------------
def format_number(value: float | int) -> str:
    """Thousands separators; 2 decimals for ordinary amounts, 4 significant digits below 1."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def format_percent(value: float, *, signed: bool = False) -> str:
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def _period_format(values: pd.Series) -> str:
    """The coarsest format that tells periods apart: monthly data reads '2024-03', not '2024-03-01'."""
    t = pd.to_datetime(values.dropna())
    if t.empty or ((t.dt.hour != 0) | (t.dt.minute != 0) | (t.dt.second != 0)).any():
        return "%Y-%m-%d %H:%M:%S"
    if (t.dt.day == 1).all():
        return "%Y" if (t.dt.month == 1).all() and len(t) > 1 else "%Y-%m"
    return "%Y-%m-%d"


def _subject(v: object, fmt: str = "%Y-%m-%d") -> str:
    if isinstance(v, pd.Timestamp):
        return v.strftime(fmt)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _num(v: object) -> float | int:
    return int(v) if isinstance(v, (int, np.integer)) else float(v)  # type: ignore[arg-type]


# -- facts ------------------------------------------------------------------------------------------------
def compute_facts(
    df: pd.DataFrame,
    *,
    measure: str | None = None,
    category: str | None = None,
    time: str | None = None,
    top_k: int | None = None,
    outlier_z: float | None = None,
) -> list[Fact]:
    """Deterministic facts about ``df``; column roles default to :func:`charts.profile`'s first of each kind."""
    if top_k is None or outlier_z is None:
        from projects.nl2sql_analytics.settings import get_nl2sql_settings

        s = get_nl2sql_settings()
        top_k = top_k or s.insight_top_k
        outlier_z = outlier_z or s.insight_outlier_z
    roles = profile(df)
    measure = measure or (roles.measures[0] if roles.measures else None)
    category = category or (roles.categories[0] if roles.categories else None)
    time = time or (roles.temporal[0] if roles.temporal else None)
    n = len(df)
    facts = [Fact(key="row_count", kind="count", label="rows", value=n, formatted=format_number(n))]
    if n == 0 or measure is None:
        return facts
    if n == 1 and category is None and time is None:  # a KPI: report each number as it is
        for m in roles.measures[:4]:
            v = df[m].iloc[0]
            if pd.notna(v):
                facts.append(
                    Fact(key=f"value:{m}", kind="value", label=str(m), value=_num(v), formatted=format_number(v))
                )
        return facts

    values = pd.to_numeric(df[measure], errors="coerce")
    valid = values.dropna()
    if valid.empty:
        return facts
    additive = not _NON_ADDITIVE.search(str(measure))
    total = float(valid.sum())
    if additive:
        facts.append(
            Fact(
                key=f"total:{measure}",
                kind="total",
                label=f"total {measure}",
                value=total,
                formatted=format_number(total),
            )
        )
    mean = float(valid.mean())
    facts.append(
        Fact(key=f"mean:{measure}", kind="mean", label=f"average {measure}", value=mean, formatted=format_number(mean))
    )

    if time is not None:
        facts += _trend_facts(df, time, measure, additive)
    elif category is not None:
        shares = additive and bool((valid >= 0).all()) and total > 0
        facts += _top_facts(df, category, measure, top_k, shares, total, additive)
    label_col = time or category
    facts += _outlier_facts(df, measure, label_col, outlier_z)
    return facts


def _top_facts(
    df: pd.DataFrame, category: str, measure: str, k: int, shares: bool, total: float, additive: bool = True
) -> list[Fact]:
    """Top-k categories (repeated labels aggregated: summed, or averaged for rates) and their share of the total."""
    grouped = (
        df.groupby(category, dropna=False, sort=False)[measure].agg("sum" if shares or additive else "mean")
        if df[category].duplicated().any()
        else (df.set_index(category)[measure])
    )
    grouped = pd.to_numeric(grouped, errors="coerce").dropna().sort_values(ascending=False, kind="stable")
    facts = [
        Fact(
            key=f"distinct:{category}",
            kind="count",
            label=f"distinct {category} values",
            value=len(grouped),
            formatted=format_number(len(grouped)),
        )
    ]
    for rank, (cat, v) in enumerate(grouped.head(k).items(), start=1):
        facts.append(
            Fact(
                key=f"top:{rank}:{category}",
                kind="top",
                label=f"#{rank} {category} by {measure}",
                value=_num(v),
                formatted=format_number(v),
                subject=_subject(cat),
            )
        )
        if shares:
            pct = 100.0 * float(v) / total
            facts.append(
                Fact(
                    key=f"share:{rank}:{category}",
                    kind="share",
                    label=f"share of total {measure} for #{rank} {category}",
                    value=round(pct, 1),
                    unit="%",
                    formatted=format_percent(pct),
                    subject=_subject(cat),
                )
            )
    return facts


def _trend_facts(df: pd.DataFrame, time: str, measure: str, additive: bool) -> list[Fact]:
    """First → last period with % change, and the peak period; several rows per period are aggregated."""
    series = df[[time, measure]].dropna()
    series = series.groupby(time, sort=True)[measure].agg("sum" if additive else "mean")
    if len(series) < 2:
        return []
    (t0, v0), (t1, v1) = next(iter(series.items())), list(series.items())[-1]
    fmt = _period_format(series.index.to_series()) if ptypes.is_datetime64_any_dtype(series.index) else "%Y-%m-%d"
    facts = [
        Fact(
            key=f"first:{measure}",
            kind="first",
            label=f"{measure} in the first period",
            value=_num(v0),
            formatted=format_number(v0),
            subject=_subject(t0, fmt),
        ),
        Fact(
            key=f"last:{measure}",
            kind="last",
            label=f"{measure} in the last period",
            value=_num(v1),
            formatted=format_number(v1),
            subject=_subject(t1, fmt),
        ),
    ]
    if v0:
        pct = 100.0 * (float(v1) - float(v0)) / abs(float(v0))
        facts.append(
            Fact(
                key=f"change:{measure}",
                kind="change",
                label=f"change in {measure} from {_subject(t0, fmt)} to {_subject(t1, fmt)}",
                value=round(pct, 1),
                unit="%",
                formatted=format_percent(pct, signed=True),
            )
        )
    tp = series.idxmax()
    facts.append(
        Fact(
            key=f"peak:{measure}",
            kind="peak",
            label=f"highest {measure}",
            value=_num(series.max()),
            formatted=format_number(series.max()),
            subject=_subject(tp, fmt),
        )
    )
    return facts


def _outlier_facts(df: pd.DataFrame, measure: str, label_col: str | None, z_max: float, limit: int = 3) -> list[Fact]:
    """Values far from the rest: robust z-score (median/MAD), or Tukey's IQR fences when MAD is 0."""
    values = pd.to_numeric(df[measure], errors="coerce")
    valid = values.dropna()
    if len(valid) < 5:
        return []
    median = float(valid.median())
    mad = float((valid - median).abs().median())
    if mad > 0:
        score = 0.6745 * (values - median) / mad
        flagged = score[score.abs() > z_max]
    else:
        q1, q3 = float(valid.quantile(0.25)), float(valid.quantile(0.75))
        iqr = q3 - q1
        if iqr == 0:
            flagged = values[(values - median).abs() > 0] if (valid != median).sum() <= limit else values.iloc[0:0]
        else:
            flagged = values[(values < q1 - 1.5 * iqr) | (values > q3 + 1.5 * iqr)]
        score = (values - median).abs()
    order = score.loc[flagged.index].abs().sort_values(ascending=False, kind="stable").index[:limit]
    fmt = (
        _period_format(df[label_col])
        if label_col is not None and ptypes.is_datetime64_any_dtype(df[label_col])
        else "%Y-%m-%d"
    )
    facts = []
    for idx in order:
        v = values.loc[idx]
        subject = (
            _subject(df.loc[idx, label_col], fmt)
            if label_col is not None
            else f"row {int(np.flatnonzero(df.index == idx)[0]) + 1}"
        )
        facts.append(
            Fact(
                key=f"outlier:{measure}:{subject}",
                kind="outlier",
                label=f"unusual {measure} ({'above' if v > median else 'below'} the median {format_number(median)})",
                value=_num(v),
                formatted=format_number(v),
                subject=subject,
            )
        )
    return facts


# -- number verification ----------------------------------------------------------------------------------
_DATE_TOKEN = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b|\b\d{4}[- ]?Q[1-4]\b", re.I)
_NUMBER_TOKEN = re.compile(
    r"(?<![\w.])(?P<sign>[-+−])?[$€£]?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?(?P<suffix>%|percent\b|k\b|thousand\b|m\b|mn\b|million\b|bn\b|b\b|billion\b))?",
    re.IGNORECASE,
)
_MULTIPLIER = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "b": 1e9, "billion": 1e9}


class NumberCheck(BaseModel):
    ok: bool
    numbers: list[str] = Field(default_factory=list, description="every number found in the text")
    unverified: list[str] = Field(default_factory=list, description="those not matching any fact")


def _parse_numbers(text: str) -> list[tuple[str, float, float, bool]]:
    """(token, value, rounding tolerance, is_percent) for each number in ``text`` (dates removed first)."""
    out = []
    for m in _NUMBER_TOKEN.finditer(_DATE_TOKEN.sub(" ", text)):
        raw = m.group("num")
        value = float(raw.replace(",", ""))
        decimals = len(raw.split(".", 1)[1]) if "." in raw else 0
        suffix = (m.group("suffix") or "").lower()
        mult = _MULTIPLIER.get(suffix, 1.0)
        tol = 0.5 * 10 ** (-decimals) * mult * (1 + 1e-9)
        out.append((m.group(0).strip(), value * mult, tol, suffix in ("%", "percent")))
    return out


def _allowed(facts: Iterable[Fact], extra: Iterable[float]) -> tuple[list[float], list[float], set[str]]:
    """Numbers the text may use plainly, numbers it may use as percentages, and the dates it may mention.

    Percentages are kept apart so that a row count of 12 does not license "grew 12%".
    """
    plain: list[float] = [abs(float(x)) for x in extra]
    percent: list[float] = list(plain)
    dates: set[str] = set()
    for f in facts:
        if f.value is not None:
            v = abs(float(f.value))
            if f.unit == "%":
                percent.append(v)
                plain.append(v / 100)  # "0.12" for "12%"
            else:
                plain.append(v)
                if v <= 1 and f.kind in ("value", "mean", "top", "first", "last", "peak", "outlier"):
                    percent.append(v * 100)  # a ratio measure (0.043) written as a percent (4.3%)
        for text in (f.label, f.formatted, f.subject or ""):
            found = {d.lower() for d in _DATE_TOKEN.findall(text)}
            dates |= found
            plain += [float(d[:4]) for d in found]  # "in 2024" may name the year of a '2024-03' period
            for _, v, _, is_pct in _parse_numbers(text):
                (percent if is_pct else plain).append(abs(v))
    return plain, percent, dates


def verify_numbers(text: str, facts: Iterable[Fact], extra_allowed: Iterable[float] = ()) -> NumberCheck:
    """Is every number (and date) in ``text`` one of the facts, up to the text's own rounding?

    ``1,234.5``, ``1.2k``, ``$1.23 million``, ``12%`` and ``0.12`` all match the fact they round from;
    ``extra_allowed`` adds numbers the user supplied (e.g. "top 5" in the question).
    """
    facts = list(facts)
    plain, percent, dates = _allowed(facts, extra_allowed)
    found: list[str] = []
    bad: list[str] = []
    for date in _DATE_TOKEN.findall(text):
        found.append(date)
        if date.lower() not in dates:
            bad.append(date)
    for token, value, tol, is_pct in _parse_numbers(text):
        found.append(token)
        allowed = percent if is_pct else plain
        if not any(abs(abs(value) - a) <= tol + 1e-9 * max(1.0, a) for a in allowed):
            bad.append(token)
    return NumberCheck(ok=not bad, numbers=found, unverified=bad)


# -- phrasing ---------------------------------------------------------------------------------------------
SYSTEM_PROMPT = (
    "You summarise the result of a database query for a business user in 1 to 3 short sentences. "
    "Use ONLY the facts listed. Copy every number exactly as it is written in the facts. "
    "Do not calculate, round or estimate any new number. No lists, no headings, no preamble."
)


def template_insight(facts: list[Fact]) -> str:
    """The deterministic fallback: at most three sentences, every number taken from a fact's ``formatted``."""
    by_key = {f.key: f for f in facts}
    kinds: dict[str, list[Fact]] = {}
    for f in facts:
        kinds.setdefault(f.kind, []).append(f)
    rows = by_key.get("row_count")
    if rows is not None and rows.value == 0:
        return "The query returned no rows."
    sentences: list[str] = []
    if "value" in kinds:
        sentences.append("; ".join(f"{f.label} is {f.formatted}" for f in kinds["value"]) + ".")
    if "first" in kinds and "last" in kinds:
        first, last = kinds["first"][0], kinds["last"][0]
        change = f" ({kinds['change'][0].formatted})" if "change" in kinds else ""
        measure = first.key.split(":", 1)[1]
        sentences.append(
            f"{measure} went from {first.formatted} in {first.subject} to {last.formatted} in {last.subject}{change}."
        )
        if "peak" in kinds:
            peak = kinds["peak"][0]
            sentences.append(f"The highest value was {peak.formatted} in {peak.subject}.")
    if "top" in kinds:
        top = kinds["top"]
        shares = {f.key.split(":")[1]: f for f in kinds.get("share", [])}
        lead = top[0]
        share = f" ({shares['1'].formatted} of the total)" if "1" in shares else ""
        s = f"{lead.subject} ranks first by {lead.label.split(' by ', 1)[1]} with {lead.formatted}{share}"
        if len(top) > 1:
            s += ", followed by " + " and ".join(f"{f.subject} ({f.formatted})" for f in top[1:3])
        sentences.append(s + ".")
    if "total" in kinds and len(sentences) < 3:
        total = kinds["total"][0]
        sentences.append(f"The {total.label} is {total.formatted} over {rows.formatted if rows else 'all'} rows.")
    elif "mean" in kinds and not sentences:
        mean = kinds["mean"][0]
        sentences.append(f"The {mean.label} is {mean.formatted} over {rows.formatted if rows else 'all'} rows.")
    if "outlier" in kinds and len(sentences) < 3:
        o = kinds["outlier"][0]
        sentences.append(f"{o.subject} stands out with {o.formatted}.")
    if not sentences:
        sentences.append(f"The query returned {rows.formatted if rows else 'some'} rows.")
    out = " ".join(sentences[:3])
    return out[0].upper() + out[1:]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def _clean(text: str) -> str:
    """Strip markdown and preambles; keep at most three sentences."""
    text = re.sub(r"[*_#`>]+", "", text or "").strip()
    text = re.sub(r"^\s*(summary|insight|answer)\s*:\s*", "", text, flags=re.I)
    text = " ".join(line.strip(" -•") for line in text.splitlines() if line.strip())
    return " ".join(_SENTENCE_END.split(text)[:3]).strip()


def phrase_insight(
    facts: list[Fact],
    question: str,
    chat_model: ChatModel | None = None,
    *,
    max_tokens: int | None = None,
) -> Insight:
    """Ask the model to phrase ``facts``; keep its text only if every number in it is a fact."""
    template = template_insight(facts)
    if len(facts) <= 1:  # nothing but a row count: no model call needed
        return Insight(text=template, source="template", facts=facts)
    if max_tokens is None:
        from projects.nl2sql_analytics.settings import get_nl2sql_settings

        max_tokens = get_nl2sql_settings().insight_max_tokens
    if chat_model is None:
        from shared.serving.factory import get_chat_model

        chat_model = get_chat_model()
    prompt = f"Question: {question.strip()}\nFacts:\n" + "\n".join(f"- {f.line()}" for f in facts) + "\nSummary:"
    with span("nl2sql.insight", facts=len(facts)) as s:
        try:
            result = chat_model.chat(
                ChatRequest(
                    system=SYSTEM_PROMPT, messages=[ChatMessage.user(prompt)], temperature=0.0, max_tokens=max_tokens
                )
            )
            llm_text = _clean(result.text)
        except ServingError as e:
            log.warning("insight phrasing failed, using the template", extra={"error": str(e)})
            s.set_attribute("source", "template")
            return Insight(text=template, source="template", facts=facts)
        question_numbers = [v for _, v, _, _ in _parse_numbers(question)]
        check = verify_numbers(llm_text, facts, extra_allowed=question_numbers)
        ok = check.ok and bool(llm_text)
        s.set_attribute("source", "llm" if ok else "template")
        if ok:
            return Insight(text=llm_text, source="llm", facts=facts, llm_text=llm_text)
        return Insight(text=template, source="template", facts=facts, llm_text=llm_text, unverified=check.unverified)
