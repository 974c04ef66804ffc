"""Footfall from the doors' people counters: reports in, each period counted once,
people per 15-minute slot out.

People counters report line crossings per period (people in and out, with the
period's start and end). A report is parsed by the counter's format
(:data:`FORMATS`; add one there) into :class:`CountPeriod` s, checked whole (a bad
period refuses the whole report: nothing half-stored), then stored: a period
already stored (the counter re-sent it, e.g. after a lost answer) is counted once;
a period that overlaps a stored one with other bounds is refused (the counter's
clock or configuration changed: a person would be counted twice). This module owns
the ``footfall_periods`` table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.energy.model import SLOT_S

MAX_PERIOD_S = 24 * 3600
MAX_PERIODS = 500  # per report
MAX_COUNT = 100_000  # people per period and direction


class FootfallError(ValueError):
    """A report that cannot be taken (the message says what and how to fix it)."""


@dataclass(frozen=True, slots=True)
class CountPeriod:
    start: float  # POSIX seconds
    end: float
    entered: int
    left: int
    line: str = ""  # the counting line (a counter may count several doors)


def _time(value: object, what: str) -> float:
    if not isinstance(value, str):
        raise FootfallError(f"{what} must be an ISO 8601 time with its offset, got {value!r}")
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FootfallError(f"{what} {value!r} is not an ISO 8601 time") from exc
    if t.tzinfo is None:
        raise FootfallError(f"{what} {value!r} has no UTC offset (add Z or +hh:mm)")
    return t.timestamp()


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise FootfallError(f"{what} must be a whole number 0..{MAX_COUNT}, got {value!r}")
    return value


def _period(start: object, end: object, entered: object, left: object, line: str) -> CountPeriod:
    s, e = _time(start, "start"), _time(end, "end")
    if not 0 < e - s <= MAX_PERIOD_S:
        raise FootfallError(f"period {start}..{end}: the end must follow the start within a day")
    return CountPeriod(s, e, _count(entered, "in"), _count(left, "out"), line[:64])


def parse_generic(body: Any) -> list[CountPeriod]:
    """``{"periods": [{"start": ISO, "end": ISO, "in": n, "out": n, "line"?: text}]}``."""
    periods = body.get("periods") if isinstance(body, dict) else None
    if not isinstance(periods, list) or not periods:
        raise FootfallError('expected {"periods": [{"start", "end", "in", "out"}, ...]}')
    out = []
    for p in periods:
        if not isinstance(p, dict):
            raise FootfallError("each period must be an object with start, end, in, out")
        line = p.get("line", "")
        out.append(
            _period(p.get("start"), p.get("end"), p.get("in"), p.get("out"), str(line or ""))
        )
    return out


def parse_vivotek(body: Any) -> list[CountPeriod]:
    """VIVOTEK's counting report: ``{"Data": [{"RuleType": "Counting", "CountingInfo":
    [{"RuleName", "In", "Out", "StartTime", "EndTime"}]}]}`` (times in UTC)."""
    data = body.get("Data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise FootfallError('expected {"Data": [{"RuleType": "Counting", "CountingInfo": [...]}]}')
    out = []
    for rule in data:
        if not isinstance(rule, dict) or rule.get("RuleType") != "Counting":
            continue
        infos = rule.get("CountingInfo")
        if not isinstance(infos, list):
            raise FootfallError("a Counting rule needs a CountingInfo list")
        for i in infos:
            if not isinstance(i, dict):
                raise FootfallError("each CountingInfo entry must be an object")
            out.append(
                _period(
                    i.get("StartTime"),
                    i.get("EndTime"),
                    i.get("In"),
                    i.get("Out"),
                    str(i.get("RuleName") or ""),
                )
            )
    if not out:
        raise FootfallError("the report has no Counting periods")
    return out


FORMATS: dict[str, Callable[[Any], list[CountPeriod]]] = {
    "generic": parse_generic,
    "vivotek": parse_vivotek,
}


def parse(format_: str, body: Any) -> list[CountPeriod]:
    parser = FORMATS.get(format_)
    if parser is None:
        raise FootfallError(f"unknown counter format {format_!r} (known: {sorted(FORMATS)})")
    periods = parser(body)
    if len(periods) > MAX_PERIODS:
        raise FootfallError(f"{len(periods)} periods in one report; at most {MAX_PERIODS}")
    return periods


# ---- the table ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    new: list[CountPeriod]
    repeated: int


def record(
    d: sqlite_utils.Database, counter_id: str, periods: Sequence[CountPeriod], now: float
) -> Recorded:
    """Store a report's periods (inside the caller's transaction; raises
    :class:`FootfallError` before anything is written if one cannot be taken)."""
    new: list[CountPeriod] = []
    repeated = 0
    seen: set[tuple[str, float, float]] = set()
    for p in periods:
        key = (p.line, p.start, p.end)
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        rows = d.execute(
            "SELECT start, end FROM footfall_periods WHERE counter_id = ? AND line = ? "
            "AND start < ? AND end > ?",
            [counter_id, p.line, p.end, p.start],
        ).fetchall()
        if any((r[0], r[1]) == (p.start, p.end) for r in rows):
            repeated += 1
            continue
        if rows:
            raise FootfallError(
                f"period {_iso(p.start)}..{_iso(p.end)} of {counter_id} overlaps "
                f"{_iso(rows[0][0])}..{_iso(rows[0][1])} already counted (check the counter's "
                "clock and report interval)"
            )
        new.append(p)
    d.conn.executemany(
        "INSERT INTO footfall_periods (counter_id, line, start, end, entered, left_, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(counter_id, p.line, p.start, p.end, p.entered, p.left, now) for p in new],
    )
    return Recorded(new, repeated)


def slot_counts(d: sqlite_utils.Database, since: float, until: float) -> dict[float, float]:
    """People entering per slot (slot start, POSIX) between ``since`` and ``until``, all
    counters together; a period spread over the slots it covers, by overlap."""
    rows = d.execute(
        "SELECT start, end, entered FROM footfall_periods WHERE start < ? AND end > ?",
        [until, since],
    ).fetchall()
    out: dict[float, float] = {}
    for start, end, entered in rows:
        slot = start - start % SLOT_S
        while slot < end:
            overlap = min(end, slot + SLOT_S) - max(start, slot)
            if overlap > 0 and since <= slot < until:
                out[slot] = out.get(slot, 0.0) + entered * overlap / (end - start)
            slot += SLOT_S
    return out


def prune(d: sqlite_utils.Database, before: float) -> None:
    """Periods older than the forecast and its accuracy need (weeks)."""
    d.execute("DELETE FROM footfall_periods WHERE end < ?", [before])


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
