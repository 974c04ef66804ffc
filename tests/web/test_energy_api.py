"""The energy zones on the local API: anyone logged in reads them; a technician
overrides a zone within its bounds for a bounded time, and the plan takes it back when
the time is up (or at once, on release)."""

from __future__ import annotations

from tests.helpers.web import WebHarness
from tests.web.test_api import check_openapi

ZONE = "/api/energy/zones/lights-sales"


async def test_zones_are_read_and_overridden_within_bounds_until_expiry(
    web_harness: WebHarness,
) -> None:
    c, b = web_harness.client, web_harness.building
    assert b is not None
    await b.service.controller.step()  # written
    await b.service.controller.step()  # ... and read back
    await web_harness.login("vera")
    view = await c.get("/api/energy")
    assert view.status == 200
    body = await view.json()
    check_openapi("/api/energy", "get", 200, body)
    lights = next(z for z in body["zones"] if z["zone"] == "lights-sales")
    assert lights["on"] and lights["level"] == 100 and lights["override"] is None
    csrf = await web_harness.login("vera")
    refused = await c.post(
        f"{ZONE}/override",
        json={"on": True, "level": 55, "duration_s": 600},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status == 403  # viewers look, technicians act

    csrf = await web_harness.login("tom")
    h = {"X-CSRF-Token": csrf}
    for body_, message in (
        ({"on": True, "level": 10, "duration_s": 600}, "safe floor"),
        ({"on": True, "setpoint": 21.0, "duration_s": 600}, "give a level"),
        ({"on": True, "level": 55, "duration_s": 99999}, "an override lasts"),
        ({"on": "yes", "level": 55, "duration_s": 600}, "on must be"),
        ({"on": True, "level": float("nan"), "duration_s": 600}, "level must be a number"),
    ):
        resp = await c.post(f"{ZONE}/override", json=body_, headers=h)
        assert resp.status == 400 and message in (await resp.json())["error"], body_
    hot = await c.post(
        "/api/energy/zones/sales/override",
        json={"on": True, "setpoint": 40, "duration_s": 600},
        headers=h,
    )
    assert hot.status == 400 and "limits" in (await hot.json())["error"]
    missing = await c.post(
        "/api/energy/zones/attic/override", json={"on": True, "duration_s": 600}, headers=h
    )
    assert missing.status == 404

    ok = await c.post(
        f"{ZONE}/override", json={"on": True, "level": 55, "duration_s": 600}, headers=h
    )
    assert ok.status == 200
    check_openapi("/api/energy/zones/{zone}/override", "post", 200, await ok.json())
    await b.service.controller.step()
    assert b.lamp.level == 55
    await b.service.controller.step()
    zone = next(
        z
        for z in (await (await c.get("/api/energy")).json())["zones"]
        if z["zone"] == "lights-sales"
    )
    assert zone["override"]["user"] == "tom" and zone["why"] == "override by tom"
    # Ten minutes later the plan takes the zone back.
    b.clock.offset += 601
    await b.service.controller.step()
    assert b.lamp.level == 100
    zone = next(
        z
        for z in (await (await c.get("/api/energy")).json())["zones"]
        if z["zone"] == "lights-sales"
    )
    assert zone["override"] is None

    # Released early: at once.
    await c.post(f"{ZONE}/override", json={"on": True, "level": 70, "duration_s": 600}, headers=h)
    b.clock.offset += 400  # past the lights' minimum times
    await b.service.controller.step()
    assert b.lamp.level == 70
    released = await c.post(f"{ZONE}/release", json={}, headers=h)
    assert released.status == 200
    b.clock.offset += 400
    await b.service.controller.step()
    assert b.lamp.level == 100


async def test_todays_energy_beside_the_fixed_schedule_and_the_days_course(
    web_harness: WebHarness,
) -> None:
    c, b = web_harness.client, web_harness.building
    assert b is not None
    b.lamp.energy_kwh = 10.0
    await b.service.controller.step()  # the meter's first reading; lights written full
    await b.service.controller.step()
    b.lamp.energy_kwh = 12.5
    await b.service.controller.step()
    await b.service.count_today()
    await web_harness.login("vera")
    body = await (await c.get("/api/energy")).json()
    check_openapi("/api/energy", "get", 200, body)
    lights = next(z for z in body["zones"] if z["zone"] == "lights-sales")
    # The meter: 2.5 kWh. The fixed schedule had the lights full at all three steps; the
    # plan's were off at the first (read before its first write), then full: 3/2 of it.
    assert lights["today"]["kwh"] == 2.5
    assert lights["today"]["fixed_schedule_kwh"] == 3.75
    assert lights["today"]["since"] is not None
    now = [i for i, c in enumerate(lights["course"]) if c is not None]
    assert len(now) == 1 and lights["course"][now[0]] == [100, None]
    sales = next(z for z in body["zones"] if z["zone"] == "sales")
    temperature, setpoint = sales["course"][now[0]]
    assert (temperature, setpoint) == (21.0, sales["setpoint"])
    # Counted footfall so far: zero up to the current slot, nothing after it.
    assert body["footfall_today"][: now[0] + 1] == [0.0] * (now[0] + 1)
    assert all(v is None for v in body["footfall_today"][now[0] + 1 :])
