"""Expected footfall per 15-minute slot, learned on the box from its own counts.

One level per weekday and slot, smoothed exponentially over the weeks (``alpha``:
the weight of the newest week; 0.3 follows a change of habit within about three
weeks and does not chase one odd day). A closed day (the calendar says so) is
neither learned from nor expected to bring anyone; a weekday not seen yet borrows
the mean of the weekdays seen. Slots outside the day's opening hours expect nobody.

Accuracy is the mean absolute percentage error (MAPE) of the forecast made before
each open day against what was counted, over the slots where at least
``MAPE_MIN_COUNT`` people were counted (a quiet slot's percentage says nothing),
on the last four weeks: :func:`backtest` replays the stored counts to get it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from gateway.energy.model import SLOTS_PER_DAY, Calendar

ALPHA = 0.3
MAPE_MIN_COUNT = 5.0
MAPE_DAYS = 28


class Forecaster:
    def __init__(self, calendar: Calendar, alpha: float = ALPHA) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.calendar = calendar
        self.alpha = alpha
        self.levels: dict[int, list[float]] = {}  # weekday -> expected people per slot

    def learn(self, day: dt.date, counts: Sequence[float]) -> None:
        """A finished day's counts (96 slots) join the weekday's level."""
        if len(counts) != SLOTS_PER_DAY:
            raise ValueError(f"a day has {SLOTS_PER_DAY} slots, got {len(counts)}")
        if self.calendar.span(day) is None:
            return
        level = self.levels.get(day.weekday())
        if level is None:
            self.levels[day.weekday()] = [float(c) for c in counts]
            return
        a = self.alpha
        for i, c in enumerate(counts):
            level[i] = a * c + (1 - a) * level[i]

    def predict(self, day: dt.date) -> list[float]:
        """People expected per slot of a local date."""
        span = self.calendar.span(day)
        if span is None:
            return [0.0] * SLOTS_PER_DAY
        level = self.levels.get(day.weekday())
        if level is None:
            if not self.levels:
                return [0.0] * SLOTS_PER_DAY
            seen = list(self.levels.values())
            level = [sum(v[i] for v in seen) / len(seen) for i in range(SLOTS_PER_DAY)]
        first, last = span[0] // 15, (span[1] + 14) // 15
        return [level[i] if first <= i < last else 0.0 for i in range(SLOTS_PER_DAY)]

    def knows(self, day: dt.date) -> bool:
        return day.weekday() in self.levels


def mape(
    actual: Sequence[float], predicted: Sequence[float], min_count: float = MAPE_MIN_COUNT
) -> tuple[float, int]:
    """(MAPE in %, slots it covers) over the slots with at least ``min_count`` counted."""
    errors = [abs(a - p) / a for a, p in zip(actual, predicted, strict=True) if a >= min_count]
    return (100.0 * sum(errors) / len(errors) if errors else 0.0), len(errors)


def backtest(
    calendar: Calendar,
    days: Mapping[dt.date, Sequence[float]],
    alpha: float = ALPHA,
    last_days: int = MAPE_DAYS,
) -> tuple[float | None, int]:
    """Replay the counted days in order, forecasting each before learning it: the MAPE
    of the forecasts of the open days among the last ``last_days`` (None: none could
    be forecast yet) and how many slots it covers."""
    if not days:
        return None, 0
    ordered = sorted(days)
    since = ordered[-1] - dt.timedelta(days=last_days - 1)
    f = Forecaster(calendar, alpha)
    actual: list[float] = []
    predicted: list[float] = []
    for day in ordered:
        if day >= since and calendar.span(day) is not None and f.knows(day):
            actual.extend(days[day])
            predicted.extend(f.predict(day))
        f.learn(day, days[day])
    if not actual:
        return None, 0
    value, slots = mape(actual, predicted)
    return (value if slots else None), slots
