"""The local API on a unix socket in the data directory, for commands run on the box.

Access is the socket file's permissions (owner and group only), so no login is
needed: ``store-gateway devices`` talks to the running daemon through it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.registry.views import device_view

if TYPE_CHECKING:
    from gateway.daemon.app import Gateway

SOCKET_NAME = "api.sock"
SHUTDOWN_S = 2.0


def build_local_app(gateway: Gateway) -> web.Application:
    app = web.Application()

    async def devices(_: web.Request) -> web.Response:
        rows = sorted((device_view(d) for d in gateway.registry), key=lambda r: r["device_id"])
        return web.json_response({"devices": rows})

    app.router.add_get("/api/devices", devices)
    return app


def _prepare_socket_path(socket_path: Path) -> None:
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    # A socket left over by a crash; the daemon's lock guarantees no other owner.
    socket_path.unlink(missing_ok=True)


async def serve_local_api(gateway: Gateway, socket_path: Path) -> web.AppRunner:
    runner = web.AppRunner(build_local_app(gateway), access_log=None, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    _prepare_socket_path(socket_path)
    site = web.UnixSite(runner, str(socket_path))
    await site.start()
    os.chmod(socket_path, 0o660)
    return runner
