"""The virtual store's building: door counters, weather, zones that warm and cool.

- :class:`DoorCounter`: people entering per 15-minute slot, following a daily curve
  (a late-morning and a late-afternoon peak) scaled by weekday (Saturday about three
  times Monday) with noise, nobody while the store is closed.
- :class:`Weather`: the outside temperature, a daily swing around a mean that drifts
  from day to day (a winter fortnight by default).
- :class:`ThermalZone`: one room as a single heat capacity: it drifts toward the
  outside temperature through its envelope, people inside add heat (about 100 W
  each), and its plant, when on, holds the setpoint (modulating, capped at the
  plant's power); electricity is the plant's heat over its COP.
- :class:`LightingZone`: electricity from the level.

Each zone is also a :class:`~gateway.energy.control.ZoneController` (read and write
in-process), with the faults the drills need: unreachable, and a register that
refuses writes (the write is accepted on the wire and nothing changes).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

from gateway.energy.control import ControllerError, ZoneController, ZoneReading
from gateway.energy.model import SLOT_S, SLOTS_PER_DAY, Calendar, slot_of
from gateway.energy.plan import ZoneSetting

WEEKDAY_FACTOR = (0.55, 0.6, 0.7, 0.8, 1.1, 1.7, 0.9)  # Monday .. Sunday
DWELL_S = 1800.0  # how long a shopper stays: people inside = arrivals x dwell


def _curve(minute: float, span: tuple[int, int]) -> float:
    """Relative arrivals across an open day: two peaks, quiet at the ends."""
    open_, close = span
    x = (minute - open_) / max(1, close - open_)
    return 0.25 + math.exp(-(((x - 0.3) / 0.12) ** 2)) + 1.2 * math.exp(-(((x - 0.75) / 0.12) ** 2))


@dataclass(slots=True)
class DoorCounter:
    calendar: Calendar
    peak_per_slot: float = 120.0  # arrivals in the busiest slot of an average day
    noise: float = 0.08  # relative day-to-day noise (slots add counting noise, Poisson-like)
    seed: int = 7
    _rng: random.Random = field(init=False)
    _day_factor: dict[dt.date, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def day(self, day: dt.date) -> list[float]:
        """People entering in each slot of a local date (whole numbers)."""
        span = self.calendar.span(day)
        if span is None:
            return [0.0] * SLOTS_PER_DAY
        if day not in self._day_factor:
            self._day_factor[day] = WEEKDAY_FACTOR[day.weekday()] * max(
                0.3, self._rng.gauss(1.0, self.noise)
            )
        factor = self._day_factor[day]
        peak = max(_curve(m, span) for m in range(span[0], span[1]))
        out = []
        for slot in range(SLOTS_PER_DAY):
            middle = slot * 15 + 7.5
            if not span[0] <= middle < span[1]:
                out.append(0.0)
                continue
            mean = self.peak_per_slot * factor * _curve(middle, span) / peak
            value = self._rng.gauss(mean, max(1.0, math.sqrt(mean)))
            out.append(float(max(0, round(value))))
        return out


@dataclass(slots=True)
class Weather:
    mean: float = 4.0  # °C, the fortnight's mean
    swing: float = 4.0  # °C, half the day's range (coldest at 05:00)
    drift: float = 3.0  # °C, day-to-day wander of the mean
    seed: int = 11
    _rng: random.Random = field(init=False)
    _days: dict[int, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def at(self, epoch: float) -> float:
        day = int(epoch // 86400)
        if day not in self._days:  # the same temperature however often it is asked
            self._days[day] = self._rng.gauss(0.0, self.drift)
        offset = self._days[day]
        hour = (epoch % 86400) / 3600
        return self.mean + offset - self.swing * math.cos(2 * math.pi * (hour - 5) / 24)


class _Faults:
    """The drills' faults of an in-process controller."""

    name: str
    unreachable: bool
    refuses_writes: bool
    writes: int

    def _answer(self) -> None:
        if self.unreachable:
            raise ControllerError(f"{self.name}: no answer")

    def _takes(self) -> bool:
        """A write arrived: whether it takes (a refusing register accepts and ignores)."""
        self._answer()
        self.writes += 1
        return not self.refuses_writes


@dataclass(slots=True)
class ThermalZone(_Faults, ZoneController):
    """One air-conditioned room (a zone of the sales floor)."""

    name: str
    temperature: float = 16.0
    capacity_kwh: float = 15.0  # kWh per °C: the room's air, shelves and goods
    loss_kw: float = 1.5  # kW per °C between inside and outside
    heat_kw: float = 60.0
    cool_kw: float = 60.0
    gain_kw: float = 20.0  # kW per °C of setpoint error, up to the plant's power
    cop: float = 3.0
    share: float = 1.0  # the zone's share of the shoppers inside
    on: bool = False
    setpoint: float = 19.0
    energy_kwh: float = 0.0
    unreachable: bool = False
    refuses_writes: bool = False
    writes: int = 0

    def step(self, seconds: float, outside: float, people: float) -> None:
        hours = seconds / 3600
        plant = 0.0
        envelope = self.loss_kw * (outside - self.temperature) + 0.1 * people * self.share
        if self.on:
            # A modulating plant: what holds the setpoint, plus a pull toward it.
            wanted = self.gain_kw * (self.setpoint - self.temperature) - envelope
            plant = max(-self.cool_kw, min(self.heat_kw, wanted))
        gains = envelope + plant
        self.temperature += gains * hours / self.capacity_kwh
        self.energy_kwh += abs(plant) / self.cop * hours

    async def read(self) -> ZoneReading:
        self._answer()
        return ZoneReading(
            on=self.on,
            setpoint=self.setpoint,
            temperature=round(self.temperature, 2),
            energy_kwh=round(self.energy_kwh, 3),
        )

    async def write(self, setting: ZoneSetting) -> None:
        if not self._takes():
            return
        self.on = setting.on
        if setting.setpoint is not None:
            self.setpoint = setting.setpoint


@dataclass(slots=True)
class LightingZone(_Faults, ZoneController):
    name: str
    rated_kw: float = 10.0
    on: bool = False
    level: int = 0
    energy_kwh: float = 0.0
    unreachable: bool = False
    refuses_writes: bool = False
    writes: int = 0

    def step(self, seconds: float) -> None:
        if self.on:
            self.energy_kwh += self.rated_kw * self.level / 100 * seconds / 3600

    async def read(self) -> ZoneReading:
        self._answer()
        return ZoneReading(on=self.on, level=self.level, energy_kwh=round(self.energy_kwh, 3))

    async def write(self, setting: ZoneSetting) -> None:
        if not self._takes():
            return
        self.on = setting.on
        self.level = setting.level if setting.level is not None else self.level


def people_inside(arrivals: list[float], t: dt.datetime) -> float:
    """Shoppers inside at a local time, from the day's arrivals per slot."""
    slot = slot_of(t)
    return arrivals[slot] * DWELL_S / SLOT_S


# ---- the building's controller on Modbus TCP ---------------------------------------------

ZONE_REGISTERS = 6  # on, setpoint, level, temperature, energy (2): gateway.energy.modbus


async def serve_zones(
    zones: list[ThermalZone | LightingZone], host: str = "127.0.0.1", port: int = 0
) -> Any:
    """A Modbus TCP server for the zones (unit id = position + 1), registers as the
    default :class:`gateway.energy.modbus.RegisterMap`; returns the started server
    (``server.transport`` tells the port; ``await server.shutdown()`` stops it). A zone's
    ``unreachable`` makes its unit answer nothing; ``refuses_writes`` accepts a write
    and changes nothing."""
    from pymodbus.constants import ExcCodes
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    def device(unit: int, zone: ThermalZone | LightingZone) -> SimDevice:
        async def action(
            function_code: int,
            start: int,
            address: int,
            count: int,
            regs: list[int],
            values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            if zone.unreachable:
                return ExcCodes.DEVICE_BUSY
            if values is not None:  # a write: to the zone, as a controller would
                if not zone._takes():
                    values[:] = regs[address - start : address - start + len(values)]  # type: ignore[assignment]
                    return None
                for offset, value in enumerate(values):
                    reg = address + offset
                    if reg == 0:
                        zone.on = bool(value)
                    elif reg == 1 and isinstance(zone, ThermalZone):
                        zone.setpoint = (
                            int(value) - 65536 if int(value) >= 32768 else int(value)
                        ) / 10
                    elif reg == 2 and isinstance(zone, LightingZone):
                        zone.level = int(value)
                return None
            regs[0] = int(zone.on)
            if isinstance(zone, ThermalZone):
                regs[1] = round(zone.setpoint * 10) & 0xFFFF
                regs[3] = round(zone.temperature * 10) & 0xFFFF
            else:
                regs[2] = zone.level
            tenths = round(zone.energy_kwh * 10) & 0xFFFFFFFF
            regs[4], regs[5] = tenths >> 16, tenths & 0xFFFF
            return None

        return SimDevice(
            id=unit,
            simdata=SimData(0, count=ZONE_REGISTERS, values=0, datatype=DataType.REGISTERS),
            action=action,
        )

    server = ModbusTcpServer([device(i + 1, z) for i, z in enumerate(zones)], address=(host, port))
    await server.serve_forever(background=True)
    return server


def served_port(server: Any) -> int:
    """The TCP port a server from :func:`serve_zones` listens on."""
    return int(server.transport.sockets[0].getsockname()[1])
