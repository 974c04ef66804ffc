"""Energy settings from the cloud (the signed ``energy-settings`` command): opening
hours, closed dates and zone bounds, over what the store's configuration says.

Pure. The settings the cloud sent are kept merged (a later command changes only
what it names: the week's hours or the closed dates as a whole, a zone's bounds
field by field) and applied over the configured calendar and zones, always from
the configuration: the result is the same whether the gateway has just started
or has run for months. The configuration stays the envelope the plant was
commissioned with: the cloud may narrow a zone's limits, never widen them, and
everything else is checked by the same rules as the configuration (band within
limits, set-back containing the band, lights' floor up to full).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from gateway.energy.model import (
    WEEKDAYS,
    Calendar,
    EnergyConfigError,
    HvacZone,
    LightZone,
    Zones,
)

HVAC_FIELDS = ("band", "setback", "limits")
LIGHT_FIELDS = ("floor", "full", "busy")


def merge(stored: Mapping[str, Any] | None, body: Mapping[str, Any]) -> dict[str, Any]:
    """The settings after a command's body (JSON-shaped, ``None`` for absent)."""
    out: dict[str, Any] = dict(stored or {})
    out["version"] = body["version"]
    if body.get("hours") is not None:
        out["hours"] = dict(body["hours"])
    if body.get("closed") is not None:
        out["closed"] = sorted(set(body["closed"]))
    zones = {k: dict(v) for k, v in (out.get("zones") or {}).items()}
    for name, change in (body.get("zones") or {}).items():
        zones.setdefault(name, {}).update({k: v for k, v in change.items() if v is not None})
    if zones:
        out["zones"] = zones
    return out


def apply(calendar: Calendar, zones: Zones, settings: Mapping[str, Any]) -> tuple[Calendar, Zones]:
    """The configured calendar and zones with the cloud's settings over them. Raises
    :class:`EnergyConfigError` naming what cannot apply (nothing is half-applied: the
    caller keeps what it had)."""
    if settings.get("hours") is not None:
        hours: dict[int, tuple[str, str] | None] = {}
        for day, text in settings["hours"].items():
            if day not in WEEKDAYS:
                raise EnergyConfigError(f"hours: {day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            if text is not None:
                open_, _, close = text.partition("-")
                hours[WEEKDAYS.index(day)] = (open_, close)
        calendar = Calendar.weekly(hours, closed=calendar.closed, timezone=calendar.timezone)
    if settings.get("closed") is not None:
        closed = frozenset(dt.date.fromisoformat(str(d)) for d in settings["closed"])
        calendar = dataclasses.replace(calendar, closed=closed)
    changes: Mapping[str, Mapping[str, Any]] = settings.get("zones") or {}
    known = {z.name for z in zones.every()}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise EnergyConfigError(
            f"unknown zone(s) {', '.join(unknown)} (this store's zones: {', '.join(sorted(known))})"
        )
    hvac = [_hvac(z, changes.get(z.name, {})) for z in zones.hvac]
    lights = [_lights(z, changes.get(z.name, {})) for z in zones.lights]
    return calendar, Zones(hvac=hvac, lights=lights)


def _hvac(zone: HvacZone, change: Mapping[str, Any]) -> HvacZone:
    _only(zone.name, "an air-conditioning zone", change, HVAC_FIELDS)
    pairs: dict[str, Any] = {k: (float(v[0]), float(v[1])) for k, v in change.items()}
    limits = pairs.get("limits")
    if limits is not None and not zone.limits[0] <= limits[0] < limits[1] <= zone.limits[1]:
        raise EnergyConfigError(
            f"zone {zone.name}: limits {list(limits)} must lie within the configured "
            f"{list(zone.limits)} (the cloud narrows them, never widens)"
        )
    return dataclasses.replace(zone, **pairs)


def _lights(zone: LightZone, change: Mapping[str, Any]) -> LightZone:
    _only(zone.name, "a lighting zone", change, LIGHT_FIELDS)
    return dataclasses.replace(zone, **change)


def _only(name: str, what: str, change: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    wrong = sorted(set(change) - set(allowed))
    if wrong:
        raise EnergyConfigError(
            f"zone {name} is {what}: {', '.join(wrong)} do(es) not apply "
            f"(it takes {', '.join(allowed)})"
        )
