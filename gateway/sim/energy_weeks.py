"""Weeks of a virtual store's energy in seconds: the same weather and the same shoppers,
run once with the forecast-driven plan and once with the fixed schedule.

The store (``STORE``): open Monday to Saturday 08:00-20:00 and Sunday 10:00-18:00,
closed on one public holiday; three air-conditioned zones of different size and
three lighting zones, in a winter fortnight. The gateway's forecaster first learns
from four weeks of counts (the history a running store has), then the weeks are
stepped minute by minute with an injected clock: each minute the building moves
(outside temperature, shoppers' heat, plant), then the controller reads, plans,
bounds and writes. Each evening the day's counts join the forecast.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from gateway.energy.control import EnergyController
from gateway.energy.forecast import Forecaster, backtest
from gateway.energy.model import Calendar, HvacZone, LightZone, Zones
from gateway.energy.plan import Planner
from gateway.sim.building import DoorCounter, LightingZone, ThermalZone, Weather, people_inside

START = dt.date(2026, 1, 5)  # a Monday
HOLIDAY = dt.date(2026, 1, 6)


def store_calendar() -> Calendar:
    weekday = ("08:00", "20:00")
    return Calendar.weekly(
        {
            0: weekday,
            1: weekday,
            2: weekday,
            3: weekday,
            4: weekday,
            5: weekday,
            6: ("10:00", "18:00"),
        },
        closed=[HOLIDAY],
    )


def store_zones() -> Zones:
    return Zones(
        hvac=[
            HvacZone("sales-east", heat_rate=1.5),
            HvacZone("sales-west", heat_rate=1.2),
            HvacZone("fresh", band=(18.0, 21.0), setback=(12.0, 28.0), heat_rate=2.0),
        ],
        lights=[
            LightZone("lights-east", floor=50, rated_kw=14.0),
            LightZone("lights-west", floor=50, rated_kw=14.0),
            LightZone("lights-fresh", floor=60, rated_kw=6.0),
        ],
    )


def building() -> tuple[list[ThermalZone], list[LightingZone]]:
    return (
        [
            ThermalZone("sales-east", share=0.45),
            ThermalZone("sales-west", capacity_kwh=18.0, loss_kw=1.8, share=0.4),
            ThermalZone("fresh", capacity_kwh=8.0, loss_kw=0.8, heat_kw=30.0, share=0.15),
        ],
        [
            LightingZone("lights-east", rated_kw=14.0),
            LightingZone("lights-west", rated_kw=14.0),
            LightingZone("lights-fresh", rated_kw=6.0),
        ],
    )


@dataclass(slots=True)
class WeeksResult:
    days: int
    hvac_kwh: float = 0.0
    light_kwh: float = 0.0
    open_days: int = 0
    in_band_days: dict[str, int] = field(default_factory=dict)  # zone -> days in band at opening
    writes: int = 0
    mape: float | None = None
    mape_slots: int = 0
    alerts: list[str] = field(default_factory=list)
    # Per day: what the zones' meters gave, and the gateway's own estimate of the same
    # day under the fixed schedule (gateway/energy/figures.py), at the day's last minute.
    day_kwh: list[float] = field(default_factory=list)
    day_estimated_baseline_kwh: list[float] = field(default_factory=list)

    @property
    def kwh(self) -> float:
        return self.hvac_kwh + self.light_kwh

    @property
    def worst_in_band(self) -> float:
        """The share of open days the worst zone was in its band at opening."""
        if not self.open_days:
            return 1.0
        return min(self.in_band_days.values(), default=self.open_days) / self.open_days


async def run_weeks(
    days: int = 14, *, baseline: bool = False, history_days: int = 28, seed: int = 7
) -> WeeksResult:
    calendar = store_calendar()
    counter = DoorCounter(calendar, seed=seed)
    weather = Weather(seed=seed + 4)
    counted: dict[dt.date, list[float]] = {}
    forecaster = Forecaster(calendar)
    for back in range(history_days, 0, -1):
        day = START - dt.timedelta(days=back)
        counted[day] = counter.day(day)
        forecaster.learn(day, counted[day])
    planner = Planner(calendar, forecaster.predict)
    zones = store_zones()
    rooms, lamps = building()
    now = calendar.at(START, 0)
    result = WeeksResult(days)

    def clock() -> float:
        return now

    controller = EnergyController(
        planner,
        zones,
        {**{r.name: r for r in rooms}, **{lamp.name: lamp for lamp in lamps}},
        outside=lambda: weather.at(now),
        clock=clock,
        on_alert=lambda zone, message: result.alerts.append(message),
        baseline=baseline,
    )
    for offset in range(days):
        day = START + dt.timedelta(days=offset)
        arrivals = counted[day] = counter.day(day)
        span = calendar.span(day)
        opening = None if span is None else calendar.at(day, span[0])
        for minute in range(24 * 60):
            now = calendar.at(day, minute)
            local = calendar.local(now)
            people = people_inside(arrivals, local)
            outside = weather.at(now)
            for room in rooms:
                room.step(60.0, outside, people)
            for lamp in lamps:
                lamp.step(60.0)
            if opening is not None and now == opening:
                for room, zone in zip(rooms, zones.hvac, strict=True):
                    in_band = zone.band[0] <= room.temperature <= zone.band[1]
                    result.in_band_days[zone.name] = result.in_band_days.get(zone.name, 0) + in_band
            await controller.step()
        figures = controller.figures.days
        result.day_kwh.append(sum(f.kwh or 0.0 for f in figures.values()))
        result.day_estimated_baseline_kwh.append(
            sum(figures[z.name].baseline_kwh(z) or 0.0 for z in zones.every())
        )
        result.open_days += opening is not None
        forecaster.learn(day, arrivals)
        planner.forget()
        await asyncio.sleep(0)
    result.hvac_kwh = sum(r.energy_kwh for r in rooms)
    result.light_kwh = sum(lamp.energy_kwh for lamp in lamps)
    result.writes = sum(r.writes for r in rooms) + sum(lamp.writes for lamp in lamps)
    result.mape, result.mape_slots = backtest(calendar, counted)
    return result
