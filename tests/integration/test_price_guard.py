"""The price guard end to end: the daemon on a real mosquitto and the virtual store, the
cloud-side checker validating every payload against the contract's 1.2 schemas."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.signing import command, signed
from gateway.daemon.app import Gateway
from gateway.sim.control import VirtualStoreClient
from tests.integration.conftest import LABEL_SPEEDUP
from tests.integration.test_bridge import PREFIX, broker, cloud, gateway, until

__all__ = ["broker", "cloud", "gateway"]  # the fixtures this module uses

LABELS = {"A": "ff0101000001", "B": "ff0101000002", "C": "ff0101000003", "D": "ff0101000004"}


def final(cloud: Cloud, command_type: str) -> list[dict[str, Any]]:
    return [
        a
        for a in cloud.of("/acks")
        if a["command_type"] == command_type and a["status"] in ("completed", "partial")
    ]


def results_of(cloud: Cloud, command_id: str) -> dict[str | None, dict[str, Any]]:
    out: dict[str | None, dict[str, Any]] = {}
    for a in cloud.of("/acks"):
        if a["command_id"] == command_id:
            for r in a.get("results") or []:
                out[r["label_id"] or r["sku"]] = r
    return out


async def send(cloud: Cloud, type_: str, body: dict[str, Any], wait: bool = True) -> str:
    """Sign and send a command; returns its id once its final ack arrived (``wait``)."""
    cmd = command(type_, body)
    cloud.publish(f"{PREFIX}/commands", signed(cmd))
    if not wait:
        return str(cmd["id"])

    def answered() -> bool:
        return any(
            a["command_id"] == cmd["id"] and a["status"] in ("completed", "partial")
            for a in cloud.of("/acks")
        )

    await until(answered, 60, f"{type_} answered")
    return str(cmd["id"])


def item(sku: str, version: int, price: str, **extra: str) -> dict[str, Any]:
    return {"sku": sku, "version": version, "price": price, "currency": "CNY", **extra}


async def test_wrong_prices_are_held_reviewed_and_the_shelf_tells(
    gateway: Gateway, cloud: Cloud, control: VirtualStoreClient
) -> None:
    await until(
        lambda: all(gateway.registry.get(i) is not None for i in LABELS.values()), 20, "labels"
    )
    # Bound before any price: the bind waits for the first prices and is answered with them.
    bind = await send(
        cloud,
        "label-bind",
        {"bindings": [{"label_id": lid, "sku": s} for s, lid in LABELS.items()]},
        wait=False,
    )
    first = await send(
        cloud,
        "price-update",
        {
            "items": [
                item("A", 1, "12.90"),
                item("B", 1, "5.00"),
                item("C", 1, "15.00"),
                item("D", 1, "10.00"),
            ]
        },
    )
    assert {r["status"] for r in results_of(cloud, first).values()} == {"displayed"}
    await until(lambda: len(results_of(cloud, bind)) == 4, 30, "the bind answered")
    assert {r["status"] for r in results_of(cloud, bind).values()} == {"displayed"}

    # The four wrong prices of a new user's try: a lost decimal point, a zero, a promo
    # not lower than its "was", and "was 15.00, now 9.90" right after a raise from 10.00.
    await send(cloud, "price-update", {"items": [item("D", 2, "15.00")]})
    wrong = await send(
        cloud,
        "price-update",
        {
            "items": [
                item("A", 2, "1.29"),
                item("B", 2, "0"),
                item("C", 2, "16.00", original_price="15.00"),
                item("D", 3, "9.90", original_price="15.00"),
            ]
        },
    )
    res = results_of(cloud, wrong)
    assert {k: r["status"] for k, r in res.items()} == {
        LABELS["A"]: "held",
        LABELS["B"]: "held",
        LABELS["C"]: "held",
        LABELS["D"]: "displayed",
    }
    assert res[LABELS["A"]]["error"] == "max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)"
    assert res[LABELS["B"]]["error"].startswith("non-positive: the price is 0")
    assert res[LABELS["C"]]["error"].startswith("promo-not-lower: the price 16.00")
    events = cloud.of("/events")
    held = {e["price"]["sku"]: e for e in events if e["type"] == "price.held"}
    assert sorted(held) == ["A", "B", "C"]
    assert held["A"]["price"]["previous_price"] == "12.90" and held["A"]["price"]["labels"] == 1
    flagged = [e for e in events if e["type"] == "price.flagged"]
    assert [(e["price"]["sku"], e["price"]["rules"][0]["rule"]) for e in flagged] == [
        ("D", "prior-price")
    ]
    assert flagged[0]["price"]["lowest_prior_price"] == "10.00"

    def label_status(label_id: str) -> str | None:
        states = [s for s in cloud.of("/state") if s["device_id"] == label_id]
        return None if not states else states[-1]["label"]["status"]

    await until(lambda: label_status(LABELS["A"]) == "held", 15, "label state held")

    def shelf() -> dict[str, Any]:
        statuses = [s for s in cloud.of("/status") if s["state"] == "online" and "shelf" in s]
        return statuses[-1]["shelf"] if statuses else {}

    await until(lambda: shelf().get("held") == 3, 15, "the shelf's status tells the held ones")
    s = shelf()
    assert (s["bound"], s["held"], s["failed"]) == (4, 3, 0)
    assert s["time_to_shelf_s"]["count"] >= 5 and s["time_to_shelf_s"]["p50"] is not None

    # The cloud decides: A released, B discarded, a review of something not held fails.
    review = await send(
        cloud,
        "price-review",
        {
            "reviews": [
                {"sku": "A", "version": 2, "decision": "release", "note": "clearance"},
                {"sku": "B", "version": 2, "decision": "discard"},
                {"sku": "E", "version": 1, "decision": "release"},
            ]
        },
    )
    res = results_of(cloud, review)
    assert res[LABELS["A"]]["status"] == "displayed"
    assert res[LABELS["B"]]["status"] == "discarded"
    assert res["E"]["status"] == "failed" and res["E"]["error"] == "not held"
    assert final(cloud, "price-review")[-1]["status"] == "partial"
    reviewed = {
        e["price"]["sku"]: e["price"] for e in cloud.of("/events") if e["type"] == "price.reviewed"
    }
    assert reviewed["A"]["decision"] == "release" and reviewed["A"]["by"] == "cloud"
    assert reviewed["B"]["decision"] == "discard"
    assert gateway.labels is not None
    await asyncio.sleep(12.0 / LABEL_SPEEDUP + 0.5)  # the panels refresh
    twin = gateway.labels.planner.twins[LABELS["A"]]
    assert twin.displayed is not None and twin.displayed.version == 2
    image = await control.label_image("FF:01:01:00:00:01")
    assert hashlib.sha256(image).hexdigest()[:16] == twin.displayed.content_hash
    b = gateway.labels.planner.twins[LABELS["B"]]
    assert b.displayed is not None and b.displayed.version == 1  # the discarded one never shown

    # New rules from the cloud: a rise of more than 20 % is held now; an older version of
    # the rules changes nothing.
    await send(
        cloud, "price-rules", {"version": 1, "rules": {"max-rise": {"mode": "hold", "pct": 20}}}
    )
    assert final(cloud, "price-rules")[-1]["counts"] == {"applied": 1}
    stale = await send(cloud, "price-rules", {"version": 1, "rules": {"max-rise": {"mode": "off"}}})
    assert results_of(cloud, stale)[None]["status"] == "skipped-stale"
    rise = await send(cloud, "price-update", {"items": [item("D", 4, "12.00")]})
    assert results_of(cloud, rise)[LABELS["D"]]["status"] == "held"
    assert (
        "max-rise: 9.90 -> 12.00 is a 21.2 % rise (limit 20 %)"
        in results_of(cloud, rise)[LABELS["D"]]["error"]
    )
    assert cloud.gaps("acks") == [] and cloud.gaps("events") == []
