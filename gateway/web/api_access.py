"""Signing in and out, one's own account, and the admins' users, sessions and audit.

Signing in takes the password, then the second factor's code when the user has one
(answered ``second-factor-required`` until it is given). A user whose role must have
a second factor and has none yet signs in to set it up and can do nothing else. What
the audit records: every sign-in and failed one (failures are told to the cloud once
per burst, with the count), a lockout, a step-up, a second factor set up or reset, a
password changed, every change to users and sessions. Never a password or a code.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.access.audit import Entry
from gateway.access.users import UserError, UserStore
from gateway.timeutil import format_epoch
from gateway.web.access import STEP_UP_S, Action
from gateway.web.enforce import does, error, note, open_endpoint, record
from gateway.web.keys import AUDIT_KEY, AUTH_KEY, SESSION_KEY, USERS_KEY
from gateway.web.security import Burst, Session

BURSTS_EVERY_S = 60.0
PRUNE_EVERY_S = 6 * 3600.0


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(web.HTTPBadRequest, "the body must be a JSON object", "bad-request") from exc
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "the body must be a JSON object", "bad-request")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise error(web.HTTPBadRequest, f"give {key} as text", "bad-request", field=key)
    return value


def wait_error(seconds: float, code: str = "too-many-logins") -> web.HTTPException:
    wait = math.ceil(seconds)
    return error(
        web.HTTPTooManyRequests,
        f"too many failed attempts; try again in {wait} s",
        code,
        headers={"Retry-After": str(wait)},
        wait_s=wait,
    )


def session_view(session: Session, second_factor: bool) -> dict[str, Any]:
    until = None
    if session.second_factor_mono is not None:
        left = STEP_UP_S - (time.monotonic() - session.second_factor_mono)
        until = time.time() + left if left > 0 else None
    return {
        "user": session.user,
        "role": session.role.name.lower(),
        "csrf": session.csrf,
        "second_factor": second_factor,
        "enrol_required": session.enrol_only,
        "stepped_up_until": until,
    }


async def full_view(request: web.Request, session: Session) -> dict[str, Any]:
    """The session as the page keeps it (with the recovery codes left)."""
    users = request.app[USERS_KEY]
    view = session_view(session, users.has_second_factor(session.user))
    if view["second_factor"]:
        view["recovery_left"] = await users.recovery_left(session.user)
    return view


def _burst_detail(burst: Burst) -> str:
    minutes = max(1, round(burst.minutes))
    return f"{burst.count} failed sign-in{'' if burst.count == 1 else 's'} in {minutes} min"


# ---- signing in and out -------------------------------------------------------------------


@open_endpoint
async def login(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise error(web.HTTPForbidden, "cross-origin login refused", "forbidden")
    body = await json_body(request)
    user, password = _text(body, "user"), _text(body, "password")
    assert user is not None and password is not None
    code = _text(body, "code", required=False)
    auth, users = request.app[AUTH_KEY], request.app[USERS_KEY]
    known = users.get(user) is not None
    outcome = await auth.login(request.remote or "?", user, password, code)
    if outcome.kind == "wait":
        assert outcome.wait_s is not None
        raise wait_error(outcome.wait_s)
    if outcome.kind == "second-factor":
        raise error(
            web.HTTPUnauthorized,
            "give the code from your authenticator app (or a recovery code)",
            "second-factor-required",
        )
    if outcome.kind == "wrong":
        # The name is recorded only when it is a user's: a password typed into the name
        # field must not land in the audit.
        await record(
            request,
            None,
            "login-failed",
            ok=False,
            actor=user if known else None,
            detail="wrong password or code" if known else "no such user",
            tell=False,
        )
        if outcome.wait_s is not None:
            await record(
                request,
                None,
                "login-locked",
                ok=False,
                actor=user if known else None,
                detail=f"{outcome.failures} failed sign-ins; waits {math.ceil(outcome.wait_s)} s",
            )
            raise wait_error(outcome.wait_s)
        raise error(web.HTTPUnauthorized, "wrong user, password or code", "wrong-credentials")
    session = outcome.session
    assert session is not None
    if outcome.burst is not None:
        await record(
            request,
            session,
            "login-failed",
            ok=False,
            detail=_burst_detail(outcome.burst) + " before this sign-in",
        )
    detail = None
    if outcome.factor == "recovery":
        detail = f"with a recovery code ({await users.recovery_left(user)} left)"
    elif session.enrol_only:
        detail = "to set up the second factor the role needs"
    await record(request, session, "login", second_factor=outcome.factor is not None, detail=detail)
    response = web.json_response(await full_view(request, session))
    auth.set_cookie(response, session)
    return response


@does(Action.SELF)
async def logout(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    auth = request.app[AUTH_KEY]
    auth.logout(session.token)
    await record(request, session, "logout")
    response = web.json_response({"ok": True})
    auth.clear_cookie(response)
    return response


@does(Action.SELF)
async def session_info(request: web.Request) -> web.Response:
    return web.json_response(await full_view(request, request[SESSION_KEY]))


# ---- one's own account ----------------------------------------------------------------------


@does(Action.SELF)
async def change_password(request: web.Request) -> web.Response:
    """Signs out every other session of the user; this one goes on with a new token."""
    session = request[SESSION_KEY]
    auth, users = request.app[AUTH_KEY], request.app[USERS_KEY]
    body = await json_body(request)
    current, new = _text(body, "current"), _text(body, "new")
    assert current is not None and new is not None
    wait = auth.guard.wait(session.user, request.remote or "?", time.time())
    if wait is not None:
        raise wait_error(wait)
    if not await auth.confirm_password(session, current):
        _, wait = auth.guard.failed(session.user, request.remote or "?", time.time())
        await record(request, session, "password.change", ok=False, detail="wrong password")
        if wait is not None:
            raise wait_error(wait)
        raise error(web.HTTPForbidden, "your current password is wrong", "wrong-password")
    try:
        await users.change(session.user, password=new)
    except UserError as exc:
        raise error(web.HTTPBadRequest, str(exc), "user-invalid") from exc
    fresh = auth.reissue(session)
    await record(request, fresh, "password.change", detail="other sessions signed out")
    response = web.json_response(await full_view(request, fresh))
    auth.set_cookie(response, fresh)
    return response


@does(Action.SELF)
async def start_second_factor(request: web.Request) -> web.Response:
    """A new secret and its QR code (not in force until a code confirms it). Replacing
    a second factor one has needs it confirmed first (a step-up)."""
    session = request[SESSION_KEY]
    users = request.app[USERS_KEY]
    if users.has_second_factor(session.user) and not session.stepped_up(time.monotonic()):
        raise error(
            web.HTTPForbidden,
            "confirm your current second factor before replacing it",
            "step-up",
            action="second-factor.replace",
        )
    enrolment = users.enrol(session.user)
    return web.json_response(
        {"secret": enrolment.secret, "uri": enrolment.uri, "qr_svg": enrolment.qr_svg}
    )


@does(Action.SELF)
async def confirm_second_factor(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    auth, users = request.app[AUTH_KEY], request.app[USERS_KEY]
    code = _text(await json_body(request), "code")
    assert code is not None
    try:
        codes = await users.confirm_enrolment(session.user, code)
    except UserError as exc:
        raise error(web.HTTPBadRequest, str(exc), "wrong-code") from exc
    auth.enrolled(session)
    await record(request, session, "second-factor.enrolled", second_factor=True)
    return web.json_response({"recovery_codes": codes})


@does(Action.SELF)
async def step_up(request: web.Request) -> web.Response:
    """The second factor confirmed again: sensitive actions for ``STEP_UP_S``."""
    session = request[SESSION_KEY]
    auth, users = request.app[AUTH_KEY], request.app[USERS_KEY]
    code = _text(await json_body(request), "code")
    assert code is not None
    address = request.remote or "?"
    wait = auth.guard.wait(session.user, address, time.time())
    if wait is not None:
        raise wait_error(wait)
    if not users.has_second_factor(session.user):
        raise error(
            web.HTTPConflict, "set up a second factor first (Account)", "second-factor-needed"
        )
    factor = await auth.step_up(session, code)
    if factor is None:
        _, wait = auth.guard.failed(session.user, address, time.time())
        await record(request, session, "step-up", ok=False, detail="wrong code")
        if wait is not None:
            raise wait_error(wait)
        raise error(web.HTTPForbidden, "that code is wrong or was used already", "wrong-code")
    detail = None
    if factor == "recovery":
        detail = f"with a recovery code ({await users.recovery_left(session.user)} left)"
    await record(request, session, "step-up", second_factor=True, detail=detail)
    return web.json_response(await full_view(request, session))


# ---- users, sessions, audit (admins) -----------------------------------------------------


def _user_view(request: web.Request, name: str) -> dict[str, Any]:
    u = request.app[USERS_KEY].get(name)
    assert u is not None
    sessions = [s for s in request.app[AUTH_KEY].sessions() if s.user == name]
    return {
        "name": u.name,
        "role": u.role,
        "disabled": u.disabled,
        "second_factor": u.totp_secret is not None,
        "second_factor_required": u.role in request.app[USERS_KEY].required,
        "password_at": u.password_at,
        "changed_at": u.changed_at,
        "sessions": len(sessions),
    }


@does(Action.USER_VIEW)
async def list_users(request: web.Request) -> web.Response:
    names = [u.name for u in request.app[USERS_KEY].all()]
    return web.json_response({"users": [_user_view(request, n) for n in names]})


def _role(body: dict[str, Any], *, required: bool) -> str | None:
    role = body.get("role")
    if role is None and not required:
        return None
    if role not in ("viewer", "technician", "admin"):
        raise error(web.HTTPBadRequest, "role must be viewer, technician or admin", "bad-request")
    return str(role)


@does(Action.USER_ADD)
async def add_user(request: web.Request) -> web.Response:
    body = await json_body(request)
    name, password = _text(body, "name"), _text(body, "password")
    role = _role(body, required=True)
    assert name is not None and password is not None and role is not None
    note(request, name, f"role {role}")
    try:
        await request.app[USERS_KEY].add(name, role, password)
    except UserError as exc:
        raise error(web.HTTPBadRequest, str(exc), "user-invalid") from exc
    return web.json_response(_user_view(request, name), status=201)


@does(Action.USER_CHANGE)
async def change_user(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await json_body(request)
    role = _role(body, required=False)
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise error(web.HTTPBadRequest, "disabled must be true or false", "bad-request")
    password = _text(body, "password", required=False)
    if role is None and disabled is None and password is None:
        raise error(web.HTTPBadRequest, "give role, disabled or password to change", "bad-request")
    changes = [
        f"role {role}" if role else None,
        ("disabled" if disabled else "enabled") if disabled is not None else None,
        "password set" if password else None,
    ]
    note(request, name, ", ".join(c for c in changes if c))
    await _change(
        request, name, lambda u: u.change(name, role=role, disabled=disabled, password=password)
    )
    return web.json_response(_user_view(request, name))


@does(Action.SECOND_FACTOR_RESET)
async def reset_second_factor(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await _change(request, name, lambda u: u.change(name, reset_second_factor=True))
    return web.json_response(_user_view(request, name))


@does(Action.USER_REMOVE)
async def remove_user(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await _change(request, name, lambda u: u.remove(name))
    return web.json_response({"removed": name})


async def _change(
    request: web.Request, name: str, change: Callable[[UserStore], Awaitable[object]]
) -> None:
    """A change to an existing user: 404 without one, 400 with what the store refused."""
    users = request.app[USERS_KEY]
    if users.get(name) is None:
        raise error(web.HTTPNotFound, f"no user {name!r}", "not-found", name=name)
    try:
        await change(users)
    except UserError as exc:
        raise error(web.HTTPBadRequest, str(exc), "user-invalid") from exc


@does(Action.USER_VIEW)
async def list_sessions(request: web.Request) -> web.Response:
    mine = request[SESSION_KEY].id
    now = time.monotonic()
    return web.json_response(
        {
            "sessions": [
                {
                    "id": s.id,
                    "user": s.user,
                    "role": s.role.name.lower(),
                    "address": s.address,
                    "signed_in_at": s.created,
                    "idle_s": round(now - s.last_mono),
                    "second_factor": s.second_factor_mono is not None,
                    "yours": s.id == mine,
                }
                for s in request.app[AUTH_KEY].sessions()
            ]
        }
    )


@does(Action.SESSION_SIGN_OUT)
async def sign_out_session(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    gone = request.app[AUTH_KEY].sign_out(session_id)
    if gone is None:
        raise error(web.HTTPNotFound, "no such session (signed out already?)", "not-found")
    note(request, gone.user, f"session {session_id} from {gone.address}")
    return web.json_response({"signed_out": session_id, "user": gone.user})


def _epoch(text: str | None, key: str) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise error(web.HTTPBadRequest, f"{key} must be POSIX seconds, got {text!r}", "bad-request")
    return value


@does(Action.AUDIT_VIEW)
async def audit(request: web.Request) -> web.Response:
    q = request.query
    limit_text = q.get("limit", "200")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise error(
            web.HTTPBadRequest, "limit must be a whole number from 1 to 1000", "bad-request"
        )
    entries = await request.app[AUDIT_KEY].read(
        actor=q.get("actor") or None,
        action=q.get("action") or None,
        since=_epoch(q.get("since"), "since"),
        until=_epoch(q.get("until"), "until"),
        limit=int(limit_text),
    )
    for e in entries:
        e["at_text"] = format_epoch(e["at"])
    return web.json_response({"entries": entries})


# ---- in the background --------------------------------------------------------------------


async def watch(app: web.Application) -> AsyncIterator[None]:
    """Bursts of failed sign-ins that ended are told once each; old audit is pruned."""
    task = asyncio.create_task(_watch_loop(app), name="web-access")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _watch_loop(app: web.Application) -> None:
    auth, audit_log = app[AUTH_KEY], app[AUDIT_KEY]
    pruned = 0.0
    while True:
        await asyncio.sleep(BURSTS_EVERY_S)
        now = time.time()
        for burst in auth.guard.ended(now):
            if burst.count < 2:
                continue  # one mistyped password is not a burst (it is kept, not told)
            known = app[USERS_KEY].get(burst.who) is not None
            await audit_log.record(
                Entry(
                    burst.who if known else None,
                    None,
                    "login-failed",
                    None,
                    "page",
                    burst.address,
                    False,
                    False,
                    _burst_detail(burst),
                )
            )
        if now - pruned >= PRUNE_EVERY_S:
            pruned = now
            await audit_log.prune_now()


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/login", login)
    r.add_post("/api/logout", logout)
    r.add_get("/api/session", session_info)
    r.add_post("/api/me/password", change_password)
    r.add_post("/api/me/second-factor", start_second_factor)
    r.add_post("/api/me/second-factor/confirm", confirm_second_factor)
    r.add_post("/api/me/step-up", step_up)
    r.add_get("/api/users", list_users)
    r.add_post("/api/users", add_user)
    r.add_post("/api/users/{name}", change_user)
    r.add_delete("/api/users/{name}", remove_user)
    r.add_post("/api/users/{name}/second-factor/reset", reset_second_factor)
    r.add_get("/api/sessions", list_sessions)
    r.add_post("/api/sessions/{session_id}/sign-out", sign_out_session)
    r.add_get("/api/audit", audit)
    app.cleanup_ctx.append(watch)
