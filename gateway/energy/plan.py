"""What each zone should do now: pure, from the calendar, the footfall forecast and what
the zone measures. Also the fixed schedule a store runs without a forecast (the
baseline the savings are measured on: lights full and the air-conditioning on five
hours before opening until closing, at the middle of the band).

Air-conditioning, per zone:
- open: held ``MARGIN`` inside the band's edge the season needs (heating: the low
  edge; cooling: the high one), and in the cooling season pulled down by
  ``RUSH_PRECOOL`` before a rush the forecast sees coming (people bring heat);
- closed: set back (only frost or overheat protection), until pre-conditioning
  starts: as late as the zone's measured temperature allows, from the plant's rate
  (°C per hour) plus a margin, so that the zone is in its band at opening.

Lights, per zone: off while closed (at the safe floor for ``staff_minutes`` around the
opening hours), and while open between the safe floor and full, following the
forecast of the slot against the zone's ``busy`` figure (or the day's peak).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from gateway.energy.model import Calendar, HvacZone, LightZone, slot_of

MARGIN = 0.5  # °C inside the band's edge
RUSH_PRECOOL = 1.0  # °C lower ahead of a rush (cooling season)
RUSH_LOOKAHEAD_SLOTS = 4
BASELINE_LEAD_S = 5 * 3600.0
WARMUPS_TO_LEARN = 3
WARMUPS_KEPT = 14


@dataclass(frozen=True, slots=True)
class ZoneSetting:
    """What a zone is told: on or off, and its setpoint (°C, air-conditioning) or level
    (%, lights). ``why`` is for the log and the page."""

    zone: str
    on: bool
    setpoint: float | None = None
    level: int | None = None
    why: str = ""


Forecast = Callable[[dt.date], list[float]]


class Planner:
    def __init__(self, calendar: Calendar, forecast: Forecast) -> None:
        self.calendar = calendar
        self._forecast = forecast
        self._days: dict[dt.date, list[float]] = {}
        self._preconditioning: dict[str, float] = {}  # zone -> the opening it is for
        self._warming: dict[str, tuple[float, float, float]] = {}  # zone -> since, °C, outside
        # zone -> (outside °C, °C per hour) of the last mornings' pre-conditioning
        self.warmups: dict[str, list[tuple[float, float]]] = {}

    def expected(self, day: dt.date) -> list[float]:
        f = self._days.get(day)
        if f is None:
            if len(self._days) > 8:
                self._days.clear()
            f = self._days[day] = self._forecast(day)
        return f

    def forget(self) -> None:
        """The forecast changed (a day learned): asked again."""
        self._days.clear()

    # ---- air-conditioning -------------------------------------------------------------

    def hvac(
        self, zone: HvacZone, now: float, measured: float | None, outside: float | None
    ) -> ZoneSetting:
        lo, hi = zone.band
        heating = outside is None or outside < (lo + hi) / 2
        if self.calendar.is_open(now):
            if heating:
                return ZoneSetting(zone.name, True, setpoint=lo + MARGIN, why="open")
            target = hi - MARGIN
            if self._rush_ahead(now):
                return ZoneSetting(
                    zone.name, True, setpoint=target - RUSH_PRECOOL, why="open, rush ahead"
                )
            return ZoneSetting(zone.name, True, setpoint=target, why="open")
        opening = self._next_opening(now)
        if opening is not None:
            target = lo + MARGIN if heating else hi - MARGIN
            if self._preconditioning.get(zone.name) == opening:
                self._measure(zone, now, measured, target, heating)
                return ZoneSetting(zone.name, True, setpoint=target, why="pre-conditioning")
            if measured is not None:
                gap = target - measured if heating else measured - target
                rate = self.rate(zone, heating, outside)
                lead = max(0.0, gap) / rate * 3600.0 + zone.preheat_margin_s
                if now >= opening - lead and gap > -MARGIN:
                    # Held until opening (as the zone nears its band the estimate shrinks).
                    self._preconditioning[zone.name] = opening
                    if gap > 1.0 and outside is not None:
                        self._warming[zone.name] = (now, measured, outside)
                    return ZoneSetting(zone.name, True, setpoint=target, why="pre-conditioning")
        return self._setback(zone, measured)

    def rate(self, zone: HvacZone, heating: bool, outside: float | None = None) -> float:
        """°C per hour the zone's plant achieves at this outside temperature: a line
        fitted to the last mornings' pre-conditioning (colder outside, slower: the
        envelope takes more of the plant's power), the configured figure until three
        mornings were measured; within a quarter and four times the configured one."""
        configured = zone.heat_rate if heating else zone.cool_rate
        seen = self.warmups.get(zone.name, [])
        if len(seen) < WARMUPS_TO_LEARN:
            return configured
        mean_out = sum(o for o, _ in seen) / len(seen)
        mean_rate = sum(r for _, r in seen) / len(seen)
        spread = sum((o - mean_out) ** 2 for o, _ in seen)
        slope = 0.0
        if spread > 0:
            slope = sum((o - mean_out) * (r - mean_rate) for o, r in seen) / spread
            slope = max(0.0, slope) if heating else min(0.0, slope)
        at = mean_out if outside is None else outside
        return min(4 * configured, max(configured / 4, mean_rate + slope * (at - mean_out)))

    def _measure(
        self, zone: HvacZone, now: float, measured: float | None, target: float, heating: bool
    ) -> None:
        """Pre-conditioning reached its target: how fast it got there, for next time."""
        start = self._warming.get(zone.name)
        if start is None or measured is None:
            return
        since, then, outside = start
        reached = measured >= target - 0.2 if heating else measured <= target + 0.2
        if not reached or now - since < 900:
            return
        del self._warming[zone.name]
        seen = self.warmups.setdefault(zone.name, [])
        seen.append((outside, abs(measured - then) / (now - since) * 3600.0))
        del seen[:-WARMUPS_KEPT]

    def hvac_baseline(self, zone: HvacZone, now: float, measured: float | None) -> ZoneSetting:
        """The fixed schedule: on five hours before opening until closing, mid-band."""
        lo, hi = zone.band
        opening = self._next_opening(now)
        if self.calendar.is_open(now) or (opening is not None and opening - now <= BASELINE_LEAD_S):
            return ZoneSetting(zone.name, True, setpoint=(lo + hi) / 2, why="schedule")
        return self._setback(zone, measured)

    @staticmethod
    def _setback(zone: HvacZone, measured: float | None) -> ZoneSetting:
        low, high = zone.setback
        if measured is not None and measured < low:
            return ZoneSetting(zone.name, True, setpoint=low, why="frost protection")
        if measured is not None and measured > high:
            return ZoneSetting(zone.name, True, setpoint=high, why="overheat protection")
        return ZoneSetting(zone.name, False, why="closed")

    def _rush_ahead(self, now: float) -> bool:
        t = self.calendar.local(now)
        expected = self.expected(t.date())
        slot = slot_of(t)
        ahead = expected[slot + 1 : slot + 1 + RUSH_LOOKAHEAD_SLOTS]
        peak = max(expected) if expected else 0.0
        return bool(ahead) and peak > 0 and max(ahead) >= 0.75 * peak > expected[slot]

    def _next_opening(self, now: float) -> float | None:
        """The next opening (epoch) within a week, None if the store never opens."""
        t = self.calendar.local(now)
        for ahead in range(8):
            day = t.date() + dt.timedelta(days=ahead)
            span = self.calendar.span(day)
            if span is None:
                continue
            at = self.calendar.at(day, span[0])
            if at > now:
                return at
        return None

    # ---- lights ----------------------------------------------------------------------

    def light(self, zone: LightZone, now: float) -> ZoneSetting:
        t = self.calendar.local(now)
        if self.calendar.is_open(now):
            expected = self.expected(t.date())
            busy = zone.busy or max(expected, default=0.0)
            share = 1.0 if busy <= 0 else min(1.0, expected[slot_of(t)] / busy)
            level = round(zone.floor + (zone.full - zone.floor) * share)
            return ZoneSetting(zone.name, True, level=max(zone.floor, level), why="open")
        if self._staff_time(zone, now):
            return ZoneSetting(zone.name, True, level=zone.floor, why="staff")
        return ZoneSetting(zone.name, False, level=0, why="closed")

    def light_baseline(self, zone: LightZone, now: float) -> ZoneSetting:
        if self.calendar.is_open(now) or self._staff_time(zone, now):
            return ZoneSetting(zone.name, True, level=zone.full, why="schedule")
        return ZoneSetting(zone.name, False, level=0, why="closed")

    def _staff_time(self, zone: LightZone, now: float) -> bool:
        t = self.calendar.local(now)
        span = self.calendar.span(t.date())
        if span is None:
            return False
        minute = t.hour * 60 + t.minute
        return span[0] - zone.staff_minutes <= minute < span[1] + zone.staff_minutes
