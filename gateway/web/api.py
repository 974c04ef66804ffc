"""The JSON API under ``/api/`` (described by ``/api/openapi.json``)."""

from __future__ import annotations

import json
import math
import time
from typing import Any, Literal

from aiohttp import web

from gateway.web.keys import AUTH_KEY, LIVE_KEY, PORT_KEY, SESSION_KEY
from gateway.web.openapi import OPENAPI
from gateway.web.port import CounterUnauthorized, ReportInvalid, UnknownAlert, UnknownZone
from gateway.web.security import Role, Session

MAX_SILENCE_S = 7 * 24 * 3600


def _error(
    exc: type[web.HTTPException],
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    **args: object,
) -> web.HTTPException:
    """An answer the page can say in its language: ``code`` and ``args`` besides the
    English ``error``."""
    body = {"error": message, "code": code, "args": args}
    return exc(text=json.dumps(body), content_type="application/json", headers=headers)


def _wait(seconds: float) -> web.HTTPException:
    wait = int(seconds) + 1
    return _error(
        web.HTTPTooManyRequests,
        "too many failed attempts; try again later",
        "too-many-logins",
        headers={"Retry-After": str(wait)},
        wait_s=wait,
    )


def _require(request: web.Request, role: Role) -> Session:
    session = request[SESSION_KEY]
    if session.role < role:
        raise _error(web.HTTPForbidden, f"needs the {role.name.lower()} role", "forbidden")
    return session


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _error(web.HTTPBadRequest, "the body must be a JSON object", "bad-request") from exc
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object", "bad-request")
    return body


def _session_view(session: Session) -> dict[str, str]:
    return {"user": session.user, "role": session.role.name.lower(), "csrf": session.csrf}


async def login(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise _error(web.HTTPForbidden, "cross-origin login refused", "forbidden")
    body = await _json_body(request)
    user, password = body.get("user"), body.get("password")
    if not isinstance(user, str) or not isinstance(password, str):
        raise _error(web.HTTPBadRequest, "give user and password as strings", "bad-request")
    auth = request.app[AUTH_KEY]
    result = await auth.login(request.remote or "?", user, password)
    if isinstance(result, float):
        raise _wait(result)
    if result is None:
        raise _error(web.HTTPUnauthorized, "wrong user or password", "wrong-credentials")
    response = web.json_response(_session_view(result))
    auth.set_cookie(response, result)
    return response


async def logout(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    auth = request.app[AUTH_KEY]
    auth.logout(session.token)
    response = web.json_response({"ok": True})
    auth.clear_cookie(response)
    return response


async def session_info(request: web.Request) -> web.Response:
    return web.json_response(_session_view(request[SESSION_KEY]))


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[PORT_KEY].status())


async def devices(request: web.Request) -> web.Response:
    return web.json_response({"devices": request.app[PORT_KEY].devices()})


async def alerts(request: web.Request) -> web.Response:
    return web.json_response(request.app[PORT_KEY].alerts())


async def acknowledge_alert(request: web.Request) -> web.Response:
    session = _require(request, Role.TECHNICIAN)
    try:
        view = await request.app[PORT_KEY].acknowledge_alert(
            request.match_info["alert_id"], session.user
        )
    except UnknownAlert as exc:
        raise _error(web.HTTPNotFound, str(exc.args[0]), "not-found") from exc
    return web.json_response(view)


async def silence_alert(request: web.Request) -> web.Response:
    session = _require(request, Role.TECHNICIAN)
    body = await _json_body(request)
    duration = body.get("duration_s")
    if (
        not isinstance(duration, int)
        or isinstance(duration, bool)
        or not (60 <= duration <= MAX_SILENCE_S)
    ):
        raise _error(
            web.HTTPBadRequest,
            f"duration_s must be an integer from 60 to {MAX_SILENCE_S}",
            "bad-request",
        )
    try:
        view = await request.app[PORT_KEY].silence_alert(
            request.match_info["alert_id"], session.user, time.time() + duration
        )
    except UnknownAlert as exc:
        raise _error(web.HTTPNotFound, str(exc.args[0]), "not-found") from exc
    return web.json_response(view)


async def unsilence_alert(request: web.Request) -> web.Response:
    session = _require(request, Role.TECHNICIAN)
    try:
        view = await request.app[PORT_KEY].unsilence_alert(
            request.match_info["alert_id"], session.user
        )
    except UnknownAlert as exc:
        raise _error(web.HTTPNotFound, str(exc.args[0]), "not-found") from exc
    return web.json_response(view)


async def labels(request: web.Request) -> web.Response:
    return web.json_response({"labels": request.app[PORT_KEY].labels()})


async def label_preview(request: web.Request) -> web.Response:
    which: Literal["desired", "displayed"] = (
        "desired" if request.match_info["which"] == "desired" else "displayed"
    )
    png = await request.app[PORT_KEY].label_preview(request.match_info["label_id"], which)
    if png is None:
        raise _error(web.HTTPNotFound, f"no {which} content for this label", "not-found")
    return web.Response(body=png, content_type="image/png")


async def label_repush(request: web.Request) -> web.Response:
    _require(request, Role.TECHNICIAN)
    label_id = request.match_info["label_id"]
    if not request.app[PORT_KEY].repush_label(label_id):
        raise _error(
            web.HTTPConflict,
            "this label has no content to write (bind it and price it)",
            "no-content",
        )
    return web.json_response({"label_id": label_id, "status": "pending"})


async def label_flash(request: web.Request) -> web.Response:
    _require(request, Role.TECHNICIAN)
    raise _error(web.HTTPConflict, "this label model has no LED to flash", "no-led")


async def prices(request: web.Request) -> web.Response:
    return web.json_response(request.app[PORT_KEY].prices())


def _version(text: object) -> int:
    if isinstance(text, int) and not isinstance(text, bool) and text >= 1:
        return text
    if isinstance(text, str) and text.isdigit() and int(text) >= 1:
        return int(text)
    raise _error(
        web.HTTPBadRequest, f"version must be a whole number from 1, got {text!r}", "bad-request"
    )


def _sku(text: object) -> str:
    if not isinstance(text, str) or not 1 <= len(text) <= 64:
        raise _error(web.HTTPBadRequest, "sku must be text of 1 to 64 characters", "bad-request")
    return text


async def price_preview(request: web.Request) -> web.Response:
    q = request.query
    sku, version = _sku(q.get("sku")), _version(q.get("version"))
    png = await request.app[PORT_KEY].price_preview(sku, version, q.get("label_id", ""))
    if png is None:
        raise _error(web.HTTPNotFound, "no such held price, or not one of its labels", "not-found")
    return web.Response(body=png, content_type="image/png")


async def review_price(request: web.Request) -> web.Response:
    """An admin releases or discards a held price, confirming with their password."""
    session = _require(request, Role.ADMIN)
    decision: Literal["release", "discard"] = (
        "release" if request.match_info["decision"] == "release" else "discard"
    )
    body = await _json_body(request)
    sku, version = _sku(body.get("sku")), _version(body.get("version"))
    password, note = body.get("password"), body.get("note")
    if not isinstance(password, str) or not password:
        raise _error(web.HTTPBadRequest, "confirm with your password (password)", "bad-request")
    if note is not None and (not isinstance(note, str) or len(note) > 200):
        raise _error(
            web.HTTPBadRequest, "note must be text of at most 200 characters", "bad-request"
        )
    confirmed = await request.app[AUTH_KEY].confirm(request.remote or "?", session.user, password)
    if isinstance(confirmed, float):
        raise _wait(confirmed)
    if not confirmed:
        raise _error(web.HTTPForbidden, "wrong password", "wrong-password")
    done = await request.app[PORT_KEY].review_price(
        sku, version, decision, session.user, note or None
    )
    if not done:
        raise _error(
            web.HTTPConflict,
            f"{sku} version {version} is not held (any more)",
            "not-held",
            sku=sku,
            version=version,
        )
    return web.json_response({"sku": sku, "version": version, "decision": decision})


async def shelf(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    if not query:
        raise _error(web.HTTPBadRequest, "give q: a SKU or a label id", "bad-request")
    view = request.app[PORT_KEY].shelf(query)
    if view is None:
        raise _error(web.HTTPNotFound, f"no SKU or label {query!r}", "not-found", q=query)
    return web.json_response(view)


async def config_view(request: web.Request) -> web.Response:
    _require(request, Role.ADMIN)
    return web.json_response(request.app[PORT_KEY].config())


MAX_HISTORY_HOURS = 7 * 24


async def device_history(request: web.Request) -> web.Response:
    text = request.query.get("hours", "24")
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not 0 < hours <= MAX_HISTORY_HOURS:
        raise _error(
            web.HTTPBadRequest,
            f"hours must be a number from 0 to {MAX_HISTORY_HOURS}, got {text!r}",
            "bad-request",
        )
    view = await request.app[PORT_KEY].device_history(request.match_info["device_id"], hours)
    if view is None:
        raise _error(web.HTTPNotFound, "no such device", "not-found")
    return web.json_response(view)


async def energy(request: web.Request) -> web.Response:
    view = request.app[PORT_KEY].energy()
    if view is None:
        raise _error(web.HTTPNotFound, "this store has no energy zones configured", "not-found")
    return web.json_response(view)


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _error(web.HTTPBadRequest, f"{key} must be a number", "bad-request")
    return float(value)


async def override_zone(request: web.Request) -> web.Response:
    session = _require(request, Role.TECHNICIAN)
    body = await _json_body(request)
    on = body.get("on")
    if not isinstance(on, bool):
        raise _error(web.HTTPBadRequest, "on must be true or false", "bad-request")
    duration = _number(body, "duration_s")
    if duration is None:
        raise _error(
            web.HTTPBadRequest, "give duration_s (seconds the override lasts)", "bad-request"
        )
    level = _number(body, "level")
    if level is not None and level != int(level):
        raise _error(web.HTTPBadRequest, "level must be a whole percentage", "bad-request")
    try:
        view = request.app[PORT_KEY].override_zone(
            request.match_info["zone"],
            session.user,
            duration,
            on,
            _number(body, "setpoint"),
            None if level is None else int(level),
        )
    except UnknownZone as exc:
        raise _error(web.HTTPNotFound, f"no energy zone {exc.args[0]!r}", "not-found") from exc
    except ValueError as exc:
        raise _error(web.HTTPBadRequest, str(exc), "zone-bounds") from exc
    return web.json_response(view)


async def release_zone(request: web.Request) -> web.Response:
    _require(request, Role.TECHNICIAN)
    zone = request.match_info["zone"]
    try:
        request.app[PORT_KEY].release_zone(zone)
    except UnknownZone as exc:
        raise _error(web.HTTPNotFound, f"no energy zone {exc.args[0]!r}", "not-found") from exc
    return web.json_response({"zone": zone})


async def footfall(request: web.Request) -> web.Response:
    """A door counter's report, authenticated by the counter's own token (a bearer
    token, or ``?token=`` for counters that cannot set headers), not by a session."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else request.query.get("token", "")
    counter_id = request.match_info["counter_id"]
    body = await request.read()
    try:
        result = await request.app[PORT_KEY].footfall_report(counter_id, token, body)
    except CounterUnauthorized as exc:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "unknown counter or wrong token"}),
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="footfall"'},
        ) from exc
    except ReportInvalid as exc:
        raise _error(web.HTTPBadRequest, str(exc), "bad-request") from exc
    return web.json_response(result)


async def openapi(_: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def live(request: web.Request) -> web.StreamResponse:
    return await request.app[LIVE_KEY].stream(request)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/login", login)
    r.add_post("/api/logout", logout)
    r.add_get("/api/session", session_info)
    r.add_get("/api/status", status)
    r.add_get("/api/devices", devices)
    r.add_get("/api/devices/{device_id}/history", device_history)
    r.add_get("/api/alerts", alerts)
    r.add_post("/api/alerts/{alert_id:.+}/acknowledge", acknowledge_alert)
    r.add_post("/api/alerts/{alert_id:.+}/silence", silence_alert)
    r.add_post("/api/alerts/{alert_id:.+}/unsilence", unsilence_alert)
    r.add_get("/api/labels", labels)
    r.add_get("/api/labels/{label_id}/{which:desired|displayed}.png", label_preview)
    r.add_post("/api/labels/{label_id}/repush", label_repush)
    r.add_post("/api/labels/{label_id}/flash", label_flash)
    r.add_get("/api/prices", prices)
    r.add_post("/api/prices/{decision:release|discard}", review_price)
    r.add_get("/api/prices/preview.png", price_preview)
    r.add_get("/api/shelf", shelf)
    r.add_get("/api/config", config_view)
    r.add_post("/api/footfall/{counter_id}", footfall)
    r.add_get("/api/energy", energy)
    r.add_post("/api/energy/zones/{zone}/override", override_zone)
    r.add_post("/api/energy/zones/{zone}/release", release_zone)
    r.add_get("/api/openapi.json", openapi)
    r.add_get("/api/live", live)
