"""Energy settings from the cloud: merged command by command, applied over the
configuration, refused whole (with what is wrong) when they cannot apply, and kept
across a restart by the energy loop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.bridge import payloads
from gateway.commands.model import COMMAND
from gateway.energy import remote
from gateway.energy.counters import CounterReports
from gateway.energy.model import Calendar, EnergyConfigError, HvacZone, LightZone, Zones
from gateway.energy.service import EnergyService
from gateway.sim.building import LightingZone, ThermalZone
from gateway.store import Database

CONFIGURED = Calendar.weekly({d: ("08:00", "20:00") for d in range(6)}, timezone="Europe/Paris")
ZONES = Zones(
    hvac=[HvacZone("sales", band=(20.0, 23.0), limits=(12.0, 28.0))],
    lights=[LightZone("lights", floor=40, full=100)],
)
CHRISTMAS = dt.date(2026, 12, 25)


def test_hours_closed_days_and_zone_bounds_apply_over_the_configuration() -> None:
    settings = remote.merge(
        None,
        {
            "version": 1,
            "hours": {"mon": "09:00-19:00", "sat": "08:00-13:00"},
            "closed": [CHRISTMAS.isoformat()],
            "zones": {"sales": {"band": [19.0, 22.0]}, "lights": {"floor": 50}},
        },
    )
    calendar, zones = remote.apply(CONFIGURED, ZONES, settings)
    assert calendar.hours[0] == (9 * 60, 19 * 60)
    assert calendar.hours[1] is None  # the week replaced as a whole: Tuesday closed
    assert calendar.hours[5] == (8 * 60, 13 * 60)
    assert calendar.span(CHRISTMAS) is None
    assert calendar.timezone == "Europe/Paris"
    assert zones.hvac[0].band == (19.0, 22.0) and zones.hvac[0].limits == (12.0, 28.0)
    assert zones.lights[0].floor == 50 and zones.lights[0].full == 100


def test_a_later_command_changes_only_what_it_names() -> None:
    first = remote.merge(
        None,
        {"version": 1, "closed": ["2026-12-25"], "zones": {"sales": {"band": [19.0, 22.0]}}},
    )
    second = remote.merge(
        first, {"version": 2, "hours": None, "zones": {"sales": {"limits": [15.0, 26.0]}}}
    )
    assert second["version"] == 2
    assert second["closed"] == ["2026-12-25"]
    assert second["zones"]["sales"] == {"band": [19.0, 22.0], "limits": [15.0, 26.0]}
    _, zones = remote.apply(CONFIGURED, ZONES, second)
    assert zones.hvac[0].band == (19.0, 22.0) and zones.hvac[0].limits == (15.0, 26.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zones": {"freezer": {"band": [1, 2]}}}, "unknown zone.*freezer.*lights, sales"),
        ({"zones": {"lights": {"band": [19, 22]}}}, "lighting zone: band do.*floor, full, busy"),
        ({"zones": {"sales": {"floor": 30}}}, "air-conditioning zone: floor"),
        ({"zones": {"sales": {"limits": [10, 30]}}}, "within the configured.*never widens"),
        ({"zones": {"sales": {"band": [10, 22]}}}, "band .* must lie within limits"),
        ({"zones": {"lights": {"floor": 90, "full": 80}}}, "floor .90. <= full .80."),
        ({"hours": {"mon": "20:00-08:00"}}, "not open < close"),
    ],
)
def test_settings_that_cannot_apply_say_what_is_wrong(change: dict, message: str) -> None:
    with pytest.raises(EnergyConfigError, match=message):
        remote.apply(CONFIGURED, ZONES, remote.merge(None, {"version": 1, **change}))


def test_the_command_body_is_checked_before_it_is_stored() -> None:
    base = {
        "schema": "command/1",
        "id": "00000000-0000-4000-8000-000000000001",
        "store_id": "s1",
        "type": "energy-settings",
        "issued_at": "2026-12-01T10:00:00.000Z",
        "expires_at": "2026-12-01T11:00:00.000Z",
    }
    ok = COMMAND.validate_python({**base, "body": {"version": 3, "hours": {"sun": None}}})
    assert ok.type == "energy-settings"
    for bad in (
        {"hours": {"mon": "9-17"}},  # not HH:MM-HH:MM
        {"hours": {"monday": "09:00-17:00"}},  # not a weekday key
        {"zones": {"sales": {"bnad": [19, 22]}}},  # a misspelt field is not ignored
        {"closed": ["2026-02-30"]},
        {"hours": {}},  # the whole week closed by an empty map: say so with nulls
        {"version": 0},
    ):
        body = {"version": 3, **bad}
        with pytest.raises(ValueError):
            COMMAND.validate_python({**base, "body": body})


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.now


async def test_the_loop_applies_keeps_and_reloads_the_cloud_settings(tmp_path: Path) -> None:
    clock = Clock()
    db = Database(tmp_path / "gw.db")
    await db.open()
    try:

        def service() -> EnergyService:
            return EnergyService(
                CONFIGURED,
                ZONES,
                {"sales": ThermalZone("sales"), "lights": LightingZone("lights")},
                CounterReports(db, {}, payloads.Identity("s1", "g1")),
                lambda: None,
                clock=clock,
                db=db,
            )

        energy = service()
        body = {"version": 2, "zones": {"sales": {"band": [19.0, 22.0]}}}
        assert await energy.update("c1", body) == ("applied", None)
        assert energy.controller.guards["sales"].zone.band == (19.0, 22.0)
        assert energy.view()["settings"]["version"] == 2
        # The same command again (carried out before a restart): applied, once.
        assert await energy.update("c1", body) == ("applied", None)
        outcome, why = await energy.update("c2", {"version": 2, "closed": ["2026-12-08"]})
        assert outcome == "skipped-stale" and why == "version 2 is not newer than 2"
        outcome, why = await energy.update(
            "c3", {"version": 3, "zones": {"sales": {"limits": [5.0, 30.0]}}}
        )
        assert outcome == "failed" and "never widens" in str(why)
        assert energy.controller.guards["sales"].zone.limits == (12.0, 28.0)  # unchanged
        assert energy.calendar.span(dt.date(2026, 12, 8)) is not None
        # A new gateway process: the stored settings are back before the first step.
        again = service()
        assert again.controller.guards["sales"].zone.band == (20.0, 23.0)
        await again.load_settings()
        assert again.controller.guards["sales"].zone.band == (19.0, 22.0)
        assert again.view()["settings"] == {
            "from": "cloud",
            "version": 2,
            "applied_at": "2026-12-07T10:00:00.000Z",
        }
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("outcome", "status", "counts", "results"),
    [
        ("applied", "completed", {"applied": 1}, 0),
        ("failed", "partial", {"failed": 1}, 1),
        (None, "completed", {}, 0),  # the store's zones are another gateway's
    ],
)
def test_the_final_ack_of_energy_settings_follows_the_contract(
    outcome: str | None, status: str, counts: dict[str, int], results: int
) -> None:
    from gateway.contract import schema_errors

    ack = payloads.outcome_ack(
        payloads.Identity("s1", "g1"),
        command_id="8d3c1f9e-2b7a-4c1d-9e5f-0a1b2c3d4e5f",
        command_type="energy-settings",
        version=3,
        outcome=outcome,
        error="hours: 'mo' is not a weekday" if outcome == "failed" else None,
        now=1_800_000_000.0,
    )
    sent = {**ack, "msg_id": "12345678-1234-1234-1234-123456789abc", "seq": 1}  # the outbox's
    assert schema_errors("ack", sent) == []
    assert (ack["status"], ack["counts"], len(ack["results"])) == (status, counts, results)
    if results:
        assert ack["results"][0]["error"] == "hours: 'mo' is not a weekday"
        assert ack["results"][0]["version"] == 3
