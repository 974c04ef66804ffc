"""The store's calendar and its zones, as configured (validated where they are read).

Time is the store's local time: a slot is one of the 96 quarter hours of a local
day, a weekday is Monday = 0. Opening hours are per weekday; closed days (public
holidays) come from the configuration or the cloud.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # as opening hours name them
SLOT_S = 900
SLOTS_PER_DAY = 96


class EnergyConfigError(ValueError):
    """A calendar or zone setting that cannot work (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Calendar:
    """Opening hours per weekday (minutes after local midnight, open..close; None:
    closed all day) and closed dates."""

    hours: tuple[tuple[int, int] | None, ...]  # 7 entries, Monday first
    closed: frozenset[dt.date] = frozenset()
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise EnergyConfigError(f"opening hours need 7 weekdays, got {len(self.hours)}")
        for day, span in enumerate(self.hours):
            if span is not None and not 0 <= span[0] < span[1] <= 24 * 60:
                raise EnergyConfigError(
                    f"opening hours of weekday {day}: {span} is not open < close within the day"
                )
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError) as exc:
            raise EnergyConfigError(f"unknown time zone {self.timezone!r}") from exc

    @classmethod
    def weekly(
        cls,
        hours: Mapping[int, tuple[str, str] | None],
        closed: Iterable[dt.date] = (),
        timezone: str = "UTC",
    ) -> Calendar:
        """From ``{weekday: ("08:00", "20:00")}`` (a weekday missing: closed)."""

        def minutes(text: str) -> int:
            try:
                h, m = text.split(":")
                value = int(h) * 60 + int(m)
            except ValueError as exc:
                raise EnergyConfigError(f"{text!r} is not a time of day (HH:MM)") from exc
            if not 0 <= value <= 24 * 60:
                raise EnergyConfigError(f"{text!r} is not a time of day (HH:MM)")
            return value

        spans: list[tuple[int, int] | None] = []
        for day in range(7):
            span = hours.get(day)
            spans.append(None if span is None else (minutes(span[0]), minutes(span[1])))
        return cls(tuple(spans), frozenset(closed), timezone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, epoch: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch, self.zone)

    def span(self, day: dt.date) -> tuple[int, int] | None:
        """Opening minutes of a local date (None: closed)."""
        if day in self.closed:
            return None
        return self.hours[day.weekday()]

    def is_open(self, epoch: float) -> bool:
        t = self.local(epoch)
        span = self.span(t.date())
        minute = t.hour * 60 + t.minute
        return span is not None and span[0] <= minute < span[1]

    def at(self, day: dt.date, minute: int) -> float:
        """The epoch of a local date's minute."""
        midnight = dt.datetime.combine(day, dt.time(), self.zone)
        return (midnight + dt.timedelta(minutes=minute)).timestamp()


def slot_of(t: dt.datetime) -> int:
    return (t.hour * 60 + t.minute) // 15


@dataclass(frozen=True, slots=True)
class HvacZone:
    """An air-conditioned zone (heating season: the band's low edge matters; cooling:
    the high edge). ``heat_rate`` / ``cool_rate``: °C per hour the plant moves the zone
    at full power on a cold (hot) day: how long pre-conditioning takes."""

    name: str
    band: tuple[float, float] = (20.0, 23.0)  # °C while open
    setback: tuple[float, float] = (14.0, 30.0)  # °C while closed (frost / overheat)
    limits: tuple[float, float] = (12.0, 28.0)  # no setpoint ever outside
    max_step: float = 2.0  # °C per write
    min_on_s: float = 600.0
    min_off_s: float = 600.0
    heat_rate: float = 2.0
    cool_rate: float = 2.0
    preheat_margin_s: float = 1800.0  # started this much earlier than the estimate

    def __post_init__(self) -> None:
        lo, hi = self.band
        if not self.limits[0] <= lo < hi <= self.limits[1]:
            raise EnergyConfigError(
                f"zone {self.name}: band {self.band} must lie within limits {self.limits}"
            )
        if self.setback[0] > lo or self.setback[1] < hi:
            raise EnergyConfigError(f"zone {self.name}: setback {self.setback} must contain band")
        if self.max_step <= 0 or self.heat_rate <= 0 or self.cool_rate <= 0:
            raise EnergyConfigError(f"zone {self.name}: max_step and rates must be positive")


@dataclass(frozen=True, slots=True)
class LightZone:
    """A lighting zone: ``floor`` is the lowest level while open (safety, never
    dimmed below), ``full`` the level at the day's busiest forecast."""

    name: str
    floor: int = 40  # % while open
    full: int = 100
    busy: float = 0.0  # people per slot at which the zone is at ``full`` (0: the day's peak)
    min_on_s: float = 300.0
    min_off_s: float = 300.0
    rated_kw: float = 10.0
    staff_minutes: int = 30  # lights on (at floor) this long before opening and after closing

    def __post_init__(self) -> None:
        if not 0 < self.floor <= self.full <= 100:
            raise EnergyConfigError(
                f"zone {self.name}: light levels need 0 < floor ({self.floor}) <= full "
                f"({self.full}) <= 100"
            )


@dataclass(slots=True)
class Zones:
    hvac: list[HvacZone] = field(default_factory=list)
    lights: list[LightZone] = field(default_factory=list)

    def every(self) -> list[HvacZone | LightZone]:
        return [*self.hvac, *self.lights]
