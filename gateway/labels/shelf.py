"""The shelf's status (contract 1.2): what the labels this gateway answers for show,
against what they should show, and how long prices took to reach them.

Counted over the bound labels this gateway owns (every bound label with one gateway):

- ``current``: it shows the version of its SKU in force (the newest applied one
  whose ``valid_from`` has come);
- ``held``: its SKU's newest price is held for review (it may be current too: it
  keeps the price applied before);
- ``failed``: not current, and its last write failed;
- ``pending``: not current and not failed: to be written (or waiting for its SKU's
  first price);
- ``compliance``: current / bound (None with nothing bound).

*Time to shelf*: from the moment a price took effect (its acceptance, its release, or
its ``valid_from`` if later) until each label confirmed it, for the first confirmation
of each label and version, over the last ``WINDOW_H`` hours (kept in SQLite, so a
restart keeps the day's figures). Every label's view (:meth:`Shelf.why`) says why it
differs from what it should show.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.labels.model import LabelTwin, TwinStatus
from gateway.labels.planner import LabelPlanner
from gateway.store import Database

WINDOW_H = 24.0
# Buckets of the time-to-shelf histogram (seconds): a campaign takes minutes, a label
# away from its gateway hours.
BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


@dataclass(frozen=True, slots=True)
class Sample:
    shown_at: float
    seconds: float


class Shelf:
    def __init__(
        self,
        db: Database,
        planner: LabelPlanner,
        owns: Callable[[str], bool] = lambda _label_id: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._planner = planner
        self._owns = owns
        self._clock = clock
        self._samples: list[Sample] = []  # by shown_at
        # label -> (sku, version) of its last arrival counted: a label written again with
        # what it showed (after it restarted) is no new arrival.
        self._last: dict[str, tuple[str, int]] = {}
        # The histogram since start (Prometheus' counters start with the process).
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total_s = 0.0

    async def load(self) -> None:
        since = self._clock() - WINDOW_H * 3600

        def read(d: sqlite_utils.Database) -> list[tuple[str, str, int, float, float]]:
            rows = d.execute(
                "SELECT label_id, sku, version, since, shown_at FROM shelf_times ORDER BY rowid"
            ).fetchall()
            return [(r[0], r[1], int(r[2]), float(r[3]), float(r[4])) for r in rows]

        for label_id, sku, version, start, shown in await self._db.read(read):
            self._last[label_id] = (sku, version)
            if shown >= since:
                self._samples.append(Sample(shown, max(0.0, shown - start)))
        self._samples.sort(key=lambda s: s.shown_at)

    async def shown(self, label_id: str, sku: str, version: int) -> None:
        """The label confirmed ``version`` of ``sku``: a sample, unless it is what the
        label's last counted arrival was."""
        start = self._planner.guard.effective_at(sku, version)
        if self._last.get(label_id) == (sku, version) or start is None:
            return
        now = self._clock()
        self._last[label_id] = (sku, version)
        seconds = max(0.0, now - start)
        bisect.insort(self._samples, Sample(now, seconds), key=lambda s: s.shown_at)
        self.count += 1
        self.total_s += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
        await self._db.run(
            lambda d: d.execute(
                "INSERT OR REPLACE INTO shelf_times (label_id, sku, version, since, shown_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [label_id, sku, version, start, now],
            )
        )

    def prune(self, d: sqlite_utils.Database, now: float) -> None:
        """On the writer thread: samples older than the window (each label's last stays:
        it says what its last arrival was)."""
        d.execute(
            "DELETE FROM shelf_times WHERE shown_at < ? AND rowid NOT IN "
            "(SELECT MAX(rowid) FROM shelf_times GROUP BY label_id)",
            [now - WINDOW_H * 3600],
        )

    # ---- what the shelf shows ----------------------------------------------------------------

    def state(self, label_id: str, now: float) -> str | None:
        """``current``, ``pending`` or ``failed`` for a bound label (None: not bound)."""
        planner = self._planner
        binding = planner.bindings.get(label_id)
        if binding is None:
            return None
        twin = planner.twins.get(label_id)
        shown = None if twin is None else twin.displayed
        due = planner.guard.in_force(binding.sku, now)
        if (
            due is not None
            and shown is not None
            and (shown.sku, shown.version)
            == (
                binding.sku,
                due.version,
            )
        ):
            return "current"
        if twin is not None and twin.status is TwinStatus.FAILED:
            return "failed"
        return "pending"

    def status(self) -> dict[str, Any]:
        """The contract's ``gateway-status.shelf``."""
        now = self._clock()
        counts = {"bound": 0, "current": 0, "pending": 0, "held": 0, "failed": 0}
        held = self._planner.guard.held
        for label_id, binding in self._planner.bindings.items():
            if not self._owns(label_id):
                continue
            counts["bound"] += 1
            counts[self.state(label_id, now) or "pending"] += 1
            if binding.sku in held:
                counts["held"] += 1
        bound = counts["bound"]
        return {
            **counts,
            "compliance": None if bound == 0 else round(counts["current"] / bound, 4),
            "time_to_shelf_s": self.time_to_shelf(now),
        }

    def time_to_shelf(self, now: float) -> dict[str, Any]:
        since = now - WINDOW_H * 3600
        start = bisect.bisect_left(self._samples, since, key=lambda s: s.shown_at)
        if start:
            del self._samples[:start]
        seconds = sorted(s.seconds for s in self._samples)
        return {
            "window_h": WINDOW_H,
            "count": len(seconds),
            "p50": _rank(seconds, 0.50),
            "p95": _rank(seconds, 0.95),
            "max": round(seconds[-1], 3) if seconds else None,
        }

    def why(self, label_id: str) -> dict[str, Any]:
        """What the label shows, what it should show, and why they differ."""
        now = self._clock()
        planner = self._planner
        binding = planner.bindings.get(label_id)
        twin = planner.twins.get(label_id) or LabelTwin(label_id)
        held = None if binding is None else planner.guard.held.get(binding.sku)
        due = None if binding is None else planner.guard.in_force(binding.sku, now)
        state = self.state(label_id, now)
        code: str | None
        reason: str | None
        if binding is None:
            code, reason = "not-bound", "not bound to a product"
        elif due is None:
            code, reason = "no-price", "no price received for this SKU yet"
        elif state == "failed":
            code, reason = "failed", twin.last_error or "the last write failed"
        elif state == "pending" and twin.status is TwinStatus.UPDATING:
            code, reason = "writing", "being written"
        elif state == "pending":
            code, reason = "waiting", "waiting to be written"
        else:
            code, reason = None, None
        return {
            "label_id": label_id,
            "sku": None if binding is None else binding.sku,
            "state": state or "unbound",
            "shows": None if twin.displayed is None else twin.displayed.version,
            "should_show": None if due is None else due.version,
            "held_version": None if held is None else held.item.version,
            "held_because": None if held is None else held.verdict.error(),
            "reason": reason,
            "reason_code": code,
        }


def _rank(ordered: list[float], q: float) -> float | None:
    """The nearest-rank percentile of sorted values (None: no values)."""
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 3)
