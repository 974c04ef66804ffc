"""The price guard on the local API: held prices, their review by an admin, the shelf."""

from __future__ import annotations

import asyncio
import time

from gateway.labels.model import Binding
from gateway.prices.model import PriceItem
from gateway.web.access import STEP_UP_S
from tests.helpers.web import WebHarness
from tests.web.test_api import check_openapi


async def held_store(h: WebHarness) -> str:
    """One label of SKU A showing 12.90, and 1.29 held for it."""
    assert h.labels is not None
    label_id = h.see_label()
    pipeline = h.labels
    await pipeline.plan(await pipeline.planner.bind("bind", [Binding(label_id, "A")]))
    await pipeline.plan(await pipeline.prices.update("v1", [PriceItem("A", 1, "12.90", "CNY")]))
    for _ in range(200):
        twin = pipeline.planner.twins.get(label_id)
        if twin is not None and twin.displayed is not None:
            break
        await asyncio.sleep(0.02)
    await pipeline.plan(await pipeline.prices.update("v2", [PriceItem("A", 2, "1.29", "CNY")]))
    return label_id


async def test_held_prices_and_the_shelf_are_shown(web_harness: WebHarness) -> None:
    label_id = await held_store(web_harness)
    c = web_harness.client
    await web_harness.login("vera")
    resp = await c.get("/api/prices")
    body = await resp.json()
    check_openapi("/api/prices", "get", 200, body)
    [held] = body["held"]
    assert held["sku"] == "A" and held["version"] == 2 and held["previous_price"] == "12.90"
    assert held["rules"][0]["message"] == "max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)"
    assert held["labels"] == 1 and held["label_ids"] == [label_id]
    assert body["rules"]["max-drop"] == {"mode": "hold", "pct": 50.0}

    preview = await c.get(
        "/api/prices/preview.png", params={"sku": "A", "version": "2", "label_id": label_id}
    )
    assert preview.status == 200 and (await preview.read()).startswith(b"\x89PNG")
    missing = await c.get(
        "/api/prices/preview.png", params={"sku": "A", "version": "1", "label_id": label_id}
    )
    assert missing.status == 404

    shelf = await c.get("/api/shelf", params={"q": "FF:00:12:A3:B4:C5"})
    view = await shelf.json()
    check_openapi("/api/shelf", "get", 200, view)
    assert view["sku"] == "A" and view["current"]["price"] == "12.90"
    [row] = view["labels"]
    assert row["state"] == "current" and row["shows"] == 1 and row["held_version"] == 2
    assert row["held_because"].startswith("max-drop: 12.90 -> 1.29")
    assert (await c.get("/api/shelf", params={"q": "nope"})).status == 404
    status = await (await c.get("/api/status")).json()
    check_openapi("/api/status", "get", 200, status)
    assert status["shelf"]["held"] == 1 and status["shelf"]["current"] == 1
    assert status["prices_held"] == 1


def expire_step_up(h: WebHarness, user: str) -> None:
    """The user's second factor was last confirmed more than 5 minutes ago."""
    assert h.auth is not None
    for session in h.auth.sessions():
        if session.user == user:
            session.second_factor_mono = time.monotonic() - STEP_UP_S - 1


async def test_only_an_admin_with_a_fresh_second_factor_may_release(
    web_harness: WebHarness,
) -> None:
    label_id = await held_store(web_harness)
    c = web_harness.client
    body = {"sku": "A", "version": 2, "note": "real clearance price"}
    csrf = await web_harness.login("tom")
    refused = await c.post("/api/prices/release", json=body, headers={"X-CSRF-Token": csrf})
    assert refused.status == 403 and (await refused.json())["code"] == "forbidden"
    check_openapi("/api/prices/release", "post", 403, await refused.json())

    csrf = await web_harness.login("ada")
    expire_step_up(web_harness, "ada")
    stale = await c.post("/api/prices/release", json=body, headers={"X-CSRF-Token": csrf})
    assert stale.status == 403 and (await stale.json())["code"] == "step-up"
    await web_harness.step_up("ada", csrf)
    bad = await c.post(
        "/api/prices/release", json={**body, "version": "two"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status == 400
    check_openapi("/api/prices/release", "post", 400, await bad.json())
    ok = await c.post("/api/prices/release", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status == 200, await ok.text()
    check_openapi("/api/prices/release", "post", 200, await ok.json())
    again = await c.post("/api/prices/discard", json=body, headers={"X-CSRF-Token": csrf})
    assert again.status == 409
    check_openapi("/api/prices/discard", "post", 409, await again.json())

    assert web_harness.labels is not None
    planner = web_harness.labels.planner
    for _ in range(200):
        twin = planner.twins[label_id]
        if twin.displayed is not None and twin.displayed.version == 2:
            break
        await asyncio.sleep(0.02)
    assert planner.twins[label_id].displayed.version == 2  # type: ignore[union-attr]
    assert (await (await c.get("/api/prices")).json())["held"] == []

    assert web_harness.audit is not None
    entries = await web_harness.audit.read(action="price.")
    assert [(e["actor"], e["action"], e["target"], e["ok"]) for e in entries] == [
        ("ada", "price.discard", "A@2", False),  # not held any more
        ("ada", "price.release", "A@2", True),
        ("ada", "price.release", None, False),  # the bad version: no target to name
        ("tom", "price.release", None, False),  # refused before the body was read
    ]
    assert entries[1]["second_factor"] and entries[1]["detail"] == "real clearance price"


async def test_wrong_codes_are_limited(web_harness: WebHarness) -> None:
    await held_store(web_harness)
    c = web_harness.client
    csrf = await web_harness.login("ada")
    expire_step_up(web_harness, "ada")
    statuses = []
    for _ in range(6):
        resp = await c.post(
            "/api/me/step-up", json={"code": "000000"}, headers={"X-CSRF-Token": csrf}
        )
        statuses.append(resp.status)
    assert statuses == [403] * 4 + [429, 429]
    assert int(resp.headers["Retry-After"]) > 0
    check_openapi("/api/me/step-up", "post", 429, await resp.json())
