"""JSON views of registry devices, shared by the local API and the ``devices`` command."""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.registry.device import DeviceRecord
from gateway.timeutil import format_epoch


def device_view(d: DeviceRecord) -> dict[str, Any]:
    return {
        "device_id": d.device_id,
        "address": d.address,
        "kind": d.kind.value,
        "model": d.model,
        "name": d.name,
        "online": d.online,
        "first_seen": format_epoch(d.first_seen),
        "last_seen": format_epoch(d.last_seen),
        "rssi": d.rssi_int,
        "battery_pct": d.battery_pct,
        "battery_mv": d.battery_mv,
        "readings": dict(d.readings),
        "tags": list(d.tags),
        "interval_s": None if d.interval_s is None else round(d.interval_s, 3),
        "beacon": None
        if d.beacon is None
        else {k: v for k, v in dataclasses.asdict(d.beacon).items() if v is not None},
        "label": None if d.label is None else dataclasses.asdict(d.label),
    }
