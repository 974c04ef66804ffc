"""The cloud bridge: contract lifecycle and the gateway's streams on top of the outbox.

- Last Will ``offline``/``connection-lost``; after every connect a birth
  ``online``/``connected`` with ``session`` one higher than ever used
  (persisted), then every known device's retained state;
- status heartbeat every ``status_heartbeat_s``; on shutdown ``offline``/``shutdown``;
- device state on meaningful change, never more often than ``state_min_interval_s``
  per device, and as a heartbeat every ``state_heartbeat_s``;
- telemetry sampled and batched (``telemetry.py``); device lifecycle and alert
  events; acks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
import structlog

from gateway.alerts import AlertTransition
from gateway.bridge import payloads
from gateway.bridge.mqtt import Handler, MqttConnection, MqttOptions, Will
from gateway.bridge.outbox import Outbox, Outgoing
from gateway.bridge.publisher import Publisher
from gateway.bridge.telemetry import TelemetryBatcher, TelemetryOptions
from gateway.contract.topics import Topics
from gateway.registry import ChangeKind, DeviceChange, Registry
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


StatusView = Callable[[], tuple[list[dict[str, Any]], tuple[int, int]]]
LabelView = Callable[[str], Mapping[str, Any] | None]


class Bridge:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        identity: payloads.Identity,
        options: BridgeOptions,
        version: str,
        started_at: float,
        status_view: StatusView,
        on_command: Handler,
    ) -> None:
        self._db = db
        self._registry = registry
        self.ident = identity
        self.options = options
        self._version = version
        self._started_at = started_at
        self._status_view = status_view
        self.topics = Topics(options.topic_prefix, identity.store_id, identity.gateway_id)
        self.outbox = Outbox(
            db, identity, self.topics, max_bytes=options.max_bytes, ttl=options.ttl
        )
        self.connection = MqttConnection(
            options.mqtt,
            self._will,
            [self.topics.store_commands, self.topics.gateway_commands],
            on_command,
            self._on_connected,
            self._on_disconnected,
        )
        self.publisher = Publisher(self.outbox, self.connection, options.mqtt.inflight)
        self.batcher = TelemetryBatcher(options.telemetry)
        self.label_view: LabelView | None = None
        self.session = 0
        self._next_session = 1
        self._dirty: set[str] = set()
        self._state_at: dict[str, float] = {}
        self._events: list[Outgoing] = []
        self._events_flushed = asyncio.Event()
        self.connected_since: float | None = None
        self.disconnected_since: float | None = time.time()
        self.last_disconnect_reason: str | None = None
        registry.subscribe(self._on_change)

    # ---- start and stop -----------------------------------------------------------------

    async def open(self) -> None:
        await self.outbox.open()

        def last_session(d: sqlite_utils.Database) -> int:
            row = d.execute("SELECT value FROM gateway_meta WHERE key = 'session'").fetchone()
            return int(row[0]) if row else 0

        self.session = await self._db.read(last_session)
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
        await self._db.run(
            lambda d: d.execute(
                "INSERT OR REPLACE INTO gateway_meta (key, value) VALUES ('session', ?)",
                [str(session)],
            )
        )
        self.connected_since = time.time()
        self.disconnected_since = None
        self.outbox.connected = True
        await self._produce_status("online", "connected")
        # Rebuild the cloud's view: every known device's retained state.
        await self._produce_states([d.device_id for d in self._registry], force=True)
        self.publisher.online()
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
        log.warning("lost the broker", reason=reason)

    async def _produce_status(self, state: str, reason: str) -> None:
        adapters, devices = self._status_view()
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

    def _on_change(self, change: DeviceChange) -> None:
        device = change.device
        self._dirty.add(device.device_id)
        kinds = change.kinds
        if ChangeKind.READINGS in kinds or ChangeKind.NEW in kinds:
            self.batcher.sample(device, change.readings)
        if ChangeKind.NEW in kinds:
            self._device_event(
                device.device_id,
                "device.new",
                "info",
                f"new {device.kind.value} {device.model} {device.address}",
            )
        elif ChangeKind.ONLINE in kinds:
            self._device_event(
                device.device_id,
                "device.online",
                "info",
                f"{device.name or device.address} is back online",
            )
        elif ChangeKind.OFFLINE in kinds:
            self._device_event(
                device.device_id,
                "device.offline",
                "warning",
                f"{device.name or device.address} went offline",
            )

    def _device_event(self, device_id: str, type_: str, severity: str, message: str) -> None:
        body = payloads.event(
            self.ident,
            type=type_,
            severity=severity,
            message=message,
            now=time.time(),
            device_id=device_id,
        )
        self._events.append(Outgoing("events", self.topics.events, body))

    def mark_device(self, device_id: str) -> None:
        """Something about the device changed outside the registry (its label state)."""
        self._dirty.add(device_id)

    async def _streams_loop(self) -> None:
        heartbeat_at = time.monotonic()
        while True:
            await asyncio.sleep(STATE_TICK_S)
            await self.flush_events()
            now = time.monotonic()
            if now - heartbeat_at >= min(60.0, self.options.state_heartbeat_s / 4):
                heartbeat_at = now
                stale = [
                    i
                    for i in (d.device_id for d in self._registry)
                    if now - self._state_at.get(i, -1e18) >= self.options.state_heartbeat_s
                ]
                self._dirty.update(stale)
                for device in self._registry:
                    if device.online:
                        self.batcher.sample(device)
            await self._produce_states(list(self._dirty))
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
            if device is None:
                continue
            self._state_at[device_id] = now
            label = self.label_view(device_id) if self.label_view is not None else None
            body = payloads.device_state(self.ident, device, seq=0, now=wall, label=label)
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

    # ---- alerts, acks, other events ---------------------------------------------------------

    async def alert_event(self, transition: AlertTransition) -> None:
        a = transition.alert
        body = payloads.event(
            self.ident,
            type=f"alert.{transition.kind}",
            severity=a.severity,
            message=a.message,
            now=a.resolved_at if transition.kind == "resolved" and a.resolved_at else a.started_at,
            device_id=a.device_id,
            alert={
                "id": a.id,
                "rule": a.rule,
                "metric": a.metric,
                "value": a.value,
                "threshold": a.threshold,
                "started_at": format_epoch(a.started_at),
                "resolved_at": None if a.resolved_at is None else format_epoch(a.resolved_at),
            },
        )
        await self.outbox.produce([Outgoing("events", self.topics.events, body)])

    async def gateway_event(self, type_: str, severity: str, message: str) -> None:
        body = payloads.event(
            self.ident, type=type_, severity=severity, message=message, now=time.time()
        )
        await self.outbox.produce([Outgoing("events", self.topics.events, body)])

    async def produce_acks(
        self, bodies: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Acks (and events that go with them, e.g. command.rejected) in one transaction."""
        await self.outbox.produce(
            [Outgoing("acks", self.topics.acks, b) for b in bodies]
            + [Outgoing("events", self.topics.events, e) for e in events]
        )

    async def resync(self, command_id: str) -> None:
        """The ``resync`` command: status, every device state, then the completed ack."""
        await self._produce_status("online", "heartbeat")
        await self._produce_states([d.device_id for d in self._registry], force=True)
        ack = payloads.ack(
            self.ident,
            command_id=command_id,
            command_type="resync",
            status="completed",
            now=time.time(),
        )
        await self.produce_acks([ack])

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
