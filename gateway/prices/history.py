"""A SKU's price history: the versions applied, when each took effect (pure).

A version *takes effect* when it is applied (accepted, or released by a review), or at
its ``valid_from`` if that is later. Versions are kept in version order; a version is
*shown* from the moment it takes effect until a newer version takes effect (a newer
version that takes effect first means the older one is never shown). The price
guard's rules ask three things of it: the current price, the lowest price shown in a
window, and how often the price changed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class Applied:
    version: int
    price: Decimal
    currency: str
    at: float  # POSIX seconds: when it took effect


class SkuHistory:
    """The applied versions of one SKU, oldest version first."""

    __slots__ = ("_points",)

    def __init__(self, points: Iterable[Applied] = ()) -> None:
        self._points: list[Applied] = sorted(points, key=lambda p: p.version)

    def __len__(self) -> int:
        return len(self._points)

    def __iter__(self) -> Iterator[Applied]:
        return iter(self._points)

    def add(self, point: Applied) -> None:
        bisect.insort(self._points, point, key=lambda p: p.version)

    def current(self) -> Applied | None:
        """The newest version applied."""
        return self._points[-1] if self._points else None

    def current_price(self, currency: str) -> Decimal | None:
        """The current price, if it is in ``currency`` (prices in two currencies do not
        compare)."""
        current = self.current()
        return current.price if current is not None and current.currency == currency else None

    def in_force(self, now: float) -> Applied | None:
        """The version shown at ``now`` (None: none had taken effect yet)."""
        shown = None
        for point, start, _end in self._shown():
            if start <= now:
                shown = point
        return shown

    def lowest_price(self, currency: str, since: float, until: float) -> Decimal | None:
        """The lowest price in ``currency`` shown at any moment from ``since`` to ``until``
        (a price that took effect before ``since`` and was still shown then counts)."""
        prices = [
            p.price
            for p, start, end in self._shown()
            if p.currency == currency and start <= until and end > since
        ]
        return min(prices, default=None)

    def changes_since(self, currency: str, since: float) -> int:
        """How many times the shown price changed after ``since`` (a version with the
        price of the one before it is no change)."""
        changes = 0
        previous: Applied | None = None
        for point, start, _end in self._shown():
            if (
                start > since
                and previous is not None
                and (point.price, point.currency) != (previous.price, previous.currency)
            ):
                changes += 1
            previous = point
        return changes

    def known_days(self, now: float, window_days: int) -> float | None:
        """How many days of the window the history covers (None: no history)."""
        if not self._points:
            return None
        oldest = min(p.at for p in self._points)
        return round(max(0.0, min(float(window_days), (now - oldest) / DAY_S)), 1)

    def prune(self, before: float) -> list[Applied]:
        """Forget the versions not shown at any moment since ``before`` (a newer version
        took effect before it); the newest always stays. Returns those forgotten."""
        keep: list[Applied] = []
        gone: list[Applied] = []
        end = float("inf")
        for point in reversed(self._points):
            (keep if end > before else gone).append(point)
            end = min(end, point.at)
        if gone:
            keep.reverse()
            self._points = keep
        return gone

    def _shown(self) -> list[tuple[Applied, float, float]]:
        """(version, from, until) of every version that was or will be shown, in order."""
        out: list[tuple[Applied, float, float]] = []
        end = float("inf")
        for point in reversed(self._points):
            if point.at < end:
                out.append((point, point.at, end))
                end = point.at
        out.reverse()
        return out
