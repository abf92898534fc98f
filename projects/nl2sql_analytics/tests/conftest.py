"""A tiny business database, built identically in a real SQLite file and a real (embedded) PostgreSQL database."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from projects.nl2sql_analytics.connections import Connection
from projects.nl2sql_analytics.settings import Nl2SqlSettings

DDL = [
    "CREATE TABLE regions (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region_id INTEGER REFERENCES regions(id))",
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), "
    "product_id INTEGER REFERENCES products(id), region_id INTEGER NOT NULL, amount REAL NOT NULL, note TEXT)",
    "CREATE TABLE payments (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id), paid REAL NOT NULL)",
]
REGIONS = [(1, "North"), (2, "South"), (3, "East")]
CUSTOMERS = [(i, f"Customer {i}", (i - 1) % 3 + 1) for i in range(1, 10)]  # 3 customers per region
PRODUCTS = [(1, "Widget", 9.5), (2, "Gadget", 20.0), (3, "Gizmo", 4.25)]
# 30 orders; an order's region is its customer's region
ORDERS = [
    (i, (i - 1) % 9 + 1, (i - 1) % 3 + 1, ((i - 1) % 9) % 3 + 1, float(10 * i), f"note {i}") for i in range(1, 31)
]
PAYMENTS = [(i, i, float(10 * i)) for i in range(1, 31)]

REGION = 3  # the regional manager's region in the RLS tests
ALLOWED_ORDER_IDS = {o[0] for o in ORDERS if o[3] == REGION}
ALLOWED_CUSTOMER_IDS = {c[0] for c in CUSTOMERS if c[2] == REGION}
ALL_ORDER_IDS = {o[0] for o in ORDERS}

ROWS = {"regions": REGIONS, "customers": CUSTOMERS, "products": PRODUCTS, "orders": ORDERS, "payments": PAYMENTS}


def build_sqlite(path: Path) -> Connection:
    with sqlite3.connect(path) as conn:
        for statement in DDL:
            conn.execute(statement)
        for table, rows in ROWS.items():
            conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    conn.close()
    return Connection(name="shop", target=str(path))


def build_postgres(url: str) -> Connection:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in DDL:
            conn.execute(statement)
        for table, rows in ROWS.items():
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(rows[0]))})", rows)
        conn.execute("CREATE SEQUENCE counter")
    return Connection(name="shop", target=url)


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Connection:
    """Shared by the whole session: everything here runs read-only, which the tests themselves assert."""
    return build_sqlite(tmp_path_factory.mktemp("shop") / "shop.sqlite")


@pytest.fixture(scope="session")
def pg_db(pg_server_url: str) -> Iterator[Connection]:
    """One database on the session's embedded server (like ``database_url``, but built once: tests only read)."""
    from shared.db import with_dbname

    name = f"shop_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield build_postgres(with_dbname(pg_server_url, name))
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Connection:
    """Each test using it runs against both engines."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return request.getfixturevalue(name)


@pytest.fixture
def settings() -> Nl2SqlSettings:
    """Short timeouts so the timeout tests stay fast."""
    return Nl2SqlSettings(row_limit=1000, statement_timeout_ms=700, sample_values=3)


# -- service, API and UI tests: their fixtures live in api_support.py -------------------------------------
from projects.nl2sql_analytics.tests.api_support import (  # noqa: E402
    client,  # noqa: F401
    demo_sqlite,  # noqa: F401
    nl_settings,  # noqa: F401
    pipeline,  # noqa: F401
    service,  # noqa: F401
)
