"""Decisions taken on a gateway's page, told to the other gateways of the store.

A store with several gateways judges every price on every gateway alike, so an item
held on one is held on all. A person's decision on one gateway's page must reach the
others, so that a released price reaches every shelf and a discarded one none. Each
gateway publishes the decisions taken on its page (the newest ``KEEP`` of the last
``KEEP_DAYS``) as one retained message on its own topic, outside the cloud contract::

    {prefix}/{store}/gw/{gw}/reviews
    {"schema": "reviews/1", "gateway_id": "gw-1", "ts": "...",
     "decisions": [{"sku": "6901234567892", "version": 13, "decision": "release",
                    "by": "li.wei", "note": "...", "at": "..."}]}

Retained, it reaches a gateway that was away when the decision was taken as soon as it
connects again. What arrives is checked like anything else from the wire
(:func:`parse`: a bad message is refused whole, with the reason).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway.prices.store import Decision
from gateway.timeutil import format_epoch, parse_ts

SCHEMA = "reviews/1"
KEEP = 300  # decisions per message: ~150 bytes each, far below a broker's 128 KiB
KEEP_DAYS = 30
MAX_BYTES = 128 * 1024


class BadReviews(ValueError):
    """A reviews message that cannot be taken (the message says why)."""


def dump(gateway_id: str, decisions: Sequence[Decision], now: float) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "gateway_id": gateway_id,
        "ts": format_epoch(now),
        "decisions": [
            {
                "sku": d.sku,
                "version": d.version,
                "decision": d.decision,
                "by": d.by,
                "note": d.note,
                "at": format_epoch(d.at),
            }
            for d in decisions[:KEEP]
        ],
    }


def parse(payload: bytes, gateway_id: str) -> list[Decision]:
    """The decisions of another gateway's page (``origin`` ``peer``); an empty payload
    (a withdrawn message) has none. Raises :class:`BadReviews`."""
    if not payload:
        return []
    if len(payload) > MAX_BYTES:
        raise BadReviews(f"{len(payload)} bytes; at most {MAX_BYTES}")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise BadReviews("not JSON") from None
    if not isinstance(body, dict) or body.get("schema") != SCHEMA:
        raise BadReviews(f"not a {SCHEMA} message")
    if body.get("gateway_id") != gateway_id:
        raise BadReviews(f"gateway_id {body.get('gateway_id')!r} on the topic of {gateway_id}")
    entries = body.get("decisions")
    if not isinstance(entries, list) or len(entries) > KEEP:
        raise BadReviews(f"decisions must be a list of at most {KEEP}")
    out = []
    for n, e in enumerate(entries):
        try:
            out.append(_decision(e))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadReviews(f"decisions[{n}]: {exc}") from None
    return out


def _decision(e: Any) -> Decision:
    if not isinstance(e, dict):
        raise TypeError("not an object")
    sku, version, decision, by, note = (
        e["sku"],
        e["version"],
        e["decision"],
        e["by"],
        e.get("note"),
    )
    if not isinstance(sku, str) or not 1 <= len(sku) <= 64:
        raise ValueError("sku must be a string of 1 to 64 characters")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError("version must be a whole number from 1")
    if decision not in ("release", "discard"):
        raise ValueError("decision must be release or discard")
    if not isinstance(by, str) or not 1 <= len(by) <= 64:
        raise ValueError("by must be a user name")
    if note is not None and (not isinstance(note, str) or len(note) > 200):
        raise ValueError("note must be a string of at most 200 characters")
    at = parse_ts(e["at"]).timestamp()
    return Decision(sku, version, decision, by, note, at, "peer")
