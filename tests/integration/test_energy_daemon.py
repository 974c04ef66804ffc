"""The energy loop in the running daemon against the virtual building's controller on
Modbus TCP: zones written from the plan at start and their readings sent as
telemetry; the gateway SIGKILLed leaves the
zones as they are (the controller carries on), and once back it reads them and
writes nothing it does not need to (no storm of duplicate writes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.campaigns import gateway_config
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.sim.building import LightingZone, ThermalZone, serve_zones, served_port
from gateway.sim.runner import virtual_store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def zone_readings(cloud: Cloud) -> set[str]:
    return {
        r["name"]
        for t in cloud.of("/telemetry")
        for r in t["readings"]
        if r["device_id"] == "e00000000001"
    }


async def until(predicate: object, timeout: float, what: str) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.mark.timeout(120)
async def test_zones_follow_the_plan_and_a_killed_gateway_resumes_without_rewriting(
    tmp_path: Path,
) -> None:
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port)
    cloud.start()
    room, lamp = ThermalZone("sales", temperature=19.0), LightingZone("lights")
    server = await serve_zones([room, lamp])
    always = "\n".join(
        f'{d} = "00:00-23:59"' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    energy = f"""
[energy]
step = "10s"
[energy.hours]
{always}
[[energy.controllers]]
id = "bms"
host = "127.0.0.1"
port = {served_port(server)}
timeout = "1s"
[[energy.hvac]]
name = "sales"
controller = "bms"
unit = 1
band = [20.0, 23.0]
device_id = "e00000000001"
[[energy.lights]]
name = "lights"
controller = "bms"
unit = 2
floor = 40
"""
    cfg = gateway_config(tmp_path, broker.port, extra=energy, log_level="info")
    try:
        async with virtual_store(ROOT / "config" / "scenarios" / "small-store.toml") as store:
            gw = GatewayProcess(cfg, store.bus_address, tmp_path / "gateway.log")
            gw.start()
            try:
                # Open (all day), heating season (no outside sensor): the band's low
                # edge plus the margin; lights on (no forecast yet: full).
                await until(lambda: room.on and room.setpoint == 20.5, 30, "the zone planned")
                await until(lambda: lamp.on and lamp.level == 100, 30, "the lights planned")
                # The zone's readings reach the cloud as its device's telemetry.
                await cloud.until(lambda: zone_readings(cloud), 30, "the zone's telemetry")
                assert {"on", "temperature_c", "setpoint_c", "energy_kwh"} <= zone_readings(cloud)
                assert cloud.violations == []
                gw.kill()
                await asyncio.sleep(1)
                assert room.on and room.setpoint == 20.5 and lamp.on  # left as they were
                writes = room.writes + lamp.writes
                gw.start()
                await asyncio.sleep(8)  # started, read the zones, stepped
                log = (tmp_path / "gateway.log").read_text()
                assert log.count('"event": "starting"') == 2
                assert room.writes + lamp.writes == writes  # nothing to change: nothing written
            finally:
                gw.ensure_stopped()
    finally:
        await server.shutdown()
        cloud.stop()
        broker.stop()
