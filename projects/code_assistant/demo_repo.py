"""A small, realistic Python package written on demand, with a catalogue of bugs that can be planted into it.

The debug loop needs something to fix, the UI demo needs something to browse, and the repo-QA eval needs questions
with known answers; a generated repository serves all three without shipping fixtures or reading user data. The
package (``invoicing``: money, tax, discounts, invoices, JSON orders, CSV export, a CLI, plus a small JavaScript
formatter for multi-language indexing) reads like ordinary code: modules import each other, functions have type
hints and docstrings, and a pytest suite of 29 tests passes on the correct code.

Everything is deterministic: same ``seed`` → same bytes and the same git commit hashes (fixed author, dates and
config, no hooks, no network). Each planted bug is an exact text replacement committed on its own, so
``git diff HEAD~1`` shows exactly what broke, and each names the tests it makes fail.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

GIT_IDENTITY = ("-c", "user.name=demo", "-c", "user.email=demo@example.com")
_BASE_EPOCH = 1_700_000_000  # 2023-11-14: a fixed date keeps commit hashes reproducible


@dataclass(frozen=True, slots=True)
class PlantedBug:
    """One bug: where it goes, how a user would report it, the exact edit that plants it, and what it breaks."""

    id: str
    kind: str  # "comparison operator", "wrong default", ...
    difficulty: int  # 1 (the failing line is the bug) .. 5 (the traceback points somewhere else)
    file: str
    description: str
    original: str  # exact text in the correct file (occurs once)
    buggy: str  # what replaces it
    failing_tests: tuple[str, ...]  # pytest node ids that fail once the bug is planted
    function: str  # the function the fix belongs in (localisation tests check it is found)


@dataclass(slots=True)
class DemoRepo:
    root: Path
    planted: list[str] = field(default_factory=list)

    def plant(self, bug_id: str) -> PlantedBug:
        bug = plant_bug(self.root, bug_id)
        self.planted.append(bug_id)
        return bug


_PYPROJECT = """\
[project]
name = "invoicing"
version = "0.3.0"
description = "Invoices with correct money arithmetic: integer cents, VAT bands, bulk discounts and coupons"
requires-python = ">=3.10"
dependencies = []

[project.scripts]
invoice = "invoicing.cli:main"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
"""

_README = """\
# invoicing

A small library (and CLI) for shop invoices that never loses a cent.

* `invoicing.money`: `Money` stores integer cents; conversions round half up, like a till receipt.
* `invoicing.tax`: VAT bands (standard 20%, reduced 5%, zero) by product category.
* `invoicing.discounts`: bulk discounts (5% from 10 units, 10% from 50) and coupons.
* `invoicing.invoice`: `LineItem` and `Invoice` (subtotal, tax, total, due date).
* `invoicing.orders`: build an invoice from a JSON order.
* `invoicing.export`: CSV export of an invoice.
* `web/format.js`: the same money formatting for the web shop.

```bash
python -m invoicing total examples/order.json
python -m invoicing csv examples/order.json --delimiter ';'
python -m pytest -q
```
"""

_GITIGNORE = """\
__pycache__/
*.pyc
.pytest_cache/
dist/
"""

_INIT = '''\
"""Invoices with correct money arithmetic."""

from invoicing.invoice import Invoice, LineItem
from invoicing.money import Money

__all__ = ["Invoice", "LineItem", "Money"]
__version__ = "0.3.0"
'''

_MAIN = '''\
"""``python -m invoicing``: the command-line interface."""

import sys

from invoicing.cli import main

sys.exit(main())
'''

_MONEY = '''\
"""Money as integer cents plus a currency code.

Floats cannot represent 0.10 exactly, so every amount is stored in the smallest currency unit and every conversion
from a decimal goes through :func:`round_cents`, which rounds halves away from zero like a till receipt does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def round_cents(value: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """Round an amount already expressed in cents to a whole cent; halves away from zero (12.5 -> 13) by default."""
    return int(value.quantize(Decimal(1), rounding=rounding))


@dataclass(frozen=True, order=True)
class Money:
    """An amount of money; ``cents`` is the integer number of the currency's smallest unit."""

    cents: int
    currency: str = "USD"

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        return cls(0, currency)

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str = "USD") -> Money:
        """Parse a decimal amount in major units: ``Money.of("12.50")`` is 1250 cents."""
        return cls(round_cents(Decimal(str(amount)) * 100), currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.cents + other.cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.cents - other.cents, self.currency)

    def times(self, quantity: int) -> Money:
        """The price of ``quantity`` units."""
        return Money(self.cents * quantity, self.currency)

    def percent(self, rate: Decimal) -> Money:
        """``rate`` percent of this amount, rounded to the cent."""
        return Money(round_cents(Decimal(self.cents) * rate / 100), self.currency)

    def interest(self, rate: Decimal) -> Money:
        """Interest at ``rate`` percent; banks round half cents of interest to even, unlike receipts."""
        return Money(round_cents(Decimal(self.cents) * rate / 100, ROUND_HALF_EVEN), self.currency)

    def allocate(self, parts: int) -> list[Money]:
        """Split into ``parts`` nearly equal shares that add up exactly; earlier shares get the spare cents.

        Used for instalment plans: $1.00 in three instalments is 34 + 33 + 33 cents.
        """
        if parts <= 0:
            raise ValueError("parts must be positive")
        base, remainder = divmod(self.cents, parts)
        shares = [base] * parts
        for index in range(remainder):
            shares[index] += 1
        return [Money(share, self.currency) for share in shares]

    def amount(self) -> str:
        """The amount in major units with two decimals: ``"12.50"``."""
        sign = "-" if self.cents < 0 else ""
        whole, cents = divmod(abs(self.cents), 100)
        return f"{sign}{whole}.{cents:02d}"

    def __str__(self) -> str:
        return f"{self.amount()} {self.currency}"
'''

_TAX = '''\
"""VAT by product category.

Rates are percentages; a category maps to a band, a band to a rate. Unknown categories pay the standard rate,
which is the safe default for an auditor.
"""

from __future__ import annotations

from decimal import Decimal

from invoicing.money import Money

TAX_RATES: dict[str, Decimal] = {
    "standard": Decimal("20"),
    "reduced": Decimal("5"),
    "zero": Decimal("0"),
}

CATEGORY_BANDS: dict[str, str] = {
    "book": "reduced",
    "food": "reduced",
    "children_clothing": "zero",
    "electronics": "standard",
    "general": "standard",
}


def rate_for(category: str) -> Decimal:
    """The VAT rate in percent for a product category."""
    band = CATEGORY_BANDS.get(category, "standard")
    return TAX_RATES[band]


def tax_for(amount: Money, category: str) -> Money:
    """The VAT due on a net amount of the given category."""
    return amount.percent(rate_for(category))
'''

_DISCOUNTS = '''\
"""Bulk discounts per line and coupons per invoice."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from invoicing.money import Money

# (minimum quantity, percent off), largest threshold first
BULK_TIERS: tuple[tuple[int, Decimal], ...] = (
    (50, Decimal("10")),
    (10, Decimal("5")),
)


def bulk_discount_rate(quantity: int) -> Decimal:
    """Percent off a line for buying in bulk: 5% from 10 units, 10% from 50 units."""
    for threshold, rate in BULK_TIERS:
        if quantity >= threshold:
            return rate
    return Decimal("0")


@dataclass(frozen=True)
class Coupon:
    """Either a percentage or a fixed amount off, valid from a minimum order value."""

    code: str
    percent_off: Decimal = Decimal("0")
    amount_off: Money | None = None
    minimum: Money = Money(0)


def apply_coupon(total: Money, coupon: Coupon | None) -> Money:
    """The amount after the coupon; never below zero, and unchanged below the coupon's minimum."""
    if coupon is None or total.cents < coupon.minimum.cents:
        return total
    if coupon.amount_off is not None:
        return max(total - coupon.amount_off, Money.zero(total.currency))
    return total - total.percent(coupon.percent_off)
'''

_INVOICE = '''\
"""Invoices: line items with bulk discounts and VAT, a coupon, and payment terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from invoicing.discounts import Coupon, apply_coupon, bulk_discount_rate
from invoicing.money import CurrencyMismatch, Money
from invoicing.tax import tax_for


@dataclass
class LineItem:
    """``quantity`` units of one product at ``unit_price`` each."""

    sku: str
    description: str
    unit_price: Money
    quantity: int = 1
    category: str = "general"

    def gross(self) -> Money:
        return self.unit_price.times(self.quantity)

    def discount(self) -> Money:
        """The bulk discount on this line."""
        return self.gross().percent(bulk_discount_rate(self.quantity))

    def net(self) -> Money:
        """What the customer pays for the line before tax."""
        return self.gross() - self.discount()

    def tax(self) -> Money:
        return tax_for(self.net(), self.category)


@dataclass
class Invoice:
    """A customer's invoice. Coupons are store credit: they apply to the total after tax."""

    number: str
    customer: str
    currency: str = "USD"
    items: list[LineItem] = field(default_factory=list)
    coupon: Coupon | None = None
    payment_terms_days: int = 30

    def add(self, item: LineItem) -> None:
        if item.unit_price.currency != self.currency:
            raise CurrencyMismatch(f"invoice is in {self.currency}, item {item.sku} in {item.unit_price.currency}")
        self.items.append(item)

    def subtotal(self) -> Money:
        """The sum of the lines' net amounts (after bulk discounts, before tax)."""
        total = Money.zero(self.currency)
        for item in self.items:
            total = total + item.net()
        return total

    def tax_total(self) -> Money:
        """VAT is computed per line, then summed (how the tax office wants it rounded)."""
        return sum((item.tax() for item in self.items), Money.zero(self.currency))

    def total(self) -> Money:
        """What the customer pays: subtotal plus tax, minus the coupon."""
        return apply_coupon(self.subtotal() + self.tax_total(), self.coupon)

    def due_date(self, issued: date) -> date:
        return issued + timedelta(days=self.payment_terms_days)
'''

_ORDERS = '''\
"""Build invoices from JSON orders, as the web shop sends them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from invoicing.discounts import Coupon
from invoicing.invoice import Invoice, LineItem
from invoicing.money import Money


def line_item_from_dict(data: Mapping[str, Any], currency: str) -> LineItem:
    """One line of an order: ``{"sku", "unit_price", "quantity"?, "category"?, "description"?}``."""
    return LineItem(
        sku=str(data["sku"]),
        description=str(data.get("description", data["sku"])),
        unit_price=Money.of(data["unit_price"], currency),
        quantity=int(data.get("quantity", 1)),
        category=str(data.get("category", "general")),
    )


def invoice_from_dict(data: Mapping[str, Any]) -> Invoice:
    currency = str(data.get("currency", "USD"))
    invoice = Invoice(number=str(data["number"]), customer=str(data["customer"]), currency=currency)
    for line in data.get("items", []):
        invoice.add(line_item_from_dict(line, currency))
    if coupon := data.get("coupon"):
        invoice.coupon = Coupon(code=str(coupon["code"]), percent_off=Decimal(str(coupon.get("percent_off", "0"))))
    return invoice


def load_invoice(path: Path) -> Invoice:
    return invoice_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
'''

_EXPORT = '''\
"""CSV export for the accounting spreadsheet."""

from __future__ import annotations

import csv
import io

from invoicing.invoice import Invoice

COLUMNS = ("sku", "description", "quantity", "unit_price", "discount", "net", "tax")


def to_csv(invoice: Invoice, delimiter: str = ",") -> str:
    """One row per line item, then a total row; amounts in major units with two decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\\n")
    writer.writerow(COLUMNS)
    for item in invoice.items:
        writer.writerow(
            [
                item.sku,
                item.description,
                item.quantity,
                item.unit_price.amount(),
                item.discount().amount(),
                item.net().amount(),
                item.tax().amount(),
            ]
        )
    writer.writerow(["", "TOTAL", "", "", "", invoice.subtotal().amount(), invoice.tax_total().amount()])
    return buffer.getvalue()
'''

_CLI = '''\
"""``invoice total ORDER.json`` and ``invoice csv ORDER.json``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from invoicing.export import to_csv
from invoicing.orders import load_invoice


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invoice", description="Totals and CSV exports for JSON orders.")
    commands = parser.add_subparsers(dest="command", required=True)
    total = commands.add_parser("total", help="print the invoice total")
    total.add_argument("order", type=Path)
    export = commands.add_parser("csv", help="print the invoice as CSV")
    export.add_argument("order", type=Path)
    export.add_argument("--delimiter", default=",")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    invoice = load_invoice(args.order)
    if args.command == "total":
        print(f"{invoice.number}: {invoice.total()}")
    else:
        sys.stdout.write(to_csv(invoice, delimiter=args.delimiter))
    return 0
'''

_FORMAT_JS = """\
// Money formatting for the web shop; mirrors invoicing.money.Money.amount().

/**
 * Format integer cents as a decimal amount with two digits: formatCents(-1250) === "-12.50".
 */
export function formatCents(cents) {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100);
  const rest = String(abs % 100).padStart(2, "0");
  return `${sign}${whole}.${rest}`;
}

/** "12.50 USD", the same as str(Money) in Python. */
export function formatMoney(cents, currency = "USD") {
  return `${formatCents(cents)} ${currency}`;
}
"""

_EXAMPLE_ORDER = """\
{
  "number": "INV-1001",
  "customer": "Ada's Bookshop",
  "currency": "USD",
  "items": [
    {"sku": "BK-001", "description": "Python Cookbook", "unit_price": "39.90", "quantity": 2, "category": "book"},
    {"sku": "EL-204", "description": "USB-C cable", "unit_price": "9.99", "quantity": 12, "category": "electronics"}
  ],
  "coupon": {"code": "WELCOME10", "percent_off": "10"}
}
"""

_CONFTEST = '''\
"""Shared fixtures."""

import pytest

from invoicing.invoice import Invoice, LineItem
from invoicing.money import Money


@pytest.fixture
def invoice() -> Invoice:
    inv = Invoice(number="INV-1", customer="Ada")
    inv.add(LineItem("BK-1", "Cookbook", Money.of("20.00"), quantity=1, category="book"))
    inv.add(LineItem("EL-1", "Cable", Money.of("5.00"), quantity=10, category="electronics"))
    return inv
'''

_TEST_MONEY = """\
from decimal import Decimal

import pytest

from invoicing.money import CurrencyMismatch, Money


def test_of_parses_decimal_strings():
    assert Money.of("12.50").cents == 1250
    assert Money.of(3).cents == 300


def test_of_rounds_half_up():
    assert Money.of("0.125").cents == 13
    assert Money.of("1.005").cents == 101


def test_add_and_subtract():
    assert Money(150) + Money(250) == Money(400)
    assert Money(150) - Money(250) == Money(-100)


def test_currency_mismatch_raises():
    with pytest.raises(CurrencyMismatch):
        Money(100, "USD") + Money(100, "EUR")


def test_percent_rounds_to_cents():
    assert Money(999).percent(Decimal("20")) == Money(200)


def test_interest_rounds_half_even():
    assert Money(1000).interest(Decimal("0.25")) == Money(2)
    assert Money(1000).interest(Decimal("0.35")) == Money(4)


def test_allocate_keeps_every_cent():
    shares = Money(100).allocate(3)
    assert [s.cents for s in shares] == [34, 33, 33]
    assert sum(s.cents for s in shares) == 100


def test_allocate_rejects_zero_parts():
    with pytest.raises(ValueError):
        Money(100).allocate(0)


def test_str_formats_two_decimals():
    assert str(Money(1205)) == "12.05 USD"
    assert Money(-7).amount() == "-0.07"
"""

_TEST_TAX = """\
from decimal import Decimal

from invoicing.money import Money
from invoicing.tax import rate_for, tax_for


def test_standard_rate():
    assert rate_for("electronics") == Decimal("20")


def test_books_are_reduced():
    assert rate_for("book") == Decimal("5")


def test_unknown_category_pays_standard():
    assert rate_for("spaceships") == Decimal("20")


def test_tax_for_amount():
    assert tax_for(Money(1000), "food") == Money(50)
"""

_TEST_DISCOUNTS = """\
from decimal import Decimal

from invoicing.discounts import Coupon, apply_coupon, bulk_discount_rate
from invoicing.money import Money


def test_no_bulk_discount_below_ten():
    assert bulk_discount_rate(9) == Decimal("0")


def test_bulk_discount_starts_at_threshold():
    assert bulk_discount_rate(10) == Decimal("5")
    assert bulk_discount_rate(50) == Decimal("10")


def test_amount_coupon_never_negative():
    coupon = Coupon("BIG", amount_off=Money(5000))
    assert apply_coupon(Money(1200), coupon) == Money(0)


def test_percent_coupon():
    assert apply_coupon(Money(2000), Coupon("TEN", percent_off=Decimal("10"))) == Money(1800)


def test_coupon_minimum():
    coupon = Coupon("MIN", percent_off=Decimal("10"), minimum=Money(5000))
    assert apply_coupon(Money(4999), coupon) == Money(4999)
"""

_TEST_INVOICE = """\
from datetime import date

import pytest

from invoicing.invoice import Invoice, LineItem
from invoicing.money import CurrencyMismatch, Money


def test_line_item_net_after_bulk_discount():
    item = LineItem("EL-1", "Cable", Money.of("5.00"), quantity=10)
    assert item.net() == Money.of("47.50")


def test_subtotal_sums_lines(invoice):
    assert invoice.subtotal() == Money.of("67.50")


def test_total_includes_tax(invoice):
    # 20.00 book at 5% = 1.00 tax; 47.50 of cables at 20% = 9.50 tax
    assert invoice.total() == Money.of("78.00")


def test_three_items_at_ten_cents():
    inv = Invoice(number="INV-2", customer="Bob")
    inv.add(LineItem("SW-1", "Sweet", Money.of("0.10"), quantity=3, category="food"))
    assert inv.total() == Money(32)


def test_rejects_other_currency():
    inv = Invoice(number="INV-3", customer="Eve", currency="EUR")
    with pytest.raises(CurrencyMismatch):
        inv.add(LineItem("X", "x", Money(100, "USD")))


def test_due_date_uses_payment_terms():
    inv = Invoice(number="INV-4", customer="Max")
    assert inv.due_date(date(2024, 1, 1)) == date(2024, 1, 31)
"""

_TEST_ORDERS = """\
import json

from invoicing.cli import main
from invoicing.export import to_csv
from invoicing.money import Money
from invoicing.orders import invoice_from_dict

ORDER = {
    "number": "INV-9",
    "customer": "Ada",
    "items": [{"sku": "BK-1", "unit_price": "20.00", "category": "book"}],
}


def test_invoice_from_dict_reads_category():
    invoice = invoice_from_dict(ORDER)
    assert invoice.items[0].category == "book"
    assert invoice.tax_total() == Money.of("1.00")


def test_coupon_from_order():
    invoice = invoice_from_dict({**ORDER, "coupon": {"code": "TEN", "percent_off": "10"}})
    assert invoice.total() == Money.of("18.90")


def test_csv_header_and_rows(invoice):
    lines = to_csv(invoice).splitlines()
    assert lines[0] == "sku,description,quantity,unit_price,discount,net,tax"
    assert lines[2] == "EL-1,Cable,10,5.00,2.50,47.50,9.50"


def test_csv_custom_delimiter(invoice):
    assert to_csv(invoice, delimiter=";").splitlines()[-1] == ";TOTAL;;;;67.50;10.50"


def test_cli_total(tmp_path, capsys):
    order = tmp_path / "order.json"
    order.write_text(json.dumps(ORDER))
    assert main(["total", str(order)]) == 0
    assert capsys.readouterr().out.strip() == "INV-9: 21.00 USD"
"""

FILES: dict[str, str] = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _README,
    ".gitignore": _GITIGNORE,
    "invoicing/__init__.py": _INIT,
    "invoicing/__main__.py": _MAIN,
    "invoicing/money.py": _MONEY,
    "invoicing/tax.py": _TAX,
    "invoicing/discounts.py": _DISCOUNTS,
    "invoicing/invoice.py": _INVOICE,
    "invoicing/orders.py": _ORDERS,
    "invoicing/export.py": _EXPORT,
    "invoicing/cli.py": _CLI,
    "web/format.js": _FORMAT_JS,
    "examples/order.json": _EXAMPLE_ORDER,
    "tests/conftest.py": _CONFTEST,
    "tests/test_money.py": _TEST_MONEY,
    "tests/test_tax.py": _TEST_TAX,
    "tests/test_discounts.py": _TEST_DISCOUNTS,
    "tests/test_invoice.py": _TEST_INVOICE,
    "tests/test_orders.py": _TEST_ORDERS,
}

# the history: the core first, then the rest, so incremental re-indexing has a diff to work from
_COMMITS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Money, tax bands and discounts",
        (
            "pyproject.toml",
            "README.md",
            ".gitignore",
            "invoicing/money.py",
            "invoicing/tax.py",
            "invoicing/discounts.py",
            "tests/test_money.py",
            "tests/test_tax.py",
            "tests/test_discounts.py",
        ),
    ),
    ("Invoices, JSON orders, CSV export and the CLI", ()),  # () = everything not yet committed
)

BUGS: dict[str, PlantedBug] = {
    bug.id: bug
    for bug in (
        PlantedBug(
            id="bulk-threshold",
            kind="comparison operator",
            difficulty=1,
            file="invoicing/discounts.py",
            description="Ordering exactly 10 units no longer gets the 5% bulk discount; 11 units do.",
            original="        if quantity >= threshold:\n",
            buggy="        if quantity > threshold:\n",
            failing_tests=(
                "tests/test_discounts.py::test_bulk_discount_starts_at_threshold",
                "tests/test_invoice.py::test_line_item_net_after_bulk_discount",
                "tests/test_invoice.py::test_subtotal_sums_lines",
                "tests/test_invoice.py::test_total_includes_tax",
                "tests/test_orders.py::test_csv_custom_delimiter",
                "tests/test_orders.py::test_csv_header_and_rows",
            ),
            function="bulk_discount_rate",
        ),
        PlantedBug(
            id="csv-delimiter",
            kind="wrong default",
            difficulty=2,
            file="invoicing/export.py",
            description="The CSV export opens as one column in the spreadsheet: the fields are not comma separated.",
            original='def to_csv(invoice: Invoice, delimiter: str = ",") -> str:\n',
            buggy='def to_csv(invoice: Invoice, delimiter: str = ";") -> str:\n',
            failing_tests=("tests/test_orders.py::test_csv_header_and_rows",),
            function="to_csv",
        ),
        PlantedBug(
            id="category-key",
            kind="wrong dict key",
            difficulty=3,
            file="invoicing/orders.py",
            description="Books in orders from the web shop are taxed at 20% instead of the reduced 5% rate.",
            original='        category=str(data.get("category", "general")),\n',
            buggy='        category=str(data.get("type", "general")),\n',
            failing_tests=(
                "tests/test_orders.py::test_cli_total",
                "tests/test_orders.py::test_coupon_from_order",
                "tests/test_orders.py::test_invoice_from_dict_reads_category",
            ),
            function="line_item_from_dict",
        ),
        PlantedBug(
            id="allocate-remainder",
            kind="off-by-one in a range",
            difficulty=3,
            file="invoicing/money.py",
            description="Splitting $1.00 into 3 instalments gives 33 + 33 + 33 cents: a cent disappears.",
            original="        for index in range(remainder):\n",
            buggy="        for index in range(1, remainder):\n",
            failing_tests=("tests/test_money.py::test_allocate_keeps_every_cent",),
            function="allocate",
        ),
        PlantedBug(
            id="rounding-mode",
            kind="rounding mode",
            difficulty=4,
            file="invoicing/money.py",
            description="Half cents are rounded to even: 1.005 becomes 1.00 but the till says 1.01.",
            original="def round_cents(value: Decimal, rounding: str = ROUND_HALF_UP) -> int:\n",
            buggy="def round_cents(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> int:\n",
            failing_tests=("tests/test_money.py::test_of_rounds_half_up",),
            function="round_cents",
        ),
        PlantedBug(
            id="subtotal-return",
            kind="missing return",
            difficulty=5,
            file="invoicing/invoice.py",
            description="Invoice totals crash with a TypeError about NoneType; 3 items at $0.10 cannot be invoiced.",
            original="            total = total + item.net()\n        return total\n",
            buggy="            total = total + item.net()\n",
            failing_tests=(
                "tests/test_invoice.py::test_subtotal_sums_lines",
                "tests/test_invoice.py::test_three_items_at_ten_cents",
                "tests/test_invoice.py::test_total_includes_tax",
                "tests/test_orders.py::test_cli_total",
                "tests/test_orders.py::test_coupon_from_order",
                "tests/test_orders.py::test_csv_custom_delimiter",
                "tests/test_orders.py::test_csv_header_and_rows",
            ),
            function="subtotal",
        ),
    )
}


def _git(root: Path, *args: str, seed: int = 0, tick: int = 0) -> str:
    """Run git with a fixed identity and dates and no user/system config (hooks, signing, templates)."""
    stamp = f"{_BASE_EPOCH + seed * 86_400 + tick * 3_600} +0000"
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
        "GIT_TERMINAL_PROMPT": "0",
    }
    cmd = ["git", *GIT_IDENTITY, "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def generate_demo_repo(dest: Path, *, seed: int = 0, bugs: Sequence[str] | None = None) -> DemoRepo:
    """Write the demo package into ``dest`` (created; must be empty or absent), commit it, then plant ``bugs``.

    ``seed`` only shifts the commit dates (so two demo repos can have different hashes); the content is fixed, so
    the bug catalogue's replacements always apply.
    """
    root = Path(dest)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "main")
    committed: set[str] = set()
    for tick, (message, paths) in enumerate(_COMMITS):
        batch = paths or tuple(p for p in FILES if p not in committed)
        for rel in batch:
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(FILES[rel], encoding="utf-8")
        _git(root, "add", "--", *batch)
        _git(root, "commit", "-q", "-m", message, seed=seed, tick=tick)
        committed.update(batch)
    repo = DemoRepo(root=root)
    for bug_id in bugs or ():
        repo.plant(bug_id)
    return repo


def plant_bug(repo: Path, bug_id: str) -> PlantedBug:
    """Apply one catalogued bug to the working tree and commit it on its own (``git diff HEAD~1`` shows it)."""
    try:
        bug = BUGS[bug_id]
    except KeyError:
        raise KeyError(f"unknown bug {bug_id!r}; known: {', '.join(BUGS)}") from None
    path = Path(repo) / bug.file
    text = path.read_text(encoding="utf-8")
    if text.count(bug.original) != 1:
        raise ValueError(f"bug {bug_id}: the original text does not occur exactly once in {bug.file}")
    path.write_text(text.replace(bug.original, bug.buggy), encoding="utf-8")
    ticks = int(_git(Path(repo), "rev-list", "--count", "HEAD").strip())
    _git(Path(repo), "commit", "-q", "-am", f"Refactor {bug.function}", tick=ticks)
    return bug
