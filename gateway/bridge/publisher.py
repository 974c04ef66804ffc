"""The publisher: the outbox drained to the broker at QoS 1 through an in-flight window.

Up to ``window`` messages are on the wire at once. A message stays marked in
flight until its row is deleted after the PUBACK (deletions are batched), so it
is never fetched twice while acknowledged; on a lost connection the in-flight
set is cleared and those messages go out again on the next connection
(duplicates possible, never loss). A message the broker refuses for good
(MQTT 5 failure reason), or one larger than the broker takes (its profile's
``max_message_bytes``), is moved to the dead letters instead of blocking the
queue. On a broker with a publish rate (``rate``: AWS IoT Core takes 100 a
second on a connection and discards what passes it) the backlog drains at that
rate, in the outbox's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial

import structlog

from gateway.bridge.mqtt import MqttConnection, NotConnected, PublishRefused
from gateway.bridge.outbox import Outbox, Queued
from gateway.bridge.profiles import TokenBucket
from gateway.tasks import spawn, wait_set

log = structlog.get_logger("gateway.bridge")

DELETE_EVERY_S = 0.05
# Every commit of new messages, every PUBACK that frees the window and every failed
# publish wakes the publisher; with nothing to send it also looks again this often.
IDLE_POLL_S = 5.0


class Publisher:
    def __init__(
        self,
        outbox: Outbox,
        connection: MqttConnection,
        window: int,
        *,
        rate: float | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self._outbox = outbox
        self._conn = connection
        self._window = window
        self._max_bytes = max_message_bytes
        # A tenth of a second's worth in one burst: the broker counts per second.
        self._bucket = None if rate is None else TokenBucket(rate, rate / 10, time.monotonic())
        self._wake = asyncio.Event()
        self._online = asyncio.Event()
        self._acked: list[int] = []
        self._acks_waiting = asyncio.Event()
        self._outstanding = 0  # published, awaiting PUBACK
        self._epoch = 0  # bumps on every disconnect: late callbacks of old sessions are ignored
        self.published = 0
        self.delivered = 0
        self.last_progress = time.monotonic()
        self.latency_s: float | None = None
        outbox.on_produced(self._wake.set)

    def online(self) -> None:
        self._epoch += 1
        self._outstanding = 0
        self._outbox.connection_ended()
        self._online.set()
        self._wake.set()

    def offline(self) -> None:
        self._epoch += 1
        self._outstanding = 0
        self._online.clear()
        self._outbox.connection_ended()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        deleter = spawn(self._delete_loop(), name="outbox-delete")
        try:
            while True:
                self.last_progress = time.monotonic()
                if not self._online.is_set():
                    await wait_set(self._online, 5.0)
                    continue
                free = self._window - self._outstanding
                batch = await self._outbox.next_batch(free) if free > 0 else []
                if not batch:
                    self._wake.clear()
                    await wait_set(self._wake, IDLE_POLL_S)
                    continue
                now = self._outbox.now()
                epoch = self._epoch
                for message in batch:
                    if self._bucket is not None:
                        await self._paced(self._bucket)
                    if epoch != self._epoch:
                        break
                    payload = message.wire_payload(now)
                    if self._max_bytes is not None and len(payload) > self._max_bytes:
                        self._outbox.sending(message.id)
                        spawn(
                            self._bury(
                                message,
                                f"{len(payload)} bytes, more than the broker takes "
                                f"({self._max_bytes})",
                            ),
                            name="outbox-bury",
                        )
                        continue
                    try:
                        fut = self._conn.publish(message.topic, payload, 1, message.retain)
                    except NotConnected:
                        break
                    self._outbox.sending(message.id)
                    self._outstanding += 1
                    self.published += 1
                    sent = time.monotonic()
                    fut.add_done_callback(
                        partial(self._settled, message=message, epoch=epoch, sent=sent)
                    )
        finally:
            deleter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deleter

    @staticmethod
    async def _paced(bucket: TokenBucket) -> None:
        """Wait for the broker's rate to allow the next publish."""
        wait = bucket.wait(time.monotonic())
        while wait > 0:
            await asyncio.sleep(wait)
            wait = bucket.wait(time.monotonic())

    def _settled(self, fut: asyncio.Future[None], message: Queued, epoch: int, sent: float) -> None:
        # Read first, also for an old session's message: an exception never read is
        # logged by asyncio as an error.
        exc = fut.exception() if not fut.cancelled() else NotConnected("cancelled")
        if epoch != self._epoch:
            return
        self._outstanding -= 1
        if self._outstanding <= self._window // 2:
            self._wake.set()  # refill the window; acked rows stay skipped until deleted
        if exc is None:
            self._acked.append(message.id)
            self._acks_waiting.set()
            self.latency_s = time.monotonic() - sent
        elif isinstance(exc, PublishRefused):
            spawn(self._bury(message, str(exc)), name="outbox-bury")
        else:
            self._outbox.unsent(message.id)
            self._wake.set()

    async def _bury(self, message: Queued, reason: str) -> None:
        log.error(
            "broker refused a message; moved to dead letters", topic=message.topic, reason=reason
        )
        await self._outbox.bury(message, f"refused by the broker: {reason}")
        self._outbox.unsent(message.id)
        self._wake.set()

    async def _delete_loop(self) -> None:
        """Delete acknowledged rows in batches: woken by the first PUBACK, it lets more
        gather for ``DELETE_EVERY_S`` (no timer runs while nothing is acknowledged)."""
        while True:
            await self._acks_waiting.wait()
            await asyncio.sleep(DELETE_EVERY_S)
            self._acks_waiting.clear()
            if not self._acked:
                continue
            ids, self._acked = self._acked, []
            await self._outbox.delivered(ids)
            self.delivered += len(ids)
            for i in ids:
                self._outbox.unsent(i)
            self._wake.set()

    async def drained(self, budget_s: float) -> bool:
        """Wait until nothing is pending (bounded); True if the outbox emptied."""
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            if self._outbox.status.pending <= 0 and not self._outbox.in_flight:
                return True
            await asyncio.sleep(0.05)
        return False
