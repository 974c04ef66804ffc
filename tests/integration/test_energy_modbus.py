"""Zones behind a building controller on Modbus TCP: the gateway's client against the
virtual building's controller (pymodbus on both sides, loopback), as the energy loop
uses them: read, write, read back; the controller unreachable; a register that
accepts a write and changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from gateway.energy.control import ControllerError, EnergyController
from gateway.energy.modbus import ModbusLink, ModbusZone, RegisterMap
from gateway.energy.model import Calendar, HvacZone, LightZone, Zones
from gateway.energy.plan import Planner, ZoneSetting
from gateway.sim.building import LightingZone, ThermalZone, serve_zones, served_port

MONDAY = dt.date(2026, 1, 5)


@pytest.fixture
async def building() -> AsyncIterator[tuple[ThermalZone, LightingZone, ModbusLink]]:
    room, lamp = ThermalZone("sales", temperature=-2.5), LightingZone("lights")
    server = await serve_zones([room, lamp])
    link = ModbusLink("127.0.0.1", served_port(server), timeout_s=0.5)
    try:
        yield room, lamp, link
    finally:
        link.close()
        await server.shutdown()


async def test_registers_read_and_written_over_modbus(
    building: tuple[ThermalZone, LightingZone, ModbusLink],
) -> None:
    room, lamp, link = building
    hvac = ModbusZone("sales", link, RegisterMap(unit=1))
    lights = ModbusZone("lights", link, RegisterMap(unit=2))
    room.energy_kwh = 7000.3
    got = await hvac.read()
    assert got.temperature == -2.5 and not got.on  # signed tenths
    assert got.energy_kwh == pytest.approx(7000.3)  # two registers, high word first
    await hvac.write(ZoneSetting("sales", True, setpoint=20.5))
    await lights.write(ZoneSetting("lights", True, level=65))
    assert room.on and room.setpoint == 20.5 and lamp.on and lamp.level == 65
    assert (await lights.read()).level == 65
    with pytest.raises(ControllerError, match="reading registers"):
        await ModbusZone("nobody", link, RegisterMap(unit=9)).read()


async def test_the_loop_alerts_on_an_unreachable_controller_and_a_write_that_does_not_take(
    building: tuple[ThermalZone, LightingZone, ModbusLink],
) -> None:
    room, lamp, link = building
    calendar = Calendar.weekly({d: ("08:00", "20:00") for d in range(6)})
    now = calendar.at(MONDAY, 12 * 60)
    alerts: list[str] = []
    loop = EnergyController(
        Planner(calendar, lambda _day: [30.0] * 96),
        Zones(hvac=[HvacZone("sales")], lights=[LightZone("lights")]),
        {
            "sales": ModbusZone("sales", link, RegisterMap(unit=1)),
            "lights": ModbusZone("lights", link, RegisterMap(unit=2)),
        },
        outside=lambda: 0.0,
        clock=lambda: now,
        on_alert=lambda zone, message: alerts.append(message),
    )
    await loop.step()
    assert room.on and lamp.on and alerts == []
    room.unreachable = True
    for _ in range(3):
        now += 60
        await loop.step()
    assert len(alerts) == 1 and "controller of zone sales unreachable" in alerts[0]
    room.unreachable = False
    lamp.refuses_writes = True
    lamp.on = False  # someone switched it off at the panel; our writes no longer take
    for _ in range(3):
        now += 600
        await loop.step()
    assert any("zone lights: write did not take" in a for a in alerts), alerts
    assert loop.status["sales"].reachable
