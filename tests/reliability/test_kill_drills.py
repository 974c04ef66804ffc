"""Drills with the daemon as a real process: SIGKILLed, restarted, broker outages.

A cloud-side checker subscribes to everything, validates every payload and
verifies per-stream seq completeness; each drill prints produced / delivered /
duplicates / lost, and lost must be 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sim.runner import RunningStore
from tests.helpers.broker import Mosquitto
from tests.helpers.cloud import Cloud
from tests.helpers.processes import GatewayProcess


def config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(f"""
store_id = "drill-store"
gateway_id = "gw-1"
data_dir = "{tmp_path / "data"}"
[ble]
adapters = ["hci0"]
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = "5s"
reconnect_min = "0.2s"
reconnect_max = "1s"
[telemetry]
sample_interval = "1s"
batch_max_delay = "0.5s"
batch_max_readings = 20
[device_state]
min_interval = "1s"
status_heartbeat = "5s"
[web]
enabled = false
[logging]
level = "warning"
""")
    return path


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    m = Mosquitto(tmp_path / "broker")
    m.start()
    yield m
    m.stop()


def tally(cloud: Cloud, name: str) -> None:
    for stream in ("telemetry", "events", "acks"):
        got, dupes = cloud.seqs(stream)
        lost = cloud.gaps(stream)
        produced = max(got) if got else 0
        print(
            f"{name}: {stream}: produced {produced} delivered {len(got)} duplicates {dupes} "
            f"lost {len(lost)}"
        )
        assert lost == [], (stream, lost[:20])
    assert cloud.violations == [], cloud.violations[:5]


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
        await cloud.until(
            lambda: any(s["reason"] == "shutdown" for s in cloud.of("/status")), 10, "bye"
        )
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.kill()
        cloud.stop()
    tally(cloud, "sigkill")


async def test_sigkill_during_drain_loses_nothing(
    store: RunningStore, broker: Mosquitto, tmp_path: Path
) -> None:
    cloud = Cloud(broker.port)
    cloud.start()
    daemon = GatewayProcess(config(tmp_path, broker.port), store.bus_address, tmp_path / "gw.log")
    daemon.start()
    try:
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 2, 30, "telemetry")
        for round_ in range(3):
            broker.stop()  # graceful: the broker keeps what it queued for the cloud
            await asyncio.sleep(4)  # a backlog builds up in the outbox
            broker.start()
            await asyncio.sleep(0.3 + 0.2 * round_)  # the drain has begun...
            daemon.kill()  # ...and the process dies in the middle of it
            births = len([x for x in cloud.of("/status") if x["reason"] == "connected"])
            daemon.start()
            await cloud.until(
                lambda b=births: (
                    len([x for x in cloud.of("/status") if x["reason"] == "connected"]) > b
                ),
                30,
                "reconnected",
            )
        await cloud.until(
            lambda: cloud.gaps("telemetry") == [] and len(cloud.of("/telemetry")) > 10,
            60,
            "every telemetry seq",
        )
        assert await asyncio.to_thread(daemon.stop) == 0
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.kill()
        cloud.stop()
    tally(cloud, "sigkill-during-drain")
    assert any(t["historical"] for t in cloud.of("/telemetry"))
