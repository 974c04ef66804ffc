"""Registry rows in SQLite: load at start, flush dirty devices in batches."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import sqlite_utils

from drivers.types import BeaconFormat, BeaconInfo, DeviceKind, LabelAdvert
from gateway.registry.device import DeviceRecord
from gateway.registry.registry import Registry
from gateway.store import Database

_COLUMNS = (
    "device_id, address, kind, model, name, first_seen, last_seen, interval_s, rssi, "
    "battery_pct, battery_mv, readings, readings_at, beacon, label"
)

SELECT_DEVICES = f"SELECT {_COLUMNS} FROM devices"


def _row(d: DeviceRecord) -> tuple[object, ...]:
    return (
        d.device_id,
        d.address,
        d.kind.value,
        d.model,
        d.name,
        d.first_seen,
        d.last_seen,
        d.interval_s,
        d.rssi,
        d.battery_pct,
        d.battery_mv,
        json.dumps(d.readings, separators=(",", ":")),
        d.readings_at,
        None if d.beacon is None else json.dumps(dataclasses.asdict(d.beacon)),
        None if d.label is None else json.dumps(dataclasses.asdict(d.label)),
    )


def row_to_record(row: tuple[Any, ...]) -> DeviceRecord:
    (
        device_id,
        address,
        kind,
        model,
        name,
        first_seen,
        last_seen,
        interval_s,
        rssi,
        battery_pct,
        battery_mv,
        readings,
        readings_at,
        beacon,
        label,
    ) = row
    values = {str(k): float(v) for k, v in json.loads(readings).items()}
    beacon_info = None
    if beacon:
        raw = json.loads(beacon)
        raw["format"] = BeaconFormat(raw["format"])
        beacon_info = BeaconInfo(**raw)
    label_info = None
    if label:
        raw = json.loads(label)
        raw["colors"] = tuple(raw["colors"])
        label_info = LabelAdvert(**raw)
    return DeviceRecord(
        saved_seen=float(last_seen),
        device_id=device_id,
        address=address,
        kind=DeviceKind(kind),
        model=model,
        name=name,
        first_seen=first_seen,
        last_seen=last_seen,
        last_seen_mono=0.0,
        interval_s=interval_s,
        rssi=rssi,
        battery_pct=battery_pct,
        battery_mv=battery_mv,
        readings=values,
        readings_at=readings_at,
        reported=dict(values),
        beacon=beacon_info,
        label=label_info,
        online=False,
    )


async def load_devices(db: Database) -> list[DeviceRecord]:
    def fetch(d: sqlite_utils.Database) -> list[DeviceRecord]:
        return [row_to_record(r) for r in d.execute(SELECT_DEVICES).fetchall()]

    return await db.read(fetch)


async def flush_dirty(db: Database, registry: Registry) -> int:
    """Write every dirty device in one transaction; return how many were written."""
    if not registry.dirty:
        return 0
    ids = list(registry.dirty)
    registry.dirty.clear()
    devices = [d for i in ids if (d := registry.get(i)) is not None]
    rows = [_row(d) for d in devices]
    seen = [d.last_seen for d in devices]  # what the rows say (the loop may move on)

    def write(d: sqlite_utils.Database) -> None:
        d.conn.executemany(
            f"INSERT OR REPLACE INTO devices ({_COLUMNS}) VALUES ({', '.join('?' * 15)})", rows
        )

    try:
        await db.run(write)
    except BaseException:
        registry.dirty.update(ids)  # try again next time
        raise
    for device, last_seen in zip(devices, seen, strict=True):
        device.saved_seen = last_seen
    return len(rows)
