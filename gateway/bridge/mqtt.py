"""The MQTT connection, behind the project's own small interface (paho-mqtt underneath).

paho-mqtt 2.x directly rather than aiomqtt: aiomqtt 2.x cannot acknowledge an
inbound QoS 1 message after the application has stored it (paho's
``manual_ack``), and a command must be stored before the broker sees its PUBACK.

One paho client per connection attempt, its network loop on paho's own thread;
every callback is handed to the event loop with ``call_soon_threadsafe`` and
does no work on paho's thread. PUBACKs, the one callback that comes in
thousands per second during a drain, are queued and handed over in bursts: one
wake-up of the loop for all that arrived meanwhile. A fresh client per
connection also means paho never re-sends messages of its own on reconnect:
the outbox is the one owner of re-sending.

This class alone decides when to connect: paho's own reconnecting is switched
off (``reconnect_on_failure=False``; paho's network thread would otherwise
retry on its own schedule, up to two minutes apart, and could bring an old
client back beside the new one). The TCP/TLS connect and the joining of a
finished network thread run in worker threads, never on the event loop.
Reconnects back off exponentially with full jitter between the configured
minimum and maximum.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = structlog.get_logger("gateway.bridge")

CONNECT_TIMEOUT_S = 15.0  # from the TCP connect to the CONNACK
SOCKET_TIMEOUT_S = 10.0  # paho's socket timeout for the TCP connect and the TLS handshake


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class MqttOptions:
    host: str
    port: int
    client_id: str
    protocol: str = "5"  # "5" or "3.1.1"
    keepalive_s: float = 30.0
    session_expiry_s: float = 86400.0
    username: str | None = None
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify_hostname: bool = True
    inflight: int = 100
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int


class PublishRefused(Exception):
    """The broker answered the PUBLISH with a failure reason code (MQTT 5)."""


class NotConnected(Exception):
    """Publishing needs a connection."""


Handler = Callable[[Inbound], Awaitable[None]]


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    return rng.uniform(0, min(cap, base * (2**attempt)))


class MqttConnection:
    """Keeps one MQTT connection up; publish with PUBACK futures; manual inbound acks."""

    def __init__(
        self,
        options: MqttOptions,
        will: Callable[[], Will],
        subscriptions: list[str],
        on_message: Handler,
        on_connected: Callable[[], Awaitable[None]],
        on_disconnected: Callable[[str], None],
    ) -> None:
        self.options = options
        self._will = will
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.state = ConnectionState.DISCONNECTED
        self.last_error: str | None = None
        self.connects = 0
        self._client: paho.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._pubacks: deque[tuple[paho.Client, int, bool, str]] = deque()
        self._pubacks_scheduled = False
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._rng = random.Random()
        # Inbound messages are handled one at a time, in the order they arrived:
        # commands depend on each other (a binding before the price for it).
        self._inbound: asyncio.Queue[tuple[paho.Client, Inbound]] = asyncio.Queue()

    # ---- the supervised task -----------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        attempt = 0
        consumer = asyncio.create_task(self._consume())
        try:
            while True:
                self.state = ConnectionState.CONNECTING
                ok = await self._connect_once()
                if ok:
                    attempt = 0
                    self.state = ConnectionState.CONNECTED
                    self.connects += 1
                    try:
                        await self._on_connected()
                    except Exception:
                        log.exception("after-connect work failed; reconnecting")
                        self._drop("after-connect work failed")
                    await self._lost.wait()
                    self.state = ConnectionState.DISCONNECTED
                    # Told once per connection, whatever ended it (paho may report a
                    # keepalive timeout twice; a failed publish ends it without paho).
                    self._on_disconnected(self.last_error or "connection lost")
                await asyncio.to_thread(self._close, self._detach())
                self.state = ConnectionState.DISCONNECTED
                delay = full_jitter(
                    attempt, self.options.reconnect_min_s, self.options.reconnect_max_s, self._rng
                )
                attempt += 1
                log.info("mqtt reconnect", in_s=round(delay, 2), error=self.last_error)
                await asyncio.sleep(delay)
        finally:
            consumer.cancel()
            self.state = ConnectionState.STOPPED
            client = self._detach()
            if client is not None:
                # Cancelled (the daemon stops): close in a thread of its own
                # rather than wait for it here or block the loop.
                threading.Thread(target=self._close, args=(client,), daemon=True).start()

    async def _connect_once(self) -> bool:
        self._connected.clear()
        self._lost.clear()
        try:
            client = self._make_client()
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.last_error = f"cannot set up the client: {exc}"
            log.error("mqtt client setup failed", error=self.last_error)
            return False
        self._client = client
        try:
            # TCP connect, TLS handshake and CONNECT sent; blocking, so not on the loop.
            await asyncio.to_thread(self._open, client)
        except (OSError, ValueError) as exc:
            self.last_error = f"cannot connect to {self.options.host}:{self.options.port}: {exc}"
            return False
        client.loop_start()
        waiter = asyncio.ensure_future(self._connected.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        done, pending = await asyncio.wait(
            {waiter, lost}, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        for f in pending:
            f.cancel()
        if waiter in done and not self._lost.is_set():
            return True
        if not done:
            self.last_error = f"no CONNACK within {CONNECT_TIMEOUT_S:.0f} s"
        return False

    def _open(self, client: paho.Client) -> None:
        """Connect (worker thread). paho's socket timeout bounds the TCP and TLS steps."""
        o = self.options
        props = None
        if o.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = int(o.session_expiry_s)
        client.connect(
            o.host,
            o.port,
            keepalive=int(o.keepalive_s),
            clean_start=False if o.protocol == "5" else paho.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )

    def _make_client(self) -> paho.Client:
        o = self.options
        protocol = paho.MQTTv5 if o.protocol == "5" else paho.MQTTv311
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=o.client_id,
            protocol=protocol,
            clean_session=None if o.protocol == "5" else False,
            manual_ack=True,
            reconnect_on_failure=False,
        )
        client.connect_timeout = SOCKET_TIMEOUT_S
        client.max_inflight_messages_set(o.inflight)
        client.max_queued_messages_set(0)
        will = self._will()
        client.will_set(will.topic, will.payload, will.qos, will.retain)
        if o.username is not None:
            password = None
            if o.password_file is not None:
                password = o.password_file.read_text().rstrip("\n")
            client.username_pw_set(o.username, password)
        if o.tls:
            context = ssl.create_default_context(
                cafile=str(o.ca_file) if o.ca_file is not None else None
            )
            context.check_hostname = o.verify_hostname
            if o.cert_file is not None and o.key_file is not None:
                context.load_cert_chain(str(o.cert_file), str(o.key_file))
            client.tls_set_context(context)
        client.on_connect = self._cb_connect
        client.on_disconnect = self._cb_disconnect
        client.on_publish = self._cb_publish
        client.on_message = self._cb_message
        return client

    def _detach(self) -> paho.Client | None:
        """Forget the current client; what still waits for a PUBACK fails (the outbox resends)."""
        client, self._client = self._client, None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(NotConnected("connection lost before PUBACK"))
        self._pending.clear()
        return client

    @staticmethod
    def _close(client: paho.Client | None) -> None:
        """Disconnect and join paho's network thread (worker thread: the join can wait)."""
        if client is None:
            return
        with contextlib.suppress(Exception):
            client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_stop()

    def _drop(self, reason: str) -> None:
        if not self._lost.is_set():  # the first reason is the one that counts
            self.last_error = reason
            self._lost.set()

    # ---- paho callbacks (paho's thread): hand over to the loop, nothing else ------------

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # the process is stopping; a client closed in the background still calls
        with contextlib.suppress(RuntimeError):  # the loop closed just now
            loop.call_soon_threadsafe(fn, *args)

    def _cb_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._call(self._connected_in_loop, client, bool(reason.is_failure), str(reason))

    def _cb_disconnect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._call(self._disconnected_in_loop, client, str(reason))

    def _cb_publish(self, client: paho.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        self._pubacks.append((client, mid, bool(reason.is_failure), str(reason)))
        if not self._pubacks_scheduled:
            # Else the hand-over already on its way takes this one too.
            self._pubacks_scheduled = True
            self._call(self._pubacks_in_loop)

    def _cb_message(self, client: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        inbound = Inbound(message.topic, bytes(message.payload), message.mid, message.qos)
        self._call(self._message_in_loop, client, inbound)

    # ---- the same, on the loop ---------------------------------------------------------

    def _connected_in_loop(self, client: paho.Client, failed: bool, reason: str) -> None:
        if client is not self._client:
            return
        if failed:
            self._drop(f"connection refused: {reason}")
            return
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self.last_error = None
        self._connected.set()

    def _disconnected_in_loop(self, client: paho.Client, reason: str) -> None:
        if client is not self._client:
            return
        self._drop(f"disconnected: {reason}")

    def _pubacks_in_loop(self) -> None:
        # Cleared before draining: a PUBACK queued from now on either is drained
        # below or schedules the next hand-over.
        self._pubacks_scheduled = False
        while self._pubacks:
            self._published_in_loop(*self._pubacks.popleft())

    def _published_in_loop(self, client: paho.Client, mid: int, failed: bool, reason: str) -> None:
        if client is not self._client:
            return
        fut = self._pending.pop(mid, None)
        if fut is None or fut.done():
            return
        if failed:
            fut.set_exception(PublishRefused(reason))
        else:
            fut.set_result(None)

    def _message_in_loop(self, client: paho.Client, inbound: Inbound) -> None:
        if client is not self._client:
            return  # from a connection that is gone: it will be redelivered
        self._inbound.put_nowait((client, inbound))

    async def _consume(self) -> None:
        while True:
            client, inbound = await self._inbound.get()
            if client is self._client:
                await self._deliver(client, inbound)

    async def _deliver(self, client: paho.Client, inbound: Inbound) -> None:
        try:
            await self._on_message(inbound)
        except Exception:
            # Not acknowledged: the broker redelivers it on the next session.
            log.exception(
                "inbound message not handled; it will be redelivered", topic=inbound.topic
            )
            return
        if client is self._client and inbound.qos > 0:
            client.ack(inbound.mid, inbound.qos)

    # ---- publishing -------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> asyncio.Future[None]:
        """Send now; the future resolves on PUBACK (QoS 1) or at once (QoS 0)."""
        client = self._client
        if client is None or self.state is not ConnectionState.CONNECTED:
            raise NotConnected("not connected to the broker")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self._drop(f"publish failed: {paho.error_string(info.rc)}")
            raise NotConnected(paho.error_string(info.rc))
        if qos == 0:
            fut.set_result(None)
        else:
            self._pending[info.mid] = fut
        return fut

    async def disconnect(self) -> None:
        """Graceful: DISCONNECT (no will); the run task then reconnects unless cancelled."""
        client = self._client
        if client is not None:
            await asyncio.to_thread(client.disconnect)
