"""Every SKU's prices as the database holds them: the current one, a held one, the
history (``store-gateway prices``, from the running daemon or its database alike)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlite_utils

from gateway.labels import store as label_store
from gateway.prices import store
from gateway.prices.store import VersionRow
from gateway.timeutil import format_epoch


def read(
    d: sqlite_utils.Database, sku: str | None = None, held_only: bool = False
) -> list[dict[str, Any]]:
    """One entry per SKU (sorted), or only ``sku``, or only SKUs with a held price. With
    ``sku``, the entry also lists every version kept (``history``)."""
    labels = Counter(b.sku for b in label_store.load_bindings(d))
    by_sku: dict[str, list[VersionRow]] = {}
    for row in store.load_versions(d):
        if sku is None or row.item.sku == sku:
            by_sku.setdefault(row.item.sku, []).append(row)
    out = []
    for name in sorted(by_sku):
        rows = by_sku[name]
        applied = [r for r in rows if r.state == "applied"]
        held = next((r for r in rows if r.state == "held"), None)
        if held_only and held is None:
            continue
        current = applied[-1] if applied else None
        entry: dict[str, Any] = {
            "sku": name,
            "labels": labels.get(name, 0),
            "current": None if current is None else _version(current),
            "held": None if held is None else _version(held),
        }
        if sku is not None:
            entry["history"] = [_version(r) for r in rows]
        out.append(entry)
    return out


def _version(row: VersionRow) -> dict[str, Any]:
    item = row.item
    return {
        "version": item.version,
        "state": row.state,
        "price": item.price,
        "currency": item.currency,
        "original_price": item.original_price,
        "accepted_at": format_epoch(row.accepted_at),
        "since": None if row.effective_at is None else format_epoch(row.effective_at),
        "rules": "; ".join(b.message for b in row.broken) or None,
        "decided_by": row.decided_by,
        "note": row.note,
    }
