"""Today's energy per zone and the fixed schedule's estimate from the meter (the
estimate against a simulated fixed schedule: tests/acceptance/test_energy_weeks.py)."""

from __future__ import annotations

import datetime as dt

from gateway.energy.figures import DayFigures, load
from gateway.energy.model import HvacZone, LightZone

ROOM = HvacZone("sales", band=(20.0, 23.0))
LAMP = LightZone("lights", rated_kw=10.0)
DAY = dt.date(2026, 1, 5)


def test_the_load_follows_what_the_zone_does() -> None:
    assert load(LAMP, True, 60.0, None) == 0.6
    assert load(LAMP, False, 60.0, None) == 0.0
    assert load(ROOM, True, 21.0, 5.0) == 16.0  # heating: setpoint above outside
    assert load(ROOM, True, 22.0, 30.0) == 8.0  # cooling: outside above setpoint
    assert load(ROOM, True, 21.0, None) == 11.0  # no outside sensor: 10 °C stands in
    assert load(ROOM, False, 21.0, 5.0) == 0.0


def test_the_estimate_scales_the_meter_by_the_schedules_load() -> None:
    f = DayFigures()
    # An hour, minute by minute: the plan heats to 20.5, the schedule would hold 21.5
    # (5 °C outside); the meter runs 0.1 kWh a minute.
    for minute in range(60):
        f.record(
            ROOM, DAY, 0, minute * 60.0, 60.0, (True, 20.5, 20.4, minute * 0.1), (True, 21.5), 5.0
        )
    day = f.days["sales"]
    assert day.kwh is not None and abs(day.kwh - 5.9) < 1e-9
    estimate = day.baseline_kwh(ROOM)
    assert estimate is not None and abs(estimate - 5.9 * 16.5 / 15.5) < 1e-9
    assert day.course[0] == (20.4, 20.5)
    # Next day: a new account.
    f.record(
        ROOM,
        DAY + dt.timedelta(days=1),
        0,
        86400.0,
        60.0,
        (True, 20.5, 20.4, 9.0),
        (True, 21.5),
        5.0,
    )
    assert f.days["sales"].kwh == 0.0 and f.days["sales"].since == 86400.0


def test_without_a_load_yet_lights_are_estimated_from_their_rating_and_hvac_not_at_all() -> None:
    f = DayFigures()
    for minute in range(30):  # the plan keeps both off; the schedule has them on
        f.record(LAMP, DAY, 0, minute * 60.0, 60.0, (False, 0.0, None, 3.0), (True, 100.0), None)
        f.record(ROOM, DAY, 0, minute * 60.0, 60.0, (False, 20.0, 18.0, 7.0), (True, 21.5), None)
    assert f.days["lights"].kwh == 0.0
    lit = f.days["lights"].baseline_kwh(LAMP)
    assert lit is not None and abs(lit - 5.0) < 1e-9  # 10 kW for half an hour
    assert f.days["sales"].baseline_kwh(ROOM) is None
    assert f.days["sales"].course[0] == (18.0, None)  # off: no setpoint drawn
