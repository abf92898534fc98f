"""A tiny τ-bench-shaped retailer written inline (tests never read /work/shared/data)."""

from __future__ import annotations

import json
from pathlib import Path

ADDRESS = {
    "address1": "1 Elm Street",
    "address2": "",
    "city": "Austin",
    "country": "USA",
    "state": "TX",
    "zip": "78701",
}
PRODUCTS = {
    "p_shirt": {
        "name": "T-Shirt",
        "product_id": "p_shirt",
        "variants": {
            "i_blue_m": {
                "item_id": "i_blue_m",
                "options": {"color": "blue", "size": "M"},
                "available": True,
                "price": 20.0,
            },
            "i_red_m": {
                "item_id": "i_red_m",
                "options": {"color": "red", "size": "M"},
                "available": True,
                "price": 25.5,
            },
            "i_red_l": {
                "item_id": "i_red_l",
                "options": {"color": "red", "size": "L"},
                "available": False,
                "price": 26.0,
            },
        },
    },
    "p_lamp": {
        "name": "Desk Lamp",
        "product_id": "p_lamp",
        "variants": {
            "i_lamp_w": {"item_id": "i_lamp_w", "options": {"color": "white"}, "available": True, "price": 40.0}
        },
    },
}
USERS = {
    "ann_lee_1": {
        "name": {"first_name": "Ann", "last_name": "Lee"},
        "address": ADDRESS,
        "email": "ann@example.com",
        "payment_methods": {
            "credit_card_1": {"source": "credit_card", "brand": "visa", "last_four": "1111", "id": "credit_card_1"},
            "gift_card_1": {"source": "gift_card", "balance": 10.0, "id": "gift_card_1"},
            "paypal_1": {"source": "paypal", "id": "paypal_1"},
        },
        "orders": ["#W1", "#W2", "#W3", "#W4"],
    },
    "bob_ray_2": {
        "name": {"first_name": "Bob", "last_name": "Ray"},
        "address": {**ADDRESS, "zip": "78702"},
        "email": "bob@example.com",
        "payment_methods": {
            "credit_card_2": {"source": "credit_card", "brand": "amex", "last_four": "2222", "id": "credit_card_2"}
        },
        "orders": ["#W9"],
    },
}


def _item(variant: str, product: str = "p_shirt") -> dict:
    v = PRODUCTS[product]["variants"][variant]
    return {
        "name": PRODUCTS[product]["name"],
        "product_id": product,
        "item_id": variant,
        "price": v["price"],
        "options": v["options"],
    }


def _order(oid: str, uid: str, status: str, items: list[dict], method: str) -> dict:
    total = round(sum(i["price"] for i in items), 2)
    return {
        "order_id": oid,
        "user_id": uid,
        "address": ADDRESS,
        "items": items,
        "status": status,
        "fulfillments": [{"tracking_id": ["T" + oid[2:]], "item_ids": [i["item_id"] for i in items]}]
        if status != "pending"
        else [],
        "payment_history": [{"transaction_type": "payment", "amount": total, "payment_method_id": method}],
    }


ORDERS = {
    "#W1": _order("#W1", "ann_lee_1", "pending", [_item("i_blue_m"), _item("i_lamp_w", "p_lamp")], "gift_card_1"),
    "#W2": _order("#W2", "ann_lee_1", "pending", [_item("i_blue_m"), _item("i_blue_m")], "credit_card_1"),
    "#W3": _order("#W3", "ann_lee_1", "delivered", [_item("i_blue_m"), _item("i_lamp_w", "p_lamp")], "credit_card_1"),
    "#W4": _order("#W4", "ann_lee_1", "processed", [_item("i_red_m")], "paypal_1"),
    "#W9": _order("#W9", "bob_ray_2", "pending", [_item("i_red_m")], "credit_card_2"),
}


def write_tau_dir(directory: Path) -> Path:
    for name, data in (("users", USERS), ("orders", ORDERS), ("products", PRODUCTS)):
        (directory / f"{name}.json").write_text(json.dumps(data))
    return directory
