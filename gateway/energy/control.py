"""Writing plans to the zones: every write bounded, logged, read back and compared.

A zone's controller (Modbus TCP on a real building; the virtual building's zones in
the simulation) is behind :class:`ZoneController`. :class:`Guard` stands between a
plan and a write: setpoints within the zone's limits and moved at most ``max_step``
per write, lights never below the safe floor while on, and minimum on and off
times (a plant is not switched every minute). :class:`EnergyController` steps
the zones: read what the controller reports, plan, bound, write what changed, and
check at the next step that it took (two readings that disagree: an alert). A
controller that cannot be reached raises an alert once and is retried every step;
meanwhile it runs its own schedule (the gateway never depends on being there).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from gateway.energy.figures import DayFigures
from gateway.energy.model import HvacZone, LightZone, Zones, slot_of
from gateway.energy.plan import Planner, ZoneSetting

log = structlog.get_logger("gateway.energy")

MISMATCHES_BEFORE_ALERT = 2
WRITES_KEPT = 1000  # writes waiting to be sent as telemetry
ALERTS_KEPT = 20  # per zone, for the page


class ControllerError(Exception):
    """The zone's controller cannot be reached or refused a request (the message says)."""


@dataclass(frozen=True, slots=True)
class ZoneReading:
    on: bool
    setpoint: float | None = None
    level: int | None = None
    temperature: float | None = None
    energy_kwh: float | None = None


class ZoneController:
    """What the gateway needs of a zone's controller."""

    async def read(self) -> ZoneReading:
        raise NotImplementedError

    async def write(self, setting: ZoneSetting) -> None:
        raise NotImplementedError


@dataclass(slots=True)
class _State:
    on: bool | None = None
    setpoint: float | None = None
    level: int | None = None
    switched_at: float = float("-inf")


class Guard:
    """The bounds of one zone's writes (see the module's docstring)."""

    def __init__(self, zone: HvacZone | LightZone) -> None:
        self.zone = zone
        self.state = _State()

    def bound(self, wanted: ZoneSetting, now: float) -> ZoneSetting | None:
        """The write to make now (None: nothing changes)."""
        z, s = self.zone, self.state
        on = wanted.on
        if s.on is not None and on != s.on:
            hold = z.min_on_s if s.on else z.min_off_s
            if now - s.switched_at < hold:
                on = s.on
        setpoint = level = None
        if isinstance(z, HvacZone):
            target = wanted.setpoint if wanted.setpoint is not None else s.setpoint
            if target is not None:
                target = min(max(target, z.limits[0]), z.limits[1])
                if s.setpoint is not None:
                    step = max(-z.max_step, min(z.max_step, target - s.setpoint))
                    target = s.setpoint + step
                target = round(target, 1)  # controllers take tenths of a degree
            setpoint = target
        else:
            level = wanted.level if on else 0
            if on:
                level = max(z.floor, min(100, level if level is not None else z.full))
        if (on, setpoint, level) == (s.on, s.setpoint, s.level):
            return None
        return ZoneSetting(z.name, on, setpoint=setpoint, level=level, why=wanted.why)

    def written(self, setting: ZoneSetting, now: float) -> None:
        s = self.state
        if s.on != setting.on:
            s.switched_at = now
        s.on, s.setpoint, s.level = setting.on, setting.setpoint, setting.level

    def adopt(self, reading: ZoneReading) -> None:
        """What the controller reports (at start, or after it ran on its own)."""
        s = self.state
        if s.on is None:
            s.on = reading.on
            if isinstance(self.zone, HvacZone):
                s.setpoint = None if reading.setpoint is None else round(reading.setpoint, 1)
            else:
                s.level = reading.level


@dataclass(frozen=True, slots=True)
class Override:
    """A technician's setting for a zone, in force until ``until`` (then the plan
    resumes); bounded like every write."""

    setting: ZoneSetting
    until: float
    user: str


MAX_OVERRIDE_S = 4 * 3600.0


@dataclass(slots=True)
class ZoneStatus:
    """One zone as the page and the tests see it."""

    reading: ZoneReading | None = None
    setting: ZoneSetting | None = None
    reachable: bool = True
    mismatches: int = 0
    writes: int = 0
    alerts: list[str] = field(default_factory=list)
    override: Override | None = None
    planned: ZoneSetting | None = None  # what the plan (or an override) wants now


Alert = Callable[[str, str], None]  # (zone, message)


class EnergyController:
    def __init__(
        self,
        planner: Planner,
        zones: Zones,
        controllers: Mapping[str, ZoneController],
        outside: Callable[[], float | None],
        clock: Callable[[], float] = time.time,
        on_alert: Alert | None = None,
        baseline: bool = False,
    ) -> None:
        names = [z.name for z in zones.every()]
        if len(set(names)) != len(names):
            raise ValueError(f"zone names must be unique, got {sorted(names)}")
        missing = set(names) - set(controllers)
        if missing:
            raise ValueError(f"no controller for zone(s) {sorted(missing)}")
        self.planner = planner
        self.zones = zones
        self._controllers = controllers
        self._outside = outside
        self._clock = clock
        self._on_alert = on_alert
        self.baseline = baseline
        self.guards = {z.name: Guard(z) for z in zones.every()}
        self.status = {name: ZoneStatus() for name in self.guards}
        # Writes made since the service last sent them: (zone, time, setting).
        self.written: list[tuple[str, float, ZoneSetting]] = []
        self.figures = DayFigures()  # today's energy beside the fixed schedule's estimate
        self._stepped: float | None = None

    def override(
        self,
        zone: str,
        user: str,
        duration_s: float,
        *,
        on: bool,
        setpoint: float | None = None,
        level: int | None = None,
    ) -> Override:
        """A technician takes a zone over for ``duration_s`` (at most ``MAX_OVERRIDE_S``);
        written at the next step, within the zone's bounds. Raises KeyError (no such
        zone) or ValueError (what is wrong)."""
        z = self.guards[zone].zone
        if not 0 < duration_s <= MAX_OVERRIDE_S:
            raise ValueError(f"an override lasts 1 s to {MAX_OVERRIDE_S / 3600:.0f} h")
        if isinstance(z, HvacZone):
            if level is not None:
                raise ValueError(f"zone {zone} is air-conditioning: give a setpoint, not a level")
            if setpoint is not None and not z.limits[0] <= setpoint <= z.limits[1]:
                raise ValueError(
                    f"setpoint {setpoint} °C is outside zone {zone}'s limits {z.limits}"
                )
        else:
            if setpoint is not None:
                raise ValueError(f"zone {zone} is lighting: give a level, not a setpoint")
            if level is not None and not (z.floor if on else 0) <= level <= 100:
                raise ValueError(f"level {level} % is outside {z.floor}..100 % (the safe floor)")
        now = self._clock()
        o = Override(
            ZoneSetting(zone, on, setpoint=setpoint, level=level, why=f"override by {user}"),
            now + duration_s,
            user,
        )
        self.status[zone].override = o
        log.info(
            "zone overridden",
            zone=zone,
            user=user,
            on=on,
            setpoint=setpoint,
            level=level,
            until_s=duration_s,
        )
        return o

    def release(self, zone: str) -> None:
        """The plan takes the zone back now (KeyError: no such zone)."""
        if self.status[zone].override is not None:
            self.status[zone].override = None
            log.info("zone override released", zone=zone)

    def _overridden(self, zone: str, now: float) -> ZoneSetting | None:
        st = self.status[zone]
        if st.override is None:
            return None
        if now >= st.override.until:
            log.info("zone override expired", zone=zone, user=st.override.user)
            st.override = None
            return None
        return st.override.setting

    async def step(self) -> None:
        now = self._clock()
        outside = self._outside()
        step_s = 60.0 if self._stepped is None else min(max(now - self._stepped, 0.0), 900.0)
        self._stepped = now
        local = self.planner.calendar.local(now)
        day, slot = local.date(), slot_of(local)
        for hvac in self.zones.hvac:
            reading = await self._read(hvac.name)
            measured = None if reading is None else reading.temperature
            schedule = self.planner.hvac_baseline(hvac, now, measured)
            wanted = self._overridden(hvac.name, now)
            if wanted is None and self.baseline:
                wanted = schedule
            elif wanted is None:
                wanted = self.planner.hvac(hvac, now, measured, outside)
            await self._apply(hvac.name, wanted, reading, now)
            if reading is not None:
                self.figures.record(
                    hvac,
                    day,
                    slot,
                    now,
                    step_s,
                    (reading.on, reading.setpoint, reading.temperature, reading.energy_kwh),
                    (schedule.on, schedule.setpoint),
                    outside,
                )
        for light in self.zones.lights:
            reading = await self._read(light.name)
            schedule = self.planner.light_baseline(light, now)
            wanted = self._overridden(light.name, now)
            if wanted is None and self.baseline:
                wanted = schedule
            elif wanted is None:
                wanted = self.planner.light(light, now)
            await self._apply(light.name, wanted, reading, now)
            if reading is not None:
                level = None if reading.level is None else float(reading.level)
                self.figures.record(
                    light,
                    day,
                    slot,
                    now,
                    step_s,
                    (reading.on, level, None, reading.energy_kwh),
                    (schedule.on, None if schedule.level is None else float(schedule.level)),
                    outside,
                )

    async def _read(self, zone: str) -> ZoneReading | None:
        st = self.status[zone]
        try:
            reading = await self._controllers[zone].read()
        except ControllerError as exc:
            if st.reachable:
                st.reachable = False
                self._alert(zone, f"controller of zone {zone} unreachable: {exc}")
            return None
        if not st.reachable:
            st.reachable = True
            log.info("zone controller reachable again", zone=zone)
        st.reading = reading
        self.guards[zone].adopt(reading)
        self._check(zone, reading)
        return reading

    def _check(self, zone: str, reading: ZoneReading) -> None:
        """What the controller reports against what was last written."""
        st, s = self.status[zone], self.guards[zone].state
        if st.setting is None:
            return
        agrees = reading.on == s.on and (
            s.setpoint is None
            or (reading.setpoint is not None and abs(reading.setpoint - s.setpoint) < 0.06)
        )
        agrees = agrees and (s.level is None or reading.level == s.level)
        if agrees:
            st.mismatches = 0
            return
        st.mismatches += 1
        if st.mismatches >= MISMATCHES_BEFORE_ALERT:
            # Written again from what it reports (once a step, bounded as ever).
            self.guards[zone].state = _State()
            self.guards[zone].adopt(reading)
        if st.mismatches == MISMATCHES_BEFORE_ALERT:
            self._alert(
                zone,
                f"zone {zone}: write did not take (wrote on={s.on} setpoint={s.setpoint} "
                f"level={s.level}, controller reports on={reading.on} "
                f"setpoint={reading.setpoint} level={reading.level})",
            )

    async def _apply(
        self, zone: str, wanted: ZoneSetting, reading: ZoneReading | None, now: float
    ) -> None:
        st = self.status[zone]
        st.planned = wanted
        if reading is None:
            return  # unreachable: it runs its own schedule meanwhile
        bounded = self.guards[zone].bound(wanted, now)
        if bounded is None:
            return
        try:
            await self._controllers[zone].write(bounded)
        except ControllerError as exc:
            self._alert(zone, f"zone {zone}: write refused: {exc}")
            return
        self.guards[zone].written(bounded, now)
        st.setting = bounded
        st.writes += 1
        self.written.append((zone, now, bounded))
        del self.written[:-WRITES_KEPT]  # nobody sends them (no telemetry): the latest only
        log.info(
            "zone written",
            zone=zone,
            on=bounded.on,
            setpoint=bounded.setpoint,
            level=bounded.level,
            why=bounded.why,
        )

    def _alert(self, zone: str, message: str) -> None:
        alerts = self.status[zone].alerts
        alerts.append(message)
        del alerts[:-ALERTS_KEPT]  # years of a flapping controller: the latest only
        log.warning("energy alert", zone=zone, message=message)
        if self._on_alert is not None:
            self._on_alert(zone, message)
