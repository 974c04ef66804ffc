"""``store-gateway simulate-building`` as the demo runs it: zones on Modbus TCP and a
door counter posting its periods with its token, sending a report again while the
gateway does not take it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from aiohttp import web

from gateway.bench.rig.broker import free_port
from gateway.energy.modbus import ModbusLink, ModbusZone, RegisterMap

pytestmark = pytest.mark.integration


@pytest.mark.timeout(60)
async def test_the_building_serves_its_zones_and_its_counter_resends_until_taken() -> None:
    posts: list[tuple[str, list[dict[str, Any]]]] = []

    async def footfall(request: web.Request) -> web.Response:
        body = await request.json()
        posts.append((request.headers.get("Authorization", ""), body["periods"]))
        # The gateway is "down" for the first two reports.
        return web.json_response({}, status=503 if len(posts) <= 2 else 200)

    app = web.Application()
    app.router.add_post("/api/footfall/door-main", footfall)
    runner = web.AppRunner(app)
    await runner.setup()
    http_port, modbus_port = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [
            sys.executable,
            "-m",
            "gateway",
            "simulate-building",
            "--port",
            str(modbus_port),
            "--period",
            "0.5",
            "--token",
            "t0k3n",
            "--footfall-url",
            f"http://127.0.0.1:{http_port}/api/footfall/door-main",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == f"MODBUS=127.0.0.1:{modbus_port}"
        link = ModbusLink("127.0.0.1", modbus_port)
        room = await ModbusZone("sales-east", link, RegisterMap(unit=1)).read()
        assert room.temperature is not None and not room.on
        lights = await ModbusZone("lights-fresh", link, RegisterMap(unit=6)).read()
        assert lights.level == 0
        link.close()
        for _ in range(100):
            if len(posts) >= 4:
                break
            await asyncio.sleep(0.1)
        assert all(auth == "Bearer t0k3n" for auth, _ in posts)
        # Refused twice: the third report carries the first two periods again.
        assert [len(p) for _, p in posts[:4]] == [1, 2, 3, 1], json.dumps(posts)
        assert posts[2][1][:2] == posts[1][1]
    finally:
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 10) == 0
        await runner.cleanup()
