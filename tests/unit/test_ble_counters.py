"""People counted over BLE (a BTHome count): each increase a period of people entering,
between the two counts heard; a counter that restarted; nothing lost or repeated
across a restart of the gateway."""

from __future__ import annotations

from pathlib import Path

from drivers.types import Advertisement, DeviceKind, Observation
from gateway.energy import footfall
from gateway.energy.ble_counters import BleCounters
from gateway.registry import Registry, RegistryOptions
from gateway.store import Database

DOOR = "A4:C1:38:00:00:01"
DOOR_ID = "a4c138000001"
T0 = 1_800_000_000.0


def hear(reg: Registry, count: float, at: float) -> None:
    obs = Observation(kind=DeviceKind.SENSOR, model="bthome", readings={"count": count})
    reg.observe(Advertisement(address=DOOR, rssi=-60), obs, at - T0, at)


async def periods(db: Database) -> list[tuple[float, float, int]]:
    rows = await db.read(
        lambda d: d.execute(
            "SELECT start, end, entered FROM footfall_periods WHERE counter_id = ? ORDER BY start",
            [f"ble-{DOOR_ID}"],
        ).fetchall()
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_increases_are_people_entering_and_survive_a_restart(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    try:
        reg = Registry(RegistryOptions())
        ble = BleCounters(db, reg, {DOOR_ID: "count"})
        await ble.load()
        hear(reg, 100, T0)
        assert await ble.poll() == 0  # the first count ever heard only sets the start
        hear(reg, 103, T0 + 60)
        assert await ble.poll() == 3
        assert await ble.poll() == 0  # not heard since: nothing
        hear(reg, 103, T0 + 120)
        await ble.poll()  # unchanged: nobody came in; the next period starts here
        hear(reg, 105, T0 + 180)
        assert await ble.poll() == 2
        hear(reg, 4, T0 + 240)  # the counter restarted and counted 4 since
        assert await ble.poll() == 4
        assert await periods(db) == [
            (T0, T0 + 60, 3),
            (T0 + 120, T0 + 180, 2),
            (T0 + 180, T0 + 240, 4),
        ]
        # The gateway restarts; the counter goes on meanwhile: those people count once.
        again = BleCounters(db, reg, {DOOR_ID: "count"})
        await again.load()
        hear(reg, 9, T0 + 600)
        assert await again.poll() == 5
        assert (await periods(db))[-1] == (T0 + 240, T0 + 600, 5)
        # And the forecast sees them per slot, with the doors' HTTP counters.
        slots = await db.read(lambda d: footfall.slot_counts(d, since=T0 - 900, until=T0 + 900))
        assert round(sum(slots.values()), 6) == 14
    finally:
        await db.close()
