"""Alert webhook: posts to a local receiver, retries after a failure, skips silenced alerts."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.alerts import Alert, AlertPhase, AlertTransition
from gateway.alerts.webhook import Webhook, WebhookOptions


def transition(kind: str = "firing", silenced: bool = False) -> AlertTransition:
    alert = Alert(
        rule="fridge-too-warm",
        subject="c4d912ab0f31",
        phase=AlertPhase.FIRING,
        since_mono=0,
        started_at=1_800_000_000,
        severity="critical",
        metric="temperature_c",
        threshold=5.0,
        value=6.2,
        id="fridge-too-warm/c4d912ab0f31/1800000000",
        message="too warm",
        silenced_until=time.time() + 3600 if silenced else None,
    )
    return AlertTransition(kind, alert)  # type: ignore[arg-type]


async def test_posts_with_retry_and_skips_silenced() -> None:
    received: list[dict[str, object]] = []
    calls = 0

    async def receive(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.Response(status=503)  # the siren box is busy the first time
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/alerts", receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    hook = Webhook(WebhookOptions(url=str(server.make_url("/alerts")), retries=3), "s1", "gw-1")
    task = asyncio.create_task(hook.run())
    try:
        hook.notify(transition(silenced=True))
        hook.notify(transition("firing"))
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        assert calls == 2 and len(received) == 1
        assert received[0]["alert_id"] == "fridge-too-warm/c4d912ab0f31/1800000000"
        assert received[0]["kind"] == "firing" and received[0]["store_id"] == "s1"
        assert hook.sent == 1 and hook.failed == 0
    finally:
        task.cancel()
        await server.close()
