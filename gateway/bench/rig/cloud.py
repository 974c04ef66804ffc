"""The cloud side in tests: subscribe to everything, validate every payload, check seqs."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.contract import schema_errors

_SCHEMA_BY_SUFFIX = {
    "/status": "gateway-status",
    "/telemetry": "telemetry",
    "/events": "event",
    "/acks": "ack",
    "/state": "device-state",
}


@dataclass
class Received:
    topic: str
    payload: dict[str, Any]
    retain: bool
    arrived: float = field(default_factory=time.time)  # the test's (real) wall clock


@dataclass
class Cloud:
    port: int
    prefix: str = "retail/v1/#"
    messages: list[Received] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: paho.Client | None = None
    claims_seen: int = 0
    reviews: list[Received] = field(default_factory=list)

    client_id: str = field(default_factory=lambda: f"cloud-{time.time_ns()}")

    def start(self) -> None:
        """Connect with a persistent session: what the broker queued for the cloud while it
        was away (or restarted gracefully) is delivered, like a real cloud consumer."""
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5
        )
        client.on_message = self._on_message
        subscribed = threading.Event()
        client.on_connect = lambda c, *_: c.subscribe(self.prefix, qos=1)
        client.on_subscribe = lambda *_: subscribed.set()
        client.reconnect_delay_set(0.1, 1)  # type: ignore[arg-type]  # floats work
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect_async(
            "127.0.0.1", self.port, keepalive=10, clean_start=False, properties=props
        )
        client.loop_start()
        self._client = client
        subscribed.wait(5)  # the tests start producers only once the cloud listens

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        assert self._client is not None
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        if msg.topic.endswith("/commands"):
            return
        if "/owns/" in msg.topic or "/hears/" in msg.topic:  # between the gateways
            with self._lock:
                self.claims_seen += 1
            return
        if msg.topic.endswith("/reviews"):  # between the gateways: price decisions
            with self._lock:
                self.reviews.append(Received(msg.topic, json.loads(msg.payload or b"{}"), True))
            return
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            with self._lock:
                self.violations.append(f"{msg.topic}: not JSON")
            return
        schema = next(
            (s for suffix, s in _SCHEMA_BY_SUFFIX.items() if msg.topic.endswith(suffix)), None
        )
        errors = (
            [f"{msg.topic}: unknown topic"]
            if schema is None
            else [
                f"{msg.topic}: {e}"
                for e in schema_errors(schema, payload)  # type: ignore[arg-type]
            ]
        )
        with self._lock:
            self.violations.extend(errors)
            self.messages.append(Received(msg.topic, payload, bool(msg.retain)))

    # ---- views ------------------------------------------------------------------------

    def received(self, suffix: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def of(self, suffix: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m.payload for m in self.messages if m.topic.endswith(suffix)]

    def seqs(self, stream: str) -> tuple[set[int], int]:
        """(distinct seqs received, duplicates) for telemetry/events/acks."""
        seen = [m["seq"] for m in self.of(f"/{stream}")]
        return set(seen), len(seen) - len(set(seen))

    def sessions(self) -> set[int]:
        """The gateway sessions whose birth ("connected") arrived. A retained status the
        broker hands out again on every re-subscribe repeats a session, never adds one."""
        return {s["session"] for s in self.of("/status") if s["reason"] == "connected"}

    def gaps(
        self, stream: str, upto: int | None = None, pending: Collection[int] = ()
    ) -> list[int]:
        """Seqs up to ``upto`` (default: the highest received) neither received, nor still
        in the gateway's outbox (``pending``), nor reported dropped (telemetry)."""
        got, _ = self.seqs(stream)
        last = max(got, default=0) if upto is None else upto
        explained: set[int] = set(pending)
        if stream == "telemetry":
            for e in self.of("/events"):
                if e["type"] == "gateway.data-dropped" and e["dropped"]["stream"] == stream:
                    for a, b in e["dropped"]["ranges"]:
                        explained.update(range(a, b + 1))
        return sorted(set(range(1, last + 1)) - got - explained)

    async def until(self, predicate: Any, timeout: float, what: str, every_s: float = 0.05) -> None:
        """Like :meth:`wait`, without blocking the event loop (the virtual store runs on it);
        ``every_s``: how often to ask (a predicate over thousands of messages costs CPU
        the gateways under measurement would otherwise have)."""
        import asyncio

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            await asyncio.sleep(every_s)
        raise AssertionError(f"not within {timeout} s: {what}")

    def wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"not within {timeout} s: {what}")

    def owners(self) -> OwnerCheck:
        """Device states as the cloud keeps them (contract 1.1): per device the state with
        the highest ``(owner_epoch, seq)``; an older one arriving later is ignored."""
        check = OwnerCheck()
        for m in self.received("/state"):
            check.add(m.payload)
        return check

    def by_stream(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for m in self.messages:
            out[m.topic.rsplit("/", 1)[1]] += 1
        return dict(out)


@dataclass
class OwnerCheck:
    """Per device: the epochs seen and who published in each, the state kept, the ones
    ignored because they arrived after a newer one."""

    kept: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # epoch, seq, gw
    owners: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    stale: list[tuple[str, int, int, str]] = field(default_factory=list)

    def add(self, state: dict[str, Any]) -> None:
        device, gw = state["device_id"], state["gateway_id"]
        epoch, seq = int(state["owner_epoch"]), int(state["seq"])
        self.owners.setdefault((device, epoch), set()).add(gw)
        kept = self.kept.get(device)
        if kept is not None and (epoch, seq) <= kept[:2]:
            self.stale.append((device, epoch, seq, gw))
            return
        self.kept[device] = (epoch, seq, gw)

    def shared_epochs(self) -> dict[tuple[str, int], set[str]]:
        """(device, epoch) published by more than one gateway: two owners at once."""
        return {k: v for k, v in self.owners.items() if len(v) > 1}

    def owner_of(self, device_id: str) -> str | None:
        kept = self.kept.get(device_id)
        return None if kept is None else kept[2]
