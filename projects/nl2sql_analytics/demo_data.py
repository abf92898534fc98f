"""The demo business database: regions, customers, products, orders, order_items, payments.

Why generate instead of shipping a file: the same seed gives byte-identical rows on every machine, tests
build their own copy in about a second, and the same rows go to SQLite and PostgreSQL so a question can be
asked of both and compared. The data is shaped to make analytics questions interesting: four years of orders
(2022-2025) with year-on-year growth and a November/December peak, a long tail of product popularity,
repeat customers, discounts, cancelled and returned orders, failed payment attempts and refunds.

Usage::

    python -m projects.nl2sql_analytics.demo_data --sqlite /tmp/demo.sqlite [--postgres URL] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

ColType = Literal["int", "text", "money", "date", "timestamp"]

# -- schema -----------------------------------------------------------------------------------------------
# One declaration drives both dialects' DDL, the checksum's column order and the semantic layer's validation.
TABLES: dict[str, dict[str, ColType]] = {
    "regions": {"region_id": "int", "name": "text", "manager": "text"},
    "customers": {
        "customer_id": "int",
        "name": "text",
        "email": "text",
        "segment": "text",
        "city": "text",
        "country": "text",
        "region_id": "int",
        "signup_date": "date",
    },
    "products": {"product_id": "int", "sku": "text", "name": "text", "category": "text", "list_price": "money"},
    "orders": {"order_id": "int", "customer_id": "int", "order_date": "date", "status": "text"},
    "order_items": {
        "order_item_id": "int",
        "order_id": "int",
        "product_id": "int",
        "quantity": "int",
        "unit_price": "money",
        "discount": "money",
    },
    "payments": {
        "payment_id": "int",
        "order_id": "int",
        "method": "text",
        "amount": "money",
        "paid_at": "timestamp",
        "status": "text",
    },
}
PRIMARY_KEYS: dict[str, str] = {t: next(iter(cols)) for t, cols in TABLES.items()}
# (from_table, from_column, to_table, to_column)
FOREIGN_KEYS: list[tuple[str, str, str, str]] = [
    ("customers", "region_id", "regions", "region_id"),
    ("orders", "customer_id", "customers", "customer_id"),
    ("order_items", "order_id", "orders", "order_id"),
    ("order_items", "product_id", "products", "product_id"),
    ("payments", "order_id", "orders", "order_id"),
]
CHECKS: dict[str, list[str]] = {
    "order_items": ["quantity > 0", "unit_price >= 0", "discount >= 0 AND discount < 1"],
    "orders": ["status IN ('completed', 'shipped', 'pending', 'cancelled', 'returned')"],
    "payments": ["status IN ('completed', 'refunded', 'failed')", "amount >= 0"],
    "customers": ["segment IN ('Consumer', 'Small Business', 'Enterprise')"],
}
_SQLITE_TYPES = {"int": "INTEGER", "text": "TEXT", "money": "REAL", "date": "TEXT", "timestamp": "TEXT"}
_PG_TYPES = {"int": "INTEGER", "text": "TEXT", "money": "NUMERIC(12,2)", "date": "DATE", "timestamp": "TIMESTAMP"}

START = dt.date(2022, 1, 1)
END = dt.date(2025, 12, 31)


def _words(text: str, sep: str | None = None) -> list[str]:
    """A vocabulary written as one string (readable in a diff) split into words."""
    return text.split(sep)


# -- hand-written vocabularies ----------------------------------------------------------------------------
REGIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "North America",
        "Dana Whitfield",
        [
            ("New York", "United States"),
            ("Chicago", "United States"),
            ("Austin", "United States"),
            ("Seattle", "United States"),
            ("Atlanta", "United States"),
            ("Toronto", "Canada"),
            ("Vancouver", "Canada"),
        ],
    ),
    (
        "Latin America",
        "Mateo Alvarez",
        [
            ("Mexico City", "Mexico"),
            ("Guadalajara", "Mexico"),
            ("São Paulo", "Brazil"),
            ("Buenos Aires", "Argentina"),
            ("Bogotá", "Colombia"),
            ("Santiago", "Chile"),
        ],
    ),
    (
        "Western Europe",
        "Claire Dubois",
        [
            ("Paris", "France"),
            ("Lyon", "France"),
            ("Berlin", "Germany"),
            ("Munich", "Germany"),
            ("Madrid", "Spain"),
            ("Amsterdam", "Netherlands"),
            ("London", "United Kingdom"),
            ("Manchester", "United Kingdom"),
        ],
    ),
    (
        "Northern Europe",
        "Lars Eriksen",
        [
            ("Stockholm", "Sweden"),
            ("Oslo", "Norway"),
            ("Copenhagen", "Denmark"),
            ("Helsinki", "Finland"),
            ("Dublin", "Ireland"),
        ],
    ),
    (
        "Asia Pacific",
        "Mei Tanaka",
        [
            ("Tokyo", "Japan"),
            ("Osaka", "Japan"),
            ("Singapore", "Singapore"),
            ("Sydney", "Australia"),
            ("Melbourne", "Australia"),
            ("Seoul", "South Korea"),
            ("Mumbai", "India"),
            ("Bangalore", "India"),
        ],
    ),
]
REGION_WEIGHTS = [0.34, 0.12, 0.26, 0.10, 0.18]

FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Carlos Sofia Lucas Emma Noah Olivia Liam Ava Mateo Isabella Hugo "
    "Chloe Lena Jonas Anna Felix Ingrid Erik Astrid Yuki Haruto Sakura Min-jun Ji-woo Arjun Priya Rohan "
    "Ananya Wei Mei Ahmed Fatima Omar Leila Pierre Camille Giulia Marco Elena Pablo Lucia Diego "
    "Valentina"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Martin Lee Thompson White Harris Clark Lewis Walker Young Allen "
    "King Wright Muller Schmidt Schneider Fischer Weber Dubois Laurent Bernard Rossi Russo Ferrari Silva "
    "Santos Oliveira Andersson Johansson Nielsen Hansen Virtanen Sato Suzuki Takahashi Kim Park Choi "
    "Sharma Patel Gupta Chen Wang"
)
COMPANY_SUFFIXES = _words(
    "Logistics|Consulting|Trading Co.|Studio|Labs|Holdings|Group|Partners|Supply|Systems|Foods|Design|Analytics",
    "|",
)
COMPANY_PREFIXES = _words(
    "Northwind|Bluebird|Summit|Harbor|Evergreen|Ironwood|Silverline|Redwood|Brightpath|Cobalt|Maple|"
    "Keystone|Pioneer|Granite|Lighthouse|Nimbus|Orchard|Sterling|Vertex|Willow",
    "|",
)
SEGMENTS = ["Consumer", "Small Business", "Enterprise"]
SEGMENT_WEIGHTS = [0.72, 0.21, 0.07]

# category -> [(product name, list price)]; each gets a standard and a premium variant
PRODUCTS: dict[str, list[tuple[str, float]]] = {
    "Electronics": [
        ("Wireless Mouse", 24.99),
        ("Mechanical Keyboard", 89.0),
        ("Noise-Cancelling Headphones", 199.0),
        ("27-inch Monitor", 279.0),
        ("USB-C Hub", 39.5),
        ("Portable SSD 1TB", 109.0),
        ("Webcam HD", 59.0),
        ("Bluetooth Speaker", 74.0),
    ],
    "Home & Kitchen": [
        ("Espresso Machine", 349.0),
        ("Chef's Knife", 64.0),
        ("Cast Iron Skillet", 42.0),
        ("Blender", 119.0),
        ("Coffee Grinder", 55.0),
        ("Air Fryer", 129.0),
        ("Linen Bedding Set", 158.0),
    ],
    "Office Supplies": [
        ("Ergonomic Chair", 329.0),
        ("Standing Desk", 499.0),
        ("Desk Lamp", 45.0),
        ("Notebook Pack", 12.5),
        ("Gel Pens (12)", 9.99),
        ("Document Shredder", 89.0),
        ("Whiteboard", 69.0),
    ],
    "Sports & Outdoors": [
        ("Yoga Mat", 35.0),
        ("Running Shoes", 129.0),
        ("Camping Tent", 219.0),
        ("Water Bottle", 19.0),
        ("Adjustable Dumbbells", 249.0),
        ("Cycling Helmet", 79.0),
    ],
    "Books": [
        ("Data Analysis Handbook", 49.0),
        ("Mystery Novel", 16.99),
        ("Cookbook: Weeknight Dinners", 29.0),
        ("Travel Guide: Japan", 24.0),
        ("Children's Picture Book", 14.5),
    ],
    "Toys & Games": [
        ("Building Blocks Set", 59.0),
        ("Strategy Board Game", 44.0),
        ("Jigsaw Puzzle 1000", 22.0),
        ("Remote Control Car", 65.0),
        ("Plush Bear", 18.0),
    ],
}
PAYMENT_METHODS = ["credit_card", "paypal", "bank_transfer", "gift_card"]
PAYMENT_METHOD_WEIGHTS = [0.55, 0.25, 0.15, 0.05]


@dataclass(frozen=True)
class DemoData:
    """The generated tables as DataFrames, in :data:`TABLES` column order (dates as ISO strings)."""

    tables: dict[str, pd.DataFrame]

    def checksum(self) -> str:
        """SHA-256 over every table's CSV: equal checksums mean identical data."""
        digest = hashlib.sha256()
        for name in TABLES:
            digest.update(name.encode())
            digest.update(self.tables[name].to_csv(index=False, float_format="%.2f").encode())
        return digest.hexdigest()

    def row_counts(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.tables.items()}


def _month_weights(days: pd.DatetimeIndex) -> np.ndarray:
    """Relative order volume per day: ~25 %/year growth, a Nov/Dec peak, a summer dip, quieter weekends."""
    years = (days - pd.Timestamp(START)).days.to_numpy() / 365.25
    season = np.array([0.85, 0.8, 0.95, 1.0, 1.0, 0.9, 0.85, 0.9, 1.0, 1.05, 1.45, 1.7])[days.month.to_numpy() - 1]
    weekday = np.where(days.day_of_week.to_numpy() >= 5, 0.8, 1.05)
    return np.power(1.25, years) * season * weekday


def generate(seed: int = 7, n_customers: int = 3000, orders_per_customer: float = 5.0) -> DemoData:
    """Build every table from ``seed`` (same arguments → identical data, see :meth:`DemoData.checksum`)."""
    rng = np.random.default_rng(seed)

    # regions
    regions = pd.DataFrame(
        {
            "region_id": np.arange(1, len(REGIONS) + 1),
            "name": [r[0] for r in REGIONS],
            "manager": [r[1] for r in REGIONS],
        }
    )

    # customers: signups from mid-2021 (so early orders have buyers) to late 2025, accelerating like orders
    region_idx = rng.choice(len(REGIONS), size=n_customers, p=REGION_WEIGHTS)
    cities = [REGIONS[r][2][rng.integers(len(REGIONS[r][2]))] for r in region_idx]
    segment = rng.choice(SEGMENTS, size=n_customers, p=SEGMENT_WEIGHTS)
    first = rng.choice(FIRST_NAMES, size=n_customers)
    last = rng.choice(LAST_NAMES, size=n_customers)
    company = [
        f"{rng.choice(COMPANY_PREFIXES)} {lst} {rng.choice(COMPANY_SUFFIXES)}"
        if rng.random() < 0.5
        else f"{rng.choice(COMPANY_PREFIXES)} {rng.choice(COMPANY_SUFFIXES)}"
        for lst in last
    ]
    names = [c if s != "Consumer" else f"{f} {lst}" for c, s, f, lst in zip(company, segment, first, last, strict=True)]
    customer_id = np.arange(1, n_customers + 1)
    emails = [
        f"{f.lower()}.{lst.lower()}{i}@example.com" if s == "Consumer" else f"orders{i}@{c.split()[0].lower()}.example"
        for i, f, lst, s, c in zip(customer_id, first, last, segment, company, strict=True)
    ]
    signup_start = pd.Timestamp("2021-06-01")
    span_days = (pd.Timestamp(END) - signup_start).days - 14
    signup_offset = np.sort((span_days * rng.power(1.4, size=n_customers)).astype(int))
    signup = signup_start + pd.to_timedelta(signup_offset, unit="D")
    customers = pd.DataFrame(
        {
            "customer_id": customer_id,
            "name": names,
            "email": emails,
            "segment": segment,
            "city": [c[0] for c in cities],
            "country": [c[1] for c in cities],
            "region_id": region_idx + 1,
            "signup_date": signup.strftime("%Y-%m-%d"),
        }
    )

    # products: a standard and a premium variant of each base item; Zipf-like popularity
    rows = []
    for category, items in PRODUCTS.items():
        for name, price in items:
            rows.append((category, name, price))
            rows.append((category, f"{name} Pro", round(price * 1.6, 2)))
    products = pd.DataFrame(rows, columns=["category", "name", "list_price"])
    products.insert(0, "product_id", np.arange(1, len(products) + 1))
    products.insert(
        1, "sku", [f"{c[:3].upper()}-{i:04d}" for c, i in zip(products.category, products.product_id, strict=True)]
    )
    products = products[list(TABLES["products"])]
    popularity = 1.0 / np.power(rng.permutation(len(products)) + 1, 0.8)
    popularity /= popularity.sum()

    # orders: day sampled by volume weights; buyer sampled among customers signed up by then, skewed to
    # early (loyal) customers; enterprise buyers order more often
    days = pd.date_range(START, END, freq="D")
    day_w = _month_weights(days)
    n_orders = int(n_customers * orders_per_customer)
    order_day = np.sort(rng.choice(len(days), size=n_orders, p=day_w / day_w.sum()))
    order_dates = days[order_day]
    eligible = np.searchsorted(signup.to_numpy(), order_dates.to_numpy(), side="right")
    eligible = np.maximum(eligible, 1)
    buyer_idx = np.minimum((eligible * rng.power(0.75, size=n_orders)).astype(int), eligible - 1)
    # a second draw for 30 % of orders, kept only when it lands on a business customer: businesses buy more often
    redraw = np.minimum((eligible * rng.random(n_orders)).astype(int), eligible - 1)
    take = (rng.random(n_orders) < 0.3) & (segment[redraw] != "Consumer")
    buyer_idx = np.where(take, redraw, buyer_idx)
    age_days = (pd.Timestamp(END) - order_dates).days.to_numpy()
    status = rng.choice(["completed", "cancelled", "returned"], size=n_orders, p=[0.91, 0.05, 0.04]).astype(object)
    status[(age_days < 10) & (status == "completed")] = "shipped"
    status[(age_days < 3) & (rng.random(n_orders) < 0.6)] = "pending"
    orders = pd.DataFrame(
        {
            "order_id": np.arange(1, n_orders + 1),
            "customer_id": customer_id[buyer_idx],
            "order_date": order_dates.strftime("%Y-%m-%d"),
            "status": status.astype(str),
        }
    )

    # order items: 1-5 lines, quantities larger for businesses, occasional discounts (deeper for enterprise)
    n_lines = 1 + np.minimum(rng.poisson(1.3, size=n_orders), 4)
    item_order = np.repeat(np.arange(n_orders), n_lines)
    n_items = len(item_order)
    item_seg = segment[buyer_idx][item_order]
    product_idx = rng.choice(len(products), size=n_items, p=popularity)
    qty = 1 + rng.poisson(0.4, size=n_items)
    qty = np.where(item_seg == "Small Business", qty + rng.poisson(1.5, size=n_items), qty)
    qty = np.where(item_seg == "Enterprise", qty + rng.poisson(6.0, size=n_items), qty)
    discount = rng.choice([0.0, 0.05, 0.10, 0.15, 0.20], size=n_items, p=[0.7, 0.12, 0.1, 0.05, 0.03])
    discount = np.where((item_seg == "Enterprise") & (discount == 0) & (rng.random(n_items) < 0.5), 0.1, discount)
    # list prices rise ~4 % a year; the line price is the year's price minus the discount
    years_in = (order_dates[item_order] - pd.Timestamp(START)).days.to_numpy() // 365
    base = products.list_price.to_numpy()[product_idx] * np.power(1.04, years_in - 3)
    unit_price = np.round(base * (1 - discount), 2)
    order_items = pd.DataFrame(
        {
            "order_item_id": np.arange(1, n_items + 1),
            "order_id": item_order + 1,
            "product_id": product_idx + 1,
            "quantity": qty,
            "unit_price": unit_price,
            "discount": discount,
        }
    )

    # payments: none for pending orders; a failed attempt before ~3 % of successes; cancelled orders end in a
    # failed attempt half of the time (else nothing was charged); returned orders' payment is refunded
    totals = np.round(np.bincount(item_order, weights=unit_price * qty, minlength=n_orders), 2)
    method = rng.choice(PAYMENT_METHODS, size=n_orders, p=PAYMENT_METHOD_WEIGHTS)
    paid_at = order_dates + pd.to_timedelta(rng.integers(8 * 3600, 23 * 3600, size=n_orders), unit="s")
    pay_rows: list[tuple[int, str, float, pd.Timestamp, str]] = []
    retry_first = rng.random(n_orders) < 0.03
    cancel_failed = rng.random(n_orders) < 0.5
    for i in range(n_orders):
        st = status[i]
        if st == "pending":
            continue
        if st == "cancelled":
            if cancel_failed[i]:
                pay_rows.append((i + 1, method[i], totals[i], paid_at[i], "failed"))
            continue
        if retry_first[i]:
            pay_rows.append((i + 1, method[i], totals[i], paid_at[i] - pd.Timedelta(minutes=7), "failed"))
        pay_rows.append((i + 1, method[i], totals[i], paid_at[i], "refunded" if st == "returned" else "completed"))
    payments = pd.DataFrame(pay_rows, columns=["order_id", "method", "amount", "paid_at", "status"])
    payments["paid_at"] = pd.to_datetime(payments.paid_at).dt.strftime("%Y-%m-%d %H:%M:%S")
    payments.insert(0, "payment_id", np.arange(1, len(payments) + 1))

    tables = {
        "regions": regions,
        "customers": customers,
        "products": products,
        "orders": orders,
        "order_items": order_items,
        "payments": payments,
    }
    return DemoData({name: tables[name][list(cols)].reset_index(drop=True) for name, cols in TABLES.items()})


def ddl(dialect: Literal["sqlite", "postgres"], schema: str | None = None) -> list[str]:
    """CREATE TABLE statements (parents first) with primary keys, foreign keys and checks."""
    types = _SQLITE_TYPES if dialect == "sqlite" else _PG_TYPES
    prefix = f'"{schema}".' if schema else ""
    out = []
    for table, cols in TABLES.items():
        parts = [
            f"{c} {types[t]} NOT NULL" + (" PRIMARY KEY" if c == PRIMARY_KEYS[table] else "") for c, t in cols.items()
        ]
        parts += [
            f"FOREIGN KEY ({fc}) REFERENCES {prefix}{tt} ({tc})" for ft, fc, tt, tc in FOREIGN_KEYS if ft == table
        ]
        parts += [f"CHECK ({c})" for c in CHECKS.get(table, [])]
        out.append(f"CREATE TABLE {prefix}{table} (\n  " + ",\n  ".join(parts) + "\n)")
    for ft, fc, _, _ in FOREIGN_KEYS:
        out.append(f"CREATE INDEX {ft}_{fc}_idx ON {prefix}{ft} ({fc})")
    return out


def _records(df: pd.DataFrame) -> list[tuple]:
    """Plain Python values (numpy scalars confuse sqlite3)."""
    return list(df.astype(object).itertuples(index=False, name=None))


def write_sqlite(path: str | Path, data: DemoData | None = None, *, replace: bool = True) -> Path:
    """Write the demo tables to a SQLite file (replacing it by default) and return its path."""
    data = data or generate()
    path = Path(path)
    if replace and path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        for stmt in ddl("sqlite"):
            conn.execute(stmt)
        for table, cols in TABLES.items():
            marks = ", ".join("?" * len(cols))
            conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", _records(data.tables[table]))
        conn.commit()
    finally:
        conn.close()
    return path


def write_postgres(url: str, data: DemoData | None = None, *, schema: str = "public", replace: bool = True) -> None:
    """Write the same tables to PostgreSQL (``schema``, created if missing) with COPY."""
    import psycopg

    data = data or generate()
    with psycopg.connect(url) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        if replace:
            for table in reversed(TABLES):
                conn.execute(f'DROP TABLE IF EXISTS "{schema}".{table} CASCADE')
        for stmt in ddl("postgres", schema):
            if stmt.startswith("CREATE INDEX"):
                continue  # after the load: building an index once beats maintaining it per row
            conn.execute(stmt)
        with conn.cursor() as cur:
            for table, cols in TABLES.items():
                with cur.copy(f'COPY "{schema}".{table} ({", ".join(cols)}) FROM STDIN') as copy:
                    for row in _records(data.tables[table]):
                        copy.write_row(row)
        for stmt in ddl("postgres", schema):
            if stmt.startswith("CREATE INDEX"):
                conn.execute(stmt)
        conn.execute(f'ANALYZE "{schema}".orders')
        conn.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", type=Path, help="write a SQLite file here")
    parser.add_argument("--postgres", help="write to this PostgreSQL URL ('default': the platform database)")
    parser.add_argument("--schema", default="public", help="PostgreSQL schema")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--customers", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.sqlite and not args.postgres:
        parser.error("give --sqlite PATH and/or --postgres URL")
    from projects.nl2sql_analytics.settings import get_nl2sql_settings

    s = get_nl2sql_settings()
    t0 = time.perf_counter()
    data = generate(
        seed=s.demo_seed if args.seed is None else args.seed, n_customers=args.customers or s.demo_customers
    )
    print(f"generated {data.row_counts()} in {time.perf_counter() - t0:.1f}s, checksum {data.checksum()[:12]}")
    if args.sqlite:
        print(f"wrote {write_sqlite(args.sqlite, data)}")
    if args.postgres:
        url = args.postgres
        if url == "default":
            from shared.db import database_url

            url = database_url()
        write_postgres(url, data, schema=args.schema)
        print(f"wrote PostgreSQL schema {args.schema}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
