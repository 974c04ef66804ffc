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

from gateway.sim.runner import RunningStore
from gateway.timeutil import parse_ts
from tests.helpers.broker import Mosquitto
from tests.helpers.cloud import Cloud
from tests.helpers.drills import config, settle, tally
from tests.helpers.processes import GatewayProcess
from tests.helpers.wallclock import WallClock, build


@pytest.fixture(scope="session")
def wallclock_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("wallclock"))


async def test_wall_clock_jumps_forward_and_back(
    store: RunningStore, broker: Mosquitto, tmp_path: Path, wallclock_library: Path
) -> None:
    clock = WallClock(wallclock_library, tmp_path / "clock-offset")
    cloud = Cloud(broker.port)
    cloud.start()
    gateway = GatewayProcess(
        config(tmp_path, broker.port), store.bus_address, tmp_path / "gw.log", clock.env
    )
    gateway.start()
    phases: list[tuple[str, float, float, float]] = []  # name, offset, start, end (real)
    try:
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 3, 30, "telemetry")
        for name, offset in (("ahead 1 h", 3600), ("behind 10 min", -600), ("back", 0)):
            clock.set_offset(offset)
            start = time.time()
            await asyncio.sleep(8)
            phases.append((name, offset, start, time.time()))
        await cloud.until(lambda: cloud.gaps("telemetry") == [], 30, "every telemetry seq")
        assert await asyncio.to_thread(gateway.stop) == 0
        await settle(cloud, tmp_path)
    finally:
        gateway.ensure_stopped()
        cloud.stop()
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
