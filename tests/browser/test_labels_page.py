"""The labels page against a real campaign and a real gateway, over HTTPS with the
certificate the gateway made for itself (the browser trusts that one): previews, status,
re-push, in Chromium."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from gateway.access.options import AccessOptions
from gateway.access.passwords import hash_password
from gateway.access.users import Seed
from gateway.bench.rig.broker import Mosquitto, free_port
from gateway.bench.rig.signing import signed_command
from gateway.daemon.app import Gateway
from gateway.sim.runner import RunningStore
from gateway.web.server import WebOptions
from tests.browser.test_page import CHROMIUM, chromium, new_page, shot
from tests.integration.conftest import store
from tests.integration.test_bridge import settings

__all__ = ["store"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
LABELS = ["ff0101000001", "ff0101000002"]


async def until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


async def test_previews_status_and_repush(store: RunningStore, tmp_path: Path) -> None:
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    port = free_port()
    seed = Seed("tom", "technician", hash_password("technician-pw", log2_n=10))
    base = settings(tmp_path, broker.port)
    gw = Gateway(
        replace(
            base,
            web=WebOptions("127.0.0.1", port),  # HTTPS: a certificate of its own, made now
            access=AccessOptions(seeds=(seed,)),
        )
    )
    await gw.start()
    try:
        assert gw.cert is not None and gw.cert.made and gw.cert.cert.parent == base.data_dir
        async with chromium([gw.cert.cert]) as browser:
            await campaign(gw, broker, port, browser)
    finally:
        await gw.stop()
        broker.stop()


async def campaign(gw: Gateway, broker: Mosquitto, port: int, browser: Browser) -> None:
    await until(lambda: all(gw.registry.get(i) for i in LABELS), 20)
    assert gw.inbox is not None and gw.labels is not None
    labels = gw.labels
    await gw.inbox.receive(
        signed_command(
            "label-bind",
            {
                "bindings": [
                    {"label_id": i, "sku": "6901234567892", "template": "promo"} for i in LABELS
                ]
            },
        )
    )
    await gw.inbox.receive(
        signed_command(
            "price-update",
            {
                "items": [
                    {
                        "sku": "6901234567892",
                        "version": 1,
                        "price": "12.90",
                        "currency": "CNY",
                        "original_price": "15.90",
                        "promo_text": "会员价",
                        "name": "乌龙茶 500ml",
                    }
                ]
            },
        )
    )
    await until(
        lambda: all(
            (t := labels.planner.twins.get(i)) is not None and t.status.value == "in-sync"
            for i in LABELS
        ),
        30,
    )

    page = await new_page(browser, {"width": 1100, "height": 800})
    await page.goto(f"https://127.0.0.1:{port}/")
    await page.fill("#user", "tom")
    await page.fill("#password", "technician-pw")
    await page.click("#login-form button[type=submit]")
    await page.click("nav.nav a[href='/labels']")
    card = page.locator(f"li.label-card[data-label='{LABELS[0]}']")
    await expect(card.locator(".state")).to_have_text("shows its price", timeout=10_000)
    # What it shows, legible: at least the panel's own pixels (the promo's struck
    # price and 会员价 need them), larger on demand.
    preview = card.locator(".preview-button img")
    await expect(preview).to_have_count(1)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.preview-button img')].every(i => i.complete"
        " && i.naturalWidth >= 296 && i.getBoundingClientRect().width >= i.naturalWidth)"
    )
    # These labels have no LED: no Flash offered; Write again only with content.
    await expect(card.locator("button", has_text="Flash")).to_have_count(0)
    await card.locator(".preview-button").click()
    dialog = card.locator("dialog.preview-dialog")
    await expect(dialog).to_be_visible()
    width = await dialog.locator("img").evaluate("i => i.getBoundingClientRect().width")
    assert width >= 2 * 296, width
    await dialog.locator("button[type=submit]").click()
    await shot(page, "labels-campaign")
    await card.locator("button[data-repush]").click()
    await expect(card.locator(".notice-ok")).to_have_text(re.compile("written again"))
    await expect(card.locator(".state")).not_to_have_text("shows its price", timeout=5_000)
    await expect(card.locator(".state")).to_have_text("shows its price", timeout=20_000)
    twin = labels.planner.twins[LABELS[0]]
    assert twin.displayed is not None and twin.displayed == twin.desired

    # The broker goes away: the overview says so first, and why.
    broker.stop()
    await page.click("nav.nav a[href='/']")
    attention = page.locator(".attention")
    await expect(attention).to_contain_text("The cloud broker is unreachable", timeout=15_000)
    await expect(attention.locator(".why")).to_contain_text(
        f"cannot connect to 127.0.0.1:{broker.port}: ", timeout=15_000
    )
    card_ = page.locator(".cards .card", has_text="Cloud broker")
    await expect(card_.locator("strong")).to_have_text("disconnected")
    await shot(page, "overview-broker-unreachable")
