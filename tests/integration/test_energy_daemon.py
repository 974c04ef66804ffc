"""The energy loop in the running daemon against the virtual building's controller on
Modbus TCP: zones written from the plan at start and their readings sent as
telemetry; the gateway SIGKILLed leaves the
zones as they are (the controller carries on), and once back it reads them and
writes nothing it does not need to (no storm of duplicate writes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.campaigns import STORE_ID, gateway_config
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.bench.rig.signing import command, signed
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


def building(port: int, *, lights: bool) -> str:
    """The gateway's [energy] section: open all week, the building's controller on
    ``port``, the sales zone (unit 1, with its telemetry device) and the lights (unit 2)."""
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
port = {port}
timeout = "1s"
[[energy.hvac]]
name = "sales"
controller = "bms"
unit = 1
band = [20.0, 23.0]
device_id = "e00000000001"
"""
    if lights:
        energy += """[[energy.lights]]
name = "lights"
controller = "bms"
unit = 2
floor = 40
"""
    return energy


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, zones: list[ThermalZone | LightingZone], extra: str = ""
) -> AsyncIterator[tuple[Cloud, GatewayProcess]]:
    """A broker and the cloud's subscriber, the building's ``zones`` on Modbus TCP (the
    lights among them if there is a :class:`LightingZone`), the small virtual store and
    the gateway configured for them, started; all stopped afterwards."""
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port)
    cloud.start()
    server = await serve_zones(zones)
    lights = any(isinstance(z, LightingZone) for z in zones)
    energy = building(served_port(server), lights=lights) + extra
    cfg = gateway_config(tmp_path, broker.port, extra=energy, log_level="info")
    try:
        async with virtual_store(ROOT / "config" / "scenarios" / "small-store.toml") as store:
            gw = GatewayProcess(cfg, store.bus_address, tmp_path / "gateway.log")
            gw.start()
            try:
                yield cloud, gw
            finally:
                gw.ensure_stopped()
    finally:
        await server.shutdown()
        cloud.stop()
        broker.stop()


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
    room, lamp = ThermalZone("sales", temperature=19.0), LightingZone("lights")
    async with running(tmp_path, [room, lamp]) as (cloud, gw):
        # Open (all day), heating season (no outside sensor): the band's low
        # edge plus the margin; lights on (no forecast yet: full).
        await until(lambda: room.on and room.setpoint == 20.5, 30, "the zone planned")
        await until(lambda: lamp.on and lamp.level == 100, 30, "the lights planned")
        # The zone's readings reach the cloud as its device's telemetry.
        await cloud.until(lambda: zone_readings(cloud), 30, "the zone's telemetry")
        assert {"on", "temperature_c", "setpoint_c", "energy_kwh"} <= zone_readings(cloud)
        # And each write the loop made, at its time.
        await cloud.until(
            lambda: {"written_on", "written_setpoint_c"} <= zone_readings(cloud),
            30,
            "the zone's writes as telemetry",
        )
        written = [
            r["value"]
            for t in cloud.of("/telemetry")
            for r in t["readings"]
            if r["name"] == "written_setpoint_c"
        ]
        assert written == [20.5]
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


def acks_of(cloud: Cloud, command_id: str) -> list[dict[str, Any]]:
    return [a for a in cloud.of("/acks") if a["command_id"] == command_id]


@pytest.mark.timeout(120)
async def test_signed_energy_settings_from_the_cloud_apply_and_outlive_a_restart(
    tmp_path: Path,
) -> None:
    room = ThermalZone("sales", temperature=19.0)
    topic = f"retail/v1/{STORE_ID}/commands"

    def send(body: dict[str, Any]) -> str:
        cmd = command("energy-settings", body, store_id=STORE_ID)
        cloud.publish(topic, signed(cmd))
        return str(cmd["id"])

    def final(command_id: str) -> dict[str, Any] | None:
        done = [a for a in acks_of(cloud, command_id) if a["status"] != "accepted"]
        return done[-1] if done else None

    async with running(tmp_path, [room]) as (cloud, gw):
        await until(lambda: room.setpoint == 20.5, 30, "the zone planned")
        # A narrower, warmer band: the setpoint follows at the next step.
        applied = send({"version": 1, "zones": {"sales": {"band": [21.0, 24.0]}}})
        await cloud.until(lambda: final(applied), 20, "the settings' final ack")
        ack = final(applied)
        assert ack is not None
        assert (ack["status"], ack["counts"], ack["results"]) == (
            "completed",
            {"applied": 1},
            [],
        )
        await until(lambda: room.setpoint == 21.5, 30, "the new band")
        # An older version changes nothing; settings that cannot apply neither.
        stale = send({"version": 1, "zones": {"sales": {"band": [18.0, 21.0]}}})
        wider = send({"version": 2, "zones": {"sales": {"limits": [5.0, 35.0]}}})
        await cloud.until(lambda: final(stale) and final(wider), 20, "both answered")
        s, w = final(stale), final(wider)
        assert s is not None and w is not None
        assert (s["status"], s["results"][0]["status"]) == ("completed", "skipped-stale")
        assert (w["status"], w["results"][0]["status"]) == ("partial", "failed")
        assert "never widens" in w["results"][0]["error"]
        # Killed and back: the stored settings hold; nothing is written again.
        gw.kill()
        writes = room.writes
        gw.start()
        await asyncio.sleep(8)  # started, loaded the settings, read the zone, stepped
        assert room.setpoint == 21.5 and room.writes == writes
        assert cloud.violations == []


def alert_events(cloud: Cloud, rule: str) -> list[str]:
    return [
        e["type"]
        for e in cloud.of("/events")
        if e["type"].startswith("alert.") and e["alert"]["rule"] == rule
    ]


@pytest.mark.timeout(120)
async def test_a_controller_that_stops_answering_raises_one_alert_and_plans_resume(
    tmp_path: Path,
) -> None:
    room = ThermalZone("sales", temperature=19.0)
    async with running(
        tmp_path, [room], extra='[alerts.builtin]\nenergy_controller_down_for = "5s"\n'
    ) as (cloud, gw):
        await until(lambda: room.setpoint == 20.5, 30, "the zone planned")
        room.unreachable = True  # the controller runs its own schedule meanwhile
        room.setpoint = 19.0
        rule = "energy-controller-unreachable"
        await cloud.until(lambda: alert_events(cloud, rule), 40, "the alert")
        assert alert_events(cloud, rule) == ["alert.firing"]
        assert gw.proc is not None and gw.proc.poll() is None  # no crash
        room.unreachable = False  # back: read, planned and written again
        await until(lambda: room.setpoint == 20.5, 30, "the plan resumed")
        await cloud.until(
            lambda: alert_events(cloud, rule) == ["alert.firing", "alert.resolved"],
            30,
            "the alert resolved",
        )
        assert cloud.violations == []
