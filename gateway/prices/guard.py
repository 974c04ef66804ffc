"""The price guard: what the gateway knows of every SKU's prices, and the items it holds.

It keeps, in memory and mirrored in SQLite:

- the rules in force: the configuration's, or those of the newest ``price-rules``
  command (:meth:`PriceGuard.set_rules`);
- per SKU the versions applied (its :class:`~gateway.prices.history.SkuHistory`) and
  the newest item applied, which is what the SKU's labels show (:attr:`items`);
- the items held for a person's review (:attr:`held`), and decisions told before
  their item was held here (another gateway's page, or the cloud, was quicker).

It judges (:meth:`judge`, the pure rules of ``rules.py``) and changes its state when
told to; each change returns a :data:`Write` for the caller's transaction, so that a
verdict and the label results it causes commit together, or not at all. It knows
nothing of labels: ``gateway/labels/prices.py`` asks it and acts on its answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlite_utils

from gateway.prices import store
from gateway.prices.history import DAY_S, Applied, SkuHistory
from gateway.prices.model import PriceItem
from gateway.prices.rules import Offer, PriceRules, Verdict, judge
from gateway.prices.store import Decision, VersionRow
from gateway.store import Database

Write = Callable[[sqlite_utils.Database], None]

MIN_KEEP_DAYS = 30  # history kept at least this long, and the longest prior-price window
MAX_ROWS = 500_000  # price versions kept at most (about 150 MB at most; far fewer in use)


@dataclass(frozen=True, slots=True)
class Held:
    """An item held for review: what it is, why, which command carried it, since when."""

    item: PriceItem
    verdict: Verdict
    command_id: str | None
    held_at: float


def offer(item: PriceItem) -> Offer:
    return Offer(
        item.sku,
        item.version,
        Decimal(item.price),
        item.currency,
        None if item.original_price is None else Decimal(item.original_price),
    )


class PriceGuard:
    def __init__(self, rules: PriceRules | None = None, max_rows: int = MAX_ROWS) -> None:
        self.configured = rules or PriceRules()
        self.rules = self.configured
        self.items: dict[str, PriceItem] = {}  # the newest applied item per SKU
        self.held: dict[str, Held] = {}  # by SKU: at most one held item each
        self._history: dict[str, SkuHistory] = {}
        self._newest: dict[str, int] = {}  # the newest version taken in, whatever became of it
        self._told: dict[tuple[str, int], Decision] = {}
        self._max_rows = max_rows
        self.rules_command: str | None = None  # the price-rules command in force

    async def load(self, db: Database) -> None:
        """Everything as it was before a restart, so that a restart changes no verdict."""

        def read(
            d: sqlite_utils.Database,
        ) -> tuple[
            list[VersionRow],
            tuple[int, dict[str, Any], str | None, str] | None,
            list[Decision],
        ]:
            return store.load_versions(d), store.load_rules(d), store.load_decisions(d)

        rows, rules, told = await db.read(read)
        self.items, self.held, self._history, self._newest = {}, {}, {}, {}
        for row in rows:
            item = row.item
            self._newest[item.sku] = max(item.version, self._newest.get(item.sku, 0))
            if row.state == "applied":
                assert row.effective_at is not None
                self.items[item.sku] = item  # rows come in version order
                self._point(item, row.effective_at)
            elif row.state == "held":
                self.held[item.sku] = Held(
                    item, Verdict(row.broken, None, None, None), row.command_id, row.accepted_at
                )
        if rules is not None:
            version, given, currency, self.rules_command = rules
            self.rules = PriceRules.parse(given, currency, version)
        self._told = {(t.sku, t.version): t for t in told}
        # The figures of a held item's event are those of the moment it was held; its
        # rules and messages are kept, its figures are judged again for the page.
        for sku, held in list(self.held.items()):
            again = self.judge(held.item, held.held_at)
            self.held[sku] = Held(
                held.item,
                Verdict(
                    held.verdict.broken,
                    again.previous_price,
                    again.lowest_prior_price,
                    again.history_days,
                ),
                held.command_id,
                held.held_at,
            )

    # ---- questions -------------------------------------------------------------------------

    def history(self, sku: str) -> SkuHistory:
        return self._history.get(sku) or SkuHistory()

    def newest_version(self, sku: str) -> int | None:
        """The newest version of the SKU taken in (applied, held or decided): an item not
        newer than it is stale."""
        return self._newest.get(sku)

    def judge(self, item: PriceItem, now: float) -> Verdict:
        return judge(offer(item), self.history(item.sku), self.rules, now)

    def in_force(self, sku: str, now: float) -> Applied | None:
        """The version the SKU's labels should show at ``now``."""
        history = self._history.get(sku)
        return None if history is None else history.in_force(now)

    def effective_at(self, sku: str, version: int) -> float | None:
        """When an applied version took effect (None: not applied, or forgotten)."""
        for point in self.history(sku):
            if point.version == version:
                return point.at
        return None

    # ---- changes -----------------------------------------------------------------------------

    def apply(self, item: PriceItem, command_id: str | None, now: float) -> Write:
        """The item becomes the SKU's current price (from ``valid_from``, if later)."""
        effective = self._applied(item, now)
        row = VersionRow(item, "applied", command_id, now, effective, ())
        return lambda d: store.save_version(d, row)

    def release(self, held: Held, decision: Decision, now: float) -> Write:
        """A held item released by a review: applied as if it had just arrived."""
        self.held.pop(held.item.sku, None)
        effective = self._applied(held.item, now)
        sku, version = held.item.sku, held.item.version
        return lambda d: store.decide(
            d,
            sku,
            version,
            "applied",
            at=now,
            by=decision.by,
            note=decision.note,
            origin=decision.origin,
            effective_at=effective,
        )

    def hold(self, item: PriceItem, verdict: Verdict, command_id: str | None, now: float) -> Write:
        self.held[item.sku] = Held(item, verdict, command_id, now)
        self._newest[item.sku] = max(item.version, self._newest.get(item.sku, 0))
        row = VersionRow(item, "held", command_id, now, None, verdict.broken)
        return lambda d: store.save_version(d, row)

    def end_hold(
        self, sku: str, state: str, by: str, note: str | None, origin: str, now: float
    ) -> tuple[Held, Write] | None:
        """The SKU's held item ends ``discarded`` or ``superseded`` (None: none held)."""
        held = self.held.pop(sku, None)
        if held is None:
            return None
        version = held.item.version
        return held, lambda d: store.decide(
            d, sku, version, state, at=now, by=by, note=note, origin=origin
        )

    def tell(self, decision: Decision) -> Write:
        """A decision on a version not held here (yet): kept, and taken when it is."""
        self._told[(decision.sku, decision.version)] = decision
        return lambda d: store.save_decisions(d, [decision])

    def told(self, sku: str, version: int) -> tuple[Decision, Write] | None:
        """The decision told for a version before it was held here (taken: forgotten)."""
        decision = self._told.pop((sku, version), None)
        if decision is None:
            return None
        return decision, lambda d: store.delete_decision(d, sku, version)

    def set_rules(
        self, rules: PriceRules, command_id: str, given: Mapping[str, Any], now: float
    ) -> Write:
        """Rules of a ``price-rules`` command (the caller checked its version is newer)."""
        self.rules, self.rules_command = rules, command_id
        return lambda d: store.save_rules(d, rules.version, given, rules.currency, command_id, now)

    def prune(self, d: sqlite_utils.Database, now: float) -> int:
        """On the writer thread: forget the history no rule asks for any more."""
        keep_days = max(MIN_KEEP_DAYS, self.rules.window_days()) + 1
        before = now - keep_days * DAY_S
        store.prune_decisions(d, before)
        return store.prune_versions(d, before, self._max_rows)

    def _applied(self, item: PriceItem, now: float) -> float:
        """In memory: the item is the SKU's current price; returns when it takes effect."""
        effective = max(now, item.valid_from or now)
        self.items[item.sku] = item
        self._newest[item.sku] = max(item.version, self._newest.get(item.sku, 0))
        self._point(item, effective)
        keep_days = max(MIN_KEEP_DAYS, self.rules.window_days()) + 1
        self._history[item.sku].prune(now - keep_days * DAY_S)
        return effective

    def _point(self, item: PriceItem, at: float) -> None:
        point = Applied(item.version, Decimal(item.price), item.currency, at)
        history = self._history.get(item.sku)
        if history is None:
            self._history[item.sku] = SkuHistory([point])
        else:
            history.add(point)
