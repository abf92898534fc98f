"""Synthetic documents of the seven types, with ground truth: demo data and classifier training data.

Why generate rather than ship: the classifier needs labelled examples of every type, the demo needs
documents whose true field values are known, and tests need both without reading any data set. Every
document comes from one seeded ``random.Random`` (no global state), so a seed names a document.

Each type has at least three templates that differ in wording, order and look (a classifier must not
learn one phrase per type). Ground truth is normalised the way extraction reports it: ISO dates and
decimal strings with two places; ``layout`` is what the renderer draws and ``text`` what a perfect
parser would read back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

from projects.document_intelligence import synthetic_vocab as v
from projects.document_intelligence.doc_types import DOC_TYPES, DocType

Role = Literal["title", "heading", "text", "kv", "table_header", "table_row", "checkbox", "photo", "rule", "footer"]
Align = Literal["L", "C", "R"]
CENT = Decimal("0.01")


class Element(BaseModel):
    """One thing the renderer draws, in reading order. Table rows carry cells; key-value pairs a key."""

    role: Role
    text: str = ""
    key: str = ""
    cells: list[str] = Field(default_factory=list)
    widths: list[float] = Field(default_factory=list, description="table column shares of the text width")
    align: str = Field(default="L", description="text alignment, or one letter per table cell")
    checked: bool = False
    bold: bool = False

    def plain(self) -> str:
        if self.role == "kv":
            return f"{self.key} {self.text}".strip()
        if self.role in ("table_header", "table_row"):
            return "  ".join(c for c in self.cells if c)
        if self.role == "checkbox":
            return f"[{'X' if self.checked else ' '}] {self.text}"
        return self.text


class Style(BaseModel):
    page: Literal["A4", "Letter", "receipt", "card"] = "A4"
    font: Literal["helvetica", "times", "courier"] = "helvetica"
    base_size: float = 10.0
    accent: tuple[int, int, int] | None = None
    title_align: Align = "L"
    table_lines: bool = True


class SyntheticDoc(BaseModel):
    doc_type: DocType
    id: str
    template: str
    fields: dict[str, str] = Field(description="ground truth, normalised: ISO dates, decimal strings")
    line_items: list[dict[str, str]] = Field(default_factory=list)
    layout: list[Element]
    style: Style = Field(default_factory=Style)

    @property
    def text(self) -> str:
        """The document's words in reading order, one element per line."""
        return "\n".join(t for t in (e.plain() for e in self.layout if e.role not in ("photo", "rule")) if t)


# -- small value helpers -------------------------------------------------------------------------------------


def rand_date(rng: random.Random, first_year: int = 2016, years: int = 9) -> date:
    return date(first_year, 1, 1) + timedelta(days=rng.randrange(365 * years))


_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
)  # fmt: skip


def fmt_date(d: date, style: str) -> str:
    """A date as documents print it; ground truth always keeps ``d.isoformat()``."""
    if style == "iso":
        return d.isoformat()
    if style == "us":
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == "dmy":
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if style == "dmy-dash":
        return f"{d.day:02d}-{d.month:02d}-{d.year}"
    if style == "eu":
        return f"{d.day:02d}.{d.month:02d}.{d.year}"
    if style == "long":
        return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"
    if style == "short":
        return f"{d.day} {_MONTHS[d.month - 1][:3]} {d.year}"
    if style == "day-long":
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"
    raise ValueError(f"unknown date style {style!r}")


def fmt_amount(x: Decimal, style: str = "us") -> str:
    """``1234.5`` → ``1,234.50`` (us), ``1.234,50`` (eu) or ``1234.50`` (plain)."""
    s = f"{x.quantize(CENT):,.2f}"
    if style == "eu":
        return s.replace(",", "_").replace(".", ",").replace("_", ".")
    if style == "plain":
        return s.replace(",", "")
    return s


def dec(x: Decimal) -> str:
    """Ground-truth form of an amount."""
    return str(x.quantize(CENT))


def qty_str(q: Decimal) -> str:
    """``20`` → ``20``, ``2.50`` → ``2.5`` (never ``2E+1``)."""
    return format(q.normalize(), "f")


def _money(rng: random.Random, lo: float, hi: float) -> Decimal:
    return Decimal(rng.randint(int(lo * 100), int(hi * 100))) / 100


def _person(rng: random.Random) -> str:
    return f"{rng.choice(v.FIRST_NAMES)} {rng.choice(v.LAST_NAMES)}"


def _company(rng: random.Random) -> str:
    return f"{rng.choice(v.COMPANY_WORDS)} {rng.choice(v.COMPANY_KINDS)} {rng.choice(v.COMPANY_SUFFIXES)}"


def _address(rng: random.Random, region: str) -> list[str]:
    """Address lines for a region: us, uk, eu or my."""
    if region == "us":
        city, state = rng.choice(v.US_CITIES)
        return [f"{rng.randint(10, 9999)} {rng.choice(v.STREETS)}", f"{city}, {state} {rng.randint(10000, 99999)}"]
    if region == "uk":
        letters = "ABDEFHJLNPRSTUW"
        pc = f"{rng.choice('BEGLMNS')}{rng.choice('CNW')}{rng.randint(1, 20)} {rng.randint(1, 9)}"
        pc += rng.choice(letters) + rng.choice(letters)
        return [f"{rng.randint(1, 250)} {rng.choice(v.STREETS)}", f"{rng.choice(v.UK_CITIES)} {pc}"]
    if region == "my":
        pc, city, state = rng.choice(v.MY_CITIES)
        street = f"NO. {rng.randint(1, 99)}, {rng.choice(v.MY_STREETS)} {rng.randint(1, 20)}/{rng.randint(1, 9)}"
        return [street, f"{rng.choice(v.MY_TAMANS)},", f"{pc} {city}, {state}."]
    pc, city = rng.choice(v.EU_CITIES)
    return [f"{rng.choice(v.EU_STREETS)} {rng.randint(1, 120)}", f"{pc} {city}"]


def _one_line(lines: list[str]) -> str:
    return ", ".join(s.strip().rstrip(",.") for s in lines)


def _phone(rng: random.Random, region: str) -> str:
    if region == "us":
        return f"({rng.randint(200, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    if region == "my":
        return f"0{rng.randint(3, 9)}-{rng.randint(1000000, 9999999)}"
    return f"+{rng.choice([31, 33, 39, 43, 44, 49])} {rng.randint(10, 99)} {rng.randint(1000000, 9999999)}"


def _email(name: str, domain: str) -> str:
    local = ".".join(name.lower().replace("ü", "ue").replace("è", "e").split()[:2])
    return f"{local}@{domain}"


def _domain(company: str) -> str:
    return company.split()[0].lower() + ".example"


def kv(key: str, value: str, *, align: Align = "L", bold: bool = False) -> Element:
    return Element(role="kv", key=key, text=value, align=align, bold=bold)


def txt(text: str, *, role: Role = "text", align: Align = "L", bold: bool = False) -> Element:
    return Element(role=role, text=text, align=align, bold=bold)


def row(cells: list[str], widths: list[float], align: str, *, header: bool = False) -> Element:
    return Element(role="table_header" if header else "table_row", cells=cells, widths=widths, align=align)


TEMPLATES: dict[str, tuple[str, ...]] = {
    "invoice": ("classic", "modern", "tax", "freelance"),
    "receipt": ("my_tax", "my_cash", "us_retail", "eu_shop"),
    "form": ("membership", "patient", "employment", "permit"),
    "letter": ("block", "letterhead", "modern", "note"),
    "contract": ("numbered", "articles", "recitals"),
    "id_card": ("national", "driver", "staff", "residence"),
    "other": ("meeting_notes", "datasheet", "report", "recipe", "announcement"),
}


def _pick(rng: random.Random, doc_type: str, template: str | None) -> str:
    """The template asked for, else a random one (the draw happens either way so the rest stays the same)."""
    drawn = rng.choice(TEMPLATES[doc_type])
    if template is None:
        return drawn
    if template not in TEMPLATES[doc_type]:
        raise ValueError(f"unknown {doc_type} template {template!r}; known: {', '.join(TEMPLATES[doc_type])}")
    return template


# -- invoice -------------------------------------------------------------------------------------------------

_INVOICE_REGIONS = (
    ("USD", "$", "us", "us"),
    ("EUR", "EUR ", "eu", "eu"),
    ("GBP", "£", "us", "uk"),
    ("MYR", "RM", "us", "my"),
)
_TAX_RATES = {"us": ("0", "6", "7.25", "8.25"), "eu": ("19", "21", "20"), "uk": ("20",), "my": ("6", "8")}


def _invoice(rng: random.Random, doc_id: str, long: bool, template: str | None) -> SyntheticDoc:
    template = _pick(rng, "invoice", template)
    currency, symbol, num_style, region = rng.choice(_INVOICE_REGIONS)
    vendor = _person(rng) if template == "freelance" else _company(rng)
    customer = _company(rng)
    vendor_addr, customer_addr = _address(rng, region), _address(rng, region)
    issue = rand_date(rng)
    due = issue + timedelta(days=rng.choice((14, 30, 45, 60)))
    dstyle = {"us": rng.choice(("us", "long")), "eu": rng.choice(("eu", "iso", "day-long")), "uk": "dmy", "my": "dmy"}[
        region
    ]
    number = {
        "classic": f"INV-{issue.year}-{rng.randint(1, 9999):04d}",
        "modern": f"{rng.randint(10000, 99999)}",
        "tax": f"TI{rng.randint(100000, 999999)}",
        "freelance": f"{issue.year}/{rng.randint(1, 300):03d}",
    }[template]

    items = []
    picks = rng.choices(v.INVOICE_ITEMS, k=45) if long else rng.sample(v.INVOICE_ITEMS, rng.randint(2, 8))
    for desc, lo, hi in picks:
        hours = "hours" in desc
        qty = Decimal(rng.randint(1, 80)) / 2 if hours else Decimal(rng.choice((1, 1, 1, 2, 3, 4, 5, 10, 12, 20)))
        unit = _money(rng, lo, hi) if not hours else Decimal(rng.randint(lo, hi))
        amount = (qty * unit).quantize(CENT, ROUND_HALF_UP)
        items.append({"description": desc, "quantity": qty_str(qty), "unit_price": dec(unit), "amount": dec(amount)})
    subtotal = sum((Decimal(i["amount"]) for i in items), Decimal(0))
    rate = Decimal(rng.choice(_TAX_RATES[region]))
    tax = (subtotal * rate / 100).quantize(CENT, ROUND_HALF_UP)
    total = subtotal + tax

    def money(x: Decimal | str) -> str:
        return f"{symbol}{fmt_amount(Decimal(x), num_style)}"

    rate_s = f"{qty_str(rate)}%"
    tax_name = {"us": "Sales tax", "eu": "VAT", "uk": "VAT", "my": "SST"}[region]
    lay: list[Element] = []
    style = Style(page="Letter" if region == "us" else "A4")
    if template == "classic":
        style.title_align = "R"
        lay += [txt("INVOICE", role="title", align="R"), txt(vendor, bold=True), *map(txt, vendor_addr)]
        lay += [txt(f"Phone {_phone(rng, region)}"), txt(" ", role="rule")]
        lay += [kv("Invoice No:", number), kv("Invoice Date:", fmt_date(issue, dstyle))]
        lay += [kv("Due Date:", fmt_date(due, dstyle)), txt("Bill To", role="heading"), txt(customer)]
        lay += list(map(txt, customer_addr))
        widths, heads = [0.52, 0.12, 0.18, 0.18], ["Description", "Qty", "Unit Price", "Amount"]
        cells = [[i["description"], i["quantity"], money(i["unit_price"]), money(i["amount"])] for i in items]
        totals = [("Subtotal", money(subtotal)), (f"{tax_name} ({rate_s})", money(tax)), ("Total", money(total))]
        tail = [txt(f"Payment terms: net {(due - issue).days} days. Thank you for your business!", role="footer")]
    elif template == "modern":
        style.accent, style.font = rng.choice(((30, 90, 160), (20, 130, 110), (150, 40, 60))), "helvetica"
        lay += [txt(vendor, role="title"), txt(_one_line(vendor_addr)), txt(_email("billing team", _domain(vendor)))]
        lay += [txt("Invoice", role="heading"), kv("Invoice #", number), kv("Issued", fmt_date(issue, dstyle))]
        lay += [kv("Due", fmt_date(due, dstyle)), kv("Bill to:", customer), txt(_one_line(customer_addr))]
        widths, heads = [0.5, 0.14, 0.18, 0.18], ["Item", "Qty/Hours", "Rate", "Line total"]
        cells = [[i["description"], i["quantity"], fmt_amount(Decimal(i["unit_price"]), num_style),
                  fmt_amount(Decimal(i["amount"]), num_style)] for i in items]  # fmt: skip
        totals = [
            ("Subtotal", money(subtotal)),
            (f"{tax_name} {rate_s}", money(tax)),
            (f"Amount due ({currency})", money(total)),
        ]
        tail = [txt(f"Please quote invoice {number} with your payment.", role="footer")]
    elif template == "tax":
        style.title_align, style.font = "C", "times"
        vendor = vendor.upper()
        lay += [txt(vendor, role="title", align="C"), txt(_one_line(vendor_addr), align="C")]
        lay += [
            txt(f"Tax Reg. No: {rng.randint(10**9, 10**10 - 1)}", align="C"),
            txt("TAX INVOICE", role="heading", align="C"),
        ]
        lay += [kv("Tax Invoice No.:", number), kv("Date:", fmt_date(issue, dstyle))]
        lay += [kv("Terms:", f"{(due - issue).days} days (due {fmt_date(due, dstyle)})"), kv("Customer:", customer)]
        lay += [txt(_one_line(customer_addr))]
        widths, heads = (
            [0.07, 0.45, 0.1, 0.19, 0.19],
            ["No", "Description", "Qty", f"Unit Price ({currency})", f"Total ({currency})"],
        )
        cells = [[str(n), i["description"], i["quantity"], fmt_amount(Decimal(i["unit_price"]), num_style),
                  fmt_amount(Decimal(i["amount"]), num_style)] for n, i in enumerate(items, 1)]  # fmt: skip
        totals = [
            ("Total excl. tax", money(subtotal)),
            (f"{tax_name} @ {rate_s}", money(tax)),
            ("Total incl. tax", money(total)),
        ]
        tail = [txt("This is a computer generated invoice. No signature is required.", role="footer")]
    else:  # freelance
        style.font = rng.choice(("times", "helvetica"))
        lay += [txt(vendor, role="title"), txt(_one_line(vendor_addr)), txt(_email(vendor, "mail.example"))]
        lay += [txt(f"Invoice {number}", role="heading"), kv("Date of issue:", fmt_date(issue, dstyle))]
        lay += [kv("Payment due:", fmt_date(due, dstyle)), kv("Billed to:", customer), txt(_one_line(customer_addr))]
        widths, heads = [0.55, 0.1, 0.17, 0.18], ["Service", "Qty", "Price", "Total"]
        cells = [[i["description"], i["quantity"], money(i["unit_price"]), money(i["amount"])] for i in items]
        totals = [("Subtotal", money(subtotal)), (f"Tax {rate_s}", money(tax)), ("Balance due", money(total))]
        tail = [txt(f"Please pay by bank transfer within {(due - issue).days} days. IBAN on request.", role="footer")]
    align = "L" * (len(heads) - 3) + "RRR"
    lay.append(row(heads, widths, align, header=True))
    lay += [row(c, widths, align) for c in cells]
    lay += [kv(k, val, align="R", bold=(n == len(totals) - 1)) for n, (k, val) in enumerate(totals)]
    lay += tail
    fields = {
        "invoice_number": number, "issue_date": issue.isoformat(), "due_date": due.isoformat(), "vendor_name": vendor,
        "vendor_address": _one_line(vendor_addr), "customer_name": customer,
        "customer_address": _one_line(customer_addr),
        "currency": currency, "subtotal": dec(subtotal), "tax_rate": qty_str(rate), "tax": dec(tax),
        "total": dec(total),
    }  # fmt: skip
    return SyntheticDoc(
        doc_type="invoice", id=doc_id, template=template, fields=fields, line_items=items, layout=lay, style=style
    )


# -- receipt -------------------------------------------------------------------------------------------------


def _items(rng: random.Random, names: tuple[str, ...], n: int) -> list[str]:
    """``n`` item names, distinct while the list lasts (a long till roll repeats items)."""
    return rng.sample(names, n) if n <= len(names) else rng.choices(names, k=n)


def _cash_for(rng: random.Random, total: Decimal) -> Decimal:
    notes = [Decimal(n) for n in (5, 10, 20, 50, 100, 200)]
    cash = next((n for n in notes if n >= total), (total / 100).to_integral_value(rounding="ROUND_CEILING") * 100)
    return cash if rng.random() < 0.7 else cash + notes[rng.randint(0, 2)]


def _receipt(rng: random.Random, doc_id: str, long: bool, template: str | None) -> SyntheticDoc:
    template = _pick(rng, "receipt", template)
    style = Style(page="receipt", font="courier", base_size=8.0, title_align="C", table_lines=False)
    n = rng.randint(1, 6) if not long else 25
    when = rand_date(rng)
    hh, mm, ss = rng.randint(8, 22), rng.randint(0, 59), rng.randint(0, 59)
    lay: list[Element] = []
    fields: dict[str, str]
    items: list[dict[str, str]] = []
    if template.startswith("my"):
        prefix, suffix = rng.choice(v.MY_SHOP_PREFIXES), rng.choice(v.MY_SHOP_SUFFIXES)
        company = " ".join(p for p in (prefix, rng.choice(v.MY_SHOP_NAMES), suffix) if p)
        addr = _address(rng, "my")
        for name in _items(rng, v.MY_ITEMS, n):
            qty, unit = Decimal(rng.randint(1, 4)), _money(rng, 0.5, 35)
            items.append(
                {"description": name, "quantity": str(qty), "unit_price": dec(unit), "amount": dec(qty * unit)}
            )
        subtotal = sum((Decimal(i["amount"]) for i in items), Decimal(0))
        rate = Decimal(rng.choice(("6", "0"))) if template == "my_tax" else Decimal(0)
        tax = (subtotal * rate / 100).quantize(CENT, ROUND_HALF_UP)
        exact = subtotal + tax
        total = (exact * 20).quantize(Decimal(1), ROUND_HALF_UP) / 20  # Malaysian 5-sen rounding
        cash = _cash_for(rng, total)
        dstyle = rng.choice(("dmy", "dmy-dash"))
        lay += [
            txt(company, role="title", align="C"),
            txt(f"(CO. REG : {rng.randint(100000, 999999)}-{rng.choice('AHKPTUVWX')})", align="C"),
        ]
        lay += [txt(line, align="C") for line in addr]
        lay += [txt(f"TEL : {_phone(rng, 'my')}", align="C")]
        if template == "my_tax":
            lay += [
                txt(f"GST ID : 000{rng.randint(100000000, 999999999)}", align="C"),
                txt("TAX INVOICE", role="heading", align="C"),
            ]
            lay += [kv("INVOICE NO :", f"{rng.randint(1, 99999):08d}")]
        else:
            lay += [txt(rng.choice(("CASH BILL", "RECEIPT", "OFFICIAL RECEIPT")), role="heading", align="C")]
            lay += [kv("DOC NO :", f"CS{rng.randint(1000000, 9999999)}")]
        lay += [
            kv("DATE :", f"{fmt_date(when, dstyle)} {hh:02d}:{mm:02d}:{ss:02d}"),
            kv("CASHIER :", rng.choice(v.FIRST_NAMES).upper()),
        ]
        widths, align = [0.46, 0.12, 0.2, 0.22], "LRRR"
        lay += [txt(" ", role="rule"), row(["ITEM", "QTY", "U.PRICE", "AMOUNT"], widths, align, header=True)]
        lay += [row([i["description"], i["quantity"], i["unit_price"], i["amount"]], widths, align) for i in items]
        lay += [txt(" ", role="rule")]
        if tax:
            lay += [kv("TOTAL EXCL. GST :", dec(subtotal), align="R"), kv(f"GST @{rate}% :", dec(tax), align="R")]
        if total != exact:
            lay += [kv("ROUNDING ADJ :", dec(total - exact), align="R")]
        lay += [kv("TOTAL :", dec(total), align="R", bold=True), kv("CASH :", dec(cash), align="R")]
        lay += [kv("CHANGE :", dec(cash - total), align="R")]
        lay += [
            txt(
                rng.choice(("THANK YOU. PLEASE COME AGAIN.", "GOODS SOLD ARE NOT RETURNABLE. THANK YOU!")),
                role="footer",
                align="C",
            )
        ]
        fields = {"company": company, "address": _one_line(addr), "currency": "MYR"}
    elif template == "us_retail":
        company = rng.choice(v.SHOP_NAMES)
        addr = _address(rng, "us")
        for name in _items(rng, v.RETAIL_ITEMS, n):
            qty, unit = Decimal(rng.choice((1, 1, 1, 2, 3))), _money(rng, 0.79, 24.99)
            items.append(
                {"description": name, "quantity": str(qty), "unit_price": dec(unit), "amount": dec(qty * unit)}
            )
        subtotal = sum((Decimal(i["amount"]) for i in items), Decimal(0))
        rate = Decimal(rng.choice(("0", "6", "7.25", "8.25")))
        tax = (subtotal * rate / 100).quantize(CENT, ROUND_HALF_UP)
        total = subtotal + tax
        cash = _cash_for(rng, total) if rng.random() < 0.5 else None
        ampm = f"{(hh - 1) % 12 + 1:02d}:{mm:02d} {'PM' if hh >= 12 else 'AM'}"
        lay += [txt(company, role="title", align="C"), *(txt(line, align="C") for line in addr)]
        lay += [txt(_phone(rng, "us"), align="C")]
        lay += [
            txt(f"STORE #{rng.randint(100, 9999):04d}  TERM {rng.randint(1, 12):02d}  TRANS {rng.randint(1000, 99999)}")
        ]
        lay += [txt(f"{fmt_date(when, 'us')}  {ampm}"), txt(" ", role="rule")]
        widths, align = [0.72, 0.28], "LR"
        for i in items:
            label = (
                i["description"] if i["quantity"] == "1" else f"{i['description']} {i['quantity']} @ {i['unit_price']}"
            )
            lay.append(row([label, i["amount"]], widths, align))
        lay += [
            txt(" ", role="rule"),
            kv("SUBTOTAL", dec(subtotal), align="R"),
            kv(f"SALES TAX {qty_str(rate)}%", dec(tax), align="R"),
        ]
        lay += [kv("TOTAL", f"${dec(total)}", align="R", bold=True)]
        if cash is not None:
            lay += [kv("CASH", dec(cash), align="R"), kv("CHANGE DUE", dec(cash - total), align="R")]
        else:
            lay += [
                kv(
                    f"{rng.choice(('VISA', 'MASTERCARD', 'AMEX'))} **** {rng.randint(1000, 9999)}",
                    dec(total),
                    align="R",
                )
            ]
            lay += [txt(f"APPROVED  AUTH CODE {rng.randint(100000, 999999)}")]
        lay += [
            txt(
                rng.choice(("THANK YOU FOR SHOPPING WITH US!", "RETURNS WITHIN 30 DAYS WITH RECEIPT")),
                role="footer",
                align="C",
            )
        ]
        fields = {"company": company, "address": _one_line(addr), "currency": "USD"}
    else:  # eu_shop: VAT included in the prices, as European tills print it
        company = rng.choice(v.EU_SHOP_NAMES)
        addr = _address(rng, "eu")
        for name in _items(rng, v.EU_ITEMS, n):
            qty, unit = Decimal(rng.choice((1, 1, 2, 3))), _money(rng, 0.45, 9.9)
            items.append(
                {"description": name, "quantity": str(qty), "unit_price": dec(unit), "amount": dec(qty * unit)}
            )
        total = sum((Decimal(i["amount"]) for i in items), Decimal(0))
        rate = Decimal(rng.choice(("7", "19")))
        tax = (total * rate / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
        subtotal = total - tax
        cash = _cash_for(rng, total) if rng.random() < 0.6 else None
        lay += [txt(company, role="title", align="C"), *(txt(line, align="C") for line in addr)]
        lay += [
            txt(f"Tel. {_phone(rng, 'eu')}", align="C"),
            txt(f"USt-IdNr. DE{rng.randint(100000000, 999999999)}", align="C"),
        ]
        lay += [txt(" ", role="rule")]
        widths, align = [0.5, 0.26, 0.24], "LRR"
        for i in items:
            lay.append(row([i["description"], f"{i['quantity']} x {fmt_amount(Decimal(i['unit_price']), 'eu')}",
                            fmt_amount(Decimal(i["amount"]), "eu")], widths, align))  # fmt: skip
        lay += [txt(" ", role="rule"), kv("SUMME EUR", fmt_amount(total, "eu"), align="R", bold=True)]
        if cash is not None:
            lay += [
                kv("Gegeben BAR", fmt_amount(cash, "eu"), align="R"),
                kv("Rückgeld", fmt_amount(cash - total, "eu"), align="R"),
            ]
        else:
            lay += [kv("Kartenzahlung girocard", fmt_amount(total, "eu"), align="R")]
        lay += [
            kv(f"enth. MwSt {rate}%", fmt_amount(tax, "eu"), align="R"),
            kv("Netto", fmt_amount(subtotal, "eu"), align="R"),
        ]
        lay += [txt(f"Datum: {fmt_date(when, 'eu')}  Zeit: {hh:02d}:{mm:02d}  Bon-Nr. {rng.randint(1000, 99999)}")]
        lay += [
            txt(rng.choice(("Vielen Dank für Ihren Einkauf!", "Danke und auf Wiedersehen!")), role="footer", align="C")
        ]
        fields = {"company": company, "address": _one_line(addr), "currency": "EUR"}
    fields |= {"date": when.isoformat(), "time": f"{hh:02d}:{mm:02d}", "tax": dec(tax), "total": dec(total)}
    if cash is not None:
        fields |= {"cash": dec(cash), "change": dec(cash - total)}
    return SyntheticDoc(
        doc_type="receipt", id=doc_id, template=template, fields=fields, line_items=items, layout=lay, style=style
    )


# -- form ----------------------------------------------------------------------------------------------------

_FORMS = {
    "membership": ("Membership Application Form", "membership_type", ("Individual", "Family", "Student", "Senior")),
    "patient": ("Patient Registration Form", "insurance", ("Public insurance", "Private insurance", "Self-pay")),
    "employment": ("Employment Application", "availability", ("Full-time", "Part-time", "Temporary")),
    "permit": ("Residential Parking Permit Application", "permit_type", ("Resident", "Visitor", "Business")),
}


def _form(rng: random.Random, doc_id: str, long: bool, template: str | None) -> SyntheticDoc:
    template = _pick(rng, "form", template)
    title, choice_field, options = _FORMS[template]
    region = rng.choice(("us", "uk", "eu"))
    name, dob = _person(rng), rand_date(rng, 1950, 55)
    addr = _one_line(_address(rng, region))
    dstyle = "us" if region == "us" else rng.choice(("dmy", "eu"))
    chosen = rng.choice(options)
    signed = rand_date(rng, 2018, 7)
    org = _company(rng)
    style = Style(font=rng.choice(("helvetica", "times")), title_align=rng.choice(("L", "C")))
    if rng.random() < 0.5:
        style.accent = (90, 90, 90)
    fields = {"form_title": title, "full_name": name, "date_of_birth": dob.isoformat(), "address": addr,
              "phone": _phone(rng, region), "email": _email(name, "mail.example"), choice_field: chosen,
              "signature_date": signed.isoformat()}  # fmt: skip
    colon = rng.choice((":", "", " :"))
    lay = [txt(org, align=style.title_align), txt(title, role="title", align=style.title_align)]
    lay += [
        txt(
            f"Form {rng.choice('ABCDMPR')}{rng.choice('AFHKR')}-{rng.randint(1, 99)} (rev. {signed.year - 1})",
            align="R",
        )
    ]
    lay += [txt(rng.choice(("Please complete all sections in BLOCK CAPITALS.",
                            "Fill in this form in ink and return it to the office.",
                            "All fields marked * are required.")))]  # fmt: skip
    lay += [txt(f"Section 1{rng.choice((' -', '.', ':'))} Personal details", role="heading")]
    lay += [
        kv(f"Full name{colon}", name),
        kv(f"Date of birth{colon}", fmt_date(dob, dstyle)),
        kv(f"Address{colon}", addr),
    ]
    lay += [kv(f"Telephone{colon}", fields["phone"]), kv(f"E-mail{colon}", fields["email"])]
    start = signed + timedelta(days=rng.choice((14, 30)))
    extra: list[tuple[str, str, str, str]] = []  # (field, label, as printed, ground truth)
    if template == "membership":
        extra = [("start_date", "Preferred start date", fmt_date(start, dstyle), start.isoformat())]
    elif template == "patient":
        gp, contact = f"Dr. {rng.choice(v.LAST_NAMES)}", _person(rng)
        extra = [("gp_name", "Family doctor", gp, gp), ("emergency_contact", "Emergency contact", contact, contact)]
    elif template == "employment":
        job = rng.choice(v.JOB_TITLES)
        extra = [("position", "Position applied for", job, job),
                 ("start_date", "Earliest start date", fmt_date(start, dstyle), start.isoformat())]  # fmt: skip
    else:
        plate = (f"{rng.choice('ABCKLMS')}{rng.choice('DEFHNR')}{rng.randint(10, 99)} "
                 f"{rng.choice('BCFHKW')}{rng.choice('DNRTX')}{rng.choice('AEPSZ')}")  # fmt: skip
        extra = [("vehicle_registration", "Vehicle registration", plate, plate)]
    lay += [txt(f"Section 2{rng.choice((' -', '.', ':'))} Details", role="heading")]
    for key, label, shown, truth in extra:
        lay.append(kv(f"{label}{colon}", shown))
        fields[key] = truth
    lay += [txt(f"{choice_field.replace('_', ' ').capitalize()} (tick one){colon}")]
    lay += [Element(role="checkbox", text=opt, checked=opt == chosen) for opt in options]
    consent = rng.random() < 0.8
    fields["consent"] = "yes" if consent else "no"
    lay += [Element(role="checkbox", text="I agree to the processing of my personal data.", checked=consent)]
    lay += [kv(f"Signature{colon}", "________________________"), kv(f"Date{colon}", fmt_date(signed, dstyle))]
    lay += [txt(f"For office use only  |  Ref: ________  |  Received: ________  |  {org}", role="footer")]
    return SyntheticDoc(doc_type="form", id=doc_id, template=template, fields=fields, layout=lay, style=style)


# -- letter --------------------------------------------------------------------------------------------------

_LETTER_BODIES: dict[str, tuple[str, list[str]]] = {
    "complaint": (
        "Complaint regarding order {ref}",
        ["I am writing to express my dissatisfaction with the service I received on {d}. The order {ref} arrived two "
         "weeks late and several parts were damaged.",
         "I have contacted your customer service team twice without receiving a satisfactory response. I would be "
         "grateful if you could arrange a replacement or a full refund.",
         "I look forward to hearing from you within fourteen days."],
    ),
    "reference": (
        "Reference for {other}",
        ["It is my pleasure to recommend {other}, who worked with us as {job} from {year} until recently.",
         "During this time {other} consistently showed excellent judgement, reliability and a genuine talent for "
         "working with colleagues across departments.",
         "Please do not hesitate to contact me should you require any further information."],
    ),
    "offer": (
        "Offer of employment",
        ["Following your recent interview, we are delighted to offer you the position of {job} at {org}.",
         "Your employment will begin on {d}. The attached documents set out the terms, including salary, holiday "
         "entitlement and notice period.",
         "Please confirm your acceptance by signing and returning a copy of this letter."],
    ),
    "rent": (
        "Notice of rent adjustment",
        ["This letter is to inform you that, in accordance with your tenancy agreement, the monthly rent for your "
         "apartment will be adjusted with effect from {d}.",
         "The new monthly rent will be {amount}. All other terms of the tenancy remain unchanged.",
         "If you have any questions, please contact our office during normal business hours."],
    ),
    "thanks": (
        "Thank you for your support",
        ["On behalf of everyone at {org}, I would like to thank you for your generous support of our community "
         "programme this year.",
         "Thanks to your contribution we were able to run {n} additional workshops and reach many more families.",
         "We hope to welcome you at our open day on {d}."],
    ),
    "interview": (
        "Invitation to interview",
        ["Thank you for your application for the role of {job}. We were impressed by your experience and would like "
         "to invite you to an interview on {d} at our office.",
         "The interview will last about an hour. Please let me know whether the time suits you."],
    ),
    "apology": (
        "Our apologies",
        ["Thank you for your letter of {d}. I am sorry to hear that your recent visit did not meet your expectations.",
         "We have reviewed what happened with the team, and as a gesture of goodwill we enclose a voucher.",
         "We hope to have the opportunity to serve you better in the future."],
    ),
    "meeting": (
        "Request for a meeting",
        ["I would welcome the opportunity to meet you to discuss a possible collaboration between our organisations.",
         "Would you be available for a short call or a visit in the week of {d}? I am happy to adapt to your diary."],
    ),
}  # fmt: skip


def _letter(rng: random.Random, doc_id: str, long: bool, template: str | None) -> SyntheticDoc:
    template = _pick(rng, "letter", template)
    topic = rng.choice(tuple(_LETTER_BODIES))
    region = rng.choice(("us", "uk", "eu"))
    sender, recipient = _person(rng), _person(rng)
    org = _company(rng)
    sent = rand_date(rng)
    dstyle = "long" if region == "us" else "day-long"
    slots = {"ref": f"#{rng.randint(10000, 99999)}", "d": fmt_date(sent + timedelta(days=rng.randint(10, 60)), dstyle),
             "other": _person(rng), "job": rng.choice(v.JOB_TITLES).lower(), "year": str(sent.year - rng.randint(2, 8)),
             "org": org, "amount": f"{rng.randint(700, 2400)}.00", "n": str(rng.randint(3, 12))}  # fmt: skip
    subject_t, paras = _LETTER_BODIES[topic]
    subject = subject_t.format(**slots)
    body = [p.format(**slots) for p in paras]
    if long:
        body = body * 4
    salutation = rng.choice((f"Dear {recipient},", f"Dear Mr./Ms. {recipient.split()[-1]},", "Dear Sir or Madam,"))
    closing = rng.choice(("Yours sincerely,", "Kind regards,", "Best regards,", "Sincerely,"))
    style = Style(font=rng.choice(("times", "helvetica")))
    lay: list[Element] = []
    if template == "letterhead":
        style.accent, style.title_align = (40, 60, 110), "C"
        lay += [txt(org, role="title", align="C"), txt(_one_line(_address(rng, region)), align="C")]
        lay += [txt(fmt_date(sent, dstyle), align="R")]
    elif template == "block":
        lay += [txt(sender), *map(txt, _address(rng, region)), txt(fmt_date(sent, dstyle))]
    elif template == "modern":
        lay += [txt(sender, role="title"), txt(f"{_phone(rng, region)}  |  {_email(sender, 'mail.example')}")]
        lay += [txt(fmt_date(sent, dstyle))]
    else:  # a short note: no address blocks at all
        lay += [txt(fmt_date(sent, dstyle), align="R")]
    if template != "note":
        lay += [txt(recipient), *map(txt, _address(rng, region))]
    lay += [txt(f"{rng.choice(('Re: ', 'Subject: ', ''))}{subject}", bold=True), txt(salutation)]
    lay += [txt(p) for p in body]
    lay += [txt(closing), txt(sender), txt(f"{rng.choice(v.JOB_TITLES)}, {org}" if template != "block" else "")]
    lay = [e for e in lay if e.text]
    fields = {"sender_name": sender, "recipient_name": recipient, "date": sent.isoformat(), "subject": subject}
    return SyntheticDoc(
        doc_type="letter", id=doc_id, template=f"{template}/{topic}", fields=fields, layout=lay, style=style
    )


# -- contract ------------------------------------------------------------------------------------------------

_CONTRACTS = {
    "service": ("SERVICE AGREEMENT", "Provider", "Client"),
    "nda": ("MUTUAL NON-DISCLOSURE AGREEMENT", "Disclosing Party", "Receiving Party"),
    "lease": ("COMMERCIAL LEASE AGREEMENT", "Landlord", "Tenant"),
    "consulting": ("CONSULTING AGREEMENT", "Consultant", "Company"),
}
_CLAUSES = (
    ("Services", "The {a_role} shall provide the services described in Schedule A with due care and skill."),
    ("Term", "This Agreement commences on the Effective Date and continues for {term} months unless terminated "
     "earlier."),
    ("Fees", "The {b_role} shall pay the {a_role} {fee} per month, invoiced monthly and payable within thirty days."),
    ("Confidentiality", "Each party shall keep confidential all information received from the other party and use "
     "it only for the purposes of this Agreement."),
    ("Termination", "Either party may terminate this Agreement by giving {notice} days' written notice to the other "
     "party."),
    ("Liability", "Neither party shall be liable for indirect or consequential loss. Total liability is limited to "
     "the fees paid in the twelve months before the claim."),
    ("Governing Law", "This Agreement is governed by the laws of {law}."),
    ("Entire Agreement", "This Agreement constitutes the entire agreement between the parties and supersedes all prior "
     "understandings."),
)  # fmt: skip
_BOILERPLATE = (
    ("Notices", "All notices under this Agreement shall be in writing and delivered by hand, courier or e-mail."),
    ("Assignment", "Neither party may assign its rights without the prior written consent of the other party."),
    ("Force Majeure", "Neither party is liable for delay caused by events beyond its reasonable control."),
    ("Severability", "If any provision is held invalid, the remaining provisions remain in full force and effect."),
    ("Amendments", "No amendment of this Agreement is effective unless made in writing and signed by both parties."),
    ("Waiver", "A failure to exercise any right under this Agreement is not a waiver of that right."),
    ("Insurance", "The {a_role} shall maintain adequate professional liability insurance throughout the term."),
    ("Data Protection", "Each party shall comply with applicable data protection law when processing personal data."),
    ("Audit", "The {b_role} may, on reasonable notice, audit the records relating to the services once per year."),
    ("Counterparts", "This Agreement may be executed in counterparts, each of which is an original."),
)  # fmt: skip


def _contract(rng: random.Random, doc_id: str, long: bool, template: str | None) -> SyntheticDoc:
    kind = rng.choice(tuple(_CONTRACTS))
    template = _pick(rng, "contract", template)
    title, a_role, b_role = _CONTRACTS[kind]
    a, b = _company(rng), _company(rng)
    region = rng.choice(("us", "uk", "eu"))
    eff = rand_date(rng)
    term = rng.choice((6, 12, 24, 36))
    notice = rng.choice((30, 60, 90))
    law = rng.choice(v.GOVERNING_LAWS)
    fee = Decimal(rng.randint(20, 400) * 50)
    dstyle = rng.choice(("long", "day-long", "iso"))
    slots = {
        "a_role": a_role,
        "b_role": b_role,
        "term": str(term),
        "fee": f"USD {fmt_amount(fee)}",
        "notice": str(notice),
        "law": law,
    }
    clauses = list(_CLAUSES)
    if kind == "nda":
        clauses = [c for c in clauses if c[0] not in ("Services", "Fees")]
    elif kind == "lease":
        clauses[0] = (
            "Premises",
            "The {a_role} leases to the {b_role} the premises described in Schedule A for use as offices.",
        )
        clauses[2] = ("Rent", "The {b_role} shall pay the {a_role} a rent of {fee} per month in advance.")
    if long:
        clauses += list(_BOILERPLATE) * 5
    else:
        clauses += rng.sample(_BOILERPLATE, rng.randint(0, 3))
    style = Style(font=rng.choice(("times", "times", "helvetica")), title_align="C")
    lay = [txt(title, role="title", align="C")]
    intro = (f'This {title.title()} (the "Agreement") is entered into as of {fmt_date(eff, dstyle)} '
             f'(the "Effective Date") by and between {a}, with offices at {_one_line(_address(rng, region))} '
             f'(the "{a_role}"), and {b}, with offices at {_one_line(_address(rng, region))} '
             f'(the "{b_role}").')  # fmt: skip
    lay.append(txt(intro))
    if template == "recitals":
        lay += [txt("RECITALS", role="heading"), txt(f"WHEREAS the {b_role} wishes to engage the {a_role}; and"),
                txt("NOW, THEREFORE, the parties agree as follows:")]  # fmt: skip
    for n, (head, body) in enumerate(clauses, 1):
        label = f"Article {n} - {head}" if template == "articles" else f"{n}. {head}."
        if template == "articles":
            lay += [txt(label, role="heading"), txt(body.format(**slots))]
        else:
            lay.append(txt(f"{label} {body.format(**slots)}"))
    lay += [txt("IN WITNESS WHEREOF, the parties have executed this Agreement as of the Effective Date.")]
    for party, role in ((a, a_role), (b, b_role)):
        lay += [kv(f"{role}:", party, bold=True), kv("By:", "______________________"), kv("Name:", _person(rng))]
        lay += [kv("Title:", rng.choice(v.JOB_TITLES))]
    lay.append(txt(f"{title.title()} - confidential", role="footer"))
    fields = {"contract_type": kind, "party_a": a, "party_b": b, "effective_date": eff.isoformat(),
              "term_months": str(term), "notice_days": str(notice), "governing_law": law}  # fmt: skip
    if kind != "nda":
        fields["monthly_fee"] = dec(fee)
    return SyntheticDoc(
        doc_type="contract", id=doc_id, template=f"{template}/{kind}", fields=fields, layout=lay, style=style
    )


# -- ID card -------------------------------------------------------------------------------------------------


def _id_card(rng: random.Random, doc_id: str, long: bool, template: str | None) -> SyntheticDoc:
    template = _pick(rng, "id_card", template)
    first, last = rng.choice(v.FIRST_NAMES), rng.choice(v.LAST_NAMES)
    name = f"{first} {last}"
    dob = rand_date(rng, 1950, 55)
    issued = rand_date(rng, 2016, 8)
    expiry = (
        issued.replace(year=issued.year + rng.choice((5, 8, 10)))
        if (issued.month, issued.day) != (2, 29)
        else (issued + timedelta(days=365 * 5))
    )
    sex = rng.choice(("F", "M"))
    style = Style(page="card", base_size=6.5, accent=rng.choice(((20, 80, 140), (130, 30, 40), (30, 110, 70))))
    lay: list[Element] = []
    fields = {"name": name, "date_of_birth": dob.isoformat(), "expiry_date": expiry.isoformat()}
    if template == "national":
        country, nat = rng.choice(v.COUNTRIES)
        number = f"{rng.choice('CLPTX')}{rng.randint(10**7, 10**8 - 1)}"
        lay += [txt(country, role="title"), txt("IDENTITY CARD / CARTE D'IDENTITÉ", bold=True), Element(role="photo")]
        lay += [kv("Surname", last.upper()), kv("Given names", first.upper()), kv("Sex", sex), kv("Nationality", nat)]
        lay += [
            kv("Date of birth", fmt_date(dob, "eu")),
            kv("Document No.", number),
            kv("Date of expiry", fmt_date(expiry, "eu")),
        ]
        fields |= {"nationality": nat, "sex": sex}
    elif template == "driver":
        state = rng.choice(v.US_STATES)
        number = f"{rng.choice('ABDGKMS')}{rng.randint(100, 999)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        lay += [txt(state, role="title"), txt("DRIVER LICENSE", bold=True), Element(role="photo")]
        lay += [kv("DL", number), kv("EXP", fmt_date(expiry, "us")), kv("LN", last.upper()), kv("FN", first.upper())]
        lay += [
            kv("DOB", fmt_date(dob, "us")),
            kv("SEX", sex),
            kv("CLASS", rng.choice("CDM")),
            kv("ISS", fmt_date(issued, "us")),
        ]
        lay += [txt(_one_line(_address(rng, "us")).upper())]
        fields |= {"sex": sex, "issuing_region": state}
    elif template == "staff":
        org = _company(rng)
        number = f"E{rng.randint(10000, 99999)}"
        lay += [txt(org, role="title"), txt(rng.choice(("STAFF ID", "EMPLOYEE BADGE", "ACCESS CARD")), bold=True)]
        lay += [Element(role="photo"), txt(name.upper(), bold=True), kv("Dept.", rng.choice(v.DEPARTMENTS))]
        lay += [
            kv("Employee No.", number),
            kv("Date of birth", fmt_date(dob, "dmy")),
            kv("Valid until", fmt_date(expiry, "dmy")),
        ]
        fields |= {"issuer": org}
    else:
        nat = rng.choice(v.COUNTRIES)[1]
        number = f"RP{rng.randint(10**6, 10**7 - 1)}"
        lay += [
            txt("RESIDENCE PERMIT", role="title"),
            txt("Permit type: " + rng.choice(("Work", "Study", "Family")), bold=True),
        ]
        lay += [Element(role="photo"), kv("Name", name.upper()), kv("Permit No.", number), kv("Nationality", nat)]
        lay += [kv("Born", fmt_date(dob, "short")), kv("Sex", sex), kv("Valid until", fmt_date(expiry, "short"))]
        fields |= {"nationality": nat, "sex": sex}
    fields["id_number"] = number
    return SyntheticDoc(doc_type="id_card", id=doc_id, template=template, fields=fields, layout=lay, style=style)


# -- other ---------------------------------------------------------------------------------------------------


def _other(rng: random.Random, doc_id: str, long: bool, template: str | None) -> SyntheticDoc:
    template = _pick(rng, "other", template)
    when = rand_date(rng)
    style = Style(font=rng.choice(("helvetica", "times")))
    lay: list[Element] = []
    if template == "meeting_notes":
        topic = rng.choice(v.MEETING_TOPICS)
        people = [_person(rng) for _ in range(rng.randint(3, 6))]
        lay += [txt(f"Meeting notes: {topic}", role="title"), kv("Date:", fmt_date(when, "long")),
                kv("Attendees:", ", ".join(people)), txt("Agenda", role="heading")]  # fmt: skip
        lay += [txt(f"{n}. {item}") for n, item in enumerate(rng.sample(
            ["Review of open actions", "Timeline and milestones", "Risks and dependencies", "Budget status",
             "Staffing", "Any other business", "Customer feedback"], 4), 1)]  # fmt: skip
        lay += [txt("Discussion", role="heading"),
                txt(f"{people[0]} summarised progress since the last meeting. The team agreed to move the review to "
                    f"next week and to collect feedback from two more departments before deciding.")]  # fmt: skip
        lay += [txt("Action items", role="heading")]
        lay += [txt(f"- {p}: {a}") for p, a in zip(people, rng.sample(
            ["circulate the updated plan", "book the meeting room", "draft the communication", "check vendor quotes",
             "update the risk register", "prepare the demo"], len(people[:4])), strict=False)]  # fmt: skip
        fields = {"kind": "meeting_notes", "title": topic, "date": when.isoformat()}
    elif template == "datasheet":
        product, kind = rng.choice(v.PRODUCTS)
        lay += [txt(product, role="title"), txt("Product datasheet", role="heading")]
        lay += [txt(f"The {product.split()[0]} {kind} is designed for continuous operation in demanding environments "
                    "and is easy to install and maintain.")]  # fmt: skip
        lay += [txt("Specifications", role="heading")]
        widths, align = [0.5, 0.5], "LL"
        specs = [("Supply voltage", f"{rng.choice((12, 24, 48, 230))} V"), ("Operating temperature", "-20 to +60 °C"),
                 ("Weight", f"{rng.randint(80, 4000)} g"), ("Protection class", f"IP{rng.choice((54, 65, 67))}"),
                 ("Dimensions", f"{rng.randint(40, 300)} x {rng.randint(40, 300)} x {rng.randint(10, 120)} mm"),
                 ("Warranty", f"{rng.choice((2, 3, 5))} years")]  # fmt: skip
        lay += [row(["Parameter", "Value"], widths, align, header=True), *(row(list(s), widths, align) for s in specs)]
        lay += [
            txt(f"Datasheet revision {rng.randint(1, 9)}.{rng.randint(0, 9)}, {fmt_date(when, 'short')}", role="footer")
        ]
        fields = {"kind": "datasheet", "title": product, "date": when.isoformat()}
    elif template == "recipe":
        dish, ingredients, steps = rng.choice(v.RECIPES)
        lay += [txt(dish, role="title"), txt(f"Serves {rng.randint(2, 8)}  |  Preparation {rng.randint(10, 60)} min")]
        lay += [txt("Ingredients", role="heading"), *(txt(f"- {i}") for i in ingredients)]
        lay += [txt("Method", role="heading"), *(txt(f"{n}. {st}") for n, st in enumerate(steps, 1))]
        fields = {"kind": "recipe", "title": dish, "date": when.isoformat()}
    elif template == "announcement":
        org, headline, body = _company(rng), *rng.choice(v.ANNOUNCEMENTS)
        lay += [txt(rng.choice(("PRESS RELEASE", "NEWS", "Announcement")), role="heading"), txt(headline, role="title")]
        lay += [txt(f"{rng.choice(v.UK_CITIES)}, {fmt_date(when, 'long')} - {org} {body}")]
        lay += [txt(f'"We are excited about this step," said {_person(rng)}, {rng.choice(v.JOB_TITLES)} at {org}.')]
        lay += [txt(f"About {org.split()[0]}: founded in {when.year - rng.randint(3, 40)}, the company employs "
                    f"{rng.randint(20, 900)} people.", role="footer")]  # fmt: skip
        fields = {"kind": "announcement", "title": headline, "date": when.isoformat()}
    else:
        topic, _ = rng.choice(v.REPORT_TOPICS)
        lay += [txt(topic, role="title"), txt(f"{_person(rng)} and {_person(rng)}  -  {_company(rng)}")]
        lay += [txt("Abstract", role="heading"),
                txt(f"This report examines {topic.lower()} using data collected over {rng.randint(2, 10)} years. We "
                    "describe the method, summarise the main findings and discuss their limitations."),
                txt("1 Introduction", role="heading"),
                txt("Previous studies have reported mixed results. We combine several public sources and apply a "
                    "consistent methodology to compare the periods before and after the change."),
                txt("2 Results", role="heading"),
                txt(f"Across all sites we observed an average change of {rng.randint(3, 40)} percent, with large "
                    "variation between regions. Figure 1 shows the distribution."),
                txt(f"Published {fmt_date(when, 'day-long')}", role="footer")]  # fmt: skip
        fields = {"kind": "report", "title": topic, "date": when.isoformat()}
    if long:
        lay = lay + [e.model_copy() for e in lay[1:]] * 3
    return SyntheticDoc(doc_type="other", id=doc_id, template=template, fields=fields, layout=lay, style=style)


_GENERATORS: dict[str, Callable[[random.Random, str, bool, str | None], SyntheticDoc]] = {
    "invoice": _invoice, "receipt": _receipt, "form": _form, "letter": _letter, "contract": _contract,
    "id_card": _id_card, "other": _other,
}  # fmt: skip


def generate(
    doc_type: DocType, seed: int, *, long: bool = False, template: str | None = None, doc_id: str | None = None
) -> SyntheticDoc:
    """One document of ``doc_type``; the same arguments always give the same document.

    ``long`` makes a document that spans several pages (many line items or clauses) for multi-page tests;
    ``template`` (one of ``TEMPLATES[doc_type]``) fixes the look instead of drawing it.
    """
    if doc_type not in _GENERATORS:
        raise ValueError(f"unknown document type {doc_type!r}; known: {', '.join(DOC_TYPES)}")
    rng = random.Random(f"{doc_type}:{seed}:{int(long)}")
    return _GENERATORS[doc_type](rng, doc_id or f"{doc_type}-{seed}{'-long' if long else ''}", long, template)


def generate_corpus(n_per_type: int, seed: int, types: tuple[DocType, ...] = DOC_TYPES) -> list[SyntheticDoc]:
    """``n_per_type`` documents of each type, templates in turn (balanced), seeds ``seed*100000 + i``."""
    return [
        generate(t, seed * 100_000 + i, template=TEMPLATES[t][i % len(TEMPLATES[t])])
        for t in types
        for i in range(n_per_type)
    ]
