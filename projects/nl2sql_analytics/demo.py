"""Demo data: the generated business database as connection ``demo``, its semantic layer and starter tiles.

``load_demo_data(ctx)`` (run by ``make demo``) writes the deterministic demo SQLite database
(:mod:`demo_data`, seed ``NL2SQL__DEMO_SEED``) into ``NL2SQL__DATA_DIR``, registers it as connection
``demo``, installs its semantic layer in the editable workspace and gives two users a starter dashboard:
``analyst`` (head office, every region) and ``dana`` (regional manager, North America only — the same tiles
show only her region, see ``policies/demo.yaml``). Idempotent: an unchanged database file is not rewritten
(a manifest records the generation parameters and the file's SHA-256), existing tiles and edited semantic
layers are kept.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from projects.nl2sql_analytics import demo_data
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from projects.nl2sql_analytics.workspace import edited_semantic_path
from shared.api.context import ServiceContext

CONNECTION = "demo"
ADMIN = "demo-admin"
DASHBOARD_USERS = ("analyst", "dana")

_REVENUE = "SUM(oi.unit_price * oi.quantity)"
_LINES = "FROM order_items oi JOIN orders o ON o.order_id = oi.order_id"
STARTER_TILES: list[dict[str, str]] = [
    {
        "title": "Monthly revenue",
        "question": "What is the revenue per month?",
        "sql": f"SELECT strftime('%Y-%m', o.order_date) AS month, ROUND({_REVENUE}, 2) AS revenue {_LINES} "
        "WHERE o.status <> 'cancelled' GROUP BY month ORDER BY month",
    },
    {
        "title": "Revenue by region",
        "question": "Which regions bring the most revenue?",
        "sql": f"SELECT r.name AS region, ROUND({_REVENUE}, 2) AS revenue {_LINES} "
        "JOIN customers c ON c.customer_id = o.customer_id JOIN regions r ON r.region_id = c.region_id "
        "WHERE o.status <> 'cancelled' GROUP BY r.name ORDER BY revenue DESC",
    },
    {
        "title": "Revenue share by category",
        "question": "What share of revenue does each product category make?",
        "sql": f"SELECT p.category, ROUND({_REVENUE}, 2) AS revenue {_LINES} "
        "JOIN products p ON p.product_id = oi.product_id WHERE o.status <> 'cancelled' "
        "GROUP BY p.category ORDER BY revenue DESC",
    },
    {
        "title": "Orders by status",
        "question": "How many orders are in each status?",
        "sql": "SELECT status, COUNT(*) AS orders FROM orders GROUP BY status ORDER BY orders DESC",
    },
]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_demo_database(settings: Nl2SqlSettings) -> Path:
    """The demo SQLite file, (re)generated only when missing, changed on disk or generated with other parameters."""
    path = settings.data_dir / "demo.sqlite"
    manifest = path.with_name(path.name + ".json")
    params = {"seed": settings.demo_seed, "customers": settings.demo_customers}
    if path.is_file() and manifest.is_file():
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        if recorded.get("params") == params and recorded.get("sha256") == _sha256(path):
            return path
    data = demo_data.generate(seed=settings.demo_seed, n_customers=settings.demo_customers)
    tmp = path.with_name(path.name + ".tmp")
    demo_data.write_sqlite(tmp, data)
    tmp.replace(path)
    record = {"params": params, "data_checksum": data.checksum(), "sha256": _sha256(path), "rows": data.row_counts()}
    manifest.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return path


def install_semantic_layer(settings: Nl2SqlSettings) -> Path:
    """Copy the shipped layer into the editable workspace unless the user already has one there."""
    target = edited_semantic_path(settings, CONNECTION)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(settings.semantic_dir / f"{CONNECTION}.yaml", target)
    return target


def load_demo_data(ctx: ServiceContext, settings: Nl2SqlSettings | None = None, *, seed_examples: bool = True) -> None:
    """Database, connection, semantic layer, starter tiles and seed examples (idempotent)."""
    from projects.nl2sql_analytics.service import Nl2SqlService

    settings = settings or get_nl2sql_settings()
    path = ensure_demo_database(settings)
    service = Nl2SqlService(ctx.db_url(), settings)
    description = "Generated online retailer: regions, customers, products, orders, order lines, payments (2022-2025)"
    service.register_connection(ADMIN, CONNECTION, str(path), description, replace=True)
    install_semantic_layer(settings)
    for user in DASHBOARD_USERS:
        existing = {t.title for t in service.list_tiles(user)}
        for tile in STARTER_TILES:
            if tile["title"] not in existing:
                service.create_tile(user, CONNECTION, tile["title"], tile["sql"], question=tile["question"])
    if seed_examples:  # the verified question/SQL pairs the generator sees as few-shot examples
        from projects.nl2sql_analytics.examples import ExampleStore

        ExampleStore(ctx.db_url(), ctx.embedder(), settings).seed(CONNECTION)
