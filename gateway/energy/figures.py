"""Today's energy per zone, beside an estimate of the same day under the fixed schedule
the store ran before, and the day's course for the page's charts. Pure.

The zone's meter gives what the day used (the meter now minus its first reading of
the day). The fixed schedule did not run, so what it would have used is estimated
from the meter: each step adds a *load* for what the zone did and for what the
fixed schedule would have done at the same minute, and the estimate is the meter's
figure times the ratio of the two sums. The load of a lighting zone is its level
while on; that of an air-conditioned zone is how far its setpoint is from the
outside temperature, in the direction the plant works, while on (steady state: a
zone's losses grow with that difference; without an outside sensor 10 °C stands
in for it). A day whose own load is still nothing (a zone off since midnight) has
no estimate yet, except for lights, whose rated power gives one directly.
``scripts/bench energy`` compares the estimate with the simulated fixed schedule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gateway.energy.model import SLOTS_PER_DAY, HvacZone, LightZone

OUTSIDE_STANDIN = 10.0  # °C, when no outside sensor is configured


def load(zone: HvacZone | LightZone, on: bool, value: float | None, outside: float | None) -> float:
    """A zone's load for one step: what its energy use follows (see the module)."""
    if not on or value is None:
        return 0.0
    if isinstance(zone, LightZone):
        return value / 100.0
    ref = OUTSIDE_STANDIN if outside is None else outside
    lo, hi = zone.band
    heating = ref < (lo + hi) / 2
    return max(0.0, value - ref) if heating else max(0.0, ref - value)


@dataclass(slots=True)
class ZoneDay:
    """One zone's local day so far."""

    day: dt.date
    since: float  # when this account started (midnight, or the gateway's start)
    first_kwh: float | None = None
    last_kwh: float | None = None
    load: float = 0.0
    baseline_load: float = 0.0
    baseline_lit_h: float = 0.0  # lights: hours-at-full the fixed schedule would have burnt
    # Per quarter hour: the last (temperature, setpoint) or (level, None) of the slot.
    course: list[tuple[float | None, float | None] | None] = field(
        default_factory=lambda: [None] * SLOTS_PER_DAY
    )

    @property
    def kwh(self) -> float | None:
        if self.first_kwh is None or self.last_kwh is None:
            return None
        return max(0.0, self.last_kwh - self.first_kwh)

    def baseline_kwh(self, zone: HvacZone | LightZone) -> float | None:
        """The fixed schedule's estimate for the same span (None: no estimate yet)."""
        used = self.kwh
        if used is not None and self.load > 0:
            return used * self.baseline_load / self.load
        if isinstance(zone, LightZone):
            return zone.rated_kw * self.baseline_lit_h
        return None


class DayFigures:
    """Every zone's :class:`ZoneDay`, started afresh at each local midnight."""

    def __init__(self) -> None:
        self.days: dict[str, ZoneDay] = {}

    def record(
        self,
        zone: HvacZone | LightZone,
        day: dt.date,
        slot: int,
        now: float,
        step_s: float,
        reading: tuple[bool, float | None, float | None, float | None],
        baseline: tuple[bool, float | None],
        outside: float | None,
    ) -> None:
        """One step of a zone: ``reading`` = (on, setpoint or level, temperature, meter
        kWh) as its controller reports them; ``baseline`` = (on, setpoint or level) of
        the fixed schedule at the same time."""
        account = self.days.get(zone.name)
        if account is None or account.day != day:
            account = self.days[zone.name] = ZoneDay(day, now)
        on, value, temperature, meter = reading
        if meter is not None:
            if account.first_kwh is None:
                account.first_kwh = meter
            account.last_kwh = meter
        account.load += load(zone, on, value, outside)
        account.baseline_load += load(zone, baseline[0], baseline[1], outside)
        if isinstance(zone, LightZone):
            if baseline[0] and baseline[1] is not None:
                account.baseline_lit_h += baseline[1] / 100.0 * step_s / 3600.0
            account.course[slot] = (value if on else 0.0, None)
        else:
            account.course[slot] = (temperature, value if on else None)
