"""A large synthetic schema for linking tests and benchmarks: the demo tables hidden among 120 plausible ones.

Distractor domains (HR, inventory, finance, ...) are chains of foreign keys like real modules, and a few are
confusers that share the demo questions' words (``sales_region_assignments``, ``pricing_gift_cards``).
"""

from __future__ import annotations

from projects.nl2sql_analytics.connections import ColumnInfo, ForeignKey, TableInfo

_DOMAINS = {
    "hr": ["employees", "departments", "payroll_runs", "salaries", "leave_requests", "job_titles",
           "performance_reviews", "benefits", "timesheets", "recruiting_candidates", "interviews", "trainings"],
    "inventory": ["bins", "warehouses", "stock_levels", "stock_movements", "suppliers", "purchase_orders",
                  "purchase_order_lines", "receipts", "cycle_counts", "reorder_rules", "locations", "lots"],
    "marketing": ["campaigns", "campaign_channels", "ad_spend", "email_sends", "email_opens", "landing_pages",
                  "leads", "lead_sources", "utm_links", "segments_rules", "coupons", "newsletter_subscribers"],
    "support": ["tickets", "ticket_comments", "agents", "sla_policies", "satisfaction_surveys", "knowledge_articles",
                "escalations", "queues", "macros", "chat_sessions"],
    "finance": ["gl_accounts", "journal_entries", "journal_lines", "invoices", "invoice_lines", "budgets",
                "cost_centers", "exchange_rates", "tax_rates", "vendor_bills", "bank_accounts", "fiscal_periods"],
    "logistics": ["shipments", "carriers", "delivery_routes", "vehicles", "drivers", "tracking_events", "parcels",
                  "depots", "freight_rates", "customs_declarations"],
    "web": ["sessions", "page_views", "events", "devices", "browsers", "search_queries", "ab_tests", "ab_variants",
            "feature_flags", "error_logs"],
    "it": ["servers", "incidents", "change_requests", "licenses", "assets", "backups", "user_accounts", "roles",
           "permissions", "audit_logs"],
    "facilities": ["buildings", "rooms", "bookings", "maintenance_jobs", "energy_readings", "parking_spaces",
                   "visitors", "badges"],
    "crm": ["opportunities", "pipeline_stages", "activities", "contacts", "partner_accounts", "quotes", "quote_lines",
            "contracts", "renewals", "territories", "forecasts", "competitors"],
    # confusers: words the demo questions use (sales, region, card, price, customer)
    "sales": ["targets", "reps", "quotas", "commissions", "region_assignments", "forecast_snapshots"],
    "pricing": ["price_lists", "price_list_items", "promotions", "loyalty_members", "loyalty_points", "gift_cards"],
}  # fmt: skip
_EXTRA_COLUMNS = ["name", "status", "created_at", "updated_at", "amount", "description", "owner", "code", "notes"]


def distractor_tables() -> list[TableInfo]:
    tables = []
    for domain, names in _DOMAINS.items():
        for i, name in enumerate(names):
            tname = f"{domain}_{name}"
            cols = [ColumnInfo(name="id", type="INTEGER", primary_key=True)]
            cols += [ColumnInfo(name=c, type="TEXT" if c != "amount" else "REAL") for c in _EXTRA_COLUMNS[: 4 + i % 6]]
            fks = []
            if i > 0:  # each domain is a chain of references, like a real module
                prev = f"{domain}_{names[i - 1]}"
                cols.append(ColumnInfo(name=f"{names[i - 1].rstrip('s')}_id", type="INTEGER"))
                fks.append(ForeignKey(column=cols[-1].name, ref_table=prev, ref_column="id"))
            tables.append(TableInfo(name=tname, columns=cols, foreign_keys=fks))
    return tables


# (question, gold tables)
SCALE_QUESTIONS = [
    ("revenue by region per month", {"order_items", "orders", "customers", "regions"}),
    ("total payments by credit card last year", {"payments"}),
    ("turnover of clients", {"customers", "orders", "order_items"}),
    ("payments by credit card in Western Europe", {"payments", "orders", "customers", "regions"}),
    ("top 10 products by units sold in 2024", {"products", "order_items", "orders"}),
    ("how many customers signed up each month", {"customers"}),
    ("average order value per customer segment", {"orders", "order_items", "customers"}),
    ("share of refunded payments by payment method", {"payments"}),
    ("which product category has the highest sales in Western Europe", {"products", "order_items", "orders",
                                                                        "customers", "regions"}),
]  # fmt: skip
