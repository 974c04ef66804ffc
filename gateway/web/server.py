"""The technicians' web app: static page, JSON API, live feed, health and metrics.

Everything under ``/api/`` needs a session except ``/api/login``; pages and
their assets are static files served from this package (nothing from the
internet). ``/healthz`` is open; ``/metrics`` is open to localhost only or needs
a session, per configuration.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from aiohttp import web

from gateway.web import api
from gateway.web.keys import AUTH_KEY, LIVE_KEY, METRICS_ACCESS_KEY, PORT_KEY, SESSION_KEY
from gateway.web.live import LiveFeed
from gateway.web.port import WebPort
from gateway.web.security import Auth, Handler, csrf_ok, security_headers

STATIC = Path(str(resources.files("gateway.web").joinpath("static")))

SHUTDOWN_S = 2.0
OPEN_PATHS = frozenset({"/", "/healthz", "/api/login", "/favicon.ico"})
COUNTER_PATH = "/api/footfall/"  # authenticated by each counter's token (gateway/web/api.py)


@dataclass(frozen=True)
class WebOptions:
    bind: str = "127.0.0.1"
    port: int = 8080
    metrics_access: Literal["localhost", "authenticated"] = "localhost"


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
    if path in OPEN_PATHS or path.startswith("/static/"):
        return await handler(request)
    if path.startswith(COUNTER_PATH) and request.method == "POST":
        return await handler(request)  # people counters: their own token, no session
    if path == "/metrics" and request.app[METRICS_ACCESS_KEY] == "localhost" and _is_local(request):
        return await handler(request)
    session = request.app[AUTH_KEY].session_for(request)
    if session is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "login required"}), content_type="application/json"
        )
    if not csrf_ok(request, session):
        raise web.HTTPForbidden(
            text=json.dumps({"error": "missing or wrong CSRF token"}),
            content_type="application/json",
        )
    request[SESSION_KEY] = session
    return await handler(request)


def build_app(port: WebPort, auth: Auth, options: WebOptions) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, require_session], client_max_size=64 * 1024
    )
    app[PORT_KEY] = port
    app[AUTH_KEY] = auth
    app[METRICS_ACCESS_KEY] = options.metrics_access
    app[LIVE_KEY] = LiveFeed(port)

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def healthz(_: web.Request) -> web.Response:
        healthy, problems = port.health()
        return web.json_response(
            {"status": "ok" if healthy else "degraded", "problems": problems},
            status=200 if healthy else 503,
        )

    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_static("/static/", STATIC, append_version=False)
    api.add_routes(app)
    return app


async def serve(app: web.Application, options: WebOptions) -> web.AppRunner:
    # Open live feeds would hold a stop for aiohttp's 60 s default: keep it short.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    site = web.TCPSite(runner, options.bind, options.port)
    await site.start()
    return runner
