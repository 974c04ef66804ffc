"""People counters heard over BLE: a BTHome ``count`` that goes up by one per person
entering (the count objects 0x3D/0x3E: 2 and 4 bytes; the 1-byte 0x09 wraps at 255).

Every ``poll_s`` each configured device's count, as the registry last heard it, is
compared with the last one taken: the increase is stored as a period of people
entering, from when the previous count was heard to when this one was, in the same
table as the doors' HTTP counters (``counter_id`` ``ble-<device id>``), so the
forecast learns from both. A count heard again unchanged moves the period's start
on (nobody came in meanwhile); a count lower than the last is a counter that
restarted and counted that many since. The last count is kept in the database
(with the period it closes, in one transaction): a restart neither loses nor
repeats people; the first count ever heard only sets the start. Motion and
occupancy objects do not count people: they stay readings of their sensor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from functools import partial

import sqlite_utils
import structlog

from gateway.energy import footfall
from gateway.energy.footfall import CountPeriod
from gateway.registry.registry import Registry
from gateway.store import Database

log = structlog.get_logger("gateway.energy")

POLL_S = 10.0


def counter_id(device_id: str) -> str:
    return f"ble-{device_id}"


class BleCounters:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        readings: Mapping[str, str],  # device id -> the reading that counts ("count")
        poll_s: float = POLL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._registry = registry
        self._readings = dict(readings)
        self._poll_s = poll_s
        self._clock = clock
        self._last: dict[str, tuple[float, float]] = {}  # device id -> (count, heard at)
        self.counted = 0  # people stored since start

    async def load(self) -> None:
        rows = await self._db.read(
            lambda d: d.execute("SELECT device_id, value, at FROM ble_counter_state").fetchall()
        )
        self._last = {r[0]: (float(r[1]), float(r[2])) for r in rows}

    async def run(self) -> None:
        await self.load()
        while True:
            await self.poll()
            await asyncio.sleep(self._poll_s)

    async def poll(self) -> int:
        """Take every configured counter's count; how many people were stored."""
        stored = 0
        for device_id, name in self._readings.items():
            device = self._registry.get(device_id)
            if device is None or device.readings_at is None or name not in device.readings:
                continue
            value, at = float(device.readings[name]), device.readings_at
            last = self._last.get(device_id)
            if last is not None and at <= last[1]:
                continue  # not heard since
            if last is not None and value == last[0]:
                self._last[device_id] = (value, at)  # nobody in meanwhile: start moves on
                continue
            people = 0 if last is None else int(value - last[0] if value > last[0] else value)
            period = None if last is None else CountPeriod(last[1], at, people, 0)
            await self._db.run(
                partial(_take, device_id=device_id, value=value, at=at, period=period)
            )
            self._last[device_id] = (value, at)
            if last is not None and value < last[0]:
                log.info("ble counter restarted", device_id=device_id, count=value)
            stored += people
        self.counted += stored
        return stored


def _take(
    d: sqlite_utils.Database,
    device_id: str,
    value: float,
    at: float,
    period: CountPeriod | None,
) -> None:
    if period is not None and period.entered > 0:
        footfall.record(d, counter_id(device_id), [period], at)
    d.execute(
        "INSERT OR REPLACE INTO ble_counter_state (device_id, value, at) VALUES (?, ?, ?)",
        [device_id, value, at],
    )
