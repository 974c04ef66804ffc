"""The cloud bridge: contract lifecycle and the gateway's streams on top of the outbox.

- Last Will ``offline``/``connection-lost``; after every connect a birth
  ``online``/``connected`` with ``session`` one higher than ever used
  (persisted), then every known device's retained state;
- status heartbeat every ``status_heartbeat_s``; on shutdown ``offline``/``shutdown``;
- device state on meaningful change, never more often than ``state_min_interval_s``
  per device, and as a heartbeat every ``state_heartbeat_s``;
- telemetry sampled and batched (``telemetry.py``);
- events the components describe (:class:`gateway.contract.events.Event`: device
  lifecycle from the registry, alerts from the alert service, the gateway's own).

It is transport and streams only: what a device's label shows comes from the
label pipeline (``device_label``), what an event says from whoever owns the fact;
acks go straight into the outbox (``Outbox.produce_acks``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from gateway.bridge import meta, payloads
from gateway.bridge.mqtt import Handler, Inbound, MqttConnection, MqttOptions, Will
from gateway.bridge.outbox import Outbox, Outgoing
from gateway.bridge.publisher import Publisher
from gateway.bridge.telemetry import TelemetryBatcher, TelemetryOptions
from gateway.contract.events import Event
from gateway.registry import ChangeKind, DeviceChange, DeviceRecord, Registry
from gateway.store import Database
from gateway.timeutil import format_epoch

log = structlog.get_logger("gateway.bridge")

STATE_TICK_S = 0.5
SHUTDOWN_FLUSH_S = 3.0


@dataclass(frozen=True)
class BridgeOptions:
    mqtt: MqttOptions
    topic_prefix: str = "retail/v1"
    status_heartbeat_s: float = 60.0
    state_min_interval_s: float = 5.0
    state_heartbeat_s: float = 900.0
    max_bytes: int = 256 * 1024 * 1024
    ttl: Mapping[str, float] = field(default_factory=dict)
    telemetry: TelemetryOptions = field(default_factory=TelemetryOptions)


# (adapters, (devices, online), the shelf's status or None) for the status message
StatusView = Callable[[], tuple[list[dict[str, Any]], tuple[int, int], Mapping[str, Any] | None]]
DeviceLabel = Callable[[DeviceRecord], Mapping[str, Any] | None]


class PublishGate(Protocol):
    """What the bridge asks before it speaks for a device: is it this gateway's, and in
    which epoch (a store with several gateways: ``gateway.ownership`` answers)."""

    def owns(self, device_id: str) -> bool: ...

    def epoch(self, device_id: str) -> int: ...


class EveryDevice:
    """One gateway in the store: it speaks for every device, in epoch 1."""

    def owns(self, device_id: str) -> bool:
        return True

    def epoch(self, device_id: str) -> int:
        return 1


class ConnectionWatcher(Protocol):
    async def connected(self) -> None: ...

    def disconnected(self) -> None: ...


class Bridge:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        outbox: Outbox,
        options: BridgeOptions,
        version: str,
        started_at: float,
        *,
        status_view: StatusView,
        device_label: DeviceLabel,
        on_command: Handler,
        ownership: PublishGate | None = None,
        signals: Sequence[str] = (),
        on_signal: Callable[[Inbound], None] | None = None,
    ) -> None:
        self._db = db
        self._registry = registry
        self.outbox = outbox
        self.ident = outbox.identity
        self.topics = outbox.topics
        self.options = options
        self._version = version
        self._started_at = started_at
        self._status_view = status_view
        self._device_label = device_label
        # Several gateways in one store: only the owner of a device publishes about it.
        self._ownership: PublishGate = ownership or EveryDevice()
        self._connection_watchers: list[ConnectionWatcher] = []
        self.connection = MqttConnection(
            options.mqtt,
            self._will,
            [self.topics.store_commands, self.topics.gateway_commands],
            on_command,
            self._on_connected,
            self._on_disconnected,
            signals=signals,
            on_signal=on_signal,
        )
        self.publisher = Publisher(
            self.outbox,
            self.connection,
            options.mqtt.inflight,
            rate=options.mqtt.publish_rate,
            max_message_bytes=options.mqtt.max_message_bytes,
        )
        self.batcher = TelemetryBatcher(options.telemetry)
        self.session = 0
        self._next_session = 1
        self._dirty: set[str] = set()
        self._state_at: dict[str, float] = {}
        self._events: list[Outgoing] = []
        self.connected_since: float | None = None
        self.disconnected_since: float | None = time.time()
        self.last_disconnect_reason: str | None = None
        registry.subscribe(self._on_change)

    # ---- start and stop -----------------------------------------------------------------

    async def open(self) -> None:
        await self.outbox.open()
        self.session = await self._db.read(meta.session)
        self._next_session = self.session + 1

    def tasks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The bridge's long-running pieces, for the supervisor."""
        return {
            "mqtt": self.connection.run,
            "publisher": self.publisher.run,
            "bridge-streams": self._streams_loop,
            "bridge-status": self._status_loop,
        }

    async def shutdown(self) -> None:
        """Announce ``offline``/``shutdown``, flush briefly, then disconnect cleanly."""
        await self.flush_events()
        await self._produce_status("offline", "shutdown")
        if self.connection.state.value == "connected":
            await self.publisher.drained(SHUTDOWN_FLUSH_S)
            await self.connection.disconnect()

    # ---- lifecycle ----------------------------------------------------------------------

    def _will(self) -> Will:
        body = payloads.status(
            self.ident,
            state="offline",
            reason="connection-lost",
            session=self._next_session,
            version=self._version,
            now=time.time(),
        )
        return Will(self.topics.status, json.dumps(body, separators=(",", ":")).encode())

    async def _on_connected(self) -> None:
        self.session = self._next_session
        self._next_session += 1
        session = self.session
        await self._db.run(lambda d: meta.set_session(d, session))
        self.connected_since = time.time()
        self.disconnected_since = None
        self.outbox.connected = True
        await self._produce_status("online", "connected")
        # Rebuild the cloud's view: every known device's retained state.
        await self._produce_states(self._owned_ids(), force=True)
        self.publisher.online()
        for watcher in self._connection_watchers:
            await watcher.connected()
        log.info(
            "connected to the broker",
            session=session,
            host=self.options.mqtt.host,
            port=self.options.mqtt.port,
        )

    def _on_disconnected(self, reason: str) -> None:
        self.outbox.connected = False
        self.publisher.offline()
        self.connected_since = None
        self.disconnected_since = time.time()
        self.last_disconnect_reason = reason
        for watcher in self._connection_watchers:
            watcher.disconnected()
        log.warning("lost the broker", reason=reason)

    async def _produce_status(self, state: str, reason: str) -> None:
        adapters, devices, shelf = self._status_view()
        body = payloads.status(
            self.ident,
            state=state,
            reason=reason,
            session=max(1, self.session),
            version=self._version,
            now=time.time(),
            started_at=self._started_at,
            buffer=self.outbox.view(),
            adapters=adapters,
            devices=devices,
            shelf=shelf,
        )
        await self.outbox.produce(
            [Outgoing("status", self.topics.status, body, retain=True, conflate="status")]
        )

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.status_heartbeat_s)
            if self.connection.state.value == "connected":
                await self._produce_status("online", "heartbeat")
            await self.outbox.expire()

    # ---- device state, telemetry, device events -----------------------------------------

    def watch_connection(self, watcher: ConnectionWatcher) -> None:
        """``watcher`` is told of every connect (after the birth) and disconnect."""
        self._connection_watchers.append(watcher)

    def _owned_ids(self) -> list[str]:
        owns = self._ownership.owns
        return [d.device_id for d in self._registry if owns(d.device_id)]

    def gained(self, device_id: str) -> None:
        """The device is ours now: its state goes out at once, in its new epoch."""
        self._state_at.pop(device_id, None)
        self._dirty.add(device_id)

    async def lost(self, device_id: str) -> None:
        """The device is another gateway's now: nothing more about it from here, not even
        a state still waiting in the outbox."""
        self._dirty.discard(device_id)
        await self.outbox.forget_state(device_id)

    def _on_change(self, change: DeviceChange) -> None:
        if not self._ownership.owns(change.device.device_id):
            return
        self._dirty.add(change.device.device_id)
        if change.kinds & {ChangeKind.READINGS, ChangeKind.NEW}:
            self.batcher.sample(change.device, change.readings)

    async def _streams_loop(self) -> None:
        heartbeat_at = sampled_at = time.monotonic()
        sample_every = min(60.0, self.options.telemetry.sample_interval_s)
        while True:
            await asyncio.sleep(STATE_TICK_S)
            await self.flush_events()
            now = time.monotonic()
            if now - heartbeat_at >= min(60.0, self.options.state_heartbeat_s / 4):
                heartbeat_at = now
                owned = self._owned_ids()
                stale = [
                    i
                    for i in owned
                    if now - self._state_at.get(i, -1e18) >= self.options.state_heartbeat_s
                ]
                self._dirty.update(stale)
            if now - sampled_at >= sample_every:
                # Readings that stay within their dead-bands are sampled all the same, once
                # per sample interval (changes beyond them are sampled as they come).
                sampled_at = now
                owns = self._ownership.owns
                for device in self._registry:
                    if device.online and owns(device.device_id):
                        self.batcher.sample(device, slack=STATE_TICK_S)
            await self._produce_states(list(self._dirty))
            if not self._dirty:
                # A set never gives back its table: the heartbeat marks every device.
                self._dirty = set()
            batches = self.batcher.due_batches()
            if batches:
                wall = time.time()
                await self.outbox.produce(
                    [
                        Outgoing(
                            "telemetry",
                            self.topics.telemetry,
                            payloads.telemetry(self.ident, b, wall),
                        )
                        for b in batches
                    ]
                )

    async def flush_events(self) -> None:
        if self._events:
            events, self._events = self._events, []
            await self.outbox.produce(events)

    async def _produce_states(self, device_ids: Sequence[str], force: bool = False) -> None:
        now = time.monotonic()
        wall = time.time()
        out = []
        for device_id in device_ids:
            if (
                not force
                and now - self._state_at.get(device_id, -1e18) < self.options.state_min_interval_s
            ):
                continue
            device = self._registry.get(device_id)
            self._dirty.discard(device_id)
            if device is None or not self._ownership.owns(device_id):
                continue
            self._state_at[device_id] = now
            body = payloads.device_state(
                self.ident,
                device,
                seq=0,
                now=wall,
                label=self._device_label(device),
                owner_epoch=self._ownership.epoch(device_id),
            )
            out.append(
                Outgoing(
                    "state",
                    self.topics.device_state(device_id),
                    body,
                    retain=True,
                    conflate=f"state:{device_id}",
                    device_id=device_id,
                )
            )
        if out:
            await self.outbox.produce(out)

    # ---- events ----------------------------------------------------------------------------

    def queue_event(self, event: Event) -> None:
        """From synchronous code: committed by the next flush (within ``STATE_TICK_S``)."""
        self._events.append(self.outbox.event_item(event))

    async def emit(self, event: Event) -> None:
        """Durably queue ``event``, after any queued before it; returns once committed."""
        self._events.append(self.outbox.event_item(event))
        await self.flush_events()

    async def resync(self, command_id: str) -> None:
        """The ``resync`` command: status, every device state, then the completed ack."""
        await self._produce_status("online", "heartbeat")
        await self._produce_states(self._owned_ids(), force=True)
        ack = payloads.ack(
            self.ident,
            command_id=command_id,
            command_type="resync",
            status="completed",
            now=time.time(),
        )
        await self.outbox.produce_acks([ack])

    # ---- views -----------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        return {
            "connected": self.connection.state.value == "connected",
            "state": self.connection.state.value,
            "host": self.options.mqtt.host,
            "port": self.options.mqtt.port,
            "session": self.session,
            "connected_since": None
            if self.connected_since is None
            else format_epoch(self.connected_since),
            "disconnected_since": None
            if self.disconnected_since is None
            else format_epoch(self.disconnected_since),
            "last_error": self.connection.last_error,
            "published": self.publisher.published,
            "delivered": self.publisher.delivered,
            "publish_latency_s": self.publisher.latency_s,
            "buffer": self.outbox.view(),
        }

    def broker_down_s(self) -> float:
        if self.disconnected_since is None:
            return 0.0
        return time.time() - self.disconnected_since
