"""Drills on the path to the broker: the broker SIGKILLed and restarted under load, a
half-open connection (black hole) noticed through the keepalive, connections reset.

The gateway runs as a process and reaches mosquitto through a loopback TCP proxy
where the drill needs one; the cloud checker is connected to mosquitto directly.
Each drill prints produced / delivered / duplicates / lost; lost must be 0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore
from tests.helpers.broker import Mosquitto
from tests.helpers.cloud import Cloud
from tests.helpers.drills import config, tally
from tests.helpers.processes import GatewayProcess
from tests.helpers.proxy import TcpProxy


def births(cloud: Cloud) -> int:
    return len([s for s in cloud.of("/status") if s["reason"] == "connected"])


@pytest.fixture
async def proxy(broker: Mosquitto) -> AsyncIterator[TcpProxy]:
    p = TcpProxy(broker.port)
    await p.start()
    yield p
    await p.stop()


async def run_gateway(tmp_path: Path, port: int, store: RunningStore) -> GatewayProcess:
    gateway = GatewayProcess(config(tmp_path, port), store.bus_address, tmp_path / "gw.log")
    gateway.start()
    return gateway


async def test_broker_killed_five_times_under_load(
    store: RunningStore, control: VirtualStoreClient, broker: Mosquitto, tmp_path: Path
) -> None:
    # Persist every change at once, so that a SIGKILLed broker keeps the cloud's
    # session and what it queued for it (as a production broker would).
    broker.extra = "autosave_interval 1\nautosave_on_changes true\n"
    broker.stop()
    broker.start()
    await control.set_rate(4.0)  # adverts four times as often: more telemetry
    cloud = Cloud(broker.port)
    cloud.start()
    gateway = await run_gateway(tmp_path, broker.port, store)
    try:
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 3, 30, "telemetry")
        for _ in range(5):
            before = births(cloud)
            broker.kill()
            await asyncio.sleep(2)  # the gateway buffers meanwhile
            broker.start()
            await cloud.until(lambda b=before: births(cloud) > b, 30, "gateway back")
        await cloud.until(
            lambda: cloud.gaps("telemetry") == [] and cloud.gaps("events") == [],
            60,
            "every seq",
        )
        assert await asyncio.to_thread(gateway.stop) == 0
    finally:
        gateway.ensure_stopped()
        cloud.stop()
    tally(cloud, "broker-killed-5x")
    assert any(t["historical"] for t in cloud.of("/telemetry"))


async def test_half_open_connection_is_noticed_and_replaced(
    store: RunningStore, broker: Mosquitto, proxy: TcpProxy, tmp_path: Path
) -> None:
    cloud = Cloud(broker.port)
    cloud.start()
    gateway = await run_gateway(tmp_path, proxy.port, store)
    try:
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 3, 30, "telemetry")
        before, accepted = births(cloud), proxy.accepted
        proxy.blackhole()  # nothing passes, nothing is closed
        holed = time.monotonic()
        await asyncio.sleep(6)
        proxy.restore()  # new connections pass; the old one stays dead
        await cloud.until(lambda: births(cloud) > before, 40, "a new connection")
        noticed = time.monotonic() - holed
        print(f"half-open: a new connection {noticed:.1f} s after the path went dead")
        assert proxy.accepted > accepted
        # The broker gave up on the dead connection too: the will says so.
        assert any(s["reason"] == "connection-lost" for s in cloud.of("/status"))
        await cloud.until(lambda: cloud.gaps("telemetry") == [], 60, "every telemetry seq")
        assert await asyncio.to_thread(gateway.stop) == 0
    finally:
        gateway.ensure_stopped()
        cloud.stop()
    tally(cloud, "half-open")


async def test_connection_resets_lose_nothing(
    store: RunningStore, broker: Mosquitto, proxy: TcpProxy, tmp_path: Path
) -> None:
    cloud = Cloud(broker.port)
    cloud.start()
    gateway = await run_gateway(tmp_path, proxy.port, store)
    try:
        await cloud.until(lambda: len(cloud.of("/telemetry")) >= 3, 30, "telemetry")
        for _ in range(5):
            before = births(cloud)
            assert proxy.reset() >= 1
            await cloud.until(lambda b=before: births(cloud) > b, 30, "reconnected")
            await asyncio.sleep(1.5)  # traffic flows again before the next reset
        await cloud.until(
            lambda: cloud.gaps("telemetry") == [] and cloud.gaps("events") == [],
            60,
            "every seq",
        )
        assert await asyncio.to_thread(gateway.stop) == 0
    finally:
        gateway.ensure_stopped()
        cloud.stop()
    tally(cloud, "resets")
