"""Technicians' access on the API: every endpoint with every role, the second factor
(sign-in, step-up, set-up, recovery codes), lockouts per user and per address, pace,
users and sessions, and the audit (each payload against the contract's schema)."""

from __future__ import annotations

import re
import time
from typing import Any

from aiohttp import web

from gateway.access import totp
from gateway.contract import schema_errors
from gateway.web.access import ALLOWED, SENSITIVE, Action, Role
from gateway.web.enforce import action_of, is_open
from gateway.web.security import PACE_PER_MIN
from tests.helpers.web import PASSWORD, WebHarness
from tests.web.test_api import check_openapi

ROLES = {"vera": Role.VIEWER, "tom": Role.TECHNICIAN, "ada": Role.ADMIN}
ENDS_SESSION = {"/api/logout"}


def endpoints(app: web.Application) -> list[tuple[str, str, Action]]:
    """(method, path with its parameters filled, action) of every endpoint with a session."""
    out = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if not path.startswith("/api/") or route.method == "HEAD" or is_open(route.handler):
            continue
        action = action_of(route.handler)
        assert action is not None, f"{route.method} {path} names no action"
        filled = re.sub(r"\{(\w+)(:[^}]*)?\}", "nobody", path.replace("{which}", "desired"))
        out.append((route.method, filled, action))
    return out


async def call(h: WebHarness, method: str, path: str, csrf: str) -> tuple[int, dict[str, Any]]:
    async with h.client.request(
        method, path, json={}, headers={"X-CSRF-Token": csrf}, timeout=5
    ) as resp:
        if resp.content_type != "application/json":
            return resp.status, {}
        return resp.status, await resp.json()


async def test_every_endpoint_with_every_role(web_harness: WebHarness) -> None:
    app = web_harness.client.server.app
    assert app is not None
    routes = endpoints(app)
    assert len(routes) > 35
    for user, role in ROLES.items():
        csrf = await web_harness.login(user)  # with a code: stepped up for 5 minutes
        for method, path, action in routes:
            if path in ENDS_SESSION:
                continue
            status, body = await call(web_harness, method, path, csrf)
            if action in ALLOWED[role]:
                assert body.get("code") not in ("forbidden", "step-up"), (user, method, path)
            else:
                assert status == 403 and body["code"] == "forbidden", (user, method, path, body)
                assert body["args"]["action"] == action.value
    refusals = await web_harness.audit.read(actor="vera")  # type: ignore[union-attr]
    refused = {e["action"] for e in refusals if not e["ok"]}
    assert Action.LABEL_FLASH.value in refused and Action.USER_REMOVE.value in refused


async def test_sensitive_actions_need_a_recent_second_factor(web_harness: WebHarness) -> None:
    app = web_harness.client.server.app
    assert app is not None
    sensitive = [(m, p, a) for m, p, a in endpoints(app) if a in SENSITIVE]
    assert {a for _, _, a in sensitive} == set(SENSITIVE)
    csrf = await web_harness.login("ada")
    assert web_harness.auth is not None
    [session] = [s for s in web_harness.auth.sessions() if s.user == "ada"]
    session.second_factor_mono = None
    for method, path, _action in sensitive:
        status, body = await call(web_harness, method, path, csrf)
        assert status == 403 and body["code"] == "step-up", (method, path, body)
    # A technician without a second factor is told to set one up first.
    csrf = await web_harness.login("tim")
    status, body = await call(web_harness, "POST", "/api/energy/zones/sales/override", csrf)
    assert status == 403 and body["code"] == "second-factor-needed"
    status, _ = await call(web_harness, "POST", "/api/alerts/x/acknowledge", csrf)
    assert status == 404  # not sensitive: no second factor needed


async def test_sign_in_asks_for_the_code_and_refuses_a_replay(web_harness: WebHarness) -> None:
    c = web_harness.client
    first = await c.post("/api/login", json={"user": "ada", "password": PASSWORD})
    assert first.status == 401 and (await first.json())["code"] == "second-factor-required"
    check_openapi("/api/login", "post", 401, await first.json())
    code = web_harness.code("ada")
    ok = await c.post("/api/login", json={"user": "ada", "password": PASSWORD, "code": code})
    assert ok.status == 200
    view = await ok.json()
    check_openapi("/api/login", "post", 200, view)
    assert view["second_factor"] and view["stepped_up_until"] > time.time() + 250
    again = await c.post("/api/login", json={"user": "ada", "password": PASSWORD, "code": code})
    assert again.status == 401 and (await again.json())["code"] == "wrong-credentials"
    assert web_harness.secrets is not None and web_harness.totp_clock is not None
    # One step of drift either way is allowed; two are not.
    now = web_harness.totp_clock()
    behind = totp.code_at(web_harness.secrets["tom"], now + 2 * totp.STEP_S)
    late = await c.post("/api/login", json={"user": "tom", "password": PASSWORD, "code": behind})
    assert late.status == 401


async def test_an_admin_without_a_second_factor_can_only_set_one_up(
    web_harness: WebHarness,
) -> None:
    c = web_harness.client
    resp = await c.post("/api/login", json={"user": "newt", "password": PASSWORD})
    assert resp.status == 200
    view = await resp.json()
    assert view["enrol_required"] and not view["second_factor"]
    csrf = view["csrf"]
    status, body = await call(web_harness, "GET", "/api/devices", csrf)
    assert status == 403 and body["code"] == "second-factor-setup"
    start = await c.post("/api/me/second-factor", json={}, headers={"X-CSRF-Token": csrf})
    enrolment = await start.json()
    check_openapi("/api/me/second-factor", "post", 200, enrolment)
    assert enrolment["uri"].startswith("otpauth://totp/") and "<svg" in enrolment["qr_svg"]
    wrong = await c.post(
        "/api/me/second-factor/confirm", json={"code": "123456"}, headers={"X-CSRF-Token": csrf}
    )
    assert wrong.status == 400 and (await wrong.json())["code"] == "wrong-code"
    assert web_harness.totp_clock is not None
    code = totp.code_at(enrolment["secret"], web_harness.totp_clock.next_step())
    done = await c.post(
        "/api/me/second-factor/confirm", json={"code": code}, headers={"X-CSRF-Token": csrf}
    )
    codes = (await done.json())["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    status, _ = await call(web_harness, "GET", "/api/devices", csrf)
    assert status == 200  # in force at once

    # A recovery code signs in once; the second time it is refused.
    c.session.cookie_jar.clear()
    body = {"user": "newt", "password": PASSWORD, "code": codes[0]}
    once = await c.post("/api/login", json=body)
    assert once.status == 200
    twice = await c.post("/api/login", json=body)
    assert twice.status == 401
    assert (await (await c.get("/api/session")).json())["recovery_left"] == 9
    entries = await web_harness.audit.read(actor="newt")  # type: ignore[union-attr]
    actions = [(e["action"], e["ok"]) for e in reversed(entries)]
    assert actions == [
        ("login", True),
        ("second-factor.enrolled", True),
        ("login", True),
        ("login-failed", False),
    ]
    assert entries[1]["detail"] == "with a recovery code (9 left)"
    text = str(entries) + str(await web_harness.events("audit.action"))
    for secret in (PASSWORD, enrolment["secret"], codes[0], code):
        assert secret not in text  # no secret in the audit, nor in what the cloud is told


async def test_a_lockout_holds_the_user_not_the_others_on_the_address(
    web_harness: WebHarness,
) -> None:
    c = web_harness.client
    statuses = []
    for _ in range(5):
        resp = await c.post("/api/login", json={"user": "tom", "password": "wrong-password"})
        statuses.append(resp.status)
    assert statuses == [401] * 4 + [429]
    body = await resp.json()
    assert body["code"] == "too-many-logins" and body["args"]["wait_s"] == 30
    # Vera, on the same address, still signs in.
    await web_harness.login("vera")
    # The lockout is told to the cloud at once, the failures once their burst ends.
    told = await web_harness.events("audit.action")
    assert [e["audit"]["action"] for e in told] == ["login-locked", "login"]
    locked = told[0]
    assert locked["audit"]["action"] == "login-locked" and locked["audit"]["actor"] == "tom"
    assert "5 failed sign-ins" in locked["audit"]["detail"]
    assert web_harness.auth is not None
    # A name that is no user's (perhaps a password typed into the wrong field) is not kept.
    await c.post("/api/login", json={"user": "S3cret-typed-here", "password": "x"})
    kept = await web_harness.audit.read(action="login-failed")  # type: ignore[union-attr]
    assert kept[0]["actor"] is None and kept[0]["detail"] == "no such user"
    assert "S3cret" not in str(kept)


async def test_an_address_is_held_after_its_own_limit(web_harness: WebHarness) -> None:
    c = web_harness.client
    assert web_harness.auth is not None
    statuses = []
    for i in range(20):  # four users, four failures each, then more: the address waits
        resp = await c.post("/api/login", json={"user": f"user{i % 5}", "password": "nope"})
        statuses.append(resp.status)
    assert statuses[:19] == [401] * 19 and statuses[19] == 429
    held = await c.post(
        "/api/login", json={"user": "vera", "password": PASSWORD, "code": web_harness.code("vera")}
    )
    assert held.status == 429


async def test_actions_faster_than_a_person_are_slowed_and_audited(
    web_harness: WebHarness,
) -> None:
    label_id = web_harness.see_label()
    csrf = await web_harness.login("tom")
    statuses = []
    for _ in range(PACE_PER_MIN + 2):
        status, body = await call(web_harness, "POST", f"/api/labels/{label_id}/flash", csrf)
        statuses.append(status)
    assert statuses[:PACE_PER_MIN] == [409] * PACE_PER_MIN  # this model has no LED
    assert statuses[PACE_PER_MIN:] == [429, 429] and body["code"] == "too-fast"
    slowed = await web_harness.audit.read(action="label.flash")  # type: ignore[union-attr]
    assert sum(1 for e in slowed if (e["detail"] or "").startswith("slowed")) == 1


async def test_users_and_sessions_are_managed_by_admins(web_harness: WebHarness) -> None:
    c = web_harness.client
    tom_csrf = await web_harness.login("tom")
    tom_cookies = {
        k: v.value for k, v in c.session.cookie_jar.filter_cookies(c.make_url("/")).items()
    }
    c.session.cookie_jar.clear()
    csrf = await web_harness.login("ada")
    headers = {"X-CSRF-Token": csrf}
    listed = await (await c.get("/api/users")).json()
    check_openapi("/api/users", "get", 200, listed)
    assert [u["name"] for u in listed["users"]] == ["ada", "newt", "tim", "tom", "vera"]
    short = await c.post(
        "/api/users", json={"name": "sam", "role": "viewer", "password": "short"}, headers=headers
    )
    assert short.status == 400 and "at least 10" in (await short.json())["error"]
    added = await c.post(
        "/api/users",
        json={"name": "sam", "role": "viewer", "password": "a-long-password"},
        headers=headers,
    )
    assert added.status == 201
    check_openapi("/api/users", "post", 201, await added.json())
    newt = await c.post("/api/users/newt", json={"role": "viewer"}, headers=headers)
    assert newt.status == 200  # ada is an admin still
    last = await c.post("/api/users/ada", json={"role": "viewer"}, headers=headers)
    assert last.status == 400 and "last admin" in (await last.json())["error"]
    sessions = await (await c.get("/api/sessions")).json()
    check_openapi("/api/sessions", "get", 200, sessions)
    tom = next(s for s in sessions["sessions"] if s["user"] == "tom")
    out = await c.post(f"/api/sessions/{tom['id']}/sign-out", json={}, headers=headers)
    assert out.status == 200
    jar = c.session.cookie_jar
    ada_cookies = {k: v.value for k, v in jar.filter_cookies(c.make_url("/")).items()}
    jar.clear()
    jar.update_cookies(tom_cookies)
    assert (await c.get("/api/session", headers={"X-CSRF-Token": tom_csrf})).status == 401
    jar.clear()
    jar.update_cookies(ada_cookies)

    reset = await c.post("/api/users/vera/second-factor/reset", json={}, headers=headers)
    assert reset.status == 200 and not (await reset.json())["second_factor"]
    removed = await c.delete("/api/users/sam", headers=headers)
    assert removed.status == 200
    audit = await c.get("/api/audit", params={"actor": "ada", "action": "user."})
    entries = (await audit.json())["entries"]
    check_openapi("/api/audit", "get", 200, {"entries": entries})
    assert [(e["action"], e["target"], e["ok"]) for e in entries] == [
        ("user.remove", "sam", True),
        ("user.change", "ada", False),
        ("user.change", "newt", True),
        ("user.add", "sam", True),
        ("user.add", "sam", False),
    ]
    assert all(e["second_factor"] and e["via"] == "api" for e in entries)
    bad = await c.get("/api/audit", params={"since": "yesterday"})
    assert bad.status == 400


async def test_password_change_signs_out_the_other_sessions(web_harness: WebHarness) -> None:
    c = web_harness.client
    await web_harness.login("tom")
    other = {k: v.value for k, v in c.session.cookie_jar.filter_cookies(c.make_url("/")).items()}
    c.session.cookie_jar.clear()
    csrf = await web_harness.login("tom")
    wrong = await c.post(
        "/api/me/password",
        json={"current": "nope", "new": "another-long-one"},
        headers={"X-CSRF-Token": csrf},
    )
    assert wrong.status == 403
    ok = await c.post(
        "/api/me/password",
        json={"current": PASSWORD, "new": "another-long-one"},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status == 200
    fresh = (await ok.json())["csrf"]
    assert fresh != csrf
    assert (await c.get("/api/session")).status == 200  # this one goes on, under a new token
    c.session.cookie_jar.clear()
    c.session.cookie_jar.update_cookies(other)
    assert (await c.get("/api/session")).status == 401  # the other one ended


async def test_every_audit_event_meets_the_contract(web_harness: WebHarness) -> None:
    c = web_harness.client
    await c.post("/api/login", json={"user": "tom", "password": "wrong-password"})
    for _ in range(5):
        await c.post("/api/login", json={"user": "vera", "password": "wrong-password"})
    csrf = await web_harness.login("tom")
    await call(web_harness, "POST", "/api/energy/zones/sales/override", csrf)
    await call(web_harness, "POST", "/api/alerts/nope/acknowledge", csrf)
    events = await web_harness.events("audit.action")
    actions = {e["audit"]["action"] for e in events}
    assert {"login", "login-failed", "login-locked", "zone.override", "alert.acknowledge"} <= (
        actions
    )
    for e in events:
        assert schema_errors("event", e) == [], e
    burst = next(e for e in events if e["audit"]["action"] == "login-failed")
    assert burst["audit"]["detail"] == "1 failed sign-in in 1 min before this sign-in"
