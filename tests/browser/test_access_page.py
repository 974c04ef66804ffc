"""Technicians' access in a real headless Chromium, over HTTPS with a test CA: signing in
with a second factor, a step-up on a zone override, an admin setting up the second factor
the role needs and a recovery code used once (refused the second time), a lockout shown
with its wait, a viewer refused every action by the server, the users and the audit."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from gateway.access import totp
from tests.browser.test_page import CHROMIUM, browser, login, new_page, shot
from tests.helpers.web import PASSWORD, WebHarness
from tests.web.test_prices_api import expire_step_up

__all__ = ["browser"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


def base_of(h: WebHarness) -> str:
    return str(h.client.make_url("")).rstrip("/")


async def sign_in(page: Page, base: str, user: str, password: str = PASSWORD) -> None:
    await page.goto(base + "/")
    await page.fill("#user", user)
    await page.fill("#password", password)
    await page.click("#login-form button[type=submit]")


async def test_sign_in_with_a_code_over_https_and_a_step_up_on_an_override(
    web_harness: WebHarness, browser: Browser
) -> None:
    base = base_of(web_harness)
    assert base.startswith("https://127.0.0.1:")
    page = await new_page(browser)
    await sign_in(page, base, "tom")
    await expect(page.locator("#code")).to_be_visible()  # the password was right
    await expect(page.locator(".login .muted").first).to_contain_text("second factor")
    await shot(page, "login-code")
    await page.fill("#code", "000000")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-form .notice")).to_contain_text(
        "Wrong user, password or code"
    )
    await page.fill("#code", web_harness.code("tom"))
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("nav.nav")).to_be_visible()
    assert await page.evaluate("location.protocol") == "https:"
    # The overview names the certificate the browser was given.
    await expect(page.locator("#fingerprint")).to_contain_text(re.compile(r"^([0-9A-F]{2}:){31}"))

    # Five minutes later, an override asks for the second factor again, inline.
    expire_step_up(web_harness, "tom")
    await page.click("nav.nav a[href='/energy']")
    row = page.locator("#zone-table tr[data-zone=lights-sales]")
    await row.locator("button[data-open-override]").click()
    form = row.locator("form[data-override]")
    await form.locator("input[name=value]").fill("55")
    await form.locator("input[name=minutes]").fill("30")
    await form.locator("button[type=submit]").click()
    dialog = page.locator("dialog.step-up")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Zone override needs your second factor again")
    await dialog.locator("input[name=code]").fill(web_harness.code("tom"))
    await dialog.locator("button[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(row.locator(".zone-why")).to_contain_text("overridden by tom")
    entries = await web_harness.audit.read(actor="tom")  # type: ignore[union-attr]
    override = next(e for e in entries if e["action"] == "zone.override")
    assert override["ok"] and override["second_factor"] and override["via"] == "page"


async def test_an_admin_sets_up_the_second_factor_and_a_recovery_code_works_once(
    web_harness: WebHarness, browser: Browser
) -> None:
    base = base_of(web_harness)
    for lang in ("zh", "en"):
        page = await new_page(browser, lang=lang)
        await sign_in(page, base, "newt")
        # An admin without a second factor sees only its set-up.
        await expect(page.locator("#second-factor-start")).to_be_visible()
        assert await page.locator("nav.nav").count() == 0
        await page.click("#second-factor-start")
        await expect(page.locator(".qr svg")).to_be_visible()
        await shot(page, f"enrol-{lang}")
        if lang == "zh":
            await page.close()  # seen in Chinese: set it up in English
            continue
        secret = await page.locator("code.secret").get_attribute("data-secret")
        assert secret is not None and web_harness.totp_clock is not None
        code = totp.code_at(secret, web_harness.totp_clock.next_step())
        await page.fill("#enrol-code", code)
        await page.click("#second-factor-confirm button[type=submit]")
        codes = await page.locator("#recovery-codes code").all_inner_texts()
        assert len(codes) == 10
        await shot(page, "recovery-codes")
        await page.click(".recovery button.primary")
        await expect(page.locator("nav.nav")).to_be_visible()  # the page opens
        await page.click("header button:has-text('Log out')")

    # A recovery code signs in once; the second time it is refused.
    page = await new_page(browser)
    for attempt in range(2):
        await sign_in(page, base, "newt")
        await page.fill("#code", codes[0])
        await page.click("#login-form button[type=submit]")
        if attempt == 0:
            await expect(page.locator("nav.nav")).to_be_visible()
            await page.click("header a.who")
            await expect(page.locator(".account")).to_contain_text("9 recovery codes left")
            await page.click("header button:has-text('Log out')")
        else:
            await expect(page.locator("#login-form .notice")).to_contain_text(
                "Wrong user, password or code"
            )


async def test_a_lockout_is_shown_with_its_wait(web_harness: WebHarness, browser: Browser) -> None:
    base = base_of(web_harness)
    page = await new_page(browser, {"width": 390, "height": 844}, lang="zh")
    await page.goto(base + "/")
    for _ in range(5):
        await page.fill("#user", "tom")
        await page.fill("#password", "not-the-password")
        await page.click("#login-form button[type=submit]")
    wait = page.locator("#login-form .wait")
    await expect(wait).to_contain_text("请等待")
    seconds = int(await wait.get_attribute("data-wait") or 0)
    assert 25 <= seconds <= 30
    await expect(page.locator("#login-form button[type=submit]")).to_be_disabled()
    await shot(page, "login-wait-phone-zh")
    # The wait counts down.
    await page.wait_for_function(
        f"() => Number(document.querySelector('#login-form .wait').dataset.wait) < {seconds}"
    )


async def test_a_viewer_is_refused_every_action_by_the_server(
    web_harness: WebHarness, browser: Browser
) -> None:
    base = base_of(web_harness)
    label_id = web_harness.see_label()
    page = await new_page(browser)
    await login(page, base, "vera", web_harness)
    # Whatever the page shows, the server refuses a viewer's every action (here sent from
    # the page's own origin with the session's CSRF token, as a crafted page would).
    actions = [
        ("POST", "/api/alerts/nope/acknowledge"),
        ("POST", "/api/alerts/nope/silence"),
        ("POST", f"/api/labels/{label_id}/repush"),
        ("POST", f"/api/labels/{label_id}/flash"),
        ("POST", "/api/shelf/rewrite"),
        ("POST", "/api/energy/zones/sales/override"),
        ("POST", "/api/energy/zones/sales/release"),
        ("POST", "/api/prices/release"),
        ("POST", "/api/prices/discard"),
        ("POST", "/api/users"),
        ("DELETE", "/api/users/tom"),
        ("POST", "/api/sessions/x/sign-out"),
        ("GET", "/api/audit"),
        ("GET", "/api/config"),
    ]
    answers = await page.evaluate(
        """async (actions) => {
            const s = await (await fetch('/api/session')).json();
            const out = [];
            for (const [method, path] of actions) {
                const headers = {'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json'};
                const body = method === 'GET' ? undefined : '{}';
                const r = await fetch(path, {method, headers, body});
                out.push([path, r.status, (await r.json()).code]);
            }
            return out;
        }""",
        actions,
    )
    assert all(status == 403 and code == "forbidden" for _, status, code in answers), answers
    # ... and the page offers none of them: no users or audit in the navigation.
    assert await page.locator("nav.nav a[href='/users']").count() == 0
    await page.goto(base + "/users")
    await expect(page.locator(".overview")).to_be_visible()  # not a view for a viewer


async def test_an_admin_manages_users_and_reads_the_audit(
    web_harness: WebHarness, browser: Browser
) -> None:
    base = base_of(web_harness)
    other = await new_page(browser)
    await login(other, base, "tom", web_harness)  # a session to sign out
    for lang, size in (
        ("en", {"width": 1366, "height": 900}),
        ("zh", {"width": 390, "height": 844}),
    ):
        page = await new_page(browser, size, lang=lang)
        await login(page, base, "ada", web_harness)
        await page.click("nav.nav a[href='/users']")
        await expect(page.locator("tr[data-user=tom]")).to_be_visible()
        await shot(page, f"users-{lang}")
        await page.click("nav.nav a[href='/audit']")
        await expect(page.locator("#audit-table tr[data-action=login]").first).to_be_visible()
        await shot(page, f"audit-{lang}")
        await page.close()
    page = await new_page(browser)
    await login(page, base, "ada", web_harness)
    await page.click("nav.nav a[href='/users']")
    form = page.locator("#add-user")
    await form.locator("input[name=name]").fill("sam")
    await form.locator("select[name=role]").select_option("technician")
    await form.locator("input[name=password]").fill("short-pw")
    await form.locator("button[type=submit]").click()
    await expect(form.locator("input[name=password]:invalid")).to_have_count(1)  # 10 at least
    await form.locator("input[name=password]").fill("a-long-enough-one")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".notice-ok")).to_contain_text("sam was added (technician)")
    await page.locator("tr[data-user=sam] select").select_option("viewer")
    await expect(page.locator(".notice-ok")).to_contain_text("sam is viewer now")
    # Tom is signed out from the admin's list; his page asks him to sign in again.
    tom_row = page.locator("#sessions tr", has_text="tom")
    await tom_row.locator("button").click()
    await expect(page.locator(".notice-ok")).to_contain_text("tom's session was signed out")
    await other.reload()
    await expect(other.locator("#login-form")).to_be_visible()
    # The audit, filtered to user changes.
    await page.click("nav.nav a[href='/audit']")
    await page.locator("#audit-filters select[name=action]").select_option("user.")
    # The page draws itself again before the search (here: in Chinese, and back), as it
    # does when data arrives: the choice not yet searched stays the person's.
    await page.click(".tools button.ghost >> nth=0")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await page.click(".tools button.ghost >> nth=0")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.click("#audit-filters button[type=submit]")
    rows = page.locator("#audit-table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#audit-filters select[name=action]")).to_have_value("user.")
    await expect(rows.first).to_contain_text("User changed")
    await expect(rows.first).to_contain_text("role viewer")
    assert "action=user." in page.url
