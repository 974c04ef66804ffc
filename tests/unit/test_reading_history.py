"""Sensor readings kept for the charts: per 5-minute bucket the mean and range of the
samples, only sensors heard since the last sample, bounded by age and by rows."""

from __future__ import annotations

from pathlib import Path

from drivers.types import Advertisement, DeviceKind, Observation
from gateway.registry import Registry, RegistryOptions
from gateway.registry.history import HistoryOptions, ReadingHistory
from gateway.store import Database

FRIDGE, FREEZER, LABEL = "C4:D9:12:AB:0F:31", "C4:D9:12:AB:0F:32", "C4:D9:12:AB:0F:33"
T0 = 1_800_000_000.0  # a bucket boundary (divisible by 300)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def hear(reg: Registry, address: str, at: float, **readings: float) -> None:
    kind = DeviceKind.LABEL if address == LABEL else DeviceKind.SENSOR
    obs = Observation(kind=kind, model="ruuvi-rawv2", readings=readings)
    reg.observe(Advertisement(address=address, rssi=-60), obs, at - T0, at)


async def test_buckets_keep_mean_and_range_of_the_sensors_heard(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    try:
        reg, clock = Registry(RegistryOptions()), Clock()
        history = ReadingHistory(db, reg, HistoryOptions(sample_s=60), clock)
        for minute, temp in enumerate((3.0, 4.0, 8.0, 5.0, 5.0, 6.0, 7.0)):  # 5 + 2 minutes
            clock.now = T0 + minute * 60 + 1
            hear(reg, FRIDGE, clock.now, temperature_c=temp, humidity_pct=50.0 + minute)
            if minute < 2:  # the freezer goes silent after two minutes
                hear(reg, FREEZER, clock.now, temperature_c=-18.0)
            hear(reg, LABEL, clock.now, battery_pct=90.0)
            await history.sample()
        clock.now += 60
        assert await history.sample() == 0  # nobody heard since: nothing added
        series = await history.series("c4d912ab0f31", hours=1)
        assert series["temperature_c"] == [(T0, 5.0, 3.0, 8.0), (T0 + 300, 6.5, 6.0, 7.0)]
        assert [p[1] for p in series["humidity_pct"]] == [52.0, 55.5]
        assert (await history.series("c4d912ab0f32", hours=1))["temperature_c"] == [
            (T0, -18.0, -18.0, -18.0)  # two samples, then a gap: no invented points
        ]
        assert await history.series("c4d912ab0f33", hours=1) == {}  # not a sensor
        # Asking for less than the whole: only the recent bucket.
        clock.now = T0 + 300 + 120
        assert len((await history.series("c4d912ab0f31", hours=0.02))["temperature_c"]) == 1
    finally:
        await db.close()


async def test_old_buckets_go_then_the_oldest_beyond_the_row_bound(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    try:
        reg, clock = Registry(RegistryOptions()), Clock()
        options = HistoryOptions(sample_s=60, keep_s=3600, max_rows=6)
        history = ReadingHistory(db, reg, options, clock)
        for step in range(16):  # 16 buckets of 5 minutes, one reading each
            clock.now = T0 + step * 300 + 1
            hear(reg, FRIDGE, clock.now, temperature_c=float(step))
            await history.sample()
        # 16 rows; older than an hour: the first 4 go; of the 12 left the 6 oldest go.
        assert await history.prune() == 10
        series = await history.series("c4d912ab0f31", hours=24)
        assert [p[1] for p in series["temperature_c"]] == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
        assert await history.prune() == 0
    finally:
        await db.close()
