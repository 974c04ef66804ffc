"""The local API on a unix socket in the data directory, for commands run on the box.

Access is the socket file's permissions (owner and group only), so no login is
needed: ``store-gateway devices`` talks to the running daemon through it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.access.audit import AuditLog
from gateway.access.users import UserStore, apply
from gateway.web.port import WebPort

SOCKET_NAME = "api.sock"
SHUTDOWN_S = 2.0
ASK_TIMEOUT_S = 3.0


def build_local_app(
    port: WebPort, users: UserStore | None = None, audit: AuditLog | None = None
) -> web.Application:
    app = web.Application()

    async def devices(_: web.Request) -> web.Response:
        return web.json_response({"devices": port.devices()})

    async def prices(request: web.Request) -> web.Response:
        sku = request.query.get("sku") or None
        held = request.query.get("held") == "1"
        return web.json_response({"prices": await port.price_catalogue(sku, held)})

    async def change_users(request: web.Request) -> web.Response:
        """``store-gateway users``: the change, audited as the command line's."""
        if users is None or audit is None:
            return web.json_response({"error": "this gateway keeps no users"})
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "the body must be a JSON object"})
        return web.json_response(await apply(users, body, audit.record))

    app.router.add_get("/api/devices", devices)
    app.router.add_get("/api/prices", prices)
    app.router.add_post("/api/users", change_users)
    return app


async def ask_daemon(
    socket_path: Path, path: str, params: dict[str, str] | None = None
) -> Any | None:
    """GET ``path`` from the running daemon's local API (the JSON body); None when no
    daemon answers (none running, or it is starting or stopping)."""
    try:
        connector = aiohttp.UnixConnector(path=str(socket_path))
        timeout = aiohttp.ClientTimeout(total=ASK_TIMEOUT_S)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.get(f"http://localhost{path}", params=params) as resp,
        ):
            resp.raise_for_status()
            return await resp.json()
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None


def _prepare_socket_path(socket_path: Path) -> None:
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    # A socket left over by a crash; the daemon's lock guarantees no other owner.
    socket_path.unlink(missing_ok=True)


async def serve_local_api(
    port: WebPort,
    socket_path: Path,
    users: UserStore | None = None,
    audit: AuditLog | None = None,
) -> web.AppRunner:
    runner = web.AppRunner(
        build_local_app(port, users, audit), access_log=None, shutdown_timeout=SHUTDOWN_S
    )
    await runner.setup()
    _prepare_socket_path(socket_path)
    site = web.UnixSite(runner, str(socket_path))
    await site.start()
    os.chmod(socket_path, 0o660)
    return runner
