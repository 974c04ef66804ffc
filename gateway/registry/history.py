"""Sensor readings kept on the box for the page's charts.

Every ``sample_s`` each sensor heard since the last sample gives its readings to
the current bucket (``bucket_s``, 5 minutes): per device, reading and bucket the
table keeps the sum, the count, the lowest and the highest value, so a chart
draws the mean and the range. A device not heard adds nothing (a silent sensor is
a gap, not a flat line). Bounded twice: buckets older than ``keep_s`` (7 days)
go, and beyond ``max_rows`` the oldest buckets go first. Only sensors: labels and
beacons report little worth a chart and would be most of the rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlite_utils
import structlog

from drivers.types import DeviceKind
from gateway.registry.registry import Registry
from gateway.store import Database

log = structlog.get_logger("gateway.history")

PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class HistoryOptions:
    sample_s: float = 60.0
    bucket_s: int = 300
    keep_s: float = 7 * 86400.0
    max_rows: int = 500_000  # about 40 bytes each: 20 MB at most


Series = dict[str, list[tuple[float, float, float, float]]]  # name -> (start, mean, lo, hi)


class ReadingHistory:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        options: HistoryOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._registry = registry
        self.options = options or HistoryOptions()
        self._clock = clock
        # Readings newer than this are taken at the next sample (not those restored at
        # start: they are as old as the last stop).
        self._sampled_at = clock()

    async def run(self) -> None:
        pruned = time.monotonic()
        while True:
            await asyncio.sleep(self.options.sample_s)
            await self.sample()
            if time.monotonic() - pruned >= PRUNE_EVERY_S:
                pruned = time.monotonic()
                await self.prune()

    async def sample(self) -> int:
        """The readings of every sensor heard since the last sample, into their bucket;
        how many readings were taken."""
        since, self._sampled_at = self._sampled_at, self._clock()
        bucket = int(self._sampled_at // self.options.bucket_s)
        rows = [
            (d.device_id, name, bucket, float(value))
            for d in self._registry
            if d.kind is DeviceKind.SENSOR and d.readings_at is not None and d.readings_at > since
            for name, value in d.readings.items()
        ]
        if rows:
            await self._db.run(partial(_add, rows=rows))
        return len(rows)

    async def prune(self) -> int:
        """Buckets older than ``keep_s``, then the oldest beyond ``max_rows``; how many
        rows went."""
        oldest = int((self._clock() - self.options.keep_s) // self.options.bucket_s)
        gone = await self._db.run(partial(_prune, oldest=oldest, max_rows=self.options.max_rows))
        if gone:
            log.info("reading history pruned", rows=gone)
        return int(gone)

    async def series(self, device_id: str, hours: float) -> Series:
        """The device's readings over the last ``hours``, per reading name, oldest first."""
        since = int((self._clock() - hours * 3600) // self.options.bucket_s)
        rows = await self._db.read(partial(_series, device_id=device_id, since=since))
        out: Series = {}
        for name, bucket, total, n, lo, hi in rows:
            out.setdefault(name, []).append(
                (float(bucket * self.options.bucket_s), total / n, lo, hi)
            )
        return out


def _add(d: sqlite_utils.Database, rows: list[tuple[str, str, int, float]]) -> None:
    d.conn.executemany(
        "INSERT INTO reading_history (device_id, name, bucket, total, n, lo, hi) "
        "VALUES (?1, ?2, ?3, ?4, 1, ?4, ?4) "
        "ON CONFLICT (device_id, name, bucket) DO UPDATE SET total = total + excluded.total, "
        "n = n + 1, lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
        rows,
    )


def _prune(d: sqlite_utils.Database, oldest: int, max_rows: int) -> int:
    gone = d.execute("DELETE FROM reading_history WHERE bucket < ?", [oldest]).rowcount
    count = d.execute("SELECT COUNT(*) FROM reading_history").fetchone()[0]
    while count > max_rows:
        first = d.execute("SELECT MIN(bucket) FROM reading_history").fetchone()[0]
        n = d.execute("DELETE FROM reading_history WHERE bucket = ?", [first]).rowcount
        gone += n
        count -= n
    return int(gone)


def _series(d: sqlite_utils.Database, device_id: str, since: int) -> list[Any]:
    return d.execute(
        "SELECT name, bucket, total, n, lo, hi FROM reading_history "
        "WHERE device_id = ? AND bucket >= ? ORDER BY name, bucket",
        [device_id, since],
    ).fetchall()
