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

Each attempt is a :class:`_Session` of its own (its client, its futures, its
events): callbacks of a session that is gone find it closed and do nothing, so
no step has to ask "is this still my client". The numbered steps of an attempt
(set up the client, connect, wait for the CONNACK, subscribe) each end it with
their own reason. Setting the client up reads the password file and the
certificates, so it runs in a worker thread, as do the TCP/TLS connect and the
joining of a finished network thread: never on the event loop.

Two lanes in: *commands* (QoS 1, acknowledged only once handled, one at a time in
the order they came: a binding before the price for it) and *signals* (QoS 0,
handled the moment they arrive, never behind a queue of commands: in a store
with several gateways, the others' retained claims and statuses, which are
decided by their contents rather than by their order and come again, retained,
on every connect). A claim that waited behind a campaign's commands, at the
broker's in-flight window and then in the queue, used to reach the other
gateways half a minute late.

This class alone decides when to connect: paho's own reconnecting is switched
off (``reconnect_on_failure=False``; paho's network thread would otherwise
retry on its own schedule, up to two minutes apart, and could bring an old
client back beside the new one). When is the :class:`ReconnectPolicy`'s
business: exponential backoff with full jitter between the configured minimum
and maximum, and at once the maximum after the broker refused the credentials
(trying them again every second would not make them right).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.tasks import spawn

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
    publish_rate: float | None = None  # publishes a second at most (the broker's limit)
    max_message_bytes: int = 256 * 1024 * 1024  # larger ones the broker refuses
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


# CONNACK reasons that mean "your credentials": MQTT 5 (0x86 bad user name or password,
# 0x87 not authorized, 0x8C bad authentication method) and 3.1.1 (4, 5).
_AUTH_REFUSALS = {0x86, 0x87, 0x8C}
_AUTH_REFUSALS_311 = {4, 5}


class ReconnectPolicy:
    """When to try again: full jitter, doubling per failed attempt; the maximum at once
    after an authentication refusal; from the minimum again after a connection."""

    def __init__(self, minimum_s: float, maximum_s: float, rng: random.Random | None = None):
        self.minimum_s, self.maximum_s = minimum_s, maximum_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def connected(self) -> None:
        self._attempt = 0

    def next_delay(self, *, auth_refused: bool = False) -> float:
        if auth_refused:
            return self._rng.uniform(self.maximum_s / 2, self.maximum_s)
        delay = full_jitter(self._attempt, self.minimum_s, self.maximum_s, self._rng)
        self._attempt += 1
        return delay


class _Session:
    """One connection attempt and, if it succeeds, the connection: its own client, PUBACK
    futures and events. Closed once it ends; a closed session ignores paho's late calls."""

    def __init__(self, client: paho.Client) -> None:
        self.client = client
        self.pending: dict[int, asyncio.Future[None]] = {}
        self.connected = asyncio.Event()
        self.lost = asyncio.Event()
        self.reason: str | None = None
        self.auth_refused = False
        self.closed = False

    def end(self, reason: str) -> None:
        if not self.lost.is_set():  # the first reason is the one that counts
            self.reason = reason
            self.lost.set()

    def close(self) -> None:
        """No more of this session: what still waits for a PUBACK fails (the outbox resends)."""
        self.closed = True
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(NotConnected("connection lost before PUBACK"))
        self.pending.clear()


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
        *,
        signals: Sequence[str] = (),
        on_signal: Callable[[Inbound], None] | None = None,
    ) -> None:
        self.options = options
        self._will = will
        self._subscriptions = subscriptions
        self._on_message = on_message
        if signals and on_signal is None:
            raise ValueError("signals to subscribe to need an on_signal handler")
        self._signals = tuple(signals)
        self._on_signal = on_signal
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.state = ConnectionState.DISCONNECTED
        self.last_error: str | None = None
        self.auth_refused = False
        self.connects = 0
        self.policy = ReconnectPolicy(options.reconnect_min_s, options.reconnect_max_s)
        self._session: _Session | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pubacks: deque[tuple[_Session, int, bool, str]] = deque()
        self._pubacks_scheduled = False
        # Inbound messages are handled one at a time, in the order they arrived:
        # commands depend on each other (a binding before the price for it).
        self._inbound: asyncio.Queue[tuple[_Session, Inbound]] = asyncio.Queue()

    # ---- the supervised task -----------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        consumer = spawn(self._consume(), name="mqtt-inbound")
        try:
            while True:
                self.state = ConnectionState.CONNECTING
                session = await self._attempt()
                if session is not None:
                    await self._serve(session)
                    # Told once per connection, whatever ended it (paho may report a
                    # keepalive timeout twice; a failed publish ends it without paho).
                    self._on_disconnected(self.last_error or "connection lost")
                self.state = ConnectionState.DISCONNECTED
                delay = self.policy.next_delay(auth_refused=self.auth_refused)
                log.info("mqtt reconnect", in_s=round(delay, 2), error=self.last_error)
                await asyncio.sleep(delay)
        finally:
            consumer.cancel()
            self.state = ConnectionState.STOPPED
            session, self._session = self._session, None
            if session is not None:
                session.close()
                # Cancelled (the daemon stops): close in a thread of its own
                # rather than wait for it here or block the loop.
                threading.Thread(target=_close, args=(session.client,), daemon=True).start()

    async def _attempt(self) -> _Session | None:
        """One connection attempt, in numbered steps; the session once connected, or None
        with ``last_error`` saying which step failed and why."""
        o = self.options
        # 1. The client: reads the password file and the certificates (a worker thread).
        try:
            client = await asyncio.to_thread(self._make_client)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.last_error = f"cannot set up the client: {exc}"
            log.error("mqtt client setup failed", error=self.last_error)
            return None
        session = _Session(client)
        self._bind(session)
        self._attach(session)
        # 2. TCP connect, TLS handshake, CONNECT sent: blocking, so not on the loop.
        try:
            await asyncio.to_thread(self._open, client)
        except (OSError, ValueError) as exc:
            self.last_error = f"cannot connect to {o.host}:{o.port}: {exc}"
            await self._end(session)
            return None
        client.loop_start()
        # 3. The CONNACK, within its time.
        waiter = asyncio.ensure_future(session.connected.wait())
        lost = asyncio.ensure_future(session.lost.wait())
        done, pending = await asyncio.wait(
            {waiter, lost}, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        for f in pending:
            f.cancel()
        if waiter not in done or session.lost.is_set():
            self.last_error = session.reason or f"no CONNACK within {CONNECT_TIMEOUT_S:.0f} s"
            self.auth_refused = session.auth_refused
            await self._end(session)
            return None
        # 4. Subscribed (in the CONNACK's callback): connected.
        self.auth_refused = False
        self.last_error = None
        return session

    async def _serve(self, session: _Session) -> None:
        """The connection's life: after-connect work, then until it is lost."""
        self.policy.connected()
        self.state = ConnectionState.CONNECTED
        self.connects += 1
        try:
            await self._on_connected()
        except Exception:
            log.exception("after-connect work failed; reconnecting")
            session.end("after-connect work failed")
        await session.lost.wait()
        self.state = ConnectionState.DISCONNECTED
        self.last_error = session.reason
        await self._end(session)

    def _attach(self, session: _Session) -> None:
        self._session = session

    async def _end(self, session: _Session) -> None:
        session.close()
        if self._session is session:
            self._session = None
        await asyncio.to_thread(_close, session.client)

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
        """A paho client for one attempt (worker thread: reads files)."""
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
        return client

    # ---- paho callbacks (paho's thread): hand over to the loop, nothing else ------------

    def _bind(self, session: _Session) -> None:
        """Route the session's paho callbacks to it (set before connecting)."""
        c = session.client
        c.on_connect = lambda _c, _u, _f, reason, _p: self._call(
            self._connected_in_loop, session, reason
        )
        c.on_disconnect = lambda _c, _u, _f, reason, _p: self._call(
            self._disconnected_in_loop, session, str(reason)
        )
        c.on_publish = lambda _c, _u, mid, reason, _p: self._cb_publish(session, mid, reason)
        c.on_message = lambda _c, _u, message: self._call(
            self._message_in_loop, session, _inbound(message)
        )

        def signal(_c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
            self._call(self._signal_in_loop, session, _inbound(message))

        for topic in self._signals:  # paho routes what matches these here, not to on_message
            c.message_callback_add(topic, signal)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # the process is stopping; a client closed in the background still calls
        with contextlib.suppress(RuntimeError):  # the loop closed just now
            loop.call_soon_threadsafe(fn, *args)

    def _cb_publish(self, session: _Session, mid: int, reason: Any) -> None:
        self._pubacks.append((session, mid, bool(reason.is_failure), str(reason)))
        if not self._pubacks_scheduled:
            # Else the hand-over already on its way takes this one too.
            self._pubacks_scheduled = True
            self._call(self._pubacks_in_loop)

    # ---- the same, on the loop ---------------------------------------------------------

    def _connected_in_loop(self, session: _Session, reason: Any) -> None:
        if session.closed:
            return
        if reason.is_failure:
            session.auth_refused = _is_auth_refusal(reason, self.options.protocol)
            what = "refused the credentials" if session.auth_refused else "refused the connection"
            session.end(f"the broker {what}: {reason}")
            return
        for topic in self._subscriptions:
            session.client.subscribe(topic, qos=1)
        for topic in self._signals:
            session.client.subscribe(topic, qos=0)
        session.connected.set()

    def _disconnected_in_loop(self, session: _Session, reason: str) -> None:
        if not session.closed:
            session.end(f"disconnected: {reason}")

    def _pubacks_in_loop(self) -> None:
        # Cleared before draining: a PUBACK queued from now on either is drained
        # below or schedules the next hand-over.
        self._pubacks_scheduled = False
        while self._pubacks:
            session, mid, failed, reason = self._pubacks.popleft()
            fut = session.pending.pop(mid, None)
            if session.closed or fut is None or fut.done():
                continue
            if failed:
                fut.set_exception(PublishRefused(reason))
            else:
                fut.set_result(None)

    def _message_in_loop(self, session: _Session, inbound: Inbound) -> None:
        if not session.closed:  # else from a connection that is gone: it will be redelivered
            self._inbound.put_nowait((session, inbound))

    def _signal_in_loop(self, session: _Session, inbound: Inbound) -> None:
        if session.closed or self._on_signal is None:
            return
        try:
            self._on_signal(inbound)
        except Exception:
            # Nothing to redeliver at QoS 0: a retained signal comes again on the next connect.
            log.exception("signal not handled", topic=inbound.topic)

    async def _consume(self) -> None:
        while True:
            session, inbound = await self._inbound.get()
            if not session.closed:
                await self._deliver(session, inbound)

    async def _deliver(self, session: _Session, inbound: Inbound) -> None:
        try:
            await self._on_message(inbound)
        except Exception:
            # Not acknowledged: the broker redelivers it on the next session.
            log.exception(
                "inbound message not handled; it will be redelivered", topic=inbound.topic
            )
            return
        if not session.closed and inbound.qos > 0:
            session.client.ack(inbound.mid, inbound.qos)

    # ---- publishing -------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> asyncio.Future[None]:
        """Send now; the future resolves on PUBACK (QoS 1) or at once (QoS 0)."""
        session = self._session
        if session is None or session.closed or self.state is not ConnectionState.CONNECTED:
            raise NotConnected("not connected to the broker")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        info = session.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            session.end(f"publish failed: {paho.error_string(info.rc)}")
            raise NotConnected(paho.error_string(info.rc))
        if qos == 0:
            fut.set_result(None)
        else:
            session.pending[info.mid] = fut
        return fut

    @property
    def unacknowledged(self) -> int:
        """Publishes of the current connection still waiting for their PUBACK."""
        return 0 if self._session is None else len(self._session.pending)

    def drop(self, reason: str) -> None:
        """End the current connection as if the link died; the run task reconnects."""
        if self._session is not None:
            self._session.end(reason)

    async def disconnect(self) -> None:
        """Graceful: DISCONNECT (no will); the run task then reconnects unless cancelled."""
        session = self._session
        if session is not None:
            await asyncio.to_thread(session.client.disconnect)


def _inbound(message: paho.MQTTMessage) -> Inbound:
    return Inbound(message.topic, bytes(message.payload), message.mid, message.qos)


def _is_auth_refusal(reason: Any, protocol: str) -> bool:
    value = getattr(reason, "value", None)
    if not isinstance(value, int):
        return False
    return value in (_AUTH_REFUSALS if protocol == "5" else _AUTH_REFUSALS | _AUTH_REFUSALS_311)


def _close(client: paho.Client) -> None:
    """Disconnect and join paho's network thread (worker thread: the join can wait)."""
    with contextlib.suppress(Exception):
        client.disconnect()
    with contextlib.suppress(Exception):
        client.loop_stop()
