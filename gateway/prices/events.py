"""The price guard's events (contract 1.2): ``price.flagged``, ``price.held`` and
``price.reviewed``, each with the contract's ``price`` object. The cloud deduplicates
them on ``(sku, version, type)``: every gateway of a store reports its own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.contract.events import Event
from gateway.prices.model import PriceItem
from gateway.prices.rules import Verdict


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def price_object(item: PriceItem, verdict: Verdict | None, labels: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": item.sku,
        "version": item.version,
        "price": item.price,
        "currency": item.currency,
        "original_price": item.original_price,
        "labels": labels,
    }
    if verdict is not None:
        body.update(
            previous_price=_money(verdict.previous_price),
            lowest_prior_price=_money(verdict.lowest_prior_price),
            history_days=verdict.history_days,
        )
        if verdict.broken:
            body["rules"] = [
                {"rule": b.rule, "mode": b.mode, "message": b.message} for b in verdict.broken
            ]
    return body


def _names(verdict: Verdict) -> str:
    return ", ".join(b.rule for b in verdict.broken)


def flagged(item: PriceItem, verdict: Verdict, labels: int, now: float) -> Event:
    return Event(
        "price.flagged",
        "warning",
        f"price of {item.sku} v{item.version} flagged: {_names(verdict)}",
        now,
        price=price_object(item, verdict, labels),
    )


def held(item: PriceItem, verdict: Verdict, labels: int, now: float) -> Event:
    return Event(
        "price.held",
        "warning",
        f"price of {item.sku} v{item.version} held: {_names(verdict)}",
        now,
        price=price_object(item, verdict, labels),
    )


def reviewed(
    item: PriceItem,
    verdict: Verdict,
    labels: int,
    decision: str,
    by: str,
    note: str | None,
    now: float,
) -> Event:
    """A held item's end: ``release``, ``discard`` (by a person or the cloud) or
    ``superseded`` (by the gateway: a newer version arrived)."""
    words = {"release": "released", "discard": "discarded", "superseded": "superseded"}
    message = f"price of {item.sku} v{item.version} {words[decision]} by {by}"
    if note:
        message += f": {note}"
    body = price_object(item, verdict, labels)
    body.update(decision=decision, by=by, note=note)
    return Event("price.reviewed", "info", message, now, price=body)
