"""The energy tab in a real headless Chromium: zones as their controllers report them,
a technician's override and its expiry (the loop's clock moved on), and what a viewer
may not do."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.test_page import CHROMIUM, browser, login, new_page, shot
from tests.helpers.web import WebHarness

__all__ = ["browser"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


async def test_a_technician_overrides_a_zone_and_the_plan_takes_it_back(
    web_harness: WebHarness, browser: Browser
) -> None:
    b = web_harness.building
    assert b is not None
    await b.service.controller.step()  # lights found off, written full
    b.lamp.energy_kwh = 4.0
    await b.service.controller.step()
    await b.service.count_today()
    base = str(web_harness.client.make_url("")).rstrip("/")
    page = await new_page(browser, {"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await login(page, base, "tom", web_harness)
    await page.click("nav.nav a[href='/energy']")
    row = page.locator("#zone-table tr[data-zone=lights-sales]")
    await expect(row.locator(".zone-value")).to_have_text("100 %")
    await expect(page.locator(".lead")).to_contain_text("Settings from the configuration")
    # Today's energy beside the fixed schedule's estimate (the schedule had the lights
    # full at both steps, the plan at one of them); after two steps, no saving claimed.
    await expect(row.locator(".zone-kwh")).to_have_text("4.0 kWh")
    await expect(row.locator(".zone-fixed")).to_have_text("8.0 kWh")
    await expect(page.locator("#energy-total")).to_contain_text("needs an hour of today")
    await expect(page.locator("figure.chart[data-zone=sales] canvas")).to_have_count(1)

    # An override outside the zone's bounds is refused beside the form.
    await row.locator("button[data-open-override]").click()
    form = row.locator("form[data-override]")
    await form.locator("input[name=value]").fill("10")
    await form.locator("input[name=minutes]").fill("30")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".notice")).to_contain_text("floor")
    # Dim the lights to 55 % for 30 minutes.
    await form.locator("input[name=value]").fill("55")
    await form.locator("button[type=submit]").click()
    await expect(row.locator(".zone-why")).to_contain_text("overridden by tom")
    await expect(page.locator(".notice-ok")).to_contain_text("Overridden until")
    await b.service.controller.step()  # written
    await b.service.controller.step()  # ... and read back
    assert b.lamp.level == 55
    await expect(row.locator(".zone-value")).to_have_text("55 %", timeout=15_000)
    await shot(page, "energy-override")

    # Half an hour later the plan has the zone again.
    b.clock.offset += 31 * 60
    await b.service.controller.step()
    await b.service.controller.step()
    await expect(row.locator(".zone-value")).to_have_text("100 %", timeout=15_000)
    await expect(row.locator(".zone-why")).not_to_contain_text("overridden")
    await expect(row.locator("button[data-open-override]")).to_be_visible()
    assert [e for e in errors if "status of 401" not in e and "status of 400" not in e] == []


async def test_a_viewer_sees_the_zones_without_actions(
    web_harness: WebHarness, browser: Browser
) -> None:
    b = web_harness.building
    assert b is not None
    await b.service.controller.step()
    base = str(web_harness.client.make_url("")).rstrip("/")
    page = await new_page(browser, {"width": 390, "height": 844})  # a phone
    await login(page, base, "vera", web_harness)
    await page.click("nav.nav a[href='/energy']")
    await expect(page.locator("#zone-table tr[data-zone=sales]")).to_be_visible()
    await expect(page.locator("#zone-table button")).to_have_count(0)
    await shot(page, "energy-viewer")
