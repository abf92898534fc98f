"""The retailer's tables (prefix ``sa_``), created idempotently with ``apply_statements``.

One relational shape holds both the project's generated retailer and the τ-bench retail data imported as-is
(ids unchanged), so the eval replays τ-bench tasks on the same tool layer the agent uses in production.

- ``sa_customers``: name, e-mail (unique, case-insensitive: identity is verified by it), default address.
- ``sa_payment_methods``: ``credit_card`` (brand, last four), ``paypal``, ``gift_card`` (balance, never < 0).
- ``sa_products`` / ``sa_variants``: a product type and its purchasable items (options, price, availability).
- ``sa_orders``: status, shipping address, ``version`` (every write is ``UPDATE ... WHERE version = v``: two
  concurrent writes on one order cannot both win). ``created_at``/``delivered_at`` are NULL for τ-bench rows,
  which have no dates; the return window is then not checkable and not enforced.
- ``sa_order_items``: the order's lines with the price and options *at purchase* (a line keeps its price when the
  catalogue changes); ``position`` because one order may hold the same item twice.
- ``sa_shipments``: a fulfilment: tracking ids and the items it carries; carrier/status/dates for generated rows.
- ``sa_payments``: the order's payment history (payments and refunds, in order of ``position``).
- ``sa_return_requests``: return and exchange requests (the order moves to 'return/exchange requested'; money
  moves when the warehouse receives the items, as wiki.md says, so no refund row is written at request time).
- ``sa_tool_audit``: append-only (a trigger refuses UPDATE and DELETE): every tool call, allowed or refused,
  with session, customer, arguments, their hash, the policy decision and the result.
"""

from __future__ import annotations

from shared.db import apply_statements

_LOCK_KEY = 0x53415F5343484D41  # "SA_SCHMA"

ORDER_STATUSES = (
    "pending",
    "processed",
    "delivered",
    "cancelled",
    "pending (items modified)",
    "return requested",
    "exchange requested",
)
PAYMENT_SOURCES = ("credit_card", "paypal", "gift_card")
SHIPMENT_STATUSES = ("label_created", "in_transit", "delivered", "lost")
AUDIT_DECISIONS = ("allowed", "proposed", "refused", "failed")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS sa_customers (
        id text PRIMARY KEY,
        first_name text NOT NULL,
        last_name text NOT NULL,
        email text NOT NULL,
        address1 text NOT NULL,
        address2 text NOT NULL DEFAULT '',
        city text NOT NULL,
        state text NOT NULL,
        country text NOT NULL,
        zip text NOT NULL,
        source text NOT NULL DEFAULT 'generated' CHECK (source IN ('generated', 'tau_bench')),
        created_at timestamptz
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS sa_customers_email ON sa_customers (lower(email))",
    "CREATE INDEX IF NOT EXISTS sa_customers_name_zip ON sa_customers (lower(first_name), lower(last_name), zip)",
    f"""CREATE TABLE IF NOT EXISTS sa_payment_methods (
        id text PRIMARY KEY,
        customer_id text NOT NULL REFERENCES sa_customers(id) ON DELETE CASCADE,
        position int NOT NULL,
        source text NOT NULL CHECK (source IN {_in(PAYMENT_SOURCES)}),
        brand text,
        last_four text,
        balance numeric(12,2) CHECK (balance IS NULL OR balance >= 0),
        CHECK ((source = 'gift_card') = (balance IS NOT NULL))
    )""",
    "CREATE INDEX IF NOT EXISTS sa_payment_methods_customer ON sa_payment_methods (customer_id, position)",
    """CREATE TABLE IF NOT EXISTS sa_products (
        id text PRIMARY KEY,
        name text NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sa_variants (
        item_id text PRIMARY KEY,
        product_id text NOT NULL REFERENCES sa_products(id) ON DELETE CASCADE,
        options jsonb NOT NULL,
        price numeric(12,2) NOT NULL CHECK (price >= 0),
        available boolean NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sa_variants_product ON sa_variants (product_id)",
    f"""CREATE TABLE IF NOT EXISTS sa_orders (
        id text PRIMARY KEY,
        customer_id text NOT NULL REFERENCES sa_customers(id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN {_in(ORDER_STATUSES)}),
        address1 text NOT NULL,
        address2 text NOT NULL DEFAULT '',
        city text NOT NULL,
        state text NOT NULL,
        country text NOT NULL,
        zip text NOT NULL,
        cancel_reason text,
        created_at timestamptz,
        delivered_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        version int NOT NULL DEFAULT 1
    )""",
    "CREATE INDEX IF NOT EXISTS sa_orders_customer ON sa_orders (customer_id, created_at DESC NULLS LAST, id)",
    """CREATE TABLE IF NOT EXISTS sa_order_items (
        order_id text NOT NULL REFERENCES sa_orders(id) ON DELETE CASCADE,
        position int NOT NULL,
        product_id text NOT NULL REFERENCES sa_products(id),
        item_id text NOT NULL,
        name text NOT NULL,
        price numeric(12,2) NOT NULL CHECK (price >= 0),
        options jsonb NOT NULL,
        PRIMARY KEY (order_id, position)
    )""",
    f"""CREATE TABLE IF NOT EXISTS sa_shipments (
        order_id text NOT NULL REFERENCES sa_orders(id) ON DELETE CASCADE,
        position int NOT NULL,
        tracking_ids text[] NOT NULL,
        item_ids text[] NOT NULL,
        carrier text,
        status text CHECK (status IS NULL OR status IN {_in(SHIPMENT_STATUSES)}),
        shipped_at timestamptz,
        delivered_at timestamptz,
        PRIMARY KEY (order_id, position)
    )""",
    "CREATE INDEX IF NOT EXISTS sa_shipments_tracking ON sa_shipments USING gin (tracking_ids)",
    """CREATE TABLE IF NOT EXISTS sa_payments (
        order_id text NOT NULL REFERENCES sa_orders(id) ON DELETE CASCADE,
        position int NOT NULL,
        transaction_type text NOT NULL CHECK (transaction_type IN ('payment', 'refund')),
        amount numeric(12,2) NOT NULL CHECK (amount >= 0),
        payment_method_id text NOT NULL REFERENCES sa_payment_methods(id),
        created_at timestamptz,
        PRIMARY KEY (order_id, position)
    )""",
    """CREATE TABLE IF NOT EXISTS sa_return_requests (
        id bigserial PRIMARY KEY,
        order_id text NOT NULL REFERENCES sa_orders(id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('return', 'exchange')),
        item_ids text[] NOT NULL,
        new_item_ids text[],
        payment_method_id text NOT NULL REFERENCES sa_payment_methods(id),
        price_difference numeric(12,2),
        status text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'received', 'closed')),
        session_id text,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS sa_return_requests_order ON sa_return_requests (order_id)",
    f"""CREATE TABLE IF NOT EXISTS sa_tool_audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        session_id text NOT NULL,
        actor text NOT NULL,
        customer_id text,
        tool text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('read', 'write', 'identify', 'handoff')),
        args jsonb NOT NULL,
        args_sha256 text NOT NULL,
        decision text NOT NULL CHECK (decision IN {_in(AUDIT_DECISIONS)}),
        code text,
        result jsonb
    )""",
    "CREATE INDEX IF NOT EXISTS sa_tool_audit_session ON sa_tool_audit (session_id, id)",
    """CREATE OR REPLACE FUNCTION sa_tool_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'sa_tool_audit is append-only';
    END $$""",
    """CREATE OR REPLACE TRIGGER sa_tool_audit_no_change BEFORE UPDATE OR DELETE ON sa_tool_audit
        FOR EACH ROW EXECUTE FUNCTION sa_tool_audit_append_only()""",
)


def ensure_schema(url: str) -> None:
    """Create the tables, indexes and the audit trigger (idempotent, serialised by an advisory lock)."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)
