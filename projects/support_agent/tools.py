"""The tool layer: every action the agent can take on the retailer, with JSON-schema arguments.

A tool is a function ``fn(conn, args, ctx) -> dict`` over an open connection; the caller (``policy.Policy``) owns
the transaction, so a write is one transaction: either all its rows change or none (a failure half-way rolls
back). Every write on an order is a version-checked ``UPDATE sa_orders ... WHERE version = v``: two concurrent
writes both read version v, the second blocks on the row lock, then matches nothing and fails with ``conflict``.

Tools are scoped to ``ctx.customer_id``: another customer's order or payment method is *not found*, with the same
message as an id that does not exist (the policy layer checks this first; the tools check it again, so a caller
that bypasses the policy still cannot touch another account).

Semantics follow τ-bench's retail ``wiki.md``. Where this layer decides something the wiki leaves open:
- ``cancel_pending_order`` refunds the *net* paid amount per payment method (payments − refunds), so an order
  whose payment was changed is refunded once, to the method that actually paid.
- ``modify_pending_order_items`` pairs each old item id with a distinct order line (an order can hold an item
  twice); a zero price difference writes no payment row.
- ``refund`` is deliberately narrow (see :func:`refund`): money moves only as a consequence of a recorded fact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

ToolKind = Literal["read", "write", "identify", "handoff"]
CANCEL_REASONS = ("no longer needed", "ordered by mistake")


class ToolError(Exception):
    """A domain failure (unknown id, wrong status, insufficient balance, conflict): ``message`` is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ToolContext:
    customer_id: str | None
    session_id: str = ""


def not_found(kind: str, ident: str) -> ToolError:
    """The one message for unknown *and* foreign ids: it must not reveal that another customer's id exists."""
    return ToolError("not_found", f"No {kind} '{ident}' was found for this account.")


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# -- argument models ---------------------------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FindByEmail(_Args):
    email: str = Field(min_length=3, max_length=320, description="the customer's e-mail address")


class FindByNameZip(_Args):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    zip: str = Field(min_length=3, max_length=12, description="zip code of the customer's default address")


class CustomerRef(_Args):
    customer_id: str = Field(min_length=1, max_length=100)


class OrderRef(_Args):
    order_id: str = Field(min_length=1, max_length=40, description="order id such as '#W1234567'")


class ListOrders(_Args):
    status: str | None = Field(default=None, description="only orders in this status")


class ProductRef(_Args):
    product_id: str = Field(min_length=1, max_length=40)


class NoArgs(_Args):
    pass


class CancelOrder(OrderRef):
    reason: Literal["no longer needed", "ordered by mistake"]


class Address(_Args):
    address1: str = Field(min_length=1, max_length=200)
    address2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(min_length=1, max_length=100)
    country: str = Field(min_length=1, max_length=100)
    zip: str = Field(min_length=3, max_length=12)


class ModifyOrderAddress(Address):
    order_id: str = Field(min_length=1, max_length=40)


class ModifyCustomerAddress(Address):
    customer_id: str = Field(min_length=1, max_length=100)


class ModifyOrderPayment(OrderRef):
    payment_method_id: str = Field(min_length=1, max_length=100)


class ItemsChange(OrderRef):
    item_ids: list[str] = Field(min_length=1, max_length=50, description="item ids of the order's lines to change")
    new_item_ids: list[str] = Field(min_length=1, max_length=50, description="same product, other options; same order")
    payment_method_id: str = Field(min_length=1, max_length=100, description="pays or receives the price difference")


class ReturnItems(OrderRef):
    item_ids: list[str] = Field(min_length=1, max_length=50)
    payment_method_id: str = Field(min_length=1, max_length=100, description="original payment method or a gift card")


class RefundOrder(OrderRef):
    payment_method_id: str = Field(min_length=1, max_length=100, description="original payment method or a gift card")


class Transfer(_Args):
    summary: str = Field(min_length=1, max_length=4000, description="what the customer needs, for the human agent")


# -- reads ---------------------------------------------------------------------------------------------------


def _customer_row(conn: psycopg.Connection, customer_id: str) -> tuple | None:
    return conn.execute(
        "SELECT id, first_name, last_name, email, address1, address2, city, state, country, zip FROM sa_customers"
        " WHERE id = %s",
        (customer_id,),
    ).fetchone()


def find_customer_by_email(conn: psycopg.Connection, args: FindByEmail, ctx: ToolContext) -> dict:
    row = conn.execute("SELECT id FROM sa_customers WHERE lower(email) = lower(%s)", (args.email,)).fetchone()
    if row is None:
        raise ToolError("not_found", "No customer with this e-mail address was found.")
    return {"customer_id": row[0]}


def find_customer_by_name_zip(conn: psycopg.Connection, args: FindByNameZip, ctx: ToolContext) -> dict:
    rows = conn.execute(
        "SELECT id FROM sa_customers WHERE lower(first_name) = lower(%s) AND lower(last_name) = lower(%s) AND zip = %s",
        (args.first_name, args.last_name, args.zip),
    ).fetchall()
    if len(rows) != 1:  # two customers with one name and zip: ambiguous, so not an identification
        raise ToolError("not_found", "No single customer with this name and zip code was found.")
    return {"customer_id": rows[0][0]}


def get_customer(conn: psycopg.Connection, args: CustomerRef, ctx: ToolContext) -> dict:
    row = _customer_row(conn, args.customer_id) if args.customer_id == ctx.customer_id else None
    if row is None:
        raise not_found("customer", args.customer_id)
    methods = [
        {"id": m[0], "source": m[1], "brand": m[2], "last_four": m[3], "balance": _money(m[4])}
        for m in conn.execute(
            "SELECT id, source, brand, last_four, balance FROM sa_payment_methods WHERE customer_id = %s"
            " ORDER BY position",
            (row[0],),
        )
    ]
    orders = [r[0] for r in conn.execute("SELECT id FROM sa_orders WHERE customer_id = %s ORDER BY id", (row[0],))]
    keys = ("address1", "address2", "city", "state", "country", "zip")
    return {
        "customer_id": row[0],
        "name": {"first_name": row[1], "last_name": row[2]},
        "email": row[3],
        "address": dict(zip(keys, row[4:10], strict=True)),
        "payment_methods": [{k: v for k, v in m.items() if v is not None} for m in methods],
        "orders": orders,
    }


@dataclass
class _Order:
    id: str
    customer_id: str
    status: str
    version: int
    delivered_at: Any
    lines: list[dict]
    payments: list[dict]


def load_order(conn: psycopg.Connection, order_id: str, customer_id: str | None, *, lock: bool = False) -> _Order:
    """The order if it belongs to ``customer_id``; otherwise ``not_found`` (same error as an unknown id)."""
    row = conn.execute(
        "SELECT id, customer_id, status, version, delivered_at FROM sa_orders WHERE id = %s"
        + (" FOR UPDATE" if lock else ""),
        (order_id,),
    ).fetchone()
    if row is None or customer_id is None or row[1] != customer_id:
        raise not_found("order", order_id)
    lines = [
        {"position": r[0], "product_id": r[1], "item_id": r[2], "name": r[3], "price": r[4], "options": r[5]}
        for r in conn.execute(
            "SELECT position, product_id, item_id, name, price, options FROM sa_order_items WHERE order_id = %s"
            " ORDER BY position",
            (order_id,),
        )
    ]
    payments = [
        {"position": r[0], "transaction_type": r[1], "amount": r[2], "payment_method_id": r[3]}
        for r in conn.execute(
            "SELECT position, transaction_type, amount, payment_method_id FROM sa_payments WHERE order_id = %s"
            " ORDER BY position",
            (order_id,),
        )
    ]
    return _Order(row[0], row[1], row[2], row[3], row[4], lines, payments)


def _shipments(conn: psycopg.Connection, order_id: str) -> list[dict]:
    return [
        {
            "tracking_ids": r[0],
            "item_ids": r[1],
            "carrier": r[2],
            "status": r[3],
            "shipped_at": r[4].isoformat() if r[4] else None,
            "delivered_at": r[5].isoformat() if r[5] else None,
        }
        for r in conn.execute(
            "SELECT tracking_ids, item_ids, carrier, status, shipped_at, delivered_at FROM sa_shipments"
            " WHERE order_id = %s ORDER BY position",
            (order_id,),
        )
    ]


def get_order(conn: psycopg.Connection, args: OrderRef, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    head = conn.execute(
        "SELECT address1, address2, city, state, country, zip, cancel_reason, created_at FROM sa_orders WHERE id = %s",
        (order.id,),
    ).fetchone()
    requests = [
        {
            "kind": r[0],
            "item_ids": r[1],
            "new_item_ids": r[2],
            "payment_method_id": r[3],
            "price_difference": _money(r[4]),
            "status": r[5],
        }
        for r in conn.execute(
            "SELECT kind, item_ids, new_item_ids, payment_method_id, price_difference, status FROM sa_return_requests"
            " WHERE order_id = %s ORDER BY id",
            (order.id,),
        )
    ]
    keys = ("address1", "address2", "city", "state", "country", "zip")
    return {
        "order_id": order.id,
        "customer_id": order.customer_id,
        "status": order.status,
        "address": dict(zip(keys, head[:6], strict=True)),
        "cancel_reason": head[6],
        "created_at": head[7].isoformat() if head[7] else None,
        "delivered_at": order.delivered_at.isoformat() if order.delivered_at else None,
        "items": [
            {k: (_money(v) if k == "price" else v) for k, v in line.items() if k != "position"} for line in order.lines
        ],
        "fulfillments": _shipments(conn, order.id),
        "payment_history": [
            {
                "transaction_type": p["transaction_type"],
                "amount": _money(p["amount"]),
                "payment_method_id": p["payment_method_id"],
            }
            for p in order.payments
        ],
        "return_requests": requests,
    }


def list_orders(conn: psycopg.Connection, args: ListOrders, ctx: ToolContext) -> dict:
    rows = conn.execute(
        "SELECT o.id, o.status, o.created_at, coalesce(sum(i.price), 0), count(i.*),"
        " string_agg(i.name, ', ' ORDER BY i.position)"
        " FROM sa_orders o LEFT JOIN sa_order_items i ON i.order_id = o.id"
        " WHERE o.customer_id = %s AND (%s::text IS NULL OR o.status = %s)"
        " GROUP BY o.id ORDER BY o.created_at DESC NULLS LAST, o.id",
        (ctx.customer_id, args.status, args.status),
    ).fetchall()
    return {
        "orders": [
            {
                "order_id": r[0],
                "status": r[1],
                "created_at": r[2].isoformat() if r[2] else None,
                "total": _money(r[3]),
                "n_items": r[4],
                "items": r[5],
            }
            for r in rows
        ]
    }


def track_shipment(conn: psycopg.Connection, args: OrderRef, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    return {"order_id": order.id, "status": order.status, "shipments": _shipments(conn, order.id)}


def get_product(conn: psycopg.Connection, args: ProductRef, ctx: ToolContext) -> dict:
    row = conn.execute("SELECT id, name FROM sa_products WHERE id = %s", (args.product_id,)).fetchone()
    if row is None:
        raise ToolError("not_found", f"No product '{args.product_id}' was found.")
    variants = {
        r[0]: {"item_id": r[0], "options": r[1], "price": _money(r[2]), "available": r[3]}
        for r in conn.execute(
            "SELECT item_id, options, price, available FROM sa_variants WHERE product_id = %s ORDER BY item_id",
            (row[0],),
        )
    }
    return {"product_id": row[0], "name": row[1], "variants": variants}


def list_product_types(conn: psycopg.Connection, args: NoArgs, ctx: ToolContext) -> dict:
    return {"products": {r[0]: r[1] for r in conn.execute("SELECT name, id FROM sa_products ORDER BY name, id")}}


# -- write helpers ---------------------------------------------------------------------------------------------


def _require_status(order: _Order, *allowed: str) -> None:
    if order.status not in allowed:
        raise ToolError(
            "bad_status", f"Order {order.id} is '{order.status}'; this needs an order that is {' or '.join(allowed)}."
        )


def bump_version(conn: psycopg.Connection, order: _Order, **sets: Any) -> None:
    """The version-checked UPDATE every order write goes through (first, so a concurrent writer blocks here)."""
    assignments = "".join(f", {column} = %({column})s" for column in sets)
    cur = conn.execute(
        f"UPDATE sa_orders SET version = version + 1, updated_at = now(){assignments}"
        " WHERE id = %(id)s AND version = %(version)s",
        {"id": order.id, "version": order.version, **sets},
    )
    if cur.rowcount != 1:
        raise ToolError(
            "conflict", f"Order {order.id} was changed at the same time by another request; nothing was done."
        )


def _payment_method(conn: psycopg.Connection, method_id: str, customer_id: str | None) -> dict:
    row = conn.execute(
        "SELECT id, customer_id, source, balance FROM sa_payment_methods WHERE id = %s", (method_id,)
    ).fetchone()
    if row is None or row[1] != customer_id:
        raise not_found("payment method", method_id)
    return {"id": row[0], "source": row[2], "balance": row[3]}


def _add_payment(conn: psycopg.Connection, order: _Order, kind: str, amount: Decimal, method_id: str) -> None:
    conn.execute(
        "INSERT INTO sa_payments (order_id, position, transaction_type, amount, payment_method_id, created_at)"
        " VALUES (%s, (SELECT coalesce(max(position) + 1, 0) FROM sa_payments WHERE order_id = %s), %s, %s, %s, now())",
        (order.id, order.id, kind, amount, method_id),
    )


def _gift_card_delta(conn: psycopg.Connection, method: dict, delta: Decimal) -> None:
    """Add ``delta`` to a gift card's balance (negative: pay with it); a balance never goes below zero."""
    if method["source"] != "gift_card" or delta == 0:
        return
    cur = conn.execute(
        "UPDATE sa_payment_methods SET balance = balance + %s WHERE id = %s AND balance + %s >= 0",
        (delta, method["id"], delta),
    )
    if cur.rowcount != 1:
        raise ToolError("insufficient_balance", f"Gift card {method['id']} does not have enough balance.")


def _match_lines(order: _Order, item_ids: list[str]) -> list[dict]:
    """One distinct order line per requested item id (an id asked for twice needs two such lines)."""
    used: set[int] = set()
    lines = []
    for item_id in item_ids:
        line = next((ln for ln in order.lines if ln["item_id"] == item_id and ln["position"] not in used), None)
        if line is None:
            raise ToolError("not_found", f"Item {item_id} is not (or not that many times) in order {order.id}.")
        used.add(line["position"])
        lines.append(line)
    return lines


def _new_variants(conn: psycopg.Connection, lines: list[dict], new_item_ids: list[str]) -> list[dict]:
    if len(lines) != len(new_item_ids):
        raise ToolError("invalid_arguments", "Each item to change needs exactly one new item.")
    variants = []
    for line, new_id in zip(lines, new_item_ids, strict=True):
        row = conn.execute(
            "SELECT item_id, product_id, options, price, available FROM sa_variants WHERE item_id = %s", (new_id,)
        ).fetchone()
        if row is None or row[1] != line["product_id"]:
            raise ToolError("invalid_item", f"Item {new_id} is not a variant of the same product as {line['item_id']}.")
        if not row[4]:
            raise ToolError("unavailable", f"Item {new_id} is not available.")
        if new_id == line["item_id"]:
            raise ToolError("invalid_item", f"Item {new_id} is the item already ordered; choose other options.")
        variants.append({"item_id": row[0], "options": row[2], "price": row[3]})
    return variants


def original_payment_method(order: _Order) -> str | None:
    first = next((p for p in order.payments if p["transaction_type"] == "payment"), None)
    return first["payment_method_id"] if first else None


def check_refund_destination(conn: psycopg.Connection, order: _Order, method_id: str) -> dict:
    """Refunds go to the order's original payment method or to a gift card of the same customer (wiki.md)."""
    method = _payment_method(conn, method_id, order.customer_id)
    if method["source"] != "gift_card" and method_id != original_payment_method(order):
        raise ToolError(
            "refund_destination", "A refund can only go to the original payment method or to one of your gift cards."
        )
    return method


# -- writes ------------------------------------------------------------------------------------------------------


def cancel_pending_order(conn: psycopg.Connection, args: CancelOrder, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    _require_status(order, "pending")
    bump_version(conn, order, status="cancelled", cancel_reason=args.reason)
    net: dict[str, Decimal] = {}
    for p in order.payments:
        sign = 1 if p["transaction_type"] == "payment" else -1
        net[p["payment_method_id"]] = net.get(p["payment_method_id"], Decimal(0)) + sign * p["amount"]
    refunds = []
    for method_id, amount in net.items():
        if amount > 0:
            _add_payment(conn, order, "refund", amount, method_id)
            _gift_card_delta(conn, _payment_method(conn, method_id, order.customer_id), amount)
            refunds.append({"payment_method_id": method_id, "amount": float(amount)})
    return {"order_id": order.id, "status": "cancelled", "reason": args.reason, "refunds": refunds}


def modify_pending_order_address(conn: psycopg.Connection, args: ModifyOrderAddress, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    _require_status(order, "pending")
    address = args.model_dump(exclude={"order_id"})
    bump_version(conn, order, **address)
    return {"order_id": order.id, "status": order.status, "address": address}


def modify_pending_order_payment(conn: psycopg.Connection, args: ModifyOrderPayment, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    _require_status(order, "pending")
    new = _payment_method(conn, args.payment_method_id, order.customer_id)
    if len(order.payments) != 1 or order.payments[0]["transaction_type"] != "payment":
        raise ToolError("bad_status", f"The payment of order {order.id} was already changed once.")
    old_id, amount = order.payments[0]["payment_method_id"], order.payments[0]["amount"]
    if old_id == new["id"]:
        raise ToolError("invalid_arguments", "The new payment method must differ from the current one.")
    bump_version(conn, order)
    _add_payment(conn, order, "payment", amount, new["id"])
    _add_payment(conn, order, "refund", amount, old_id)
    _gift_card_delta(conn, new, -amount)
    _gift_card_delta(conn, _payment_method(conn, old_id, order.customer_id), amount)
    return {
        "order_id": order.id,
        "status": order.status,
        "payment_method_id": new["id"],
        "amount": float(amount),
        "refunded_to": old_id,
    }


def modify_pending_order_items(conn: psycopg.Connection, args: ItemsChange, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    _require_status(order, "pending")
    lines = _match_lines(order, args.item_ids)
    variants = _new_variants(conn, lines, args.new_item_ids)
    method = _payment_method(conn, args.payment_method_id, order.customer_id)
    diff = sum((v["price"] - ln["price"] for ln, v in zip(lines, variants, strict=True)), Decimal(0))
    bump_version(conn, order, status="pending (items modified)")
    for line, variant in zip(lines, variants, strict=True):
        conn.execute(
            "UPDATE sa_order_items SET item_id = %s, price = %s, options = %s WHERE order_id = %s AND position = %s",
            (
                variant["item_id"],
                variant["price"],
                Jsonb(variant["options"]),
                order.id,
                line["position"],
            ),
        )
    if diff != 0:
        _add_payment(conn, order, "payment" if diff > 0 else "refund", abs(diff), method["id"])
        _gift_card_delta(conn, method, -diff)
    return {
        "order_id": order.id,
        "status": "pending (items modified)",
        "price_difference": float(diff),
        "payment_method_id": method["id"],
    }


def modify_customer_address(conn: psycopg.Connection, args: ModifyCustomerAddress, ctx: ToolContext) -> dict:
    if args.customer_id != ctx.customer_id or _customer_row(conn, args.customer_id) is None:
        raise not_found("customer", args.customer_id)
    address = args.model_dump(exclude={"customer_id"})
    conn.execute(
        "UPDATE sa_customers SET address1 = %(address1)s, address2 = %(address2)s, city = %(city)s,"
        " state = %(state)s, country = %(country)s, zip = %(zip)s WHERE id = %(id)s",
        {**address, "id": args.customer_id},
    )
    return {"customer_id": args.customer_id, "address": address}


def _request(
    conn: psycopg.Connection, order: _Order, kind: str, args: Any, diff: Decimal | None, ctx: ToolContext
) -> None:
    conn.execute(
        "INSERT INTO sa_return_requests (order_id, kind, item_ids, new_item_ids, payment_method_id, price_difference,"
        " session_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            order.id,
            kind,
            sorted(args.item_ids),
            sorted(args.new_item_ids) if kind == "exchange" else None,
            args.payment_method_id,
            diff,
            ctx.session_id or None,
        ),
    )


def return_delivered_order_items(conn: psycopg.Connection, args: ReturnItems, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    _require_status(order, "delivered")
    lines = _match_lines(order, args.item_ids)
    check_refund_destination(conn, order, args.payment_method_id)
    bump_version(conn, order, status="return requested")
    _request(conn, order, "return", args, None, ctx)
    amount = sum((ln["price"] for ln in lines), Decimal(0))
    return {
        "order_id": order.id,
        "status": "return requested",
        "item_ids": sorted(args.item_ids),
        "refund_amount": float(amount),
        "payment_method_id": args.payment_method_id,
        "next_step": "the customer receives an e-mail on how to return the items; the refund follows receipt",
    }


def exchange_delivered_order_items(conn: psycopg.Connection, args: ItemsChange, ctx: ToolContext) -> dict:
    order = load_order(conn, args.order_id, ctx.customer_id)
    _require_status(order, "delivered")
    lines = _match_lines(order, args.item_ids)
    variants = _new_variants(conn, lines, args.new_item_ids)
    method = _payment_method(conn, args.payment_method_id, order.customer_id)
    diff = sum((v["price"] - ln["price"] for ln, v in zip(lines, variants, strict=True)), Decimal(0))
    if method["source"] == "gift_card" and diff > 0 and method["balance"] < diff:
        raise ToolError("insufficient_balance", f"Gift card {method['id']} does not cover the price difference.")
    bump_version(conn, order, status="exchange requested")
    _request(conn, order, "exchange", args, diff, ctx)
    return {
        "order_id": order.id,
        "status": "exchange requested",
        "price_difference": float(diff),
        "payment_method_id": method["id"],
        "next_step": "the customer receives an e-mail on how to return the items; no new order is needed",
    }


def refund(conn: psycopg.Connection, args: RefundOrder, ctx: ToolContext) -> dict:
    """Refund an order whose delivery failed: every shipment of a 'processed' order is recorded as ``lost``.

    Why this narrow: in wiki.md every other refund is the consequence of cancel, modify or return, and those tools
    move the money themselves. A free-form "refund N to X" would let a persuaded model pay anyone anything; this
    one moves money only when the database records a fact that justifies it (the carrier lost the parcel), only
    the net amount paid, only to the original payment method or the customer's own gift card. The order becomes
    'cancelled' with reason 'lost in transit'. Anything else is a policy exception for a human.
    """
    order = load_order(conn, args.order_id, ctx.customer_id)
    _require_status(order, "processed")
    statuses = [r[0] for r in conn.execute("SELECT status FROM sa_shipments WHERE order_id = %s", (order.id,))]
    if not statuses or any(s != "lost" for s in statuses):
        raise ToolError("not_refundable", f"Order {order.id} has no failed delivery; it cannot be refunded directly.")
    method = check_refund_destination(conn, order, args.payment_method_id)
    paid = sum(
        (p["amount"] if p["transaction_type"] == "payment" else -p["amount"] for p in order.payments), Decimal(0)
    )
    if paid <= 0:
        raise ToolError("not_refundable", f"Order {order.id} has nothing left to refund.")
    bump_version(conn, order, status="cancelled", cancel_reason="lost in transit")
    _add_payment(conn, order, "refund", paid, method["id"])
    _gift_card_delta(conn, method, paid)
    return {
        "order_id": order.id,
        "status": "cancelled",
        "refund_amount": float(paid),
        "payment_method_id": method["id"],
    }


def transfer_to_human(conn: psycopg.Connection, args: Transfer, ctx: ToolContext) -> dict:
    """Only records the request: the conversation layer moves the session to the human queue."""
    return {"transferred": True, "summary": args.summary}


# -- registry ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: type[BaseModel]
    kind: ToolKind
    fn: Callable[[psycopg.Connection, Any, ToolContext], dict]

    def json_schema(self) -> dict:
        """OpenAI-style function definition (what a chat model with tool calling is given)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.args.model_json_schema(),
            },
        }


_SPECS = [
    ToolSpec(
        "find_customer_by_email",
        "Identify the customer by e-mail (required before anything else).",
        FindByEmail,
        "identify",
        find_customer_by_email,
    ),
    ToolSpec(
        "find_customer_by_name_zip",
        "Identify the customer by first name, last name and zip code.",
        FindByNameZip,
        "identify",
        find_customer_by_name_zip,
    ),
    ToolSpec(
        "get_customer",
        "Profile of the verified customer: name, e-mail, address, payment methods, order ids.",
        CustomerRef,
        "read",
        get_customer,
    ),
    ToolSpec(
        "get_order",
        "Details of one of the customer's orders: status, items, shipments, payments.",
        OrderRef,
        "read",
        get_order,
    ),
    ToolSpec(
        "list_orders",
        "The customer's orders, newest first, optionally filtered by status.",
        ListOrders,
        "read",
        list_orders,
    ),
    ToolSpec(
        "track_shipment",
        "Shipments of an order: carrier, tracking ids, status, dates.",
        OrderRef,
        "read",
        track_shipment,
    ),
    ToolSpec(
        "get_product",
        "A product type and its variants (item ids, options, price, availability).",
        ProductRef,
        "read",
        get_product,
    ),
    ToolSpec("list_product_types", "All product types: name → product id.", NoArgs, "read", list_product_types),
    ToolSpec(
        "cancel_pending_order",
        "Cancel a pending order; the amount paid is refunded to where it came from.",
        CancelOrder,
        "write",
        cancel_pending_order,
    ),
    ToolSpec(
        "modify_pending_order_address",
        "Change the shipping address of a pending order.",
        ModifyOrderAddress,
        "write",
        modify_pending_order_address,
    ),
    ToolSpec(
        "modify_pending_order_payment",
        "Pay a pending order with another of the customer's payment methods.",
        ModifyOrderPayment,
        "write",
        modify_pending_order_payment,
    ),
    ToolSpec(
        "modify_pending_order_items",
        "Swap items of a pending order for other options of the same product (once per order).",
        ItemsChange,
        "write",
        modify_pending_order_items,
    ),
    ToolSpec(
        "modify_customer_address",
        "Change the customer's default address.",
        ModifyCustomerAddress,
        "write",
        modify_customer_address,
    ),
    ToolSpec(
        "return_delivered_order_items",
        "Request a return of items of a delivered order; refund to the original method or a gift card.",
        ReturnItems,
        "write",
        return_delivered_order_items,
    ),
    ToolSpec(
        "exchange_delivered_order_items",
        "Request an exchange of delivered items for other options of the same product.",
        ItemsChange,
        "write",
        exchange_delivered_order_items,
    ),
    ToolSpec(
        "refund",
        "Refund an order whose every shipment the carrier reports lost (nothing else).",
        RefundOrder,
        "write",
        refund,
    ),
    ToolSpec(
        "transfer_to_human",
        "Hand the conversation to a human agent with a summary of the request.",
        Transfer,
        "handoff",
        transfer_to_human,
    ),
]
TOOLS: dict[str, ToolSpec] = {spec.name: spec for spec in _SPECS}
WRITE_TOOLS = frozenset(name for name, spec in TOOLS.items() if spec.kind == "write")


def tool_schemas(kinds: tuple[ToolKind, ...] = ("read", "write", "identify", "handoff")) -> list[dict]:
    return [spec.json_schema() for spec in _SPECS if spec.kind in kinds]


class ToolCall(BaseModel):
    """A proposed call: what a model (or a flow, or the eval's gold replay) asks for."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


# τ-bench retail tool names and argument names → this layer's (the eval's adapter; reads and writes alike).
TAU_TOOL_NAMES = {
    "find_user_id_by_email": "find_customer_by_email",
    "find_user_id_by_name_zip": "find_customer_by_name_zip",
    "get_user_details": "get_customer",
    "get_order_details": "get_order",
    "get_product_details": "get_product",
    "list_all_product_types": "list_product_types",
    "modify_user_address": "modify_customer_address",
    "transfer_to_human_agents": "transfer_to_human",
}


def from_tau(name: str, kwargs: dict[str, Any]) -> ToolCall:
    """A τ-bench retail action (``{"name", "kwargs"}``) as a call on this tool layer."""
    arguments = dict(kwargs)
    if "user_id" in arguments:
        arguments["customer_id"] = arguments.pop("user_id")
    return ToolCall(name=TAU_TOOL_NAMES.get(name, name), arguments=arguments)
