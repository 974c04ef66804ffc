"""The JSON API under ``/api/`` (described by ``/api/openapi.json``)."""

from __future__ import annotations

import json
import math
import time
from typing import Any, Literal

from aiohttp import web

from gateway.web import api_access
from gateway.web.access import Action
from gateway.web.api_access import json_body
from gateway.web.enforce import does, error, note, open_endpoint
from gateway.web.keys import LIVE_KEY, PORT_KEY, SESSION_KEY, WEB_INFO_KEY
from gateway.web.openapi import OPENAPI
from gateway.web.port import CounterUnauthorized, ReportInvalid, UnknownAlert, UnknownZone

MAX_SILENCE_S = 7 * 24 * 3600


@does(Action.VIEW)
async def status(request: web.Request) -> web.Response:
    view = request.app[PORT_KEY].status()
    view["web"] = request.app[WEB_INFO_KEY]
    return web.json_response(view)


@does(Action.VIEW)
async def devices(request: web.Request) -> web.Response:
    return web.json_response({"devices": request.app[PORT_KEY].devices()})


@does(Action.VIEW)
async def alerts(request: web.Request) -> web.Response:
    return web.json_response(request.app[PORT_KEY].alerts())


@does(Action.ALERT_ACKNOWLEDGE)
async def acknowledge_alert(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    try:
        view = await request.app[PORT_KEY].acknowledge_alert(
            request.match_info["alert_id"], session.user
        )
    except UnknownAlert as exc:
        raise error(web.HTTPNotFound, str(exc.args[0]), "not-found") from exc
    return web.json_response(view)


@does(Action.ALERT_SILENCE)
async def silence_alert(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    body = await json_body(request)
    duration = body.get("duration_s")
    if (
        not isinstance(duration, int)
        or isinstance(duration, bool)
        or not (60 <= duration <= MAX_SILENCE_S)
    ):
        raise error(
            web.HTTPBadRequest,
            f"duration_s must be an integer from 60 to {MAX_SILENCE_S}",
            "bad-request",
        )
    try:
        view = await request.app[PORT_KEY].silence_alert(
            request.match_info["alert_id"], session.user, time.time() + duration
        )
    except UnknownAlert as exc:
        raise error(web.HTTPNotFound, str(exc.args[0]), "not-found") from exc
    return web.json_response(view)


@does(Action.ALERT_UNSILENCE)
async def unsilence_alert(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    try:
        view = await request.app[PORT_KEY].unsilence_alert(
            request.match_info["alert_id"], session.user
        )
    except UnknownAlert as exc:
        raise error(web.HTTPNotFound, str(exc.args[0]), "not-found") from exc
    return web.json_response(view)


@does(Action.VIEW)
async def labels(request: web.Request) -> web.Response:
    return web.json_response({"labels": request.app[PORT_KEY].labels()})


@does(Action.VIEW)
async def label_preview(request: web.Request) -> web.Response:
    which: Literal["desired", "displayed"] = (
        "desired" if request.match_info["which"] == "desired" else "displayed"
    )
    png = await request.app[PORT_KEY].label_preview(request.match_info["label_id"], which)
    if png is None:
        raise error(web.HTTPNotFound, f"no {which} content for this label", "not-found")
    return web.Response(body=png, content_type="image/png")


@does(Action.LABEL_WRITE)
async def label_repush(request: web.Request) -> web.Response:
    label_id = request.match_info["label_id"]
    if not request.app[PORT_KEY].repush_label(label_id):
        raise error(
            web.HTTPConflict,
            "this label has no content to write (bind it and price it)",
            "no-content",
        )
    return web.json_response({"label_id": label_id, "status": "pending"})


@does(Action.LABEL_FLASH)
async def label_flash(request: web.Request) -> web.Response:
    raise error(web.HTTPConflict, "this label model has no LED to flash", "no-led")


@does(Action.VIEW)
async def prices(request: web.Request) -> web.Response:
    return web.json_response(request.app[PORT_KEY].prices())


def _version(text: object) -> int:
    if isinstance(text, int) and not isinstance(text, bool) and text >= 1:
        return text
    if isinstance(text, str) and text.isdigit() and int(text) >= 1:
        return int(text)
    raise error(
        web.HTTPBadRequest, f"version must be a whole number from 1, got {text!r}", "bad-request"
    )


def _sku(text: object) -> str:
    if not isinstance(text, str) or not 1 <= len(text) <= 64:
        raise error(web.HTTPBadRequest, "sku must be text of 1 to 64 characters", "bad-request")
    return text


@does(Action.VIEW)
async def price_preview(request: web.Request) -> web.Response:
    q = request.query
    sku, version = _sku(q.get("sku")), _version(q.get("version"))
    png = await request.app[PORT_KEY].price_preview(sku, version, q.get("label_id", ""))
    if png is None:
        raise error(web.HTTPNotFound, "no such held price, or not one of its labels", "not-found")
    return web.Response(body=png, content_type="image/png")


async def _review_price(
    request: web.Request, decision: Literal["release", "discard"]
) -> web.Response:
    """An admin releases or discards a held price (a sensitive action: a second factor
    confirmed within the last minutes, checked before this runs)."""
    session = request[SESSION_KEY]
    body = await json_body(request)
    sku, version = _sku(body.get("sku")), _version(body.get("version"))
    text = body.get("note")
    if text is not None and (not isinstance(text, str) or len(text) > 200):
        raise error(
            web.HTTPBadRequest, "note must be text of at most 200 characters", "bad-request"
        )
    note(request, f"{sku}@{version}", text or None)
    done = await request.app[PORT_KEY].review_price(
        sku, version, decision, session.user, text or None
    )
    if not done:
        raise error(
            web.HTTPConflict,
            f"{sku} version {version} is not held (any more)",
            "not-held",
            sku=sku,
            version=version,
        )
    return web.json_response({"sku": sku, "version": version, "decision": decision})


@does(Action.PRICE_RELEASE)
async def release_price(request: web.Request) -> web.Response:
    return await _review_price(request, "release")


@does(Action.PRICE_DISCARD)
async def discard_price(request: web.Request) -> web.Response:
    return await _review_price(request, "discard")


@does(Action.LABEL_WRITE_SKU)
async def rewrite_sku(request: web.Request) -> web.Response:
    """Every label bound to a SKU written again (a sensitive action)."""
    sku = _sku((await json_body(request)).get("sku"))
    labels = request.app[PORT_KEY].repush_sku(sku)
    note(request, sku, None if labels is None else f"{len(labels)} labels")
    if labels is None:
        raise error(web.HTTPNotFound, f"no label is bound to {sku!r}", "not-found", sku=sku)
    return web.json_response({"sku": sku, "labels": labels})


@does(Action.VIEW)
async def shelf(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()
    if not query:
        raise error(web.HTTPBadRequest, "give q: a SKU or a label id", "bad-request")
    view = request.app[PORT_KEY].shelf(query)
    if view is None:
        raise error(web.HTTPNotFound, f"no SKU or label {query!r}", "not-found", q=query)
    return web.json_response(view)


@does(Action.CONFIG_VIEW)
async def config_view(request: web.Request) -> web.Response:
    return web.json_response(request.app[PORT_KEY].config())


MAX_HISTORY_HOURS = 7 * 24


@does(Action.VIEW)
async def device_history(request: web.Request) -> web.Response:
    text = request.query.get("hours", "24")
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not 0 < hours <= MAX_HISTORY_HOURS:
        raise error(
            web.HTTPBadRequest,
            f"hours must be a number from 0 to {MAX_HISTORY_HOURS}, got {text!r}",
            "bad-request",
        )
    view = await request.app[PORT_KEY].device_history(request.match_info["device_id"], hours)
    if view is None:
        raise error(web.HTTPNotFound, "no such device", "not-found")
    return web.json_response(view)


@does(Action.VIEW)
async def energy(request: web.Request) -> web.Response:
    view = request.app[PORT_KEY].energy()
    if view is None:
        raise error(web.HTTPNotFound, "this store has no energy zones configured", "not-found")
    return web.json_response(view)


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise error(web.HTTPBadRequest, f"{key} must be a number", "bad-request")
    return float(value)


@does(Action.ZONE_OVERRIDE)
async def override_zone(request: web.Request) -> web.Response:
    session = request[SESSION_KEY]
    body = await json_body(request)
    on = body.get("on")
    if not isinstance(on, bool):
        raise error(web.HTTPBadRequest, "on must be true or false", "bad-request")
    duration = _number(body, "duration_s")
    if duration is None:
        raise error(
            web.HTTPBadRequest, "give duration_s (seconds the override lasts)", "bad-request"
        )
    level = _number(body, "level")
    if level is not None and level != int(level):
        raise error(web.HTTPBadRequest, "level must be a whole percentage", "bad-request")
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
        raise error(web.HTTPNotFound, f"no energy zone {exc.args[0]!r}", "not-found") from exc
    except ValueError as exc:
        raise error(web.HTTPBadRequest, str(exc), "zone-bounds") from exc
    return web.json_response(view)


@does(Action.ZONE_RELEASE)
async def release_zone(request: web.Request) -> web.Response:
    zone = request.match_info["zone"]
    try:
        request.app[PORT_KEY].release_zone(zone)
    except UnknownZone as exc:
        raise error(web.HTTPNotFound, f"no energy zone {exc.args[0]!r}", "not-found") from exc
    return web.json_response({"zone": zone})


@open_endpoint
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
        raise error(web.HTTPBadRequest, str(exc), "bad-request") from exc
    return web.json_response(result)


@does(Action.VIEW)
async def openapi(_: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


@does(Action.VIEW)
async def live(request: web.Request) -> web.StreamResponse:
    return await request.app[LIVE_KEY].stream(request)


def add_routes(app: web.Application) -> None:
    api_access.add_routes(app)
    r = app.router
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
    r.add_post("/api/prices/release", release_price)
    r.add_post("/api/prices/discard", discard_price)
    r.add_get("/api/prices/preview.png", price_preview)
    r.add_get("/api/shelf", shelf)
    r.add_post("/api/shelf/rewrite", rewrite_sku)
    r.add_get("/api/config", config_view)
    r.add_post("/api/footfall/{counter_id}", footfall)
    r.add_get("/api/energy", energy)
    r.add_post("/api/energy/zones/{zone}/override", override_zone)
    r.add_post("/api/energy/zones/{zone}/release", release_zone)
    r.add_get("/api/openapi.json", openapi)
    r.add_get("/api/live", live)
