"""The local API: access control, CSRF, rate limiting, headers, and OpenAPI conformance."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jsonschema import Draft202012Validator

from gateway.web.openapi import OPENAPI
from tests.helpers.web import FRIDGE_ID, PASSWORD, WebHarness


def check_openapi(path: str, method: str, status: int, body: Any) -> None:
    """Validate a response body against the schema the OpenAPI document gives for it."""
    schema = OPENAPI["paths"][path][method]["responses"][str(status)]["content"][
        "application/json"
    ]["schema"]
    wrapped = {**schema, "components": OPENAPI["components"]}
    errors = [e.message for e in Draft202012Validator(wrapped).iter_errors(body)]
    assert errors == [], f"{method.upper()} {path} {status}: {errors}"


async def test_unauthenticated_requests_are_refused(web_harness: WebHarness) -> None:
    c = web_harness.client
    for path in ("/api/devices", "/api/status", "/api/alerts", "/api/session", "/api/live"):
        resp = await c.get(path)
        assert resp.status == 401, path
        check_openapi(
            path if path != "/api/live" else "/api/devices", "get", 401, await resp.json()
        )
    health = await c.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"
    # The page is open, at any address that is not the API's (its router shows the view);
    # its files too, and nothing outside them.
    for path in ("/", "/devices/c4d912ab0f31", "/prices"):
        page = await c.get(path)
        assert page.status == 200 and "store-gateway" in await page.text(), path
        assert page.headers["Cache-Control"] == "no-store"
    assert (await c.get("/favicon.svg")).status == 200
    assert (await c.get("/assets/nothing.js")).status == 404
    outside = await c.get("/../pyproject.toml")
    assert "[build-system]" not in await outside.text()  # the page, never a file outside it
    unknown = await c.get("/api/nothing")
    assert unknown.status == 401  # the API's addresses need a session, known or not


async def test_security_headers(web_harness: WebHarness) -> None:
    for path in ("/", "/api/devices", "/favicon.svg"):
        resp = await web_harness.client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_login_cookie_and_csrf(web_harness: WebHarness) -> None:
    c = web_harness.client
    resp = await c.post(
        "/api/login", json={"user": "tom", "password": PASSWORD, "code": web_harness.code("tom")}
    )
    assert resp.status == 200
    check_openapi("/api/login", "post", 200, await resp.json())
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    csrf = (await resp.json())["csrf"]
    session = await c.get("/api/session")
    check_openapi("/api/session", "get", 200, await session.json())
    no_token = await c.post("/api/logout", json={})
    assert no_token.status == 403
    assert "CSRF" in (await no_token.json())["error"]
    wrong_origin = await c.post(
        "/api/logout", json={}, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
    )
    assert wrong_origin.status == 403
    ok = await c.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf})
    assert ok.status == 200
    assert (await c.get("/api/session")).status == 401


async def test_login_rate_limited(web_harness: WebHarness) -> None:
    c = web_harness.client
    for _ in range(4):
        resp = await c.post("/api/login", json={"user": "tom", "password": "wrong"})
        assert resp.status == 401
        check_openapi("/api/login", "post", 401, await resp.json())
    fifth = await c.post("/api/login", json={"user": "tom", "password": "wrong"})
    assert fifth.status == 429 and (await fifth.json())["args"]["wait_s"] == 30
    limited = await c.post(
        "/api/login", json={"user": "tom", "password": PASSWORD, "code": web_harness.code("tom")}
    )
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    check_openapi("/api/login", "post", 429, await limited.json())


async def test_devices_status_and_alert_actions_by_role(web_harness: WebHarness) -> None:
    c = web_harness.client
    web_harness.feed(3.9)
    await web_harness.login("vera")
    devices = await (await c.get("/api/devices")).json()
    check_openapi("/api/devices", "get", 200, devices)
    assert [d["device_id"] for d in devices["devices"]] == [FRIDGE_ID]
    assert devices["devices"][0]["tags"] == ["fridge"]
    status = await (await c.get("/api/status")).json()
    check_openapi("/api/status", "get", 200, status)
    assert status["devices"] == {"total": 1, "online": 1}

    web_harness.feed(7.0)  # fridge too warm: fires at once (no "for")
    for _ in range(50):
        alerts = await (await c.get("/api/alerts")).json()
        if alerts["firing"]:
            break
        await asyncio.sleep(0.05)
    check_openapi("/api/alerts", "get", 200, alerts)
    alert_id = alerts["firing"][0]["id"]
    assert alert_id.startswith(f"fridge-too-warm/{FRIDGE_ID}/")

    csrf = (await (await c.get("/api/session")).json())["csrf"]
    path = f"/api/alerts/{alert_id}/silence"
    refused = await c.post(path, json={"duration_s": 3600}, headers={"X-CSRF-Token": csrf})
    assert refused.status == 403 and "technician" in (await refused.json())["error"]

    csrf = await web_harness.login("tom")
    bad = await c.post(path, json={"duration_s": 5}, headers={"X-CSRF-Token": csrf})
    assert bad.status == 400
    check_openapi("/api/alerts/{alert_id}/silence", "post", 400, await bad.json())
    silenced = await c.post(path, json={"duration_s": 3600}, headers={"X-CSRF-Token": csrf})
    body = await silenced.json()
    check_openapi("/api/alerts/{alert_id}/silence", "post", 200, body)
    assert body["silenced_by"] == "tom" and body["silenced_until"] is not None
    acked = await c.post(
        f"/api/alerts/{alert_id}/acknowledge", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert (await acked.json())["acknowledged_by"] == "tom"
    missing = await c.post("/api/alerts/nope/acknowledge", json={}, headers={"X-CSRF-Token": csrf})
    assert missing.status == 404

    assert (await c.get("/api/config")).status == 403
    await web_harness.login("ada")
    config = await (await c.get("/api/config")).json()
    assert config["mqtt"]["password_file"] == "<redacted>"


async def test_live_feed_pushes_changed_devices(web_harness: WebHarness) -> None:
    c = web_harness.client
    await web_harness.login("vera")
    resp = await c.get("/api/live")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    await resp.content.readline()  # ": connected"
    web_harness.feed(4.4)
    seen = None
    status = await (await c.get("/api/status")).json()
    async with asyncio.timeout(10):
        while seen is None:
            line = (await resp.content.readline()).decode()
            if line.startswith("data: "):
                batch = json.loads(line[6:])
                # The status pushed is the one /api/status gives, the page's TLS included.
                assert batch["status"]["web"] == status["web"]
                hits = [d for d in batch["devices"] if d["device_id"] == FRIDGE_ID]
                if hits:
                    seen = hits[0]
    assert seen["readings"]["temperature_c"] == 4.4
    resp.close()


async def test_metrics_open_to_localhost(web_harness: WebHarness) -> None:
    web_harness.feed(3.0)
    resp = await web_harness.client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200
    assert 'storegw_devices{state="online"} 1.0' in text
    # The components, the energy zones, the shelf and the process itself.
    assert 'storegw_component_up{component="alerts",critical="true"} 1.0' in text
    assert 'storegw_energy_zone_reachable{zone="sales"}' in text
    assert "storegw_shelf_labels" in text and "storegw_time_to_shelf_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text
    # Every path the page uses is described, /healthz and /metrics among them.
    from gateway.web.openapi import OPENAPI

    described = set(OPENAPI["paths"])
    assert {"/healthz", "/metrics", "/api/labels/{label_id}/flash"} <= described
    assert "/api/labels/{label_id}/{which}.png" in described


async def test_openapi_document_is_valid_json_schema(web_harness: WebHarness) -> None:
    await web_harness.login("vera")
    doc = await (await web_harness.client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


async def test_labels_api_and_actions(web_harness: WebHarness) -> None:
    c = web_harness.client
    csrf = await web_harness.login("tom")
    body = await (await c.get("/api/labels")).json()
    check_openapi("/api/labels", "get", 200, body)
    assert body == {"labels": []}  # the fridge sensor is not a label
    nothing = await c.post(
        "/api/labels/ff0012a3b4c5/repush", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert nothing.status == 409 and "no content" in (await nothing.json())["error"]
    check_openapi("/api/labels/{label_id}/repush", "post", 409, await nothing.json())
    flash = await c.post("/api/labels/ff0012a3b4c5/flash", json={}, headers={"X-CSRF-Token": csrf})
    assert flash.status == 409 and "no LED" in (await flash.json())["error"]
    missing = await c.get("/api/labels/ff0012a3b4c5/desired.png")
    assert missing.status == 404
    await web_harness.login("vera")
    viewer_csrf = (await (await c.get("/api/session")).json())["csrf"]
    refused = await c.post(
        "/api/labels/ff0012a3b4c5/repush", json={}, headers={"X-CSRF-Token": viewer_csrf}
    )
    assert refused.status == 403


async def test_device_history_with_its_alert_thresholds(web_harness: WebHarness) -> None:
    c = web_harness.client
    history = web_harness.history
    assert history is not None
    await web_harness.login("vera")
    for temp in (3.0, 4.0, 8.0):  # three samples into the current 5-minute bucket
        web_harness.feed(temp)
        assert await history.sample() == 1  # the fridge's one reading
    assert await history.sample() == 0  # not heard since: nothing added
    resp = await c.get(f"/api/devices/{FRIDGE_ID}/history?hours=24")
    body = await resp.json()
    check_openapi("/api/devices/{device_id}/history", "get", 200, body)
    [point] = body["series"]["temperature_c"]
    assert (point["mean"], point["min"], point["max"]) == (5.0, 3.0, 8.0)
    assert body["bucket_s"] == 300
    assert body["thresholds"] == [
        {
            "rule": "fridge-too-warm",
            "metric": "temperature_c",
            "op": "above",
            "threshold": 5.0,
            "clear": 4.5,
            "severity": "critical",
        }
    ]
    for bad in ("0", "169", "a-day"):
        resp = await c.get(f"/api/devices/{FRIDGE_ID}/history?hours={bad}")
        assert resp.status == 400, bad
        check_openapi("/api/devices/{device_id}/history", "get", 400, await resp.json())
        assert "hours must be" in (await resp.json())["error"]
    resp = await c.get("/api/devices/000000000000/history")
    assert resp.status == 404
