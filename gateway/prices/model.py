"""A SKU's price as the cloud sends it (contract: ``price-update`` items)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PriceItem:
    """One SKU's price as the cloud sent it. Money stays a decimal string."""

    sku: str
    version: int
    price: str
    currency: str
    original_price: str | None = None
    promo_text: str | None = None
    unit_price_text: str | None = None
    name: str | None = None
    valid_from: float | None = None  # POSIX seconds; None = at once
