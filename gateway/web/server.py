"""The technicians' web app: the page, JSON API, live feed, health and metrics.

Everything under ``/api/`` needs a session except ``/api/login``. The page is
built from ``gateway/web/app`` into ``gateway/web/dist`` (``scripts/build-page``)
and served from this package, nothing from the internet; every address that is
not the API's answers with the page (its router shows the view the address
names). ``/healthz`` is open; ``/metrics`` is open to localhost only or needs a
session, per configuration.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from aiohttp import web

from gateway.access.audit import AuditLog
from gateway.access.users import UserStore
from gateway.web import api
from gateway.web.enforce import check_routes, enforce
from gateway.web.keys import (
    AUDIT_KEY,
    AUTH_KEY,
    LIVE_KEY,
    METRICS_ACCESS_KEY,
    PORT_KEY,
    SESSION_KEY,
    USERS_KEY,
    WEB_INFO_KEY,
)
from gateway.web.live import LiveFeed
from gateway.web.port import WebPort
from gateway.web.security import Auth, Handler, csrf_ok, security_headers
from gateway.web.tls import CertInfo, TlsOptions

PAGE = Path(str(resources.files("gateway.web").joinpath("dist")))
NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>store-gateway</title>
<h1>The page is not built</h1><p>Run <code>./scripts/build-page</code> (it needs Node.js and
npm once) and reload. The JSON API under /api/ works without it.</p></html>"""

SHUTDOWN_S = 2.0
OPEN_API = frozenset({"/api/login"})
COUNTER_PATH = "/api/footfall/"  # authenticated by each counter's token (gateway/web/api.py)


@dataclass(frozen=True)
class WebOptions:
    bind: str = "127.0.0.1"
    port: int = 8443
    metrics_access: Literal["localhost", "authenticated"] = "localhost"
    tls: TlsOptions | None = field(default_factory=TlsOptions)  # None: plain HTTP

    def url(self, bound_port: int | None = None) -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{bound_port or self.port}/"


async def _metrics(request: web.Request) -> web.StreamResponse:
    """``/metrics``: prometheus-client (~1 MiB) is imported with the first scrape."""
    from gateway.web.metrics import metrics_handler

    return await metrics_handler(request)


def _is_local(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if (not path.startswith("/api/") and path != "/metrics") or path in OPEN_API:
        return await handler(request)  # the page and its assets, /healthz, logging in
    if path.startswith(COUNTER_PATH) and request.method == "POST":
        return await handler(request)  # people counters: their own token, no session
    if path == "/metrics" and request.app[METRICS_ACCESS_KEY] == "localhost" and _is_local(request):
        return await handler(request)
    session = request.app[AUTH_KEY].session_for(request)
    if session is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "login required", "code": "login-required", "args": {}}),
            content_type="application/json",
        )
    if not csrf_ok(request, session):
        raise web.HTTPForbidden(
            text=json.dumps(
                {"error": "missing or wrong CSRF token", "code": "forbidden", "args": {}}
            ),
            content_type="application/json",
        )
    request[SESSION_KEY] = session
    return await handler(request)


def build_app(
    port: WebPort,
    auth: Auth,
    users: UserStore,
    audit: AuditLog,
    options: WebOptions,
    cert: CertInfo | None = None,
) -> web.Application:
    """The app; ``cert``: the certificate served (shown on the overview)."""
    app = web.Application(
        middlewares=[security_headers(options.tls is not None), require_session, enforce],
        client_max_size=64 * 1024,
    )
    app[PORT_KEY] = port
    app[AUTH_KEY] = auth
    app[USERS_KEY] = users
    app[AUDIT_KEY] = audit
    app[WEB_INFO_KEY] = {
        "tls": None if cert is None else cert.view(),
        "client_certificates": options.tls is not None and options.tls.client_ca is not None,
    }
    app[METRICS_ACCESS_KEY] = options.metrics_access
    app[LIVE_KEY] = LiveFeed(port, app[WEB_INFO_KEY])

    # The built page's files, listed once (a request never touches the disk to look).
    files = (
        {p.relative_to(PAGE).as_posix(): p for p in PAGE.rglob("*") if p.is_file()}
        if PAGE.is_dir()
        else {}
    )

    async def page(request: web.Request) -> web.StreamResponse:
        """A file of the built page, or the page itself for any other address."""
        tail = request.match_info["tail"]
        if tail in files and tail != "index.html":
            return web.FileResponse(files[tail])
        if tail.startswith(("api/", "assets/")) or tail == "metrics":
            raise web.HTTPNotFound()
        if "index.html" not in files:
            return web.Response(text=NOT_BUILT, content_type="text/html", status=503)
        return web.FileResponse(files["index.html"], headers={"Cache-Control": "no-store"})

    async def healthz(_: web.Request) -> web.Response:
        healthy, problems = port.health()
        return web.json_response(
            {"status": "ok" if healthy else "degraded", "problems": problems},
            status=200 if healthy else 503,
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", _metrics)
    api.add_routes(app)
    app.router.add_get("/{tail:.*}", page)  # last: the API's routes come first
    check_routes(app)
    return app


async def serve(
    app: web.Application, options: WebOptions, ssl_context: ssl.SSLContext | None = None
) -> web.AppRunner:
    """Serve ``app`` (over TLS with ``ssl_context``: ``gateway/web/tls.py``)."""
    # Open live feeds would hold a stop for aiohttp's 60 s default: keep it short.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    site = web.TCPSite(runner, options.bind, options.port, ssl_context=ssl_context)
    await site.start()
    return runner
