"""People counters' reports: parsed by format, checked whole, each period counted once,
spread over the 15-minute slots they cover."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gateway.bridge.payloads import Identity
from gateway.energy import footfall
from gateway.energy.counters import KEEP_S, Counter, CounterRefused, CounterReports, token_hash
from gateway.energy.footfall import CountPeriod, FootfallError
from gateway.store import Database

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC).timestamp()


def generic(*periods: tuple[str, str, int, int]) -> dict[str, object]:
    return {"periods": [{"start": s, "end": e, "in": i, "out": o} for s, e, i, o in periods]}


def test_generic_and_vivotek_reports_parse() -> None:
    got = footfall.parse(
        "generic", generic(("2026-01-05T09:00:00Z", "2026-01-05T09:15:00Z", 12, 3))
    )
    assert got == [CountPeriod(T0, T0 + 900, 12, 3)]
    vivotek = {
        "Source": {"UtcTime": "2026-01-05T09:15:01Z", "ModelName": "SC8131"},
        "Data": [
            {
                "RuleType": "Counting",
                "CountingInfo": [
                    {
                        "RuleName": "Counting1",
                        "In": 1,
                        "Out": 2,
                        "StartTime": "2026-01-05T09:00:00Z",
                        "EndTime": "2026-01-05T09:15:00Z",
                    }
                ],
            }
        ],
    }
    assert footfall.parse("vivotek", vivotek) == [CountPeriod(T0, T0 + 900, 1, 2, "Counting1")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"nope": 1}, "expected"),
        (generic(("2026-01-05T09:00:00", "2026-01-05T09:15:00Z", 1, 1)), "no UTC offset"),
        (generic(("2026-01-05T09:15:00Z", "2026-01-05T09:00:00Z", 1, 1)), "end must follow"),
        (generic(("2026-01-05T09:00:00Z", "2026-01-05T09:15:00Z", -1, 1)), "whole number"),
        (generic(("2026-01-05T09:00:00Z", "2026-01-05T09:15:00Z", True, 1)), "whole number"),
        (generic(("yesterday", "2026-01-05T09:15:00Z", 1, 1)), "not an ISO 8601"),
    ],
)
def test_a_bad_report_says_what_is_wrong(body: object, message: str) -> None:
    with pytest.raises(FootfallError, match=message):
        footfall.parse("generic", body)
    with pytest.raises(FootfallError, match="unknown counter format"):
        footfall.parse("milesight-x", body)


async def test_each_period_is_counted_once_and_an_overlap_is_refused_whole(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    first = [CountPeriod(T0, T0 + 900, 10, 2), CountPeriod(T0 + 900, T0 + 1800, 20, 5)]
    got = await db.run(lambda d: footfall.record(d, "door", first, T0 + 1801))
    assert len(got.new) == 2 and got.repeated == 0
    # Re-sent (the counter missed our answer), plus one new period: the new one only.
    again = [*first, CountPeriod(T0 + 1800, T0 + 2700, 7, 7)]
    got = await db.run(lambda d: footfall.record(d, "door", again, T0 + 2701))
    assert [p.entered for p in got.new] == [7] and got.repeated == 2
    # Another counter's periods are its own.
    got = await db.run(lambda d: footfall.record(d, "door-2", first, T0 + 2702))
    assert len(got.new) == 2
    # A period overlapping a counted one with other bounds: the whole report is refused.
    bad = [CountPeriod(T0 + 2700, T0 + 3600, 1, 1), CountPeriod(T0 + 600, T0 + 1200, 4, 4)]
    with pytest.raises(FootfallError, match="overlaps"):
        await db.run(lambda d: footfall.record(d, "door", bad, T0 + 3601))
    slots = await db.read(lambda d: footfall.slot_counts(d, T0, T0 + 3600))
    assert slots == {T0: 20.0, T0 + 900: 40.0, T0 + 1800: 7.0}  # nothing of the refused one
    await db.close()


async def test_a_period_longer_than_a_slot_is_spread_by_overlap(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    await db.run(
        lambda d: footfall.record(d, "door", [CountPeriod(T0 + 450, T0 + 2250, 60, 0)], T0)
    )
    assert await db.read(lambda d: footfall.slot_counts(d, T0, T0 + 3600)) == {
        T0: pytest.approx(15.0),
        T0 + 900: pytest.approx(30.0),
        T0 + 1800: pytest.approx(15.0),
    }
    await db.close()


async def test_counted_weeks_are_kept_and_older_periods_pruned(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    now = [T0 + 1000]
    reports = CounterReports(
        db,
        {"door": Counter("door", token_hash("t"), "generic", "aabbcc001122")},
        Identity("s1", "gw-1"),
        clock=lambda: now[0],
    )

    def report(start: float) -> bytes:
        iso = [dt.datetime.fromtimestamp(t, dt.UTC).isoformat() for t in (start, start + 900)]
        return json.dumps(
            {"periods": [{"start": iso[0], "end": iso[1], "in": 5, "out": 5}]}
        ).encode()

    assert await reports.report("door", "t", report(T0)) == {
        "stored": 1,
        "repeated": 0,
        "too_old": 0,
    }
    now[0] = T0 + KEEP_S + 2 * 86400  # ten weeks and more later
    await reports.report("door", "t", report(now[0] - 900))
    kept = await db.read(lambda d: footfall.slot_counts(d, 0, now[0]))
    assert list(kept) == [now[0] - 900 - (now[0] - 900) % 900]  # the old period is gone
    with pytest.raises(CounterRefused):
        await reports.report("door", "wrong", report(now[0]))
    await db.close()
