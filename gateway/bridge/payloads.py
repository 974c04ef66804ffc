"""Builders of every gateway -> cloud payload of contract v1 (schemas in gateway/contract).

``msg_id``, ``seq`` and ``historical`` of the reliable streams are filled in by
the outbox (at production and at sending time); everything else is here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.contract.events import Event
from gateway.registry import DeviceRecord
from gateway.timeutil import format_epoch


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    store_id: str
    gateway_id: str


def status(
    ident: Identity,
    *,
    state: str,
    reason: str,
    session: int,
    version: str,
    now: float,
    started_at: float | None = None,
    buffer: Mapping[str, Any] | None = None,
    adapters: Sequence[Mapping[str, Any]] = (),
    devices: tuple[int, int] | None = None,
    shelf: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "gateway-status/1",
        "store_id": ident.store_id,
        "gateway_id": ident.gateway_id,
        "state": state,
        "reason": reason,
        "session": session,
        "version": version,
        "ts": format_epoch(now),
    }
    if state == "online":
        body["started_at"] = format_epoch(started_at or now)
        body["buffer"] = dict(
            buffer or {"pending": 0, "bytes": 0, "dropped": 0, "oldest_age_s": None}
        )
        body["ble"] = {"adapters": [dict(a) for a in adapters]}
        total, online = devices or (0, 0)
        body["devices"] = {"total": total, "online": online}
        if shelf is not None:
            body["shelf"] = dict(shelf)
    return body


def device_state(
    ident: Identity,
    device: DeviceRecord,
    *,
    seq: int,
    now: float,
    label: Mapping[str, Any] | None = None,
    owner_epoch: int = 1,
) -> dict[str, Any]:
    beacon = None
    if device.beacon is not None:
        beacon = {k: v for k, v in dataclasses.asdict(device.beacon).items() if v is not None}
        beacon["format"] = device.beacon.format.value
    body: dict[str, Any] = {
        "schema": "device-state/1",
        "store_id": ident.store_id,
        "gateway_id": ident.gateway_id,
        "device_id": device.device_id,
        "address": device.address,
        "kind": device.kind.value,
        "model": device.model or "unknown",
        "name": device.name,
        "online": device.online,
        "first_seen": format_epoch(device.first_seen),
        "last_seen": format_epoch(device.last_seen),
        "ts": format_epoch(now),
        "seq": seq,
        # Contract 1.1: grows when the device changes owner gateway; a store with one
        # gateway keeps every device in epoch 1.
        "owner_epoch": owner_epoch,
        "rssi": None if device.rssi is None else max(-127, min(20, round(device.rssi))),
        "battery_pct": None
        if device.battery_pct is None
        else max(0.0, min(100.0, device.battery_pct)),
        "battery_mv": device.battery_mv,
        "readings": {k: v for k, v in device.readings.items() if _finite(v)},
        "tags": list(device.tags),
        "beacon": beacon,
        # The label pipeline's view for a label (``unbound`` before its first SKU).
        "label": None if label is None else dict(label),
    }
    return body


def telemetry(
    ident: Identity, readings: Sequence[tuple[str, float, str, float]], now: float
) -> dict[str, Any]:
    """``readings``: (device id, POSIX time, name, value)."""
    return {
        "schema": "telemetry/1",
        "store_id": ident.store_id,
        "gateway_id": ident.gateway_id,
        "ts": format_epoch(now),
        "historical": False,
        "readings": [
            {"device_id": d, "ts": format_epoch(t), "name": n, "value": v}
            for d, t, n, v in readings
        ],
    }


def event(
    ident: Identity,
    *,
    type: str,
    severity: str,
    message: str,
    now: float,
    device_id: str | None = None,
    alert: Mapping[str, Any] | None = None,
    dropped: Mapping[str, Any] | None = None,
    price: Mapping[str, Any] | None = None,
    audit: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "event/1",
        "store_id": ident.store_id,
        "gateway_id": ident.gateway_id,
        "ts": format_epoch(now),
        "historical": False,
        "type": type,
        "severity": severity,
        "device_id": device_id,
        "message": message,
    }
    if alert is not None:
        body["alert"] = dict(alert)
    if dropped is not None:
        body["dropped"] = dict(dropped)
    if price is not None:
        body["price"] = dict(price)
    if audit is not None:
        body["audit"] = dict(audit)
    return body


def of_event(ident: Identity, e: Event) -> dict[str, Any]:
    """The ``event/1`` payload of what a component described."""
    return event(
        ident,
        type=e.type,
        severity=e.severity,
        message=e.message,
        now=e.at,
        device_id=e.device_id,
        alert=e.alert,
        price=e.price,
        audit=e.audit,
    )


def ack(
    ident: Identity,
    *,
    command_id: str | None,
    command_type: str | None,
    status: str,
    now: float,
    error: tuple[str, str] | None = None,
    counts: Mapping[str, int] | None = None,
    results: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "ack/1",
        "store_id": ident.store_id,
        "gateway_id": ident.gateway_id,
        "ts": format_epoch(now),
        "historical": False,
        "command_id": command_id,
        "command_type": command_type,
        "status": status,
    }
    if error is not None:
        body["error"] = {"code": error[0], "message": error[1]}
    if counts is not None:
        body["counts"] = dict(counts)
    if results is not None:
        body["results"] = [dict(r) for r in results]
    return body


def outcome_ack(
    ident: Identity,
    *,
    command_id: str,
    command_type: str,
    version: int,
    outcome: str | None,
    error: str | None,
    now: float,
) -> dict[str, Any]:
    """The final ack of a command with one outcome and no label (the energy settings):
    ``applied`` is counted; any other outcome is counted and given as a result with its
    error, and the command is ``partial`` if it ``failed``; None (another gateway's to
    answer): ``completed`` with nothing."""
    results = (
        []
        if outcome in (None, "applied")
        else [
            {
                "label_id": None,
                "sku": None,
                "version": version,
                "status": outcome,
                "at": format_epoch(now),
                "error": error,
            }
        ]
    )
    return ack(
        ident,
        command_id=command_id,
        command_type=command_type,
        status="partial" if outcome == "failed" else "completed",
        now=now,
        counts={} if outcome is None else {outcome: 1},
        results=results,
    )


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))
