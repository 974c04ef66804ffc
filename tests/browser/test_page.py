"""The technicians' page in a real headless Chromium: logging in (navigation hidden until
then), live values, the device page at its own address with its charts, alerts acted on
inline, both languages, a phone's cards, what a viewer may not do, and an accessibility
check (axe-core) of every view, desktop and phone, English and Chinese."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.helpers.certs import spki_hash
from tests.helpers.web import FRIDGE_ID, PASSWORD, TlsFiles, WebHarness

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
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
VIEWS = ["/", "/devices", f"/devices/{FRIDGE_ID}", "/labels", "/prices", "/alerts", "/energy"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@contextlib.asynccontextmanager
async def chromium(trust: list[Path]) -> AsyncIterator[Browser]:
    """Headless Chromium trusting the certificates in ``trust`` (a test CA, a gateway's
    self-signed one) by their public keys, and no other: every page is served over HTTPS
    and a certificate it does not know is an error, as for a technician."""
    spki = ",".join(spki_hash(p) for p in trust)
    async with async_playwright() as pw:
        # Chromium must not talk to a test's private D-Bus (the BlueZ double's bus).
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
        b = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki}"],
            env=env,
        )
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def browser(test_ca: TlsFiles) -> AsyncIterator[Browser]:
    async with chromium([test_ca.ca]) as b:
        yield b


async def new_page(browser: Browser, size: dict[str, int] = DESKTOP, lang: str = "en") -> Page:
    page = await browser.new_page(viewport=size, locale=lang)  # type: ignore[arg-type]
    await page.add_init_script(f"localStorage.setItem('lang', '{lang}')")
    return page


async def login(
    page: Page, base: str, user: str, h: WebHarness | None = None, password: str = PASSWORD
) -> None:
    """Signed in on the page; with ``h``, the user's second-factor code when asked."""
    await page.goto(base + "/")
    await page.fill("#user", user)
    await page.fill("#password", password)
    await page.click("#login-form button[type=submit]")
    if h is not None and h.secrets is not None and user in h.secrets:
        await page.fill("#code", h.code(user))
        await page.click("#login-form button[type=submit]")
    await expect(page.locator("nav.nav")).to_be_visible()


async def go(page: Page, base: str, path: str) -> None:
    """Follow the page's own link when there is one (the router), else the address."""
    link = page.locator(f"nav.nav a[href='{path}']")
    if await link.count():
        await link.click()
    else:
        await page.goto(base + path)


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def base_of(h: WebHarness) -> str:
    return str(h.client.make_url("")).rstrip("/")


async def test_login_hides_navigation_and_a_technician_works_on_a_phone(
    web_harness: WebHarness, browser: Browser
) -> None:
    base = base_of(web_harness)
    web_harness.feed(3.9)
    page = await new_page(browser, PHONE)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    await page.goto(base + "/devices")
    await expect(page.locator("#login-form")).to_be_visible()
    assert await page.locator("nav.nav").count() == 0  # nothing to click before logging in
    await page.fill("#user", "tom")
    await page.fill("#password", "wrong password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-form .notice")).to_have_text(
        re.compile("Wrong user, password or code")
    )
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.fill("#code", web_harness.code("tom"))  # tom has a second factor
    await page.click("#login-form button[type=submit]")
    # Logged in where the address said.
    row = page.locator(f"#device-table tr[data-device={FRIDGE_ID}]")
    await expect(row).to_contain_text("Temperature 3.9 °C")
    web_harness.feed(4.6)
    await expect(row).to_contain_text("Temperature 4.6 °C", timeout=10_000)
    await expect(row).to_contain_text("just now")
    # On a phone a device is one compact card: nothing wider than the screen, no empty rows.
    await expect(page.locator("#device-table thead")).to_be_hidden()
    box = await row.bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] < 140, box
    await shot(page, "devices-phone")

    # The fridge gets too warm: acknowledged, silenced, the silence lifted, all inline.
    web_harness.feed(7.5)
    await go(page, base, "/alerts")
    alert = page.locator("li.alert", has_text="Fridge 1")
    await expect(alert.locator("button", has_text="Acknowledge")).to_be_visible(timeout=15_000)
    await expect(alert.locator(".badge")).to_contain_text("Critical")
    await alert.locator("button", has_text="Acknowledge").click()
    await expect(alert).to_contain_text("Acknowledged by tom")
    await expect(alert.locator("button", has_text="Acknowledge")).to_have_count(0)
    await alert.locator("button", has_text="Silence for 1 h").click()
    await expect(alert).to_contain_text("Silenced by tom")
    await alert.locator("button", has_text="Lift the silence").click()
    await expect(alert).not_to_contain_text("Silenced by")
    await expect(alert.locator("a", has_text="Fridge 1")).to_have_attribute(
        "href", f"/devices/{FRIDGE_ID}"
    )
    await shot(page, "alerts-phone")

    # Chinese: what the server says too (states, the alert's words).
    await page.click("header .tools button")
    await expect(page.locator("header .title")).to_have_text("门店网关")
    await expect(alert).to_contain_text("温度")
    await go(page, base, "/")
    await expect(page.locator(".attention")).to_contain_text("1 条告警正在触发")
    await shot(page, "overview-phone-zh")
    # 401s are the page asking for a session before login and the wrong password.
    assert [e for e in errors if "status of 401" not in e] == []


async def test_a_device_page_by_its_address_with_a_chart_a_range_and_a_threshold(
    web_harness: WebHarness, browser: Browser
) -> None:
    history = web_harness.history
    assert history is not None
    for temp in (3.5, 4.2, 6.0):
        web_harness.feed(temp)
        await history.sample()
    base = base_of(web_harness)
    page = await new_page(browser)
    await login(page, base, "vera", web_harness)
    await page.goto(f"{base}/devices/{FRIDGE_ID}?hours=1")
    await expect(page.locator("h1")).to_contain_text("Fridge 1")
    chart = page.locator("figure.chart[data-reading=temperature_c]")
    await expect(chart).to_be_visible()
    await expect(chart.locator(".chart-box")).to_have_attribute(
        "aria-label", "Temperature (°C): 3.5 – 6.0; fridge-too-warm > 5"
    )
    await expect(chart.locator("canvas")).to_have_count(1)
    await expect(chart.locator(".u-legend")).to_contain_text("fridge-too-warm > 5.0")
    await expect(page.locator(".segmented button[aria-pressed=true]")).to_have_text("1 h")
    await page.click(".segmented button:has-text('7 d')")
    await expect(page).to_have_url(f"{base}/devices/{FRIDGE_ID}?hours=168")
    await page.reload()  # the address keeps the view
    await expect(page.locator(".segmented button[aria-pressed=true]")).to_have_text("7 d")
    # Temperature comes first, with its unit.
    first = page.locator(".readings-table th").first
    await expect(first).to_have_text("Temperature")
    await shot(page, "device-chart")
    # A sensor with nothing kept yet says so.
    web_harness.feed(4.0, address="C4:D9:12:AB:0F:99")
    await page.goto(f"{base}/devices/c4d912ab0f99")
    await expect(page.locator("#charts")).to_contain_text("No data yet")
    # No such device: said, with the way back.
    await page.goto(f"{base}/devices/ffffffffffff")
    await expect(page.locator(".empty")).to_contain_text("No device ffffffffffff")


async def test_devices_filter_sort_and_page_in_the_address(
    web_harness: WebHarness, browser: Browser
) -> None:
    for n in range(30):
        web_harness.feed(3.0 + n / 10, address=f"C4:D9:12:AB:10:{n:02X}")
    base = base_of(web_harness)
    page = await new_page(browser)
    await login(page, base, "vera", web_harness)
    await page.goto(f"{base}/devices?sort=device_id&dir=desc")
    header = page.locator("th[aria-sort=descending]")
    await expect(header).to_contain_text("Device")
    await expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
    await page.select_option("#kind", "sensor")
    await expect(page).to_have_url(re.compile(r"kind=sensor"))
    await page.fill("#filter", "c4d912ab101")
    await expect(page.locator("#device-table tbody tr")).to_have_count(14)  # 0x10-0x1d
    await page.goto(f"{base}/devices?q=nothing-like-this")
    await expect(page.locator(".empty")).to_have_text("No device matches.")


async def test_a_viewer_sees_no_actions_and_every_view_passes_axe(
    web_harness: WebHarness, browser: Browser
) -> None:
    from tests.web.test_prices_api import held_store

    await held_store(web_harness)
    web_harness.feed(8.0)
    b = web_harness.building
    assert b is not None
    await b.service.controller.step()
    base = base_of(web_harness)
    axe = Axe()
    for size, lang in ((DESKTOP, "en"), (PHONE, "zh")):
        page = await new_page(browser, size, lang)
        await login(page, base, "vera", web_harness)
        for path in VIEWS:
            await page.goto(base + path)
            await page.wait_for_timeout(300)
            results = await axe.run(page)
            serious = [
                (v["id"], [n["target"] for n in v["nodes"]][:3])
                for v in results.response["violations"]
                if v.get("impact") in ("serious", "critical")
            ]
            assert serious == [], f"{path} ({lang}): {serious}"
        # A viewer: no action anywhere.
        await page.goto(base + "/alerts")
        await expect(page.locator("li.alert")).to_have_count(1, timeout=15_000)
        assert await page.locator("li.alert button").count() == 0
        await page.goto(base + "/energy")
        await expect(page.locator("#zone-table tr[data-zone=sales]")).to_be_visible()
        assert await page.locator("#zone-table button").count() == 0
        await page.goto(base + "/labels")
        await expect(page.locator("li.label-card")).to_have_count(1)
        assert await page.locator("li.label-card button[data-repush]").count() == 0
        await page.goto(base + "/prices")
        await expect(page.locator("li.held")).to_contain_text(
            "Only an admin" if lang == "en" else "只有管理员"
        )
        assert await page.locator("button[data-release]").count() == 0
        await page.close()


async def test_a_shared_store_shows_owners_and_gateways(
    shared_web_harness: WebHarness, browser: Browser
) -> None:
    from tests.web.test_shared_store import OTHER, share

    h = shared_web_harness
    share(h)
    base = base_of(h)
    page = await new_page(browser)
    await login(page, base, "vera", h)
    await page.click("details.health summary")
    await expect(page.locator("#gateways tr[data-gateway=gw-1]")).to_contain_text("gw-1 ★")
    await expect(page.locator("#gateways tr[data-gateway=gw-2]")).to_contain_text("online")
    await shot(page, "overview-shared-store")
    await go(page, base, "/devices")
    fridge = page.locator(f"#device-table tr[data-device={FRIDGE_ID}]")
    await expect(fridge.locator("td.c-owner")).to_have_text("gw-1")
    await expect(page.locator(f"#device-table tr[data-device={OTHER}] td.c-owner")).to_have_text(
        "gw-2"
    )
    await page.goto(f"{base}/devices/{FRIDGE_ID}")
    await expect(page.locator(".facts")).to_contain_text("gw-1 (#3)")


async def test_a_store_with_one_gateway_has_no_owner_column(
    web_harness: WebHarness, browser: Browser
) -> None:
    web_harness.feed(3.0)
    base = base_of(web_harness)
    page = await new_page(browser)
    await login(page, base, "vera", web_harness)
    await expect(page.locator(".cards")).to_contain_text("1 / 1")
    await page.click("details.health summary")
    assert await page.locator("#gateways").count() == 0
    await go(page, base, "/devices")
    await expect(page.locator(f"#device-table tr[data-device={FRIDGE_ID}]")).to_be_visible()
    assert await page.locator("#device-table td.c-owner").count() == 0
