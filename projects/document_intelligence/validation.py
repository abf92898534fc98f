"""Validators that run after normalisation: formats, plausible ranges, cross-field arithmetic, and the review rule.

Why after normalisation: "does it parse" is only answerable on a normalised value, and arithmetic
(line items sum to the subtotal, subtotal + tax = total) needs Decimals. A failed check never deletes
a value — it lowers the confidences involved and records an issue, so the reviewer sees what was found
and why it is doubted.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from projects.document_intelligence.fields import ExtractionResult, FieldValue, ValidationIssue
from projects.document_intelligence.normalize import normalize_amount
from projects.document_intelligence.schemas import specs_for

PENALTY = 0.6  # multiplier on the confidence of every field a failed cross-field check involves
BONUS = 0.15  # added to the fields a passed arithmetic check ties together (independent evidence agrees)
MIN_YEAR = 1900
MAX_AMOUNT = Decimal("1e10")


def _amount(fv: FieldValue | None) -> Decimal | None:
    return normalize_amount(fv.value) if fv is not None and fv.value is not None else None


def _flag(result: ExtractionResult, code: str, message: str, names: list[str]) -> None:
    result.issues.append(ValidationIssue(code=code, message=message, fields=names))
    for name in names:
        fv = result.fields.get(name)
        if fv is not None:
            fv.confidence = round(fv.confidence * PENALTY, 3)
            fv.issues.append(message)


def _confirm(result: ExtractionResult, names: list[str]) -> None:
    for name in names:
        fv = result.fields.get(name)
        if fv is not None and fv.value is not None:
            fv.confidence = round(min(0.95, fv.confidence + BONUS), 3)


def check_formats(result: ExtractionResult, *, today: date | None = None) -> None:
    """A raw value that did not normalise is invalid; dates must be plausible, amounts finite and not absurd."""
    today = today or date.today()
    for name, spec in specs_for(result.doc_type).items():
        fv = result.fields.get(name)
        if fv is None:
            continue
        if fv.raw and fv.value is None:
            _flag(result, f"invalid_{spec.kind}", f"{name}: {fv.raw!r} is not a valid {spec.kind}", [name])
            fv.confidence = min(fv.confidence, 0.2)
        elif spec.kind == "date" and fv.value is not None:
            d = date.fromisoformat(fv.value)
            ahead = 50 if spec.name == "expiry" else 2
            if d.year < MIN_YEAR or d > today.replace(year=today.year + ahead):
                _flag(result, "implausible_date", f"{name}: {fv.value} is outside the plausible range", [name])
        elif spec.kind == "amount" and fv.value is not None:
            a = _amount(fv)
            if a is None or abs(a) >= MAX_AMOUNT:
                _flag(result, "implausible_amount", f"{name}: {fv.value} is not a plausible amount", [name])
            elif name == "total" and a <= 0:
                _flag(result, "implausible_amount", f"total {fv.value} is not positive", [name])


def check_cross_fields(result: ExtractionResult, tolerance: float) -> None:
    """subtotal + tax = total; line items sum to the subtotal (or to the total when there is no subtotal);
    each line's quantity × unit price = amount; due date not before issue date."""
    tol = Decimal(str(tolerance))
    f = result.fields
    subtotal, tax, total = _amount(f.get("subtotal")), _amount(f.get("tax")), _amount(f.get("total"))
    if subtotal is not None and tax is not None and total is not None:
        if abs(subtotal + tax - total) > tol:
            _flag(
                result, "total_mismatch", f"subtotal {subtotal} + tax {tax} = {subtotal + tax}, not the total {total}",
                ["subtotal", "tax", "total"],
            )  # fmt: skip
        else:
            _confirm(result, ["subtotal", "tax", "total"])
    amounts = [normalize_amount(it.amount) for it in result.line_items]
    if result.line_items and all(a is not None for a in amounts):
        items_sum = sum(a for a in amounts if a is not None)
        target_name, target = ("subtotal", subtotal) if subtotal is not None else ("total", total)
        if target is not None and abs(items_sum - target) > tol:
            # a total that equals items + tax is consistent even without a printed subtotal
            if not (target_name == "total" and tax is not None and abs(items_sum + tax - target) <= tol):
                _flag(
                    result, "line_items_mismatch", f"line items sum to {items_sum}, not the {target_name} {target}",
                    [target_name],
                )  # fmt: skip
                for it in result.line_items:
                    it.confidence = round(it.confidence * PENALTY, 3)
        elif target is not None:
            _confirm(result, [target_name])
    for i, it in enumerate(result.line_items):
        q, u, a = normalize_amount(it.quantity), normalize_amount(it.unit_price), normalize_amount(it.amount)
        if q is not None and u is not None and a is not None and abs(q * u - a) > tol:
            result.issues.append(
                ValidationIssue(code="line_item_arithmetic", message=f"line {i + 1}: {q} × {u} ≠ {a}", fields=[])
            )
            it.confidence = round(it.confidence * PENALTY, 3)
    issue, due = f.get("issue_date"), f.get("due_date")
    if issue is not None and due is not None and issue.value and due.value and due.value < issue.value:
        _flag(result, "due_before_issue", f"due date {due.value} is before the issue date {issue.value}", ["due_date"])


def decide_review(result: ExtractionResult, threshold: float) -> None:
    """Review when a required field is missing, invalid, or below ``threshold``; reasons say which and why."""
    reasons: list[str] = []
    for name, spec in specs_for(result.doc_type).items():
        fv = result.fields.get(name)
        if not spec.required:
            continue
        if fv is None or fv.value is None:
            reasons.append(f"{name}: missing" if not (fv and fv.raw) else f"{name}: invalid ({fv.raw!r})")
        elif fv.confidence < threshold:
            reasons.append(f"{name}: confidence {fv.confidence:.2f} < {threshold:.2f}")
    for issue in result.issues:
        if issue.code in ("total_mismatch", "line_items_mismatch", "due_before_issue"):
            reasons.append(f"{issue.code}: {issue.message}")
    result.review_reasons = reasons
    result.needs_review = bool(reasons)


def validate(result: ExtractionResult, *, tolerance: float, threshold: float, today: date | None = None) -> None:
    check_formats(result, today=today)
    check_cross_fields(result, tolerance)
    decide_review(result, threshold)
