"""Energy: the calendar, the footfall forecast and its accuracy, the plan, the bounds
every write goes through, and the controller loop against zones that fail."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.energy.control import EnergyController, Guard
from gateway.energy.forecast import Forecaster, backtest, mape
from gateway.energy.model import (
    SLOTS_PER_DAY,
    Calendar,
    EnergyConfigError,
    HvacZone,
    LightZone,
    Zones,
)
from gateway.energy.plan import MARGIN, Planner, ZoneSetting
from gateway.sim.building import LightingZone, ThermalZone

OPEN = ("08:00", "20:00")
MONDAY = dt.date(2026, 1, 5)


def calendar(**closed: dt.date) -> Calendar:
    return Calendar.weekly({d: OPEN for d in range(6)}, closed=closed.values())


def day_of(level: float) -> list[float]:
    """``level`` people in every open slot (08:00-20:00)."""
    return [level if 32 <= i < 80 else 0.0 for i in range(SLOTS_PER_DAY)]


# ---- calendar ---------------------------------------------------------------------------


def test_calendar_says_what_is_wrong() -> None:
    with pytest.raises(EnergyConfigError, match="not a time of day"):
        Calendar.weekly({0: ("8h", "20:00")})
    with pytest.raises(EnergyConfigError, match="not open < close"):
        Calendar.weekly({0: ("20:00", "08:00")})
    with pytest.raises(EnergyConfigError, match="unknown time zone"):
        Calendar.weekly({0: OPEN}, timezone="Mars/Olympus")
    with pytest.raises(EnergyConfigError, match="band"):
        HvacZone("z", band=(10.0, 30.0), limits=(12.0, 28.0))
    with pytest.raises(EnergyConfigError, match="light levels"):
        LightZone("z", floor=0)


def test_calendar_knows_open_hours_closed_days_and_sundays() -> None:
    c = calendar(holiday=MONDAY)
    tuesday = MONDAY + dt.timedelta(days=1)
    sunday = MONDAY + dt.timedelta(days=6)
    assert not c.is_open(c.at(MONDAY, 9 * 60))  # the holiday
    assert c.is_open(c.at(tuesday, 8 * 60)) and not c.is_open(c.at(tuesday, 20 * 60))
    assert c.span(sunday) is None


# ---- forecast ---------------------------------------------------------------------------


def test_forecast_learns_each_weekday_and_follows_a_change_smoothly() -> None:
    c = calendar()
    f = Forecaster(c, alpha=0.5)
    for week in range(3):
        for d in range(6):
            day = MONDAY + dt.timedelta(days=7 * week + d)
            f.learn(day, day_of(100.0 if d == 5 else 40.0))  # Saturdays busier
    next_monday = MONDAY + dt.timedelta(days=21)
    assert f.predict(next_monday)[40] == pytest.approx(40.0)
    assert f.predict(next_monday + dt.timedelta(days=5))[40] == pytest.approx(100.0)
    assert f.predict(next_monday)[10] == 0.0  # before opening
    assert f.predict(next_monday + dt.timedelta(days=6)) == [0.0] * SLOTS_PER_DAY  # Sunday
    f.learn(next_monday, day_of(80.0))  # one busier Monday moves it halfway, not all the way
    assert f.predict(next_monday + dt.timedelta(days=7))[40] == pytest.approx(60.0)


def test_forecast_ignores_closed_days_and_borrows_for_an_unseen_weekday() -> None:
    c = calendar(holiday=MONDAY)
    f = Forecaster(c)
    f.learn(MONDAY, day_of(0.0))  # the holiday: nothing learned
    assert not f.knows(MONDAY)
    f.learn(MONDAY + dt.timedelta(days=1), day_of(30.0))
    f.learn(MONDAY + dt.timedelta(days=2), day_of(50.0))
    assert f.predict(MONDAY + dt.timedelta(days=7))[40] == pytest.approx(40.0)  # their mean
    assert f.predict(MONDAY) == [0.0] * SLOTS_PER_DAY  # closed: nobody expected


def test_mape_counts_only_slots_with_enough_people() -> None:
    value, slots = mape([100.0, 50.0, 2.0], [90.0, 60.0, 10.0])
    assert slots == 2 and value == pytest.approx(15.0)  # (10 % + 20 %) / 2
    c = calendar()
    assert backtest(c, {}) == (None, 0)
    days = {MONDAY + dt.timedelta(days=7 * w): day_of(40.0 + 10 * w) for w in range(3)}
    value2, slots2 = backtest(c, days)
    assert slots2 == 2 * 48  # the first Monday cannot be forecast: nothing known before it
    assert value2 is not None and value2 > 0


# ---- plan -------------------------------------------------------------------------------


def planner(level: float = 40.0) -> Planner:
    return Planner(calendar(), lambda day: day_of(level) if day.weekday() < 6 else [0.0] * 96)


def test_preconditioning_starts_as_late_as_the_zone_allows_and_holds_until_opening() -> None:
    zone = HvacZone("z", heat_rate=2.0, preheat_margin_s=0.0)
    c = calendar()
    opening = c.at(MONDAY, 8 * 60)
    warm, cold = planner(), planner()
    # 4 °C short at 2 °C/h: two hours before opening, not earlier.
    assert not cold.hvac(zone, opening - 3 * 3600, 16.5, 0.0).on
    start = cold.hvac(zone, opening - 2 * 3600 + 60, 16.5, 0.0)
    assert start.on and start.why == "pre-conditioning" and start.setpoint == 20.0 + MARGIN
    # ... and it stays on even though the estimate shrinks as the zone warms.
    assert cold.hvac(zone, opening - 3600, 19.5, 0.0).on
    # A zone 1 °C short starts half an hour before.
    assert not warm.hvac(zone, opening - 3600, 19.5, 0.0).on
    assert warm.hvac(zone, opening - 1800 + 60, 19.5, 0.0).on
    # Open: at the band's low edge plus the margin (heating season); closed: off.
    assert warm.hvac(zone, opening + 60, 20.6, 0.0).setpoint == 20.0 + MARGIN
    assert not warm.hvac(zone, c.at(MONDAY, 21 * 60), 20.0, 0.0).on
    assert warm.hvac(zone, c.at(MONDAY, 22 * 60), 13.0, 0.0).why == "frost protection"


def test_lights_follow_the_forecast_between_the_floor_and_full() -> None:
    zone = LightZone("l", floor=40, full=100, busy=80.0, staff_minutes=30)
    c = calendar()
    quiet, busy = planner(20.0), planner(200.0)
    noon = c.at(MONDAY, 12 * 60)
    assert quiet.light(zone, noon).level == 40 + round(60 * 20 / 80)
    assert busy.light(zone, noon).level == 100
    assert quiet.light(zone, c.at(MONDAY, 7 * 60 + 40)) == ZoneSetting(
        "l", True, level=40, why="staff"
    )
    assert not quiet.light(zone, c.at(MONDAY, 21 * 60)).on
    assert quiet.light_baseline(zone, noon).level == 100


# ---- bounds -----------------------------------------------------------------------------


def test_every_write_is_bounded() -> None:
    g = Guard(HvacZone("z", limits=(12.0, 28.0), max_step=2.0, min_on_s=600, min_off_s=600))
    first = g.bound(ZoneSetting("z", True, setpoint=35.0), now=0)
    assert first is not None and first.setpoint == 28.0  # within the limits
    g.written(first, 0)
    down = g.bound(ZoneSetting("z", True, setpoint=18.0), now=60)
    assert down is not None and down.setpoint == 26.0  # at most 2 °C per write
    g.written(down, 60)
    assert g.bound(ZoneSetting("z", False), now=120) is None  # on for 10 min at least
    off = g.bound(ZoneSetting("z", False, setpoint=26.0), now=700)
    assert off is not None and not off.on
    g.written(off, 700)
    assert g.bound(ZoneSetting("z", True, setpoint=26.0), now=800) is None  # off 10 min too
    lights = Guard(LightZone("l", floor=40))
    dim = lights.bound(ZoneSetting("l", True, level=10), now=0)
    assert dim is not None and dim.level == 40  # never below the safe floor while on


# ---- the loop against failing zones ----------------------------------------------------


async def test_an_unreachable_controller_raises_one_alert_and_is_taken_up_again() -> None:
    c = calendar()
    now = c.at(MONDAY, 12 * 60)
    room = ThermalZone("z", temperature=20.0)
    lamp = LightingZone("l")
    alerts: list[str] = []
    ctl = EnergyController(
        planner(),
        Zones(hvac=[HvacZone("z")], lights=[LightZone("l")]),
        {"z": room, "l": lamp},
        outside=lambda: 0.0,
        clock=lambda: now,
        on_alert=lambda zone, message: alerts.append(message),
    )
    await ctl.step()
    assert room.on and lamp.on and alerts == []
    room.unreachable = True
    for _ in range(5):
        now += 60
        await ctl.step()  # no crash, one alert
    assert alerts == ["controller of zone z unreachable: z: no answer"]
    assert not ctl.status["z"].reachable
    room.unreachable = False
    room.on = False  # it ran its own schedule meanwhile
    now += 600
    await ctl.step()
    await ctl.step()
    assert ctl.status["z"].reachable and room.on  # planned and written again


async def test_a_write_that_does_not_take_is_an_alert() -> None:
    c = calendar()
    now = c.at(MONDAY, 12 * 60)
    lamp = LightingZone("l", refuses_writes=True)
    alerts: list[str] = []
    ctl = EnergyController(
        planner(),
        Zones(lights=[LightZone("l")]),
        {"l": lamp},
        outside=lambda: None,
        clock=lambda: now,
        on_alert=lambda zone, message: alerts.append(message),
    )
    for _ in range(4):
        await ctl.step()
        now += 60
    assert len(alerts) == 1 and "write did not take" in alerts[0]
    assert lamp.writes >= 2  # tried again, once a step at most


def test_a_zone_without_a_controller_is_refused() -> None:
    with pytest.raises(ValueError, match="no controller for zone"):
        EnergyController(planner(), Zones(hvac=[HvacZone("z")]), {}, outside=lambda: None)
