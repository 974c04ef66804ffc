"""Drills with the daemon as a real process: SIGKILLed, restarted, broker outages.

A cloud-side checker subscribes to everything, validates every payload and
verifies per-stream seq completeness; each drill prints produced / delivered /
duplicates / lost, and lost must be 0.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.sim.runner import RunningStore
from tests.helpers.drills import config, running, settle, tally


async def test_sigkill_publishes_the_will_and_restart_resumes(
    store: RunningStore, broker: Mosquitto, tmp_path: Path
) -> None:
    cloud = Cloud(broker.port)
    cloud.start()
    daemon = GatewayProcess(config(tmp_path, broker.port), store.bus_address, tmp_path / "gw.log")
    daemon.start()
    try:
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 3, 30, "telemetry")
        daemon.kill()
        await cloud.until(
            lambda: any(s["reason"] == "connection-lost" for s in cloud.of("/status")),
            20,
            "the will",
        )
        will = next(s for s in cloud.of("/status") if s["reason"] == "connection-lost")
        assert will["state"] == "offline" and will["session"] == 1
        daemon.start()
        await cloud.until(
            lambda: any(
                s["session"] == 2 and s["reason"] == "connected" for s in cloud.of("/status")
            ),
            30,
            "session 2",
        )
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 8, 30, "more telemetry")
        assert await asyncio.to_thread(daemon.stop) == 0
        await settle(cloud, tmp_path)
        await cloud.until(
            lambda: any(s["reason"] == "shutdown" for s in cloud.of("/status")), 10, "bye"
        )
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.kill()
        cloud.stop()
    tally(cloud, "sigkill", tmp_path)


async def test_sigkill_during_drain_loses_nothing(
    store: RunningStore, broker: Mosquitto, tmp_path: Path
) -> None:
    async with running(tmp_path, store.bus_address, broker.port) as (daemon, cloud):
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 2, 30, "telemetry")
        for round_ in range(5):
            broker.stop()  # graceful: the broker keeps what it queued for the cloud
            await asyncio.sleep(4)  # a backlog builds up in the outbox
            broker.start()
            await asyncio.sleep(0.3 + 0.2 * round_)  # the drain has begun...
            daemon.kill()  # ...and the process dies in the middle of it
            births = len(cloud.sessions())
            daemon.start()
            await cloud.until(lambda b=births: len(cloud.sessions()) > b, 30, "reconnected")
    tally(cloud, "sigkill-during-drain", tmp_path)
    assert any(t["historical"] for t in cloud.of("/telemetry"))
