"""Prices to review in a real headless Chromium: a held price with its rules in words,
its figures and the label as it would look beside what it shows; an admin releases one
(her second factor asked for again inline, a wrong code said in the dialog) and discards
another; the shelf's labels are written again, every one, by an admin."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, expect

from gateway.prices.model import PriceItem
from tests.browser.test_page import CHROMIUM, browser, login, new_page, shot
from tests.helpers.web import WebHarness
from tests.web.test_prices_api import expire_step_up, held_store

__all__ = ["browser"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


async def test_an_admin_releases_and_discards_held_prices(
    web_harness: WebHarness, browser: Browser
) -> None:
    label_id = await held_store(web_harness)
    assert web_harness.labels is not None
    pipeline = web_harness.labels
    # A second SKU, held too: a promo whose "was" is not higher than its price.
    other = web_harness.see_label("FF:00:12:A3:B4:C6")
    from gateway.labels.model import Binding

    await pipeline.plan(await pipeline.planner.bind("bind-2", [Binding(other, "B")]))
    await pipeline.plan(await pipeline.prices.update("b1", [PriceItem("B", 1, "5.00", "CNY")]))
    await pipeline.plan(
        await pipeline.prices.update(
            "b2", [PriceItem("B", 2, "6.00", "CNY", original_price="5.50", name="Oolong tea")]
        )
    )
    base = str(web_harness.client.make_url("")).rstrip("/")
    page = await new_page(browser)
    await login(page, base, "ada", web_harness)
    await expect(page.locator("nav.nav a[href='/prices'] .count")).to_have_text("2")
    await page.click("nav.nav a[href='/prices']")
    card = page.locator("li.held[data-sku=A]")
    await expect(card).to_contain_text("Drop too large")
    await expect(card).to_contain_text("max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)")
    await expect(card.locator(".figures")).to_contain_text("12.90 CNY")
    await expect(card.locator(".figures")).to_contain_text("1.29 CNY")
    # What the label shows now, and what it would show, each at the panel's pixels.
    images = card.locator(".previews img")
    await expect(images).to_have_count(2 * 2)  # each with its enlarged copy in a dialog
    await page.wait_for_function(
        "() => [...document.querySelectorAll('li.held[data-sku=A] .preview-button img')]"
        ".every(i => i.complete && i.naturalWidth >= 212"
        " && i.getBoundingClientRect().width >= i.naturalWidth)"
    )
    await shot(page, "prices-review")

    # Her second factor was confirmed at sign-in more than 5 minutes ago: the release asks
    # for it again, inline; a wrong code is said in the dialog and nothing is decided.
    expire_step_up(web_harness, "ada")
    await card.locator("button[data-release]").click()
    await card.locator("input[name=note]").fill("a real clearance price")
    await card.locator("form.decide button[type=submit]").click()
    dialog = page.locator("dialog.step-up")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Price released needs your second factor again")
    await shot(page, "prices-step-up")
    await dialog.locator("input[name=code]").fill("000000")
    await dialog.locator("button[type=submit]").click()
    await expect(dialog.locator(".notice")).to_contain_text("That code is wrong")
    assert "A" in pipeline.planner.guard.held
    await dialog.locator("input[name=code]").fill(web_harness.code("ada"))
    await dialog.locator("button[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator(".notice-ok")).to_contain_text("Released: A v2")
    await expect(card).to_have_count(0)
    # Discarded: it never reaches the shelf.
    b = page.locator("li.held[data-sku=B]")
    await expect(b).to_contain_text("Promo not lower than the original")
    await b.locator("button[data-discard]").click()
    await b.locator("form.decide button[type=submit]").click()  # confirmed a moment ago
    await expect(page.locator(".notice-ok")).to_contain_text("Discarded: B v2")
    await expect(page.locator(".all-well")).to_be_visible()
    for _ in range(100):
        twin = pipeline.planner.twins[label_id]
        if twin.displayed is not None and twin.displayed.version == 2:
            break
        await asyncio.sleep(0.05)
    assert pipeline.planner.twins[label_id].displayed.version == 2  # type: ignore[union-attr]
    assert pipeline.planner.items["B"].version == 1

    # The shelf of A, found by its label's id: it shows the released price.
    await page.click("nav.nav a[href='/labels']")
    await page.fill("#shelf-q", "FF:00:12:A3:B4:C5")
    await page.click("form[role=search] button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Shelf for A")
    await expect(page.locator(".lead")).to_contain_text("1.29 CNY (v2)")
    await expect(page.locator(f"li.label-card[data-label={label_id}]")).to_contain_text(
        "shows the current price", timeout=10_000
    )
    await shot(page, "shelf")

    # Every label of A written again (a sensitive action: confirmed a moment ago).
    await page.click("#rewrite-sku")
    await expect(page.locator(".rewrite .notice-ok")).to_contain_text("1 label(s) queued")
