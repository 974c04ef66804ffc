"""The energy loop in the daemon: every ``step_s``, the zones are read, planned, bounded
and written (:class:`~gateway.energy.control.EnergyController`); at start and after
each local midnight the forecast is learned again from the counted footfall, and
its accuracy (MAPE on the last four weeks) recomputed. The cloud's energy settings
(opening hours, closed dates, zone bounds: :mod:`gateway.energy.remote`) are kept
in the database and applied over the configuration, at start and when a command
brings new ones.

A zone whose controller does not answer, or whose writes do not take, shows in
:meth:`EnergyService.metrics` (the built-in alert rules watch them). When the
gateway stops or loses a controller, the controller runs its own schedule: the
gateway never switches a zone off on its way out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.energy import remote
from gateway.energy.control import EnergyController, ZoneController
from gateway.energy.counters import CounterReports
from gateway.energy.forecast import MAPE_DAYS, Forecaster, backtest
from gateway.energy.modbus import ModbusLink, ModbusZone, RegisterMap
from gateway.energy.model import (
    SLOT_S,
    SLOTS_PER_DAY,
    Calendar,
    EnergyConfigError,
    HvacZone,
    Zones,
    slot_of,
)
from gateway.energy.plan import Planner
from gateway.store import Database
from gateway.timeutil import format_epoch

log = structlog.get_logger("gateway.energy")

Emit = Callable[[list[tuple[str, float, str, float]]], Awaitable[None]]  # telemetry readings

HISTORY_DAYS = 8 * 7  # counted days the forecast learns from


@dataclass(frozen=True)
class ZoneLink:
    """Where a zone's controller is: a Modbus TCP controller and the zone's registers."""

    host: str
    port: int
    timeout_s: float
    registers: RegisterMap


@dataclass(frozen=True)
class EnergySettings:
    calendar: Calendar
    zones: Zones
    links: Mapping[str, ZoneLink]  # zone name -> its controller and registers
    outside_sensor: str | None = None
    step_s: float = 60.0
    device_ids: Mapping[str, str] = field(default_factory=dict)  # zone -> telemetry device id

    def controllers(self) -> dict[str, ZoneController]:
        """One Modbus link per controller, shared by its zones."""
        shared: dict[tuple[str, int], ModbusLink] = {}
        out: dict[str, ZoneController] = {}
        for name, where in self.links.items():
            key = (where.host, where.port)
            if key not in shared:
                shared[key] = ModbusLink(where.host, where.port, where.timeout_s)
            out[name] = ModbusZone(name, shared[key], where.registers)
        return out


class EnergyService:
    def __init__(
        self,
        calendar: Calendar,
        zones: Zones,
        controllers: Mapping[str, ZoneController],
        counters: CounterReports,
        outside: Callable[[], float | None],
        step_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        device_ids: Mapping[str, str] | None = None,
        emit: Emit | None = None,
        db: Database | None = None,
    ) -> None:
        self.calendar = calendar
        self._configured = (calendar, zones)
        self._db = db
        self.settings_version: int | None = None  # the cloud's settings in use (None: config)
        self.settings_at: float | None = None
        self._device_ids = dict(device_ids or {})
        self._emit = emit
        self._counters = counters
        self._step_s = step_s
        self._clock = clock
        self.forecaster = Forecaster(calendar)
        self.planner = Planner(calendar, self._predict)
        self.controller = EnergyController(
            self.planner, zones, controllers, outside, clock=clock, on_alert=self._alert
        )
        self.mape: float | None = None
        self.learned_days = 0
        self.footfall_today: list[float | None] = [None] * SLOTS_PER_DAY  # counted so far
        self._learned_on: dt.date | None = None

    def _predict(self, day: dt.date) -> list[float]:
        return self.forecaster.predict(day)

    async def learn(self) -> None:
        """The forecast from the counted days before today (a fresh one each time: the
        same counts always give the same forecast)."""
        today = self.calendar.local(self._clock()).date()
        first = today - dt.timedelta(days=HISTORY_DAYS)
        since = self.calendar.at(first, 0)
        until = self.calendar.at(today, 0)
        slots = await self._counters.slots(since, until)
        days: dict[dt.date, list[float]] = {}
        for start, people in slots.items():
            t = self.calendar.local(start + SLOT_S / 2)
            days.setdefault(t.date(), [0.0] * SLOTS_PER_DAY)[slot_of(t)] += people
        forecaster = Forecaster(self.calendar)
        for day in sorted(days):
            forecaster.learn(day, days[day])
        self.forecaster = forecaster
        self.planner.forget()
        self.learned_days = len(days)
        self.mape, _ = backtest(self.calendar, days, last_days=MAPE_DAYS)
        self._learned_on = today
        log.info("footfall forecast learned", days=len(days), mape=self.mape)

    async def load_settings(self) -> None:
        """The cloud's last settings over the configuration (at start)."""
        stored = None if self._db is None else await self._db.read(_stored_settings)
        if stored is None:
            return
        version, settings, applied_at = stored
        try:
            calendar, zones = remote.apply(*self._configured, settings)
        except EnergyConfigError as exc:  # the configuration changed under them
            log.warning(
                "energy settings from the cloud no longer apply; the configuration's are used",
                version=version,
                problem=str(exc),
            )
            return
        self._use(calendar, zones)
        self.settings_version, self.settings_at = version, applied_at

    async def update(self, command_id: str, body: Mapping[str, Any]) -> tuple[str, str | None]:
        """An ``energy-settings`` command's body (JSON-shaped): ``("applied", None)``,
        ``("skipped-stale", why)`` for a version not newer than the one in use, or
        ``("failed", why)`` for settings that cannot apply (nothing changes then)."""
        if self._db is None:
            return "failed", "this gateway keeps no energy settings (no database)"
        stored = await self._db.read(_stored_settings)
        if stored is not None and stored[1].get("command_id") == command_id:
            return "applied", None  # carried out before a restart
        current = 0 if stored is None else stored[0]
        if body["version"] <= current:
            return "skipped-stale", f"version {body['version']} is not newer than {current}"
        merged = remote.merge(None if stored is None else stored[1], body)
        merged["command_id"] = command_id
        try:
            calendar, zones = remote.apply(*self._configured, merged)
        except EnergyConfigError as exc:
            log.warning("energy settings refused", command_id=command_id, problem=str(exc))
            return "failed", str(exc)
        now = self._clock()

        def save(d: Any) -> None:
            d.execute(
                "INSERT OR REPLACE INTO energy_settings "
                "(id, version, settings, command_id, applied_at) VALUES (1, ?, ?, ?, ?)",
                [body["version"], json.dumps(merged), command_id, now],
            )

        await self._db.run(save)
        self._use(calendar, zones)
        self.settings_version, self.settings_at = body["version"], now
        log.info("energy settings applied", command_id=command_id, version=body["version"])
        await self.learn()  # closed days change what the forecast learns from
        return "applied", None

    def _use(self, calendar: Calendar, zones: Zones) -> None:
        self.calendar = calendar
        self.forecaster.calendar = calendar
        self.planner.calendar = calendar
        self.planner.forget()
        self.controller.zones = zones
        for zone in zones.every():
            self.controller.guards[zone.name].zone = zone

    async def run(self) -> None:
        await self.load_settings()
        await self.learn()
        while True:
            if self.calendar.local(self._clock()).date() != self._learned_on:
                await self.learn()
            await self.controller.step()
            await self.send_readings()
            await self.count_today()
            await asyncio.sleep(self._step_s)

    async def count_today(self) -> None:
        """Today's counted footfall per slot, up to now (for the page, beside the forecast)."""
        now = self._clock()
        today = self.calendar.local(now).date()
        slots = await self._counters.slots(self.calendar.at(today, 0), now)
        counted: list[float | None] = [None] * SLOTS_PER_DAY
        for i in range(slot_of(self.calendar.local(now)) + 1):
            counted[i] = 0.0
        for start, people in slots.items():
            t = self.calendar.local(start + SLOT_S / 2)
            if t.date() == today:
                counted[slot_of(t)] = (counted[slot_of(t)] or 0.0) + people
        self.footfall_today = counted

    async def send_readings(self) -> None:
        """What each zone with a device id reports, as that device's telemetry."""
        if self._emit is None:
            return
        now = self._clock()
        readings: list[tuple[str, float, str, float]] = []
        for zone, device_id in self._device_ids.items():
            r = self.controller.status[zone].reading
            if r is None or not self.controller.status[zone].reachable:
                continue
            values = {
                "on": float(r.on),
                "temperature_c": r.temperature,
                "setpoint_c": r.setpoint,
                "level_pct": None if r.level is None else float(r.level),
                "energy_kwh": r.energy_kwh,
            }
            kind = self.controller.guards[zone].zone
            wanted = (
                ("temperature_c", "setpoint_c") if isinstance(kind, HvacZone) else ("level_pct",)
            )
            readings += [
                (device_id, now, name, value)
                for name, value in values.items()
                if value is not None and name in ("on", "energy_kwh", *wanted)
            ]
        # Each write the loop made, at its time (the contract's event types are fixed;
        # a write is the zone device's telemetry, ``written_*``).
        written, self.controller.written = self.controller.written, []
        for zone, at, setting in written:
            target = self._device_ids.get(zone)
            if target is None:
                continue
            readings.append((target, at, "written_on", float(setting.on)))
            if setting.setpoint is not None:
                readings.append((target, at, "written_setpoint_c", setting.setpoint))
            if setting.level is not None:
                readings.append((target, at, "written_level_pct", float(setting.level)))
        if readings:
            await self._emit(readings)

    def view(self) -> dict[str, Any]:
        """The zones, today's forecast and the forecast's accuracy, for the page."""
        now = self._clock()
        today = self.calendar.local(now).date()
        zones = []
        for zone in self.controller.zones.every():
            st = self.controller.status[zone.name]
            r, w, o = st.reading, st.planned, st.override
            hvac = isinstance(zone, HvacZone)
            day = self.controller.figures.days.get(zone.name)
            if day is not None and day.day != today:
                day = None  # nothing stepped yet today
            used = None if day is None else day.kwh
            fixed = None if day is None else day.baseline_kwh(zone)
            zones.append(
                {
                    "zone": zone.name,
                    "kind": "hvac" if hvac else "lights",
                    "reachable": st.reachable,
                    "on": None if r is None else r.on,
                    "setpoint": None if r is None or not hvac else r.setpoint,
                    "level": None if r is None or hvac else r.level,
                    "temperature": None if r is None or not hvac else r.temperature,
                    "energy_kwh": None if r is None else r.energy_kwh,
                    "why": None if w is None else w.why,
                    "writes": st.writes,
                    "override": None
                    if o is None
                    else {"user": o.user, "until": format_epoch(o.until)},
                    "problem": st.alerts[-1]
                    if st.alerts and (not st.reachable or st.mismatches >= 2)
                    else None,
                    "today": {
                        "since": None if day is None else format_epoch(day.since),
                        "kwh": None if used is None else round(used, 2),
                        "fixed_schedule_kwh": None if fixed is None else round(fixed, 2),
                    },
                    # Per quarter hour: [temperature, setpoint] or [level, null].
                    "course": [] if day is None else [list(c) if c else None for c in day.course],
                }
            )
        return {
            "zones": zones,
            "open": self.calendar.is_open(now),
            "forecast_today": [round(v, 1) for v in self.forecaster.predict(today)],
            "footfall_today": [None if v is None else round(v, 1) for v in self.footfall_today],
            "forecast_mape": None if self.mape is None else round(self.mape, 1),
            "learned_days": self.learned_days,
            "settings": {
                "from": "configuration" if self.settings_version is None else "cloud",
                "version": self.settings_version,
                "applied_at": None if self.settings_at is None else format_epoch(self.settings_at),
            },
        }

    def metrics(self) -> dict[str, float | None]:
        st = self.controller.status.values()
        return {
            "energy_zones_unreachable": float(sum(1 for s in st if not s.reachable)),
            "energy_writes_not_taking": float(sum(1 for s in st if s.mismatches >= 2)),
        }

    def _alert(self, zone: str, message: str) -> None:
        log.warning("energy zone", zone=zone, problem=message)


def _stored_settings(d: Any) -> tuple[int, dict[str, Any], float] | None:
    row = d.execute("SELECT version, settings, applied_at FROM energy_settings").fetchone()
    return None if row is None else (int(row[0]), json.loads(row[1]), float(row[2]))
