"""The retailer's data: a seeded generator, the τ-bench importer, and a canonical snapshot of the mutable state.

Both sources go through one in-memory shape, the τ-bench JSON shape (``users``/``orders``/``products`` dicts keyed
by id), extended with the fields τ-bench lacks (dates, carrier, shipment status, return requests). So the
generated retailer and the τ-bench data are loaded by the same code into the same tables, and the tool layer
cannot tell them apart.

``snapshot`` is what the eval compares: the state after the agent's actions must equal the state after the gold
actions. It is canonical (sorted keys, sorted lists, money as exact decimal strings) so that two databases that
reached the same state by different row orders compare equal.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from projects.support_agent.schema import ensure_schema

# -- the generated retailer ------------------------------------------------------------------------------

_COLORS = ["black", "white", "blue", "red", "green", "grey", "navy", "beige"]
CATALOGUE: list[tuple[str, dict[str, list[str]], tuple[float, float]]] = [
    ("T-Shirt", {"color": _COLORS, "size": ["S", "M", "L", "XL"], "material": ["cotton", "polyester"]}, (18, 45)),
    (
        "Running Shoes",
        {"size": ["7", "8", "9", "10", "11", "12"], "color": _COLORS[:5], "material": ["mesh", "leather"]},
        (60, 180),
    ),
    (
        "Backpack",
        {"color": _COLORS[:6], "size": ["small", "medium", "large"], "material": ["nylon", "canvas", "leather"]},
        (35, 160),
    ),
    (
        "Water Bottle",
        {
            "capacity": ["500ml", "750ml", "1000ml"],
            "material": ["stainless steel", "glass", "plastic"],
            "color": _COLORS[:4],
        },
        (12, 48),
    ),
    (
        "Headphones",
        {
            "type": ["in-ear", "on-ear", "over-ear"],
            "connectivity": ["wired", "wireless"],
            "color": ["black", "white", "blue"],
        },
        (25, 350),
    ),
    (
        "Desk Lamp",
        {
            "color": ["black", "white", "silver"],
            "brightness": ["low", "medium", "high"],
            "power source": ["USB", "AC adapter", "battery"],
        },
        (20, 120),
    ),
    (
        "Office Chair",
        {
            "material": ["mesh", "fabric", "leather"],
            "color": ["black", "grey", "blue"],
            "armrest": ["fixed", "adjustable"],
        },
        (120, 520),
    ),
    (
        "Coffee Maker",
        {
            "type": ["drip", "espresso", "french press"],
            "capacity": ["1 cup", "4 cups", "8 cups"],
            "color": ["black", "silver", "red"],
        },
        (25, 400),
    ),
    (
        "Yoga Mat",
        {
            "thickness": ["4mm", "6mm", "8mm"],
            "material": ["PVC", "TPE", "natural rubber"],
            "color": ["purple", "green", "blue", "black"],
        },
        (18, 90),
    ),
    (
        "Smart Watch",
        {"color": ["black", "silver", "gold"], "band": ["silicone", "leather", "metal"], "display": ["LCD", "AMOLED"]},
        (90, 420),
    ),
    (
        "Laptop",
        {
            "screen size": ["13-inch", "15-inch", "17-inch"],
            "processor": ["i5", "i7", "i9"],
            "ram": ["8GB", "16GB", "32GB"],
            "storage": ["256GB SSD", "512GB SSD", "1TB SSD"],
        },
        (650, 2600),
    ),
    (
        "Bluetooth Speaker",
        {
            "color": ["black", "blue", "red"],
            "battery life": ["10 hours", "20 hours"],
            "water resistance": ["yes", "no"],
        },
        (30, 260),
    ),
    (
        "Jigsaw Puzzle",
        {
            "pieces": ["500", "1000", "2000"],
            "theme": ["animals", "landscape", "art"],
            "difficulty level": ["beginner", "intermediate", "expert"],
        },
        (12, 55),
    ),
    (
        "Hiking Boots",
        {"size": ["7", "8", "9", "10", "11", "12"], "material": ["leather", "synthetic"], "waterproof": ["yes", "no"]},
        (80, 260),
    ),
    (
        "Wall Clock",
        {
            "diameter": ["10 inches", "12 inches", "14 inches"],
            "color": ["black", "white", "wood"],
            "type": ["analog", "digital"],
        },
        (15, 90),
    ),
    (
        "Mechanical Keyboard",
        {
            "switch type": ["linear", "tactile", "clicky"],
            "backlight": ["none", "white", "RGB"],
            "size": ["60%", "80%", "full size"],
        },
        (50, 260),
    ),
    (
        "Electric Kettle",
        {
            "capacity": ["1L", "1.5L", "2L"],
            "material": ["plastic", "stainless steel", "glass"],
            "color": ["white", "black", "silver"],
        },
        (20, 150),
    ),
    (
        "Sunglasses",
        {
            "frame color": ["black", "brown", "silver"],
            "lens color": ["black", "green", "brown", "blue"],
            "lens type": ["polarized", "non-polarized"],
        },
        (20, 240),
    ),
    (
        "Cycling Helmet",
        {"size": ["S", "M", "L"], "color": ["black", "white", "red", "blue"], "ventilation": ["low", "medium", "high"]},
        (40, 220),
    ),
    (
        "Air Purifier",
        {
            "room size": ["small", "medium", "large"],
            "filter type": ["HEPA", "carbon", "ionic"],
            "features": ["quiet operation", "smart sensors", "night mode"],
        },
        (80, 520),
    ),
]
_FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mason",
    "Sofia",
    "Ethan",
    "Mia",
    "Lucas",
    "Amelia",
    "Yusuf",
    "Chen",
    "Aarav",
    "Fatima",
    "Mateo",
    "Hana",
    "Isabella",
    "James",
    "Lena",
    "Omar",
    "Priya",
    "Sven",
    "Zoe",
]
_LAST = [
    "Smith",
    "Garcia",
    "Kim",
    "Nguyen",
    "Patel",
    "Johnson",
    "Müller",
    "Rossi",
    "Silva",
    "Brown",
    "Lopez",
    "Ito",
    "Khan",
    "Anderson",
    "Moreau",
    "Kowalski",
    "Hughes",
    "Santos",
    "Ahmed",
    "Novak",
]
_CITIES = [
    ("Denver", "CO", "802"),
    ("Austin", "TX", "787"),
    ("Seattle", "WA", "981"),
    ("Boston", "MA", "021"),
    ("Chicago", "IL", "606"),
    ("Phoenix", "AZ", "850"),
    ("Portland", "OR", "972"),
    ("Atlanta", "GA", "303"),
    ("New York", "NY", "100"),
    ("San Diego", "CA", "921"),
    ("Columbus", "OH", "432"),
    ("Nashville", "TN", "372"),
]
_STREETS = [
    "Maple Street",
    "Oak Avenue",
    "Cedar Lane",
    "Pine Road",
    "Elm Street",
    "Sunset Drive",
    "Hillcrest Road",
    "River Road",
    "Lakeview Drive",
    "Park Avenue",
    "Willow Lane",
    "Main Street",
]
_BRANDS = ["visa", "mastercard", "amex", "discover"]
_CARRIERS = ["UPS", "FedEx", "USPS"]
# status → weight; realistic mix, and every status the tools act on or produce is present.
_STATUS_WEIGHTS = {
    "pending": 26,
    "processed": 14,
    "delivered": 40,
    "cancelled": 10,
    "pending (items modified)": 3,
    "return requested": 4,
    "exchange requested": 3,
}


def _money(x: float) -> float:
    return float(Decimal(str(x)).quantize(Decimal("0.01")))


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def generate_retailer(seed: int = 0, n_customers: int = 200, today: date | None = None) -> dict[str, dict]:
    """The retailer as τ-bench-shaped dicts (``users``, ``orders``, ``products``), a pure function of its arguments.

    Dates are offsets from ``today`` (default: the real date, so a demo always has orders inside the return
    window); with a fixed ``today`` the result is byte-identical across runs and machines.
    """
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    now = datetime.combine(today, time(12, 0), tzinfo=UTC)
    used: set[str] = set()

    def new_id(digits: int, prefix: str = "") -> str:
        while True:
            value = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
            if value not in used and not value.startswith("0"):
                used.add(value)
                return value

    products: dict[str, dict] = {}
    for name, dims, (low, high) in CATALOGUE:
        pid = new_id(10)
        variants: dict[str, dict] = {}
        combos: set[tuple[str, ...]] = set()
        for _ in range(rng.randint(5, 9)):
            combo = tuple(rng.choice(values) for values in dims.values())
            if combo in combos:
                continue
            combos.add(combo)
            iid = new_id(10)
            variants[iid] = {
                "item_id": iid,
                "options": dict(zip(dims, combo, strict=True)),
                "available": rng.random() > 0.2,
                "price": _money(rng.uniform(low, high)),
            }
        products[pid] = {"name": name, "product_id": pid, "variants": variants}
    product_list = list(products.values())

    users: dict[str, dict] = {}
    orders: dict[str, dict] = {}
    for _ in range(n_customers):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        number = rng.randint(1000, 9999)
        uid = f"{first.lower()}_{last.lower()}_{number}"
        if uid in users:
            continue
        city, state, zip_prefix = rng.choice(_CITIES)
        address = {
            "address1": f"{rng.randint(10, 999)} {rng.choice(_STREETS)}",
            "address2": rng.choice(["", f"Suite {rng.randint(100, 999)}", f"Apt {rng.randint(1, 40)}"]),
            "city": city,
            "country": "USA",
            "state": state,
            "zip": zip_prefix + f"{rng.randint(0, 99):02d}",
        }
        methods: dict[str, dict] = {}
        for source in rng.sample(["credit_card", "paypal", "gift_card"], rng.randint(1, 3)):
            mid = new_id(7, source + "_")
            method: dict[str, Any] = {"source": source, "id": mid}
            if source == "credit_card":
                method |= {"brand": rng.choice(_BRANDS), "last_four": f"{rng.randint(0, 9999):04d}"}
            elif source == "gift_card":
                method["balance"] = _money(rng.uniform(0, 300))
            methods[mid] = method
        joined = now - timedelta(days=rng.randint(120, 1500))
        email = f"{first.lower()}.{last.lower()}{number}@example.com".replace("ü", "u")
        users[uid] = {
            "name": {"first_name": first, "last_name": last},
            "address": address,
            "email": email,
            "payment_methods": methods,
            "orders": [],
            "created_at": _iso(joined),
        }
        for _ in range(rng.randint(1, 5)):
            oid = new_id(7, "#W")
            status = rng.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()))[0]
            items = []
            for product in rng.sample(product_list, rng.randint(1, 4)):
                variant = rng.choice(list(product["variants"].values()))
                items.append(
                    {
                        "name": product["name"],
                        "product_id": product["product_id"],
                        "item_id": variant["item_id"],
                        "price": variant["price"],
                        "options": dict(variant["options"]),
                    }
                )
            total = _money(sum(i["price"] for i in items))
            pay_with = [m for m in methods.values() if m["source"] != "gift_card" or m["balance"] >= total]
            method_id = rng.choice(pay_with or list(methods.values()))["id"]
            age = {"pending": (0, 3), "pending (items modified)": (0, 3), "processed": (2, 6), "cancelled": (1, 90)}
            created = now - timedelta(days=rng.randint(*age.get(status, (8, 95))), minutes=rng.randint(0, 1439))
            order: dict[str, Any] = {
                "order_id": oid,
                "user_id": uid,
                "address": dict(address),
                "items": items,
                "fulfillments": [],
                "status": status,
                "created_at": _iso(created),
                "payment_history": [
                    {
                        "transaction_type": "payment",
                        "amount": total,
                        "payment_method_id": method_id,
                        "created_at": _iso(created),
                    }
                ],
            }
            if status == "cancelled":
                order["cancel_reason"] = rng.choice(["no longer needed", "ordered by mistake"])
                order["payment_history"].append(
                    {
                        "transaction_type": "refund",
                        "amount": total,
                        "payment_method_id": method_id,
                        "created_at": _iso(created + timedelta(hours=3)),
                    }
                )
            if status in ("processed", "delivered", "return requested", "exchange requested"):
                shipped = created + timedelta(days=1, hours=rng.randint(1, 20))
                delivered = shipped + timedelta(days=rng.randint(2, 6)) if status != "processed" else None
                if delivered and delivered > now:
                    delivered = now - timedelta(hours=rng.randint(1, 20))
                ship_status = (
                    "delivered"
                    if delivered
                    else rng.choices(["label_created", "in_transit", "lost"], weights=[3, 8, 1])[0]
                )
                order["fulfillments"].append(
                    {
                        "tracking_id": [new_id(12)],
                        "item_ids": [i["item_id"] for i in items],
                        "carrier": rng.choice(_CARRIERS),
                        "status": ship_status,
                        "shipped_at": _iso(shipped),
                        "delivered_at": _iso(delivered),
                    }
                )
                order["delivered_at"] = _iso(delivered)
            if status in ("return requested", "exchange requested"):
                item = rng.choice(items)
                request: dict[str, Any] = {
                    "kind": "return" if status == "return requested" else "exchange",
                    "item_ids": [item["item_id"]],
                    "payment_method_id": method_id,
                }
                if request["kind"] == "exchange":
                    others = [
                        v
                        for v in products[item["product_id"]]["variants"].values()
                        if v["item_id"] != item["item_id"] and v["available"]
                    ]
                    if not others:
                        order["status"] = "delivered"
                        request = {}
                    else:
                        new = rng.choice(others)
                        request |= {
                            "new_item_ids": [new["item_id"]],
                            "price_difference": _money(new["price"] - item["price"]),
                        }
                if request:
                    order["return_request"] = request
            orders[oid] = order
            users[uid]["orders"].append(oid)
    return {"users": users, "orders": orders, "products": products}


# -- loading ---------------------------------------------------------------------------------------------


def _address_values(address: dict) -> tuple:
    return (
        address["address1"],
        address.get("address2", ""),
        address["city"],
        address["state"],
        address["country"],
        address["zip"],
    )


def load_data(url: str, data: dict[str, dict], *, source: str) -> dict[str, int]:
    """Insert τ-bench-shaped ``data`` in one transaction (all or nothing); returns row counts."""
    ensure_schema(url)
    users, orders, products = data["users"], data["orders"], data["products"]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sa_products (id, name) VALUES (%s, %s)", [(pid, p["name"]) for pid, p in products.items()]
        )
        cur.executemany(
            "INSERT INTO sa_variants (item_id, product_id, options, price, available) VALUES (%s, %s, %s, %s, %s)",
            [
                (v["item_id"], pid, Jsonb(v["options"]), Decimal(str(v["price"])), v["available"])
                for pid, p in products.items()
                for v in p["variants"].values()
            ],
        )
        cur.executemany(
            "INSERT INTO sa_customers (id, first_name, last_name, email, address1, address2, city, state, country, zip,"
            " source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    uid,
                    u["name"]["first_name"],
                    u["name"]["last_name"],
                    u["email"],
                    *_address_values(u["address"]),
                    source,
                    u.get("created_at"),
                )
                for uid, u in users.items()
            ],
        )
        cur.executemany(
            "INSERT INTO sa_payment_methods (id, customer_id, position, source, brand, last_four, balance)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    mid,
                    uid,
                    i,
                    m["source"],
                    m.get("brand"),
                    m.get("last_four"),
                    Decimal(str(m["balance"])) if m["source"] == "gift_card" else None,
                )
                for uid, u in users.items()
                for i, (mid, m) in enumerate(u["payment_methods"].items())
            ],
        )
        cur.executemany(
            "INSERT INTO sa_orders (id, customer_id, status, address1, address2, city, state, country, zip,"
            " cancel_reason, created_at, delivered_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    oid,
                    o["user_id"],
                    o["status"],
                    *_address_values(o["address"]),
                    o.get("cancel_reason"),
                    o.get("created_at"),
                    o.get("delivered_at"),
                )
                for oid, o in orders.items()
            ],
        )
        cur.executemany(
            "INSERT INTO sa_order_items (order_id, position, product_id, item_id, name, price, options)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (oid, i, it["product_id"], it["item_id"], it["name"], Decimal(str(it["price"])), Jsonb(it["options"]))
                for oid, o in orders.items()
                for i, it in enumerate(o["items"])
            ],
        )
        cur.executemany(
            "INSERT INTO sa_shipments (order_id, position, tracking_ids, item_ids, carrier, status, shipped_at,"
            " delivered_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    oid,
                    i,
                    f["tracking_id"],
                    f["item_ids"],
                    f.get("carrier"),
                    f.get("status"),
                    f.get("shipped_at"),
                    f.get("delivered_at"),
                )
                for oid, o in orders.items()
                for i, f in enumerate(o["fulfillments"])
            ],
        )
        cur.executemany(
            "INSERT INTO sa_payments (order_id, position, transaction_type, amount, payment_method_id, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (oid, i, p["transaction_type"], Decimal(str(p["amount"])), p["payment_method_id"], p.get("created_at"))
                for oid, o in orders.items()
                for i, p in enumerate(o["payment_history"])
            ],
        )
        cur.executemany(
            "INSERT INTO sa_return_requests (order_id, kind, item_ids, new_item_ids, payment_method_id,"
            " price_difference) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (
                    oid,
                    r["kind"],
                    r["item_ids"],
                    r.get("new_item_ids"),
                    r["payment_method_id"],
                    Decimal(str(r["price_difference"])) if r.get("price_difference") is not None else None,
                )
                for oid, o in orders.items()
                if (r := o.get("return_request"))
            ],
        )
    return {"customers": len(users), "orders": len(orders), "products": len(products)}


def load_retailer(url: str, seed: int = 0, n_customers: int = 200, today: date | None = None) -> dict[str, int]:
    """Generate the demo retailer (see :func:`generate_retailer`) and load it into ``url``."""
    return load_data(url, generate_retailer(seed, n_customers, today), source="generated")


def read_tau_bench(directory: str | Path) -> dict[str, dict]:
    directory = Path(directory)
    return {name: json.loads((directory / f"{name}.json").read_text()) for name in ("users", "orders", "products")}


def load_tau_bench(url: str, directory: str | Path) -> dict[str, int]:
    """Import τ-bench retail ``users.json``/``orders.json``/``products.json`` as-is (ids unchanged, no dates)."""
    return load_data(url, read_tau_bench(directory), source="tau_bench")


def clone_database(url: str, template_url: str) -> str:
    """A fresh copy of the database at ``template_url`` (``CREATE DATABASE ... TEMPLATE``, a file copy: ~50 ms
    instead of re-importing). Each eval task starts from the same state this way. Returns the copy's URL; nobody
    may be connected to the template while it is copied."""
    from psycopg.conninfo import conninfo_to_dict

    from shared.db import with_dbname

    template = conninfo_to_dict(template_url)["dbname"]
    name = f"sa_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return with_dbname(url, name)


def drop_database(url: str, admin_url: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- snapshot --------------------------------------------------------------------------------------------


def _m(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def snapshot(url: str) -> dict[str, Any]:
    """The mutable state as canonical JSON-able data: equal states give equal dicts (and equal ``json.dumps``).

    Included: customers' addresses, payment methods (gift card balances), orders (status, address, cancel reason,
    items, payment history), return/exchange requests. Lists whose order carries no meaning are sorted; money is
    a two-decimal string. Excluded: timestamps, versions, the audit log (how a state was reached, not what it is).
    """
    with psycopg.connect(url) as conn:
        customers = {
            r[0]: {
                "address": dict(zip(("address1", "address2", "city", "state", "country", "zip"), r[1:], strict=True))
            }
            for r in conn.execute("SELECT id, address1, address2, city, state, country, zip FROM sa_customers")
        }
        methods = {
            r[0]: {"customer_id": r[1], "source": r[2], "balance": _m(r[3])}
            for r in conn.execute("SELECT id, customer_id, source, balance FROM sa_payment_methods")
        }
        orders: dict[str, dict] = {}
        for r in conn.execute(
            "SELECT id, customer_id, status, address1, address2, city, state, country, zip,"
            " cancel_reason FROM sa_orders"
        ):
            orders[r[0]] = {
                "customer_id": r[1],
                "status": r[2],
                "cancel_reason": r[9],
                "items": [],
                "payments": [],
                "address": dict(zip(("address1", "address2", "city", "state", "country", "zip"), r[3:9], strict=True)),
            }
        for oid, item_id, price, options in conn.execute(
            "SELECT order_id, item_id, price, options FROM sa_order_items"
        ):
            orders[oid]["items"].append({"item_id": item_id, "price": _m(price), "options": options})
        for oid, kind, amount, mid in conn.execute(
            "SELECT order_id, transaction_type, amount, payment_method_id FROM sa_payments"
        ):
            orders[oid]["payments"].append({"transaction_type": kind, "amount": _m(amount), "payment_method_id": mid})
        requests = []
        for oid, kind, item_ids, new_ids, mid, diff in conn.execute(
            "SELECT order_id, kind, item_ids, new_item_ids, payment_method_id, price_difference FROM sa_return_requests"
        ):
            requests.append(
                {
                    "order_id": oid,
                    "kind": kind,
                    "item_ids": sorted(item_ids),
                    "new_item_ids": sorted(new_ids) if new_ids is not None else None,
                    "payment_method_id": mid,
                    "price_difference": _m(diff),
                }
            )
    key = lambda d: json.dumps(d, sort_keys=True)  # noqa: E731
    for order in orders.values():
        order["items"].sort(key=key)
        order["payments"].sort(key=key)
    requests.sort(key=key)
    return json.loads(
        json.dumps(
            {"customers": customers, "payment_methods": methods, "orders": orders, "return_requests": requests},
            sort_keys=True,
        )
    )


def snapshot_digest(url: str) -> str:
    """SHA-256 of the canonical snapshot: one string to compare or log."""
    import hashlib

    return hashlib.sha256(json.dumps(snapshot(url), sort_keys=True).encode()).hexdigest()
