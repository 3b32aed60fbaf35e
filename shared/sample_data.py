"""In-memory SAMPLE data for the demo endpoints. Not persisted, not real, reset on restart."""

from __future__ import annotations

import itertools
import threading
from typing import Any

SAMPLE_NOTICE = "sample data held in memory; it is not persisted"

_lock = threading.Lock()
_order_ids = itertools.count(1003)
_orders: list[dict[str, Any]] = [
    {"id": 1001, "item": "Espresso machine", "quantity": 1},
    {"id": 1002, "item": "Coffee beans, 1 kg", "quantity": 3},
]

ACCOUNTS = [
    {"id": "acc-1", "name": "Contoso Ltd", "team": "north"},
    {"id": "acc-2", "name": "Fabrikam Inc", "team": "south"},
]
CONTACTS = [
    {"id": "con-1", "name": "Ada Lovelace", "team": "north", "owner": "self"},
    {"id": "con-2", "name": "Grace Hopper", "team": "south", "owner": "colleague"},
]
PROPOSALS = [{"id": "prop-1", "account": "acc-1", "team": "north", "value": 12000}]


def list_orders() -> list[dict[str, Any]]:
    with _lock:
        return [dict(order) for order in _orders]


def approve_order(order_id: int, approved_by: str | None) -> dict[str, Any] | None:
    """Mark an order approved; None when there is no such order."""
    with _lock:
        for order in _orders:
            if order["id"] == order_id:
                order["approved_by"] = approved_by
                return dict(order)
    return None


def add_order(item: str, quantity: int, created_by: str | None) -> dict[str, Any]:
    with _lock:
        order = {"id": next(_order_ids), "item": item, "quantity": quantity, "created_by": created_by}
        _orders.append(order)
        return dict(order)
