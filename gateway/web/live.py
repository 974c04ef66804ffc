"""The live feed: server-sent events with changed devices and the status, once a second.

Registry changes only mark device ids dirty (cheap, on the hot path); a ticker
turns them into one batch per second for every open stream, and sleeps while
no page is open. A slow client's queue is bounded: it misses batches rather than
holding memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from gateway.web.port import WebPort

TICK_S = 1.0
QUEUE_BATCHES = 5
KEEPALIVE_S = 15.0


class LiveFeed:
    def __init__(self, port: WebPort, web_info: dict[str, Any]) -> None:
        self._port = port
        self._web_info = web_info  # the page's TLS, as /api/status shows it (kept current)
        self._dirty: set[str] = set()
        self._queues: set[asyncio.Queue[str]] = set()
        self._listening = asyncio.Event()
        port.watch_devices(self._on_change)

    def _on_change(self, device_id: str) -> None:
        if self._queues:
            self._dirty.add(device_id)

    async def run(self) -> None:
        """Supervised task: publish a batch every tick while anyone listens."""
        while True:
            await self._listening.wait()
            await asyncio.sleep(TICK_S)
            if not self._queues:
                self._dirty.clear()
                continue
            ids, self._dirty = self._dirty, set()
            batch: dict[str, Any] = {
                "status": {**self._port.status(), "web": self._web_info},
                "devices": self._port.device_views(ids),
            }
            message = f"event: update\ndata: {json.dumps(batch, ensure_ascii=False)}\n\n"
            for queue in self._queues:
                if queue.qsize() < QUEUE_BATCHES:
                    queue.put_nowait(message)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._queues.add(queue)
        self._listening.set()
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    message = ": keepalive\n\n"
                await response.write(message.encode())
        except ConnectionResetError:
            pass
        finally:
            self._queues.discard(queue)
            if not self._queues:
                self._listening.clear()
            with contextlib.suppress(Exception):
                await response.write_eof()
        return response
