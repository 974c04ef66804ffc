"""The status page in a real headless Chromium: login, live values, alert actions,
language switch, screenshots of every page, and an accessibility check (axe-core)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.helpers.web import PASSWORD, WebHarness

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Without these, Chromium tries to reach Google's services at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        # Chromium must not talk to a test's private D-Bus (the BlueZ double's bus).
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env
        )
        try:
            yield b
        finally:
            await b.close()


async def login(page: Page, base: str, user: str) -> None:
    await page.goto(base + "/")
    await page.fill("#user", user)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#overview")).to_be_visible()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_technician_session(web_harness: WebHarness, browser: Browser) -> None:
    base = str(web_harness.client.make_url("")).rstrip("/")
    web_harness.feed(3.9)
    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    await page.goto(base + "/")
    await expect(page.locator("#login")).to_be_visible()
    await shot(page, "login")
    await page.fill("#user", "tom")
    await page.fill("#password", "wrong password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("Wrong user or password")
    await login(page, base, "tom")
    await expect(page.locator("#cards")).to_contain_text("1 / 1")
    await shot(page, "overview")

    # A reading changes; the devices page shows it without a reload.
    await page.click("#tabs button[data-tab=devices]")
    row = page.locator("#device-table tr[data-device=c4d912ab0f31]")
    await expect(row).to_contain_text("temperature_c=3.90")
    web_harness.feed(4.6)
    await expect(row).to_contain_text("temperature_c=4.60", timeout=10_000)
    # On a phone the list reads as cards: no header row, each cell named, nothing wider
    # than the screen.
    await expect(page.locator("#device-table thead")).to_be_hidden()
    await expect(row.locator("td").first).to_have_attribute("data-label", "Device")
    box = await row.bounding_box()
    assert box is not None and box["width"] <= 390
    await shot(page, "devices")

    # The fridge gets too warm; the technician silences the alert.
    web_harness.feed(7.5)
    await page.click("#tabs button[data-tab=alerts]")
    silence = page.locator("#alert-groups button", has_text="Silence 1 h")
    await expect(silence).to_be_visible(timeout=15_000)
    await silence.click()
    await expect(page.locator("#alert-groups")).to_contain_text("silenced until")
    await shot(page, "alerts")

    await page.click("#tabs button[data-tab=labels]")
    await shot(page, "labels")

    # Chinese.
    await page.click("#lang")
    await expect(page.locator("header h1")).to_contain_text("门店网关")
    await page.click("#tabs button[data-tab=overview]")
    await shot(page, "overview-zh")
    # 401s are the page asking for a session before login and the wrong password.
    assert [e for e in errors if "status of 401" not in e] == []


async def test_viewer_sees_no_actions_and_page_is_accessible(
    web_harness: WebHarness, browser: Browser
) -> None:
    base = str(web_harness.client.make_url("")).rstrip("/")
    web_harness.feed(8.0)
    page = await browser.new_page()
    await login(page, base, "vera")
    await page.click("#tabs button[data-tab=alerts]")
    await expect(page.locator("#alert-groups")).to_contain_text("fridge-too-warm", timeout=15_000)
    assert await page.locator("#alert-groups button").count() == 0
    axe = Axe()
    for tab in ("overview", "devices", "labels", "alerts"):
        await page.click(f"#tabs button[data-tab={tab}]")
        results = await axe.run(page)
        critical = [
            v["id"] for v in results.response["violations"] if v.get("impact") == "critical"
        ]
        assert critical == [], f"{tab}: {critical}"


async def test_a_shared_store_shows_owners_and_gateways(
    shared_web_harness: WebHarness, browser: Browser
) -> None:
    from tests.web.test_shared_store import OTHER, share

    h = shared_web_harness
    share(h)
    base = str(h.client.make_url("")).rstrip("/")
    page = await browser.new_page()
    await login(page, base, "vera")
    section = page.locator("#gateways-section")
    await expect(section).to_be_visible(timeout=10_000)
    await expect(page.locator("#gateways tr[data-gateway=gw-1]")).to_contain_text("this one")
    await expect(page.locator("#gateways tr[data-gateway=gw-2]")).to_contain_text("online")
    await shot(page, "overview-shared-store")
    await page.click("#tabs button[data-tab=devices]")
    fridge = page.locator("#device-table tr[data-device=c4d912ab0f31]")
    await expect(fridge.locator("td.owner")).to_have_text("gw-1 #3")
    await expect(fridge.locator("td.heard-by")).to_have_text("gw-2 -81")
    await expect(page.locator(f"#device-table tr[data-device={OTHER}] td.owner")).to_have_text(
        "gw-2"
    )
    await shot(page, "devices-shared-store")


async def test_a_store_with_one_gateway_has_no_owner_column(
    web_harness: WebHarness, browser: Browser
) -> None:
    web_harness.feed(3.0)
    base = str(web_harness.client.make_url("")).rstrip("/")
    page = await browser.new_page()
    await login(page, base, "vera")
    await expect(page.locator("#cards")).to_contain_text("1 / 1")
    assert await page.locator("#gateways-section").is_hidden()
    await page.click("#tabs button[data-tab=devices]")
    await expect(page.locator("#device-table tr[data-device=c4d912ab0f31]")).to_be_visible()
    assert await page.locator("#device-table th.owner-col").first.is_hidden()
    assert await page.locator("#device-table td.owner").count() == 0


async def test_a_sensor_chart_shows_its_day_and_alert_threshold(
    web_harness: WebHarness, browser: Browser
) -> None:
    history = web_harness.history
    assert history is not None
    for temp in (3.5, 4.2, 6.0):
        web_harness.feed(temp)
        await history.sample()
    base = str(web_harness.client.make_url("")).rstrip("/")
    page = await browser.new_page()
    await login(page, base, "vera")
    await page.click("#tabs button[data-tab=devices]")
    await page.click("#device-table tr[data-device=c4d912ab0f31] button[data-chart]")
    chart = page.locator("#device-charts svg[data-reading=temperature_c]")
    await expect(chart).to_be_visible()
    await expect(chart).to_have_attribute("aria-label", "temperature_c: 3.5 – 6.0; alert above 5")
    await expect(chart.locator("line.threshold[data-rule=fridge-too-warm]")).to_have_count(1)
    await expect(chart.locator(".threshold-label")).to_have_text("fridge-too-warm > 5")
    assert await chart.locator("polyline.mean").get_attribute("points")
    await expect(chart.locator("circle.point")).to_have_count(1)  # one 5-minute bucket
    await shot(page, "device-chart")
    # A sensor with nothing kept yet says so.
    web_harness.feed(4.0, address="C4:D9:12:AB:0F:99")
    other = page.locator("#device-table tr[data-device=c4d912ab0f99] button[data-chart]")
    await other.click()
    nothing = "No readings kept for this device yet"
    await expect(page.locator("#device-charts")).to_have_text(nothing)
