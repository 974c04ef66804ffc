"""Alert notifications to a local siren/SMS box over HTTP, off the alert pipeline.

Transitions are queued (bounded: the oldest is dropped when full) and posted
as JSON by a task of their own, with a timeout and retries with exponential
backoff; a slow or absent receiver never delays alert evaluation or the
cloud events. Silenced alerts are not posted.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

import aiohttp
import structlog

from gateway.alerts.engine import AlertTransition
from gateway.timeutil import format_epoch

log = structlog.get_logger("gateway.alerts")

QUEUE_LIMIT = 1000
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0


@dataclass(frozen=True)
class WebhookOptions:
    url: str
    timeout_s: float = 5.0
    retries: int = 5


class Webhook:
    def __init__(self, options: WebhookOptions, store_id: str, gateway_id: str) -> None:
        self._o = options
        self._store_id = store_id
        self._gateway_id = gateway_id
        self._queue: deque[AlertTransition] = deque(maxlen=QUEUE_LIMIT)
        self._wake = asyncio.Event()
        self.sent = 0
        self.failed = 0

    def notify(self, transition: AlertTransition) -> None:
        a = transition.alert
        if a.silenced_until is not None and a.silenced_until > time.time():
            return
        self._queue.append(transition)
        self._wake.set()

    def _body(self, t: AlertTransition) -> dict[str, object]:
        a = t.alert
        return {
            "store_id": self._store_id,
            "gateway_id": self._gateway_id,
            "kind": t.kind,
            "alert_id": a.id,
            "rule": a.rule,
            "device_id": a.device_id,
            "severity": a.severity,
            "message": a.message,
            "value": a.value,
            "threshold": a.threshold,
            "started_at": format_epoch(a.started_at),
            "resolved_at": None if a.resolved_at is None else format_epoch(a.resolved_at),
        }

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._o.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                transition = self._queue[0]
                if await self._post(session, transition):
                    self.sent += 1
                else:
                    self.failed += 1
                    log.error(
                        "alert webhook gave up", alert_id=transition.alert.id, url=self._o.url
                    )
                if self._queue and self._queue[0] is transition:
                    self._queue.popleft()

    async def _post(self, session: aiohttp.ClientSession, t: AlertTransition) -> bool:
        delay = BACKOFF_MIN_S
        for attempt in range(self._o.retries + 1):
            try:
                async with session.post(self._o.url, json=self._body(t)) as resp:
                    if resp.status < 300:
                        return True
                    error = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            log.warning("alert webhook failed", attempt=attempt + 1, error=error)
            if attempt < self._o.retries:
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        return False
