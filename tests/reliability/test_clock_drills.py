"""The wall clock jumps (an NTP step, a bad RTC after a power cut) while the gateway runs.

A small LD_PRELOAD library (tests/helpers/wallclock.c) moves only the gateway
process's wall clock (CLOCK_REALTIME) by an offset the drill sets while it runs;
its monotonic clock and its sleeps are untouched. Timers
(telemetry batches, heartbeats, offline detection, alert durations) must keep
their rhythm on the monotonic clock; timestamps must follow the wall clock as it
is, and nothing may be lost.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gateway.bench.rig.broker import Mosquitto
from gateway.sim.runner import RunningStore
from gateway.timeutil import parse_ts
from tests.helpers.drills import running, tally
from tests.helpers.wallclock import WallClock, build


@pytest.fixture(scope="session")
def wallclock_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("wallclock"))


async def test_wall_clock_jumps_forward_and_back(
    store: RunningStore, broker: Mosquitto, tmp_path: Path, wallclock_library: Path
) -> None:
    clock = WallClock(wallclock_library, tmp_path / "clock-offset")
    phases: list[tuple[str, float, float, float]] = []  # name, offset, start, end (real)
    async with running(tmp_path, store.bus_address, broker.port, env=clock.env) as (_, cloud):
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 3, 30, "telemetry")
        for name, offset in (("ahead 1 h", 3600), ("behind 10 min", -600), ("back", 0)):
            clock.set_offset(offset)
            start = time.time()
            await asyncio.sleep(8)
            phases.append((name, offset, start, time.time()))
    tally(cloud, "clock-jumps", tmp_path)

    telemetry = cloud.received("/telemetry")
    for name, offset, start, end in phases:
        # Skip the first second of a phase: messages already on their way.
        during = [m for m in telemetry if start + 1.5 <= m.arrived <= end]
        assert len(during) >= 3, f"{name}: telemetry stalled ({len(during)} batches)"
        for m in during:
            stamped = parse_ts(m.payload["ts"]).timestamp()
            # The timestamp is the gateway's wall clock when it was made: the jumped one.
            assert abs(stamped - (m.arrived + offset)) < 5, (name, m.payload["ts"])
            # Sent as it was made: an hour "passing" does not make it historical.
            assert m.payload["historical"] is False, (name, m.payload["ts"])
    # Offline detection runs on the monotonic clock: an hour "passing" takes no device off.
    offline = [s for s in cloud.of("/state") if s["online"] is False]
    assert offline == [], offline[:3]
    assert not [e for e in cloud.of("/events") if e["type"].startswith("alert.")]


async def test_wall_clock_stepped_days_ahead_during_an_outage_expires_nothing(
    store: RunningStore, broker: Mosquitto, tmp_path: Path, wallclock_library: Path
) -> None:
    """A box without a real-time clock: while the broker is unreachable, time sync steps
    the wall clock eight days ahead, past telemetry's seven-day TTL. What was buffered
    a few seconds before is aged on the boot's clock, so nothing expires; once the
    broker is back everything arrives, the outage's telemetry marked historical."""
    clock = WallClock(wallclock_library, tmp_path / "clock-offset")
    async with running(tmp_path, store.bus_address, broker.port, env=clock.env) as (_, cloud):
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 3, 30, "telemetry")
        broker.stop()
        await asyncio.sleep(3)  # buffered at the old wall clock
        clock.set_offset(8 * 86_400)
        await asyncio.sleep(7)  # over a status heartbeat (5 s): an expiry sweep has run
        broker.start()
        await cloud.until(lambda: len(cloud.sessions()) >= 2, 30, "the gateway back")
    tally(cloud, "clock-step-in-outage", tmp_path)
    dropped = [e for e in cloud.of("/events") if e["type"] == "gateway.data-dropped"]
    assert dropped == [], dropped
    historical = [t for t in cloud.of("/telemetry") if t["historical"]]
    print(f"clock-step-in-outage: {len(historical)} telemetry batches delivered as historical")
    assert len(historical) >= 3
