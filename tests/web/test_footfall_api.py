"""Door counters reporting to the local API: their own token (no session), each period
counted once, a bad report or token refused whole with what is wrong."""

from __future__ import annotations

import datetime as dt
import time

from gateway.web.openapi import OPENAPI
from tests.helpers.web import COUNTER_TOKEN, WebHarness
from tests.web.test_api import check_openapi

PATH = "/api/footfall/door-north"
HOUR_AGO = int(time.time() // 900 * 900) - 3600


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


REPORT = {
    "periods": [
        {"start": iso(HOUR_AGO), "end": iso(HOUR_AGO + 900), "in": 12, "out": 3},
        {"start": iso(HOUR_AGO + 900), "end": iso(HOUR_AGO + 1800), "in": 20, "out": 9},
    ]
}
BEARER = {"Authorization": f"Bearer {COUNTER_TOKEN}"}


async def test_a_counter_reports_with_its_token_and_a_resend_counts_once(
    web_harness: WebHarness,
) -> None:
    c = web_harness.client
    first = await c.post(PATH, json=REPORT, headers=BEARER)
    assert first.status == 200, await first.text()
    assert await first.json() == {"stored": 2, "repeated": 0, "too_old": 0}
    check_openapi("/api/footfall/{counter_id}", "post", 200, await first.json())
    # The counter re-sends the same report (it missed our answer), by query token.
    again = await c.post(f"{PATH}?token={COUNTER_TOKEN}", json=REPORT)
    assert await again.json() == {"stored": 0, "repeated": 2, "too_old": 0}
    assert "counter" in OPENAPI["components"]["securitySchemes"]


async def test_a_wrong_token_or_counter_is_refused_and_nothing_is_stored(
    web_harness: WebHarness,
) -> None:
    c = web_harness.client
    for path, headers in (
        (PATH, {"Authorization": "Bearer not-the-token"}),
        (PATH, {}),
        ("/api/footfall/door-south", BEARER),
    ):
        resp = await c.post(path, json=REPORT, headers=headers)
        assert resp.status == 401, path
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        check_openapi("/api/footfall/{counter_id}", "post", 401, await resp.json())
    # Nothing was stored: the right token now stores both periods.
    ok = await c.post(PATH, json=REPORT, headers=BEARER)
    assert await ok.json() == {"stored": 2, "repeated": 0, "too_old": 0}


async def test_a_bad_report_says_what_is_wrong(web_harness: WebHarness) -> None:
    c = web_harness.client
    bad = {
        "periods": [
            {"start": "2026-01-05T09:00:00", "end": "2026-01-05T09:15:00Z", "in": 1, "out": 0}
        ]
    }
    resp = await c.post(PATH, json=bad, headers=BEARER)
    assert resp.status == 400
    body = await resp.json()
    assert "no UTC offset" in body["error"]
    check_openapi("/api/footfall/{counter_id}", "post", 400, body)
    resp = await c.post(PATH, data=b"{not json", headers=BEARER)
    assert resp.status == 400 and "JSON" in (await resp.json())["error"]
    tomorrow = time.time() + 86400
    ahead = {"start": iso(tomorrow), "end": iso(tomorrow + 900), "in": 1, "out": 0}
    resp = await c.post(PATH, json={"periods": [ahead]}, headers=BEARER)
    assert resp.status == 400 and "in the future" in (await resp.json())["error"]
    # A period older than the weeks kept is not stored (it could be one counted and pruned).
    old = {"start": "2025-01-06T09:00:00Z", "end": "2025-01-06T09:15:00Z", "in": 5, "out": 5}
    resp = await c.post(PATH, json={"periods": [old]}, headers=BEARER)
    assert await resp.json() == {"stored": 0, "repeated": 0, "too_old": 1}
    # A session is not a counter's credential: other POSTs still need one.
    assert (await c.post("/api/logout", json={})).status == 401
