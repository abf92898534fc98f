"""Layout + regex extraction: label-value pairs by box geometry, totals by keyword, header fields by position.

This is both the fast first pass of :func:`extraction.extract` and the regex-only baseline the eval reports.
Every value keeps the line it came from (page + box) and a confidence that reflects the evidence: a
value next to an explicit label, corroborated by a second signal (cash − change = total, a legal-form
suffix on a company line), scores higher than a positional guess. No per-dataset special cases: the
rules are the ones a person uses to read a receipt or an invoice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from projects.document_intelligence.fields import FieldValue, LineItem
from projects.document_intelligence.geometry import group_rows, median, row_text
from projects.document_intelligence.model import Document, Line, SourceRef, union
from projects.document_intelligence.normalize import (
    find_amounts,
    find_dates,
    format_amount,
    normalize_amount,
    normalize_value,
)
from projects.document_intelligence.schemas import FieldSpec, specs_for

# -- totals ------------------------------------------------------------------------------------------------
_TOTAL_STRONG = re.compile(
    r"grand\s*total|total\s*(?:amount\s*)?(?:payable|due)|amount\s*(?:due|payable)|nett?\s*(?:total|amount)"
    r"|total\s*(?:incl|inclusive|inc\b)|round(?:ed|ing)?\s*(?:d\s*)?total|total\s*round(?:ed|ing)?"
    r"|total\s*(?:sales?|amt|amount)\b|balance\s*due|jumlah\s*besar|(?:amt|amount)\s*(?:to\s*be\s*)?paid|paid\s*incl"
    r"|\bsumme\b|gesamtbetrag|zu\s*zahlen|total\s*[àa]\s*payer|montant\s*(?:total|d[uû])|totale\s*(?:da\s*pagare)?"
    r"|importe\s*total|te\s*betalen|totaal",
    re.I,
)
_TOTAL_PLAIN = re.compile(r"\btotal\b|\bjumlah\b|\bnett?\b|\bamount\b|\btotal\s*[:(]", re.I)
_TOTAL_NOT = re.compile(
    r"sub\s*-?\s*total|total\s*(?:qty|quantity|items?|pcs|disc(?:ount)?|savings?|tax|gst|sst|vat|excl|exclusive|"
    r"before|number|no\b|weight)|\bqty\b|\bitems?\s*(?:count|:)|rounding\s*adj|round(?:ing)?\s*adj|adjustment"
    r"|\bchange\b|\bcash\b|tender|saving|discount|\bdisc\b|gst\s*summary|points?\b|excl",
    re.I,
)
_ROUNDING = re.compile(r"round(?:ing|ed|\s*d)?\s*(?:adj|adjustment)|rounding", re.I)
_SUMMARY = re.compile(r"(?:gst|tax|vat|sst)\s*summary|summary\s*(?:of\s*)?(?:gst|tax)", re.I)
_CASH = re.compile(r"\bcash\b|tender|paid", re.I)
_CHANGE = re.compile(r"\bchange\b|\bbaki\b", re.I)

# -- header fields -----------------------------------------------------------------------------------------
_LEGAL_FORM = re.compile(
    r"\b(?:SDN\.?\s*B[A-Z]{1,2}D?\.?|SDN|S/B|BHD\.?|BERHAD|PLT|LTD\.?|LIMITED|INC\.?|LLC|LLP|CORP\.?|CORPORATION|GMBH|CO\.|"
    r"PTE\.?|PTY\.?|SB|AG|S\.A\.|B\.V\.|N\.V\.|SAS|S\.R\.L\.|PLC)(?=\W|$)",
    re.I,
)
_SUMMARY_ROW = re.compile(r"sub\s*-?\s*total|\b(?:tax|vat|gst|sst)\b|balance|discount|shipping\s+total", re.I)
_RECIPIENT = re.compile(
    r"\s*(?:bill(?:ed)?\s+to|ship(?:ped)?\s+to|sold\s+to|invoice\s+to|deliver(?:ed|y)?\s+to|customer|client|attn|"
    r"attention)\b",
    re.I,
)
_BUSINESS_WORD = re.compile(
    r"\b(?:ENTERPRISE|TRADING|RESTAURANTS?|RESTORAN|MART|MARKET|STORES?|SHOP|HARDWARE|BOOKSTORES?|PHARMACY|"
    r"BAKERY|BAKERIES|CAFE|COFFEE|TIMBER|STATIONERY|MACHINERY|PERNIAGAAN|SYARIKAT|KEDAI|COMPANY|SEAFOOD|"
    r"CONFECTIONERY|MOTOR|PETRO|MINI\s*MARKET|SUPERMARKET|HOTEL|BOOKS|DELIGHTS|ELECTRICAL|INTERNATIONAL)\b",
    re.I,
)
_REG_NO = re.compile(
    r"co\.?\s*-?\s*r\wg|company\s*(?:reg|no)|\broc\b|reg(?:istration)?\.?\s*no|^\(?\s*[A-Z]{0,4}[0-9]{4,}\s*-?\s*[A-Z]{0,4}\s*\)?$"
    r"|\(\s*[0-9]{4,}\s*-\s*[A-Z]\s*\)|^\(?\s*\d{5,}[A-Z]?\s*\)?$|\bco\.?\s*no\b|business\s*reg|\bbr\s*no\b",
    re.I,
)
_ADDRESS_STOP = re.compile(
    r"\btel\b|\btelephone\b|\bphone\b|\bfax\b|\bh/?p\b|e-?mail|@|www\.|https?:|\bgst\b|\bsst\b|invoice|receipt"
    r"|\bdate\b|\btotal\b|subtotal|cashier|\bdoc(?:ument)?\b|\bbill\b|tax"
    r"|(?:invoice|receipt|bill|doc|slip|trans|order|id)\s*no\b|\bslip\b|\btable\b|\bserver\b|\bmember\b"
    r"|\bqty\b|mobile|whatsapp|^\+?[\d\s\-()]{7,},?$|\bterminal\b|\bpos\b|\btrans\b|\bcounter\b|\bvat\b|\bchk\b|\border\b|\bcash\b|\bt\s*:|\bp\s*:",
    re.I,
)
_ADDRESS_WORD = re.compile(
    r"\b(?:JALAN|JLN|LOT|NO|LEVEL|FLOOR|FLR|TAMAN|LORONG|BLOCK|BLK|STREET|ST|ROAD|RD|AVENUE|AVE|SUITE|UNIT|"
    r"BUILDING|BANGUNAN|PLAZA|MALL|KAWASAN|BANDAR|PERSIARAN|WISMA|KOMPLEKS|SEKSYEN)\b",
    re.I,
)
_POSTCODE = re.compile(r"\b\d{5}\b|\b(?:JOHOR|SELANGOR|KUALA\s*LUMPUR|PERAK|PAHANG|MELAKA|KEDAH|PENANG|SABAH)\b", re.I)


_TRAILING_REG = re.compile(
    r"[\s,]*\(?\s*(?:co\.?\s*(?:reg|no)\.?\s*(?:no)?\.?\s*:?\s*)?[A-Z]{0,2}\d{4,}[\s\-.]*[A-Z]?\s*\)?\s*$", re.I
)


def _strip_reg(text: str) -> str:
    """``ECOSWAY.COM SDN BHD (509213A)`` → ``ECOSWAY.COM SDN BHD``: registration numbers are not part of a name."""
    return _TRAILING_REG.sub("", text).strip()


def _cut_after_legal_form(text: str) -> str:
    """Drop what follows the name's legal form: a registration number or a branch (``… SDN BHD (MUTIARA RINI)``),
    unless another legal form follows (``AEON CO. (M) BHD``)."""
    for m in _LEGAL_FORM.finditer(text):
        rest = text[m.end() :]
        if re.match(r"\s*\(?\s*\d", rest) or not _LEGAL_FORM.search(rest):
            return text[: m.end()].strip()
    return text


@dataclass
class _Row:
    lines: list[Line]
    page: int

    @property
    def text(self) -> str:
        return row_text(self.lines)

    @property
    def bbox(self):
        return union([ln.bbox for ln in self.lines])


_TITLED_INVOICE = re.compile(r"\binvoice\s+(?!no\b|number\b|date\b)([A-Z]{0,6}[-/]?\d[\w\-/]*)", re.I)


def _src(page: int, lines: list[Line], text: str | None = None) -> SourceRef:
    return SourceRef(page=page, bbox=union([ln.bbox for ln in lines]), text=text or row_text(lines))


def _rows(doc: Document) -> list[_Row]:
    return [_Row(r, p.number) for p in doc.pages for r in group_rows(p.lines)]


def _amount_right_of(row: _Row, keyword: re.Pattern[str]) -> tuple[Decimal, Line, str] | None:
    """The last decimal amount in the row after the keyword (same line after the match, or a line to its right)."""
    found: tuple[Decimal, Line, str] | None = None
    seen_keyword = False
    for ln in row.lines:
        m = keyword.search(ln.text) if not seen_keyword else None
        start = m.end() if m else 0
        if m:
            seen_keyword = True
        elif not seen_keyword:
            continue
        for s, e, value, has_dec in find_amounts(ln.text[start:]):
            if has_dec or re.search(r"RM|\$", ln.text[start:][max(0, s - 4) : e], re.I):
                found = (value, ln, ln.text[start + s : start + e])
    return found


def _amount_below(rows: list[_Row], i: int, height: float) -> tuple[Decimal, Line, str] | None:
    """A lone decimal amount on the next row, when a label's value wrapped below it."""
    if i + 1 >= len(rows):
        return None
    nxt = rows[i + 1]
    if nxt.page != rows[i].page or nxt.bbox[1] - rows[i].bbox[3] > 1.5 * height:
        return None
    text = nxt.text
    amounts = [a for a in find_amounts(text) if a[3]]
    if len(amounts) == 1 and len(re.sub(r"[\d.,\s\-RM$]", "", text, flags=re.I)) <= 3:
        return amounts[0][2], nxt.lines[-1], text[amounts[0][0] : amounts[0][1]]
    return None


class HeuristicExtractor:
    """Regex + layout extraction for every schema; stronger, type-specific rules for receipts and invoices."""

    method_name = "layout"

    def __init__(self, *, day_first: bool = True) -> None:
        self.day_first = day_first

    # ----------------------------------------------------------------------------------------- public
    def extract(self, doc: Document, doc_type: str) -> tuple[dict[str, FieldValue], list[LineItem]]:
        specs = specs_for(doc_type)
        rows = _rows(doc)
        if not rows:
            return {name: FieldValue(name=name, method="regex") for name in specs}, []
        height = median([ln.bbox[3] - ln.bbox[1] for r in rows for ln in r.lines]) or 1.0
        out: dict[str, FieldValue] = {}
        for spec in specs.values():
            if spec.labels:
                fv = self._labelled(spec, rows, height)
                if fv is not None:
                    out[spec.name] = fv
        if "total" in specs:
            total = self._total(rows, height)
            if total is not None and (
                "total" not in out or total.confidence >= out["total"].confidence or doc_type == "receipt"
            ):
                out["total"] = total
        for name in ("company", "vendor"):
            if name in specs and name not in out:
                company = self._company(rows, doc)
                if company is not None:
                    out[name] = company
        if "address" in specs and "company" in out:
            address = self._address(rows, out["company"], height)
            if address is not None:
                out["address"] = address
        for spec in specs.values():
            if spec.kind == "date" and spec.name not in out and spec.name in ("date", "issue_date", "effective_date"):
                d = self._first_date(rows)
                if d is not None:
                    out[spec.name] = d.model_copy(update={"name": spec.name})
            if spec.kind == "currency" and spec.name not in out:
                cur = self._currency(rows)
                if cur is not None:
                    out[spec.name] = cur
            if spec.name == "title" and spec.name not in out:
                title = self._title(doc)
                if title is not None:
                    out["title"] = title
        if "invoice_number" in specs and "invoice_number" not in out:
            number = self._titled_invoice_number(rows)
            if number is not None:
                out["invoice_number"] = number
        items = self._line_items(doc, rows) if doc_type == "invoice" else []
        return {name: out.get(name) or FieldValue(name=name, method="regex") for name in specs}, items

    # ----------------------------------------------------------------------------------------- labels
    def _labelled(self, spec: FieldSpec, rows: list[_Row], height: float) -> FieldValue | None:
        """The value after a label on the same line/row, else on the row below (box geometry)."""
        label_re = re.compile(
            r"(?<![A-Za-z])(?:" + "|".join(re.escape(lbl).replace(r"\ ", r"\s*") for lbl in spec.labels) + r")"
            r"(?![A-Za-z])\s*(?:\(?[A-Z]{2,3}\)?\s*)?[:#.\-]*\s*",
            re.I,
        )
        if spec.name == "total":
            return None  # totals have their own scorer (keyword tiers, exclusions, rounding)
        for i, row in enumerate(rows):
            text = row.text
            m = label_re.search(text)
            if not m:
                continue
            if spec.name == "tax" and re.search(r"incl|summary|rate|invoice", text, re.I):
                continue  # "GST included in total", a tax summary table, a "TAX INVOICE" title: not the tax amount
            rest = text[m.end() :].strip()
            value, raw = self._parse(spec, rest)
            src_lines = row.lines
            if value is None and i + 1 < len(rows) and rows[i + 1].bbox[1] - row.bbox[3] <= 1.5 * height:
                below = [ln for ln in rows[i + 1].lines if ln.bbox[0] < row.bbox[2] and ln.bbox[2] > row.bbox[0]]
                if below:
                    value, raw = self._parse(spec, row_text(below))
                    src_lines = below
            if value is not None:
                conf = 0.85 if spec.kind in ("date", "amount", "id") else 0.7
                return FieldValue(
                    name=spec.name, value=value, raw=raw, confidence=conf, source=_src(row.page, src_lines),
                    method="layout",
                )  # fmt: skip
        return None

    def _parse(self, spec: FieldSpec, text: str) -> tuple[str | None, str | None]:
        text = text.strip(" :#-")
        if not text:
            return None, None
        if spec.kind == "date":
            hits = find_dates(text, day_first=self.day_first)
            return (hits[0][2], text[hits[0][0] : hits[0][1]]) if hits else (None, None)
        if spec.kind in ("amount", "number"):
            hits = [a for a in find_amounts(text) if a[3] or spec.kind == "number"]
            return (format_amount(hits[-1][2]), text[hits[-1][0] : hits[-1][1]]) if hits else (None, None)
        if spec.kind == "id":
            token = re.match(r"[A-Za-z0-9][A-Za-z0-9\-/._]*", text)
            if token and re.search(r"\d", token.group(0)):
                return normalize_value("id", token.group(0)), token.group(0)
            return None, None
        return normalize_value(spec.kind, text), text

    # ----------------------------------------------------------------------------------------- totals
    def _total(self, rows: list[_Row], height: float) -> FieldValue | None:
        candidates: list[tuple[float, Decimal, Line, str, _Row, int]] = []
        cash = change = rounding = subtotal = None
        rounding_at = -1
        for i, row in enumerate(rows):
            text = row.text
            if _SUMMARY.search(text):
                break  # a tax summary table below the totals repeats "TOTAL" with net and tax columns
            if _ROUNDING.search(text):
                hit = _amount_right_of(row, _ROUNDING) or _amount_below(rows, i, height)
                if hit is not None and rounding is None:
                    rounding, rounding_at = hit[0], i
                if not _TOTAL_STRONG.search(_ROUNDING.sub("", text)):
                    continue
            if _CHANGE.search(text):
                hit = _amount_right_of(row, _CHANGE) or _amount_below(rows, i, height)
                change = hit[0] if hit else change
                continue
            if _CASH.search(text) and not re.search(r"total", text, re.I):
                hit = _amount_right_of(row, _CASH)
                cash = hit[0] if hit else cash
                continue
            sub = re.search(r"sub\s*-?\s*total", text, re.I)
            if sub:
                hit = _amount_right_of(row, re.compile(re.escape(sub.group(0)))) or _amount_below(rows, i, height)
                subtotal = (hit[0], row) if hit and subtotal is None else subtotal
            strong = _TOTAL_STRONG.search(text)
            plain = _TOTAL_PLAIN.search(text)
            if not (strong or plain) or (_TOTAL_NOT.search(text) and not strong):
                continue
            kw = strong or plain
            assert kw is not None
            hit = _amount_right_of(row, re.compile(re.escape(kw.group(0)), re.I)) or _amount_below(rows, i, height)
            if hit is None or hit[0] <= 0:
                continue
            tier = 3.0 if strong else 2.0
            candidates.append((tier, hit[0], hit[1], hit[2], row, i))
        if not candidates:
            return self._total_fallback(rows, cash, change, subtotal)
        best_tier = max(c[0] for c in candidates)
        top = [c for c in candidates if c[0] == best_tier]
        chosen = max(top, key=lambda c: (c[1], c[4].bbox[1]))  # the largest amount among the best-labelled rows
        value, line, raw, row = chosen[1], chosen[2], chosen[3], chosen[4]
        conf = 0.75 if best_tier == 3.0 else 0.6
        issues: list[str] = []
        # a rounding adjustment printed after the chosen total: the amount paid is total ± adjustment, printed
        # on a later row (not the cash/change rows, which would make any tendered amount look like a total)
        if rounding and rounding_at > chosen[5] and abs(rounding) < Decimal("0.10"):
            for adjusted in (value + rounding, value - rounding):
                hits = [
                    (r, a)
                    for r in rows[rounding_at:]
                    if not (_CASH.search(r.text) or _CHANGE.search(r.text))
                    for a in find_amounts(r.text)
                    if a[2] == adjusted and a[3]
                ]
                if hits:
                    r, a = hits[0]
                    value, line, raw, row = adjusted, r.lines[-1], r.text[a[0] : a[1]], r
                    conf = 0.75
                    break
        distinct = {c[1] for c in top}
        if len(distinct) > 1:
            conf -= 0.1
            issues.append("several different amounts are labelled as a total")
        if cash is not None and change is not None and cash - change == value:
            conf += 0.2
        elif len([c for c in candidates if c[1] == value]) > 1:
            conf += 0.1
        return FieldValue(
            name="total", value=format_amount(value), raw=raw, confidence=round(min(conf, 0.95), 3),
            source=_src(row.page, [line] if line in row.lines else row.lines, row.text), method="layout",
            issues=issues,
        )  # fmt: skip

    def _total_fallback(
        self, rows: list[_Row], cash: Decimal | None, change: Decimal | None, subtotal: tuple[Decimal, _Row] | None
    ) -> FieldValue | None:
        """No labelled total: the subtotal when nothing is added to it, else cash − change, else nothing (a guess
        would look like evidence). Low confidence either way: these send the document to review."""
        if subtotal is not None and (cash is None or change is not None or cash == subtotal[0]):
            value, row = subtotal
            return FieldValue(
                name="total", value=format_amount(value), raw=row.text, confidence=0.45,
                source=_src(row.page, row.lines), method="regex", issues=["no total line: the subtotal is used"],
            )  # fmt: skip
        if cash is None or change is None or cash - change <= 0:
            return None
        value = cash - change
        for row in rows:
            for s, e, v, has_dec in find_amounts(row.text):
                if v == value and has_dec:
                    return FieldValue(
                        name="total", value=format_amount(value), raw=row.text[s:e], confidence=0.5,
                        source=_src(row.page, row.lines), method="regex", issues=["total inferred from cash - change"],
                    )  # fmt: skip
        return None

    # ----------------------------------------------------------------------------------------- header
    def _company(self, rows: list[_Row], doc: Document) -> FieldValue | None:
        """The first top-of-page line with a legal form (SDN BHD, LTD, INC…) or a business word (TRADING,
        RESTAURANT…), else the first prominent text line. A name split over lines ("AIK HUAT HARDWARE ENTERPRISE" /
        "(SETIA ALAM) SDN BHD", "HOME MASTER HARDWARE &" / "ELECTRICAL") is joined; a trailing registration
        number and text after the legal form (a branch name) are cut."""
        page1 = [r for r in rows if r.page == 1]
        if not page1:
            return None
        top_limit = doc.pages[0].height * 0.4
        top = [r for r in page1[:12] if r.bbox[1] <= top_limit] or page1[:6]
        for idx, row in enumerate(top):
            text = _strip_reg(row.text)
            legal = _LEGAL_FORM.search(text)
            if not legal and _BUSINESS_WORD.search(text):
                # a logo word ("COFFEE") above the full legal name ("EIGHT OUNCE COFFEE CO."): take the full name
                # or a trading name right above the legal entity ("AA PHARMACY" / "SUBANG HEALTHCARE SDN")
                fuller = [j for j in range(idx + 1, len(top)) if _LEGAL_FORM.search(top[j].text)]
                open_paren = text.count("(") > text.count(")")
                near = fuller and fuller[0] <= idx + 2 and not open_paren
                if fuller and (text.casefold() in top[fuller[0]].text.casefold() or near):
                    continue
            if not (legal or _BUSINESS_WORD.search(text)) or sum(c.isalpha() for c in text) < 4:
                continue
            if _ADDRESS_STOP.search(text) and not legal:
                continue
            if _RECIPIENT.match(text):
                continue  # "Bill to: Oakridge Facilities GmbH" names the customer, not the issuer
            used = [row]
            for prev in reversed(top[max(0, idx - 2) : idx]):
                if not self._continues(prev, used[0]):
                    break
                used.insert(0, prev)
            dangling = re.search(r"(?:&|\bAND)\s*$", text, re.I) or text.count("(") > text.count(")")
            if idx + 1 < len(top) and self._texty(top[idx + 1].text):
                nxt = _strip_reg(top[idx + 1].text)
                if dangling or not re.sub(r"\(.*?\)", "", _LEGAL_FORM.sub("", nxt)).strip(" .)"):
                    used.append(top[idx + 1])
            text = _strip_reg(" ".join(_strip_reg(r.text) for r in used))
            text = _cut_after_legal_form(text)
            lines = [ln for r in used for ln in r.lines]
            return FieldValue(
                name="company", value=normalize_value("text", text), raw=text, confidence=0.85 if legal else 0.7,
                source=_src(row.page, lines, text), method="layout",
            )  # fmt: skip
        heights = [(r.bbox[3] - r.bbox[1], i) for i, r in enumerate(top) if self._texty(r.text)]
        if not heights:
            return None
        tallest = max(h for h, _ in heights)
        idx = next(i for h, i in heights if h >= 0.8 * tallest)  # the first prominent line
        row = top[idx]
        text = _strip_reg(row.text)
        return FieldValue(
            name="company", value=normalize_value("text", text), raw=row.text, confidence=0.45,
            source=_src(row.page, row.lines), method="layout",
        )  # fmt: skip

    @staticmethod
    def _texty(text: str) -> bool:
        letters = sum(c.isalpha() for c in text)
        return letters >= 3 and letters / max(1, len(text.replace(" ", ""))) >= 0.6 and not _ADDRESS_STOP.search(text)

    @staticmethod
    def _continues(prev: _Row, row: _Row) -> bool:
        """Is ``row`` the tail of a name that starts on ``prev``? Short tails starting with '(' or made only of a
        legal form ("SDN BHD") continue an all-letter line directly above."""
        tail = _strip_reg(row.text)
        gap = row.bbox[1] - prev.bbox[3]
        h = row.bbox[3] - row.bbox[1]
        short_tail = tail.startswith("(") or not re.sub(r"\(.*?\)", "", _LEGAL_FORM.sub("", tail)).strip(" .")
        prev_ok = not re.search(r"\d", prev.text) and HeuristicExtractor._texty(prev.text)
        return short_tail and prev_ok and gap < 0.8 * h

    def _address(self, rows: list[_Row], company: FieldValue, height: float) -> FieldValue | None:
        """Rows after the company line (registration numbers skipped) up to the first phone/date/document line."""
        assert company.source is not None
        start = next((i for i, r in enumerate(rows) if r.bbox[3] >= company.source.bbox[3] - 1), None)
        if start is None:
            return None
        picked: list[_Row] = []
        for row in rows[start + 1 : start + 10]:
            text = row.text
            if picked and row.bbox[1] - picked[-1].bbox[3] > 2.0 * height:
                break
            dated = bool(find_dates(text, day_first=self.day_first))
            if not picked and (
                _REG_NO.search(text)
                or dated
                or re.search(r"\b(?:gst|sst)\b", text, re.I)
                or not (re.search(r"\d", text) or _ADDRESS_WORD.search(text))
            ):
                continue  # registration/tax numbers, a date, "formerly known as …": the address has not started
            if _ADDRESS_STOP.search(text) or _REG_NO.search(text) or dated:
                break
            if picked and _LEGAL_FORM.search(text) and not _ADDRESS_WORD.search(text):
                break  # another company name (the operator, a franchise) ends the address
            picked.append(row)
            if len(picked) >= 6:
                break
        if not picked:
            return None
        text = " ".join(r.text for r in picked)
        conf = 0.75 if _POSTCODE.search(text) else 0.5
        return FieldValue(
            name="address", value=normalize_value("text", text), raw=text, confidence=conf,
            source=_src(picked[0].page, [ln for r in picked for ln in r.lines], text), method="layout",
        )  # fmt: skip

    def _titled_invoice_number(self, rows: list[_Row]) -> FieldValue | None:
        """ "INVOICE INV-2024-001" / "Tax Invoice 10342": the number written after the word, no label."""
        for row in rows[:15]:
            m = _TITLED_INVOICE.search(row.text)
            if m:
                return FieldValue(
                    name="invoice_number", value=normalize_value("id", m.group(1)), raw=m.group(1), confidence=0.75,
                    source=_src(row.page, row.lines), method="regex",
                )  # fmt: skip
        return None

    def _first_date(self, rows: list[_Row]) -> FieldValue | None:
        found = [(row, hit) for row in rows for hit in find_dates(row.text, day_first=self.day_first)]
        if not found:
            return None
        distinct = {h[2] for _, h in found}
        row, hit = found[0]
        conf = 0.75 if len(distinct) == 1 else 0.6
        return FieldValue(
            name="date", value=hit[2], raw=row.text[hit[0] : hit[1]], confidence=conf,
            source=_src(row.page, row.lines), method="regex",
            issues=[] if len(distinct) == 1 else [f"{len(distinct)} different dates in the document"],
        )  # fmt: skip

    def _currency(self, rows: list[_Row]) -> FieldValue | None:
        counts: dict[str, tuple[int, _Row]] = {}
        for row in rows:
            for m in re.finditer(r"(?<![A-Za-z])(RM|MYR|USD|EUR|GBP|SGD)(?![A-Za-z])|[$€£]", row.text):
                code = normalize_value("currency", m.group(0)) or ""
                n, first = counts.get(code, (0, row))
                counts[code] = (n + 1, first)
        if not counts:
            return None
        code, (n, row) = max(counts.items(), key=lambda kv: kv[1][0])
        return FieldValue(
            name="currency", value=code, raw=code, confidence=0.8 if n > 1 else 0.6,
            source=_src(row.page, row.lines), method="regex",
        )  # fmt: skip

    def _title(self, doc: Document) -> FieldValue | None:
        for page in doc.pages:
            blocks = sorted(page.blocks, key=lambda b: b.order)
            block = next((b for b in blocks if b.kind == "title" and b.text.strip()), None)
            block = block or next((b for b in blocks if b.text.strip()), None)
            if block is not None:
                line = next(ln for ln in block.lines if ln.text.strip())
                conf = 0.75 if block.kind == "title" else 0.5
                return FieldValue(
                    name="title", value=normalize_value("text", line.text), raw=line.text, confidence=conf,
                    source=SourceRef(page=page.number, bbox=line.bbox, text=line.text), method="layout",
                )  # fmt: skip
        return None

    # ----------------------------------------------------------------------------------------- line items
    def _line_items(self, doc: Document, rows: list[_Row]) -> list[LineItem]:
        """Invoice rows: from reconstructed tables when the parser found one, else rows that read
        ``description … qty … unit price … amount`` (a text start and at least two numbers at the right)."""
        items: list[LineItem] = []
        for page in doc.pages:
            for block in page.blocks:
                if block.table is None or block.table.n_rows < 2 or block.table.n_cols < 3:
                    continue  # label/value grids ("Subtotal | 3.166,97") are not line items
                grid = block.table.grid()
                for r, cells in enumerate(grid[1:] if block.table.header else grid, start=1):
                    label = re.sub(r"[\d.,%]+", " ", " ".join(cells))  # the row's words without its numbers
                    if _TOTAL_PLAIN.search(label) or _TOTAL_STRONG.search(label) or _SUMMARY_ROW.search(label):
                        continue  # a totals row inside (or under) the items table
                    item = _item_from_cells(cells)
                    if item is not None:
                        bb = [c.bbox for c in block.table.cells if c.row == r] or [block.bbox]
                        item.source = SourceRef(page=page.number, bbox=union(bb), text=" | ".join(cells))
                        items.append(item)
        if items:
            return items
        for row in rows:
            text = row.text
            if _TOTAL_PLAIN.search(text) or _TOTAL_STRONG.search(text) or re.search(r"tax|vat|gst", text, re.I):
                continue
            m = re.match(r"^(?P<desc>.*?[A-Za-z].*?)\s+(?P<nums>(?:[-\d.,$€£RM]+\s+){1,3}[-\d.,$€£RM]+)$", text)
            if not m:
                continue
            nums = [normalize_amount(t) for t in m.group("nums").split()]
            if any(n is None for n in nums) or not re.search(r"[.,]\d{2}\b", m.group("nums")):
                continue
            qty = nums[0] if len(nums) >= 3 else None
            unit = nums[-2] if len(nums) >= 2 else None
            amount = nums[-1]
            conf = 0.5
            if qty is not None and unit is not None and abs(qty * unit - amount) <= Decimal("0.011"):
                conf = 0.8
            items.append(
                LineItem(
                    description=m.group("desc").strip(), quantity=format_amount(qty) if qty is not None else None,
                    unit_price=format_amount(unit), amount=format_amount(amount), confidence=conf,
                    source=_src(row.page, row.lines),
                )
            )  # fmt: skip
        return items


def _item_from_cells(cells: list[str]) -> LineItem | None:
    nums = [(i, normalize_amount(c)) for i, c in enumerate(cells) if normalize_amount(c) is not None]
    texts = [c for c in cells if c.strip() and normalize_amount(c) is None]
    if not nums or not texts:
        return None
    amount = nums[-1][1]
    unit = nums[-2][1] if len(nums) >= 2 else None
    qty = nums[-3][1] if len(nums) >= 3 else None
    conf = 0.85 if qty is not None and unit is not None and abs(qty * unit - amount) <= Decimal("0.011") else 0.6
    return LineItem(
        description=" ".join(texts), quantity=format_amount(qty) if qty is not None else None,
        unit_price=format_amount(unit), amount=format_amount(amount), confidence=conf,
    )  # fmt: skip
