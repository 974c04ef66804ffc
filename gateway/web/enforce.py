"""Every API endpoint names its action; one middleware checks and audits it.

``@does(Action.X)`` on a handler says what it does. For every request under ``/api/``
the middleware (after the session is found) refuses what the session's role may not
do (``gateway/web/access.py``), asks for a step-up before a sensitive action, slows a
session acting faster than a person could, and records every action of a person in
the audit trail: done or refused, with its target, never a secret. Reading (``view``)
is not recorded unless refused. An endpoint without an action cannot be added: the app
refuses to start (``check_routes``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway.access.audit import Entry, Via
from gateway.web.access import READS, SENSITIVE, Action, allowed, least_role
from gateway.web.keys import AUDIT_KEY, AUDIT_NOTE_KEY, AUTH_KEY, SESSION_KEY, USERS_KEY
from gateway.web.security import Handler, Session

_ACTIONS: dict[object, Action] = {}
_OPEN: set[object] = set()  # no session: signing in, people counters (their own token)


def does(action: Action) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        _ACTIONS[handler] = action
        return handler

    return mark


def open_endpoint(handler: Handler) -> Handler:
    _OPEN.add(handler)
    return handler


def action_of(handler: object) -> Action | None:
    return _ACTIONS.get(handler)


def is_open(handler: object) -> bool:
    return handler in _OPEN


def check_routes(app: web.Application) -> None:
    """Every route under /api/ names an action (else a handler would go unchecked)."""
    missing = [
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
        and action_of(route.handler) is None
        and not is_open(route.handler)
    ]
    if missing:
        raise RuntimeError(f"API routes without an action: {', '.join(missing)}")


def error(
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


def via(request: web.Request) -> Via:
    return "page" if request.headers.get("X-Client") == "page" else "api"


def note(request: web.Request, target: str | None = None, detail: str | None = None) -> None:
    """What a handler adds to its audit entry (the SKU and version of a decision...)."""
    request[AUDIT_NOTE_KEY] = (target, detail)


async def record(
    request: web.Request,
    session: Session | None,
    action: str,
    *,
    ok: bool = True,
    target: str | None = None,
    detail: str | None = None,
    second_factor: bool = False,
    actor: str | None = None,
    tell: bool = True,
) -> None:
    """One audit entry for this request (the person, their address, how they came)."""
    await request.app[AUDIT_KEY].record(
        Entry(
            actor if actor is not None else (session.user if session else None),
            session.role.name.lower() if session else None,
            action,
            target,
            via(request),
            request.remote,
            second_factor,
            ok,
            detail,
        ),
        tell=tell,
    )


def _target(request: web.Request) -> str | None:
    info = dict(request.match_info)
    info.pop("decision", None)
    info.pop("which", None)
    return "/".join(str(v) for v in info.values()) or None


def _code_of(exc: web.HTTPException) -> str:
    try:
        body: Any = json.loads(exc.text or "{}")
    except ValueError:
        return str(exc.status)
    return str(body.get("code") or exc.status) if isinstance(body, dict) else str(exc.status)


@web.middleware
async def enforce(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = request.get(SESSION_KEY)
    action = action_of(request.match_info.handler)
    if session is None or action is None:
        return await handler(request)  # no session needed (open endpoints, the page)
    if session.enrol_only and action is not Action.SELF:
        raise error(
            web.HTTPForbidden,
            "set up your second factor first (your role needs one)",
            "second-factor-setup",
        )
    if not allowed(session.role, action):
        await record(request, session, action.value, ok=False, target=_target(request))
        need = least_role(action)
        raise error(
            web.HTTPForbidden,
            f"{action.value} needs the {need.name.lower()} role",
            "forbidden",
            action=action.value,
            role=need.name.lower(),
        )
    mono = time.monotonic()
    if action in SENSITIVE and not session.stepped_up(mono):
        if not request.app[USERS_KEY].has_second_factor(session.user):
            raise error(
                web.HTTPForbidden,
                f"{action.value} needs a second factor: set one up under Account",
                "second-factor-needed",
                action=action.value,
            )
        raise error(
            web.HTTPForbidden,
            f"{action.value} needs your second factor again (a code from your app)",
            "step-up",
            action=action.value,
        )
    if action not in READS and action is not Action.SELF:
        wait = request.app[AUTH_KEY].pace(session, action)
        if wait is not None:
            if wait.first:  # audited once per slowed minute
                await record(
                    request,
                    session,
                    action.value,
                    ok=False,
                    target=_target(request),
                    detail=f"slowed: more than {wait.limit} a minute",
                )
            seconds = int(wait.seconds) + 1
            raise error(
                web.HTTPTooManyRequests,
                f"more than {wait.limit} {action.value} a minute: wait {seconds} s",
                "too-fast",
                headers={"Retry-After": str(seconds)},
                wait_s=seconds,
                limit=wait.limit,
            )
    audited = action not in READS and action is not Action.SELF
    second = action in SENSITIVE
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if audited and exc.status >= 400:
            target, detail = request.get(AUDIT_NOTE_KEY, (None, None))
            await record(
                request,
                session,
                action.value,
                ok=False,
                target=target or _target(request),
                detail=detail or _code_of(exc),
                second_factor=second,
            )
        raise
    if audited:
        target, detail = request.get(AUDIT_NOTE_KEY, (None, None))
        await record(
            request,
            session,
            action.value,
            ok=response.status < 400,
            target=target or _target(request),
            detail=detail,
            second_factor=second,
        )
    return response
