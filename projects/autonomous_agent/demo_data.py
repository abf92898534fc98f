"""The agent's demo world, generated: a small operations database and the runbooks that go with it.

Why generate instead of shipping files: the same seed gives identical rows and documents on every machine, a test
builds its own copy in milliseconds, and the questions the demo asks have answers a test can compute from the
same rows. The story is shaped so that a multi-step goal has something to find: six months of orders and
incidents (January to June 2026) across five regions, with a payment-gateway degradation in North America East
in May 2026, so "which region had the most incidents in May, and what does the runbook say?" needs the SQL tool,
then the knowledge base, then an answer that combines them.

Tables (``TABLES`` drives the DDL and the checksum's column order): ``regions``, ``products``, ``orders``,
``incidents``. Documents (``DOCUMENTS``): runbooks and policies in Markdown, written for this demo.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

ColType = Literal["int", "text", "money", "date", "timestamp"]

TABLES: dict[str, dict[str, ColType]] = {
    "regions": {"code": "text", "name": "text", "timezone": "text", "manager": "text"},
    "products": {"sku": "text", "name": "text", "category": "text", "unit_price": "money"},
    "orders": {
        "id": "int",
        "ordered_on": "date",
        "region_code": "text",
        "product_sku": "text",
        "quantity": "int",
        "unit_price": "money",
        "status": "text",
    },
    "incidents": {
        "id": "int",
        "opened_at": "timestamp",
        "opened_month": "text",
        "resolved_at": "timestamp",
        "region_code": "text",
        "service": "text",
        "severity": "int",
        "title": "text",
        "status": "text",
    },
}
PRIMARY_KEYS = {"regions": "code", "products": "sku", "orders": "id", "incidents": "id"}
FOREIGN_KEYS = {
    "orders": {"region_code": "regions(code)", "product_sku": "products(sku)"},
    "incidents": {"region_code": "regions(code)"},
}

START = dt.date(2026, 1, 1)
END = dt.date(2026, 6, 30)  # inclusive: six months of history
SPIKE_MONTH = "2026-05"
SPIKE_REGION = "NA-E"
SPIKE_SERVICE = "payments"

REGIONS = (
    ("EU-W", "Europe West", "Europe/Dublin", "Aoife Byrne"),
    ("EU-C", "Europe Central", "Europe/Berlin", "Jonas Weber"),
    ("NA-E", "North America East", "America/New_York", "Maya Brooks"),
    ("NA-W", "North America West", "America/Los_Angeles", "Diego Ramos"),
    ("APAC", "Asia Pacific", "Asia/Singapore", "Mei Lin Tan"),
)
PRODUCTS = (
    ("HW-100", "Edge router S", "hardware", "249.00"),
    ("HW-120", "Edge router M", "hardware", "399.00"),
    ("HW-200", "Smart sensor pack", "hardware", "129.50"),
    ("HW-210", "Rack power unit", "hardware", "589.00"),
    ("HW-300", "Handheld scanner", "hardware", "175.25"),
    ("SUB-01", "Monitoring basic (month)", "subscription", "29.00"),
    ("SUB-02", "Monitoring pro (month)", "subscription", "79.00"),
    ("SUB-03", "Analytics add-on (month)", "subscription", "49.00"),
    ("SUB-04", "Support premium (month)", "subscription", "119.00"),
    ("ACC-10", "Mounting kit", "accessory", "19.90"),
    ("ACC-11", "Spare antenna", "accessory", "24.50"),
    ("ACC-12", "Sensor batteries (10)", "accessory", "14.75"),
    ("ACC-13", "Carrying case", "accessory", "39.00"),
    ("SRV-01", "On-site installation", "service", "350.00"),
    ("SRV-02", "Remote onboarding", "service", "150.00"),
    ("SRV-03", "Health check", "service", "220.00"),
)
ORDER_STATUSES = (("delivered", 70), ("shipped", 12), ("cancelled", 10), ("refunded", 8))
SERVICES = ("payments", "checkout", "warehouse-sync", "search", "auth")
INCIDENT_TITLES = {
    "payments": ("Payment gateway timeouts", "Card authorisations declined", "Refund batch stuck"),
    "checkout": ("Checkout page errors (HTTP 500)", "Basket totals wrong after discount", "Slow checkout"),
    "warehouse-sync": ("Stock levels out of sync", "Warehouse sync backlog", "Duplicate shipment records"),
    "search": ("Search results empty", "Search latency above 2 s", "Stale product index"),
    "auth": ("Login failures", "Password reset emails delayed", "Session expiry loop"),
}
SEVERITY_WEIGHTS = ((1, 6), (2, 18), (3, 46), (4, 30))
# Base incidents per region per month: Europe West is busiest most months, so the May spike has to be real to win.
BASE_RATE = {"EU-W": 7, "EU-C": 5, "NA-E": 5, "NA-W": 4, "APAC": 3}
SPIKE_EXTRA = 9  # extra payments incidents in NA-E in May 2026


@dataclass(frozen=True)
class KbDocument:
    """A knowledge-base article: runbooks and policies the agent can search (``knowledge_search``)."""

    slug: str
    title: str
    kind: Literal["runbook", "policy", "guide"]
    text: str


@dataclass
class DemoData:
    seed: int
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    documents: tuple[KbDocument, ...] = ()

    def row_counts(self) -> dict[str, int]:
        return {name: len(self.rows[name]) for name in TABLES}

    def checksum(self) -> str:
        """SHA-256 over every row (in ``TABLES`` column order) and document: equal checksums, equal demo."""
        digest = hashlib.sha256()
        for name, columns in TABLES.items():
            for row in self.rows[name]:
                digest.update(json.dumps([name, *[row[c] for c in columns]], default=str).encode())
        for doc in self.documents:
            digest.update(json.dumps([doc.slug, doc.title, doc.kind, doc.text]).encode())
        return digest.hexdigest()

    def incidents_by_region(self, month: str) -> dict[str, int]:
        """Incidents opened in ``month`` ('YYYY-MM') per region code: the demo's question, answered in Python."""
        counts = dict.fromkeys((r[0] for r in REGIONS), 0)
        for row in self.rows["incidents"]:
            if row["opened_month"] == month:
                counts[row["region_code"]] += 1
        return counts


def _weighted(rng: random.Random, options: tuple[tuple[Any, int], ...]) -> Any:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights)[0]


def _months() -> list[dt.date]:
    months, day = [], START
    while day <= END:
        months.append(day)
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return months


def _month_end(first: dt.date) -> dt.date:
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return min(nxt - dt.timedelta(days=1), END)


def _orders(rng: random.Random, n_orders: int) -> list[dict[str, Any]]:
    span = (END - START).days
    region_weights = tuple((r[0], w) for r, w in zip(REGIONS, (26, 22, 24, 16, 12), strict=True))
    rows = []
    for i in range(1, n_orders + 1):
        sku, _name, category, price = rng.choice(PRODUCTS)
        quantity = rng.randint(1, 3) if category in ("service", "subscription") else rng.randint(1, 12)
        rows.append(
            {"id": i, "ordered_on": START + dt.timedelta(days=rng.randint(0, span)),
             "region_code": _weighted(rng, region_weights), "product_sku": sku, "quantity": quantity,
             "unit_price": Decimal(price), "status": _weighted(rng, ORDER_STATUSES)}
        )  # fmt: skip
    rows.sort(key=lambda r: (r["ordered_on"], r["id"]))
    for i, row in enumerate(rows, 1):  # ids follow dates, as a real sequence would
        row["id"] = i
    return rows


def _incident(rng: random.Random, day: dt.date, region: str, service: str, title: str | None = None) -> dict:
    opened = dt.datetime.combine(day, dt.time(rng.randint(0, 23), rng.randint(0, 59)))
    severity = _weighted(rng, SEVERITY_WEIGHTS)
    hours = {1: (1, 6), 2: (2, 12), 3: (4, 48), 4: (8, 120)}[severity]
    resolved: dt.datetime | None = opened + dt.timedelta(minutes=rng.randint(hours[0] * 60, hours[1] * 60))
    status = "resolved"
    if resolved is not None and (resolved.date() > END or (day > END - dt.timedelta(days=4) and severity >= 3)):
        resolved, status = None, "open"  # still open at the end of the history (low severities wait)
    return {
        "opened_at": opened,
        "opened_month": opened.strftime("%Y-%m"),
        "resolved_at": resolved,
        "region_code": region,
        "service": service,
        "severity": severity,
        "title": title or rng.choice(INCIDENT_TITLES[service]),
        "status": status,
    }


def _incidents(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for first in _months():
        last = _month_end(first)
        days = (last - first).days
        for region, base in BASE_RATE.items():
            n = base + rng.randint(-1, 2)
            for _ in range(n):
                day = first + dt.timedelta(days=rng.randint(0, days))
                rows.append(_incident(rng, day, region, rng.choice(SERVICES)))
            if first.strftime("%Y-%m") == SPIKE_MONTH and region == SPIKE_REGION:
                for k in range(SPIKE_EXTRA):  # the degradation: one week of payment gateway timeouts
                    day = first + dt.timedelta(days=11 + k % 7)
                    rows.append(_incident(rng, day, region, SPIKE_SERVICE, "Payment gateway timeouts"))
    rows.sort(key=lambda r: (r["opened_at"], r["region_code"]))
    return [{"id": i, **row} for i, row in enumerate(rows, 1)]


def generate(seed: int = 20260601, n_orders: int = 360) -> DemoData:
    """The demo world for ``seed``: same seed, same rows and documents (``DemoData.checksum``)."""
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = {
        "regions": [dict(zip(TABLES["regions"], r, strict=True)) for r in REGIONS],
        "products": [{"sku": s, "name": n, "category": c, "unit_price": Decimal(p)} for s, n, c, p in PRODUCTS],
        "orders": _orders(rng, n_orders),
        "incidents": _incidents(rng),
    }
    return DemoData(seed=seed, rows=rows, documents=DOCUMENTS)


# -- the knowledge base ---------------------------------------------------------------------------------------
DOCUMENTS: tuple[KbDocument, ...] = (
    KbDocument(
        "payment-gateway-timeouts",
        "Runbook: payment gateway timeouts",
        "runbook",
        """# Runbook: payment gateway timeouts

Service: payments. Typical alert: "card authorisation p95 above 3 s" or a burst of "Payment gateway timeouts"
incidents in one region.

## Symptoms
- Checkout shows "payment could not be processed"; customers retry and create duplicate authorisations.
- The payments dashboard shows gateway latency above 3 seconds and a rising timeout rate.

## Steps
1. Check the payment provider's status page and the regional gateway endpoint's latency.
2. If one region is affected, fail over that region to the secondary gateway (feature flag `payments.secondary`).
3. Lower the client timeout retries from 3 to 1 to stop duplicate authorisations.
4. Open a sev2 incident (sev1 if more than 20% of payments fail for 15 minutes) and page the payments on-call.
5. After recovery, run the reconciliation job `reconcile-authorisations` for the affected window and refund
   duplicate captures within 24 hours.

## Follow-up
Write a post-incident review within five working days; link the incidents and the gateway provider's report.
""",
    ),
    KbDocument(
        "warehouse-sync-backlog",
        "Runbook: warehouse sync backlog",
        "runbook",
        """# Runbook: warehouse sync backlog

Service: warehouse-sync. Alert: the stock update queue is older than 15 minutes, or "Stock levels out of sync".

## Steps
1. Look at the queue age and the consumer count on the warehouse-sync dashboard.
2. Scale the consumers to 6; if the backlog still grows, pause the nightly full export.
3. Products oversold during the backlog are flagged by the `oversold-report` job: contact affected customers
   within one working day.
4. Severity: sev3 by default; sev2 when orders ship with wrong stock for more than an hour.
""",
    ),
    KbDocument(
        "login-failures",
        "Runbook: login failures",
        "runbook",
        """# Runbook: login failures

Service: auth. Alert: login success rate below 95% for 10 minutes.

## Steps
1. Check the identity provider's status and certificate expiry dates.
2. Roll back the last auth deployment if it is younger than two hours.
3. If password reset emails are delayed, check the mail relay queue and raise its rate limit.
4. Severity: sev2 when more than 10% of logins fail; sev1 when nobody can log in.
""",
    ),
    KbDocument(
        "incident-severity",
        "Policy: incident severity levels",
        "policy",
        """# Policy: incident severity levels

- **sev1** — customers cannot buy or log in in at least one region, or data is at risk. Response within 15
  minutes, around the clock. Status page update every 30 minutes.
- **sev2** — a core function is degraded (slow checkout, failing payments for some customers). Response within
  one hour, around the clock.
- **sev3** — a non-core function is degraded or a workaround exists. Response the same working day.
- **sev4** — cosmetic or internal only. Handled in the normal backlog.

The incident commander may raise or lower a severity at any time; the change and its reason go in the ticket.
""",
    ),
    KbDocument(
        "escalation-policy",
        "Policy: on-call escalation",
        "policy",
        """# Policy: on-call escalation

1. The service's primary on-call acknowledges a page within 5 minutes (sev1) or 15 minutes (sev2).
2. Unacknowledged pages escalate to the secondary on-call, then to the engineering manager of the service.
3. For every sev1, the regional manager (see the `regions` table of the operations database) is informed
   within 30 minutes and an incident commander is named.
4. Customer communication for sev1 and sev2 goes through the support lead; never post details of a security
   incident publicly before the security team agrees.
""",
    ),
    KbDocument(
        "operations-database",
        "Guide: the operations database",
        "guide",
        """# Guide: the operations database

The operations database is read-only for analysts and agents. Its tables live in the schema `agent_demo`.

- `regions(code, name, timezone, manager)` — five sales regions, e.g. `NA-E` North America East.
- `products(sku, name, category, unit_price)` — categories hardware, subscription, accessory, service.
- `orders(id, ordered_on, region_code, product_sku, quantity, unit_price, status)` — status delivered,
  shipped, cancelled or refunded. Revenue = quantity * unit_price of orders that are not cancelled or refunded.
- `incidents(id, opened_at, opened_month, resolved_at, region_code, service, severity, title, status)` —
  opened_month is text like '2026-05'; severity 1 (worst) to 4; service payments, checkout, warehouse-sync,
  search or auth; status resolved or open.

Example: incidents per region in May 2026:

    SELECT r.name, count(*) FROM agent_demo.incidents i JOIN agent_demo.regions r ON r.code = i.region_code
    WHERE i.opened_month = '2026-05' GROUP BY r.name ORDER BY 2 DESC
""",
    ),
    KbDocument(
        "refund-policy",
        "Policy: refunds and cancellations",
        "policy",
        """# Policy: refunds and cancellations

- Orders can be cancelled free of charge until they ship.
- Hardware can be returned within 30 days of delivery for a full refund; subscriptions are refunded pro rata.
- Duplicate charges caused by an incident are refunded automatically within 24 hours, without a request from
  the customer (see the payment gateway runbook).
- Refunds above 1,000 need the approval of the regional manager.
""",
    ),
)
