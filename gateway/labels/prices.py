r"""Price commands for the shelf: every item judged by the price guard before a label
sees it (contract 1.2, "The price guard").

:meth:`PriceDesk.update` takes a ``price-update``'s items, each in turn:

- not newer than the version the gateway has for its SKU (applied, held or decided):
  ``skipped-stale``;
- a held item of the same SKU is superseded by it (event ``price.reviewed``, decision
  ``superseded``, by ``gateway``), and it is judged on its own;
- it breaks a ``hold`` rule: **held**. Nothing is rendered or written; every label
  bound to its SKU is answered ``held`` with the rules' figures (a SKU no label is
  bound to once, ``label_id`` null), the labels' state says ``held``, event
  ``price.held``. A decision told for it before it arrived is taken at once;
- otherwise it is applied as before (breaking only ``warn`` rules: event
  ``price.flagged``) and its labels are planned (the :class:`Need`\ s returned).

:meth:`PriceDesk.review` takes decisions on held items, from a ``price-review``
command (its acks answer each label: ``displayed``, ``unchanged``, ... for a release,
``discarded`` for a discard), from a person on the page or from another gateway's
page (no acks: the event ``price.reviewed`` and the labels' state tell it). A release
sends the item on as if it had just arrived, without asking its rules again. A review
of an item not held is answered ``failed``, ``not held`` (``label_id`` null), and kept:
if the item is held here later (its price-update was slower than the decision), the
decision is taken then.

The verdicts, the label results and the events of one command commit in one
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from gateway.contract.events import Event, EventsIn
from gateway.labels import store
from gateway.labels.jobs import Priority
from gateway.labels.model import LabelResult, ResultStatus
from gateway.labels.planner import LabelPlanner, Need
from gateway.prices import events
from gateway.prices.guard import Held, PriceGuard, Write
from gateway.prices.model import PriceItem
from gateway.prices.store import Decision
from gateway.store import Database
from gateway.timeutil import format_epoch

Target = tuple[str | None, str | None, int | None]  # (label, sku, version)
LABELS_IN_VIEW = 50  # a held item's labels named in its view (all are counted)


@dataclass
class _Batch:
    """What one command changes, written in one transaction."""

    command_id: str | None
    command_type: str
    now: float
    targets: list[Target] = field(default_factory=list)
    results: list[LabelResult] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    plan: list[tuple[str, PriceItem]] = field(default_factory=list)  # (label, item to show)
    changed: set[str] = field(default_factory=set)  # labels whose held state changed
    told: list[Decision] = field(default_factory=list)  # decisions to take after the write

    def answer(
        self, label_id: str | None, item: PriceItem, status: ResultStatus, error: str | None
    ) -> None:
        self.targets.append((label_id, item.sku, item.version))
        if self.command_id is not None:
            self.results.append(
                LabelResult(
                    self.command_id, label_id, item.sku, item.version, status, self.now, error
                )
            )

    def target(self, label_id: str, item: PriceItem) -> None:
        """A label to write the item to (answered when its transfer ends)."""
        self.targets.append((label_id, item.sku, item.version))
        self.plan.append((label_id, item))


class PriceDesk:
    def __init__(
        self,
        db: Database,
        planner: LabelPlanner,
        guard: PriceGuard,
        events_in: EventsIn | None = None,
        clock: Callable[[], float] = time.time,
        held_alert_after_s: float = 900.0,
    ) -> None:
        self._alert_after = held_alert_after_s
        self.judged = 0  # price items judged since start...
        self.judge_cpu_s = 0.0  # ...and the CPU seconds it took
        # Several gateways: a decision taken on this page is told to the others.
        self.on_page_decision: Callable[[], None] | None = None
        self._db = db
        self._planner = planner
        self.guard = guard
        self._events = events_in
        self._clock = clock

    async def update(self, command_id: str, items: Sequence[PriceItem]) -> list[Need]:
        batch = _Batch(command_id, "price-update", self._clock())
        started = time.thread_time()
        for item in items:
            self._take(batch, item)
        # What judging costs (the event loop's CPU), for /metrics and the benchmark.
        self.judged += len(items)
        self.judge_cpu_s += time.thread_time() - started
        needs = await self._commit(batch)
        if batch.told:
            needs += await self.review(None, batch.told)
        return needs

    async def review(self, command_id: str | None, decisions: Sequence[Decision]) -> list[Need]:
        """Decisions on held items (``command_id``: the ``price-review`` command that
        carries them; None: a person on the page, or another gateway's page)."""
        batch = _Batch(command_id, "price-review", self._clock())
        for decision in decisions:
            self._decide(batch, decision)
        needs = await self._commit(batch)
        if self.on_page_decision is not None and any(d.origin == "page" for d in decisions):
            self.on_page_decision()
        return needs

    # ---- one item, one decision ---------------------------------------------------------------

    def _take(self, batch: _Batch, item: PriceItem) -> None:
        guard, now = self.guard, batch.now
        have = guard.newest_version(item.sku)
        if have is not None and have >= item.version:
            batch.answer(None, item, ResultStatus.SKIPPED_STALE, f"version {have} already received")
            return
        verdict = guard.judge(item, now)
        labels = self._planner.labels_of(item.sku)
        ended = guard.end_hold(item.sku, "superseded", "gateway", None, "gateway", now)
        if ended is not None:
            old, write = ended
            batch.writes.append(write)
            batch.events.append(
                events.reviewed(
                    old.item,
                    old.verdict,
                    len(labels),
                    "superseded",
                    "gateway",
                    f"superseded by version {item.version}",
                    now,
                )
            )
            batch.changed.update(labels)
        if verdict.held:
            batch.writes.append(guard.hold(item, verdict, batch.command_id, now))
            batch.events.append(events.held(item, verdict, len(labels), now))
            for label_id in _or_none(labels):
                batch.answer(label_id, item, ResultStatus.HELD, verdict.error())
            batch.changed.update(labels)
            told = guard.told(item.sku, item.version)
            if told is not None:
                decision, write = told
                batch.writes.append(write)
                batch.told.append(decision)
            return
        if verdict.flagged:
            batch.events.append(events.flagged(item, verdict, len(labels), now))
        batch.writes.append(guard.apply(item, batch.command_id, now))
        self._to_labels(batch, item, labels)

    def _decide(self, batch: _Batch, decision: Decision) -> None:
        guard, now = self.guard, batch.now
        held = guard.held.get(decision.sku)
        if held is None or held.item.version != decision.version:
            # Not held here (never, already decided, or not arrived yet): kept for later.
            batch.writes.append(guard.tell(decision))
            if batch.command_id is not None:
                batch.targets.append((None, decision.sku, decision.version))
                batch.results.append(
                    LabelResult(
                        batch.command_id,
                        None,
                        decision.sku,
                        decision.version,
                        ResultStatus.FAILED,
                        now,
                        "not held",
                    )
                )
            return
        labels = self._planner.labels_of(decision.sku)
        batch.changed.update(labels)
        batch.events.append(
            events.reviewed(
                held.item,
                held.verdict,
                len(labels),
                decision.decision,
                decision.by,
                decision.note,
                now,
            )
        )
        if decision.decision == "release":
            batch.writes.append(guard.release(held, decision, now))
            self._to_labels(batch, held.item, labels)
            return
        ended = guard.end_hold(
            decision.sku, "discarded", decision.by, decision.note, decision.origin, now
        )
        assert ended is not None
        batch.writes.append(ended[1])
        for label_id in _or_none(labels):
            batch.answer(label_id, held.item, ResultStatus.DISCARDED, None)

    def _to_labels(self, batch: _Batch, item: PriceItem, labels: list[str]) -> None:
        if not labels:
            batch.answer(None, item, ResultStatus.UNBOUND, None)
        for label_id in labels:
            batch.target(label_id, item)

    # ---- the transaction -----------------------------------------------------------------------

    async def _commit(self, batch: _Batch) -> list[Need]:
        planner, sink = self._planner, self._events
        # A decision from the page answers nothing: its targets are not registered.
        answered = batch.command_id is not None

        def write(d: sqlite_utils.Database) -> list[LabelResult]:
            for w in batch.writes:
                w(d)
            recorded: list[LabelResult] = []
            if answered:
                assert batch.command_id is not None
                store.add_targets(d, batch.command_id, batch.command_type, batch.targets)
                recorded = planner.record_in(d, batch.results, batch.now)
            if sink is not None and batch.events:
                sink.write_in(d, batch.events)
            return recorded

        recorded = await self._db.run(write)
        planner.told(batch.results, recorded)
        if sink is not None and batch.events:
            sink.written()
        for label_id in sorted(batch.changed):
            planner.changed(label_id)
        needs = []
        for label_id, item in batch.plan:
            if item.valid_from is not None and item.valid_from > batch.now:
                planner.schedule(item.valid_from, item.sku, batch.command_id)
            else:
                needs.append(Need(label_id, batch.command_id, Priority.PRICE))
        return needs

    # ---- for the page ----------------------------------------------------------------------------

    def held_items(self) -> list[Held]:
        return sorted(self.guard.held.values(), key=lambda h: h.held_at)

    def view(self) -> dict[str, Any]:
        """The rules in force and every held item, oldest first (the page's review)."""
        rules = self.guard.rules
        return {
            "currency": rules.currency,
            "rules_version": rules.version,
            "rules": rules.as_dict(),
            "held_alert_after_s": self._alert_after,
            "held": [self.held_view(h) for h in self.held_items()],
        }

    def held_view(self, held: Held) -> dict[str, Any]:
        item = held.item
        labels = self._planner.labels_of(item.sku)
        current = self.guard.items.get(item.sku)
        body = events.price_object(item, held.verdict, len(labels))
        body.update(
            name=item.name,
            promo_text=item.promo_text,
            unit_price_text=item.unit_price_text,
            valid_from=None if item.valid_from is None else format_epoch(item.valid_from),
            current_version=None if current is None else current.version,
            held_at=format_epoch(held.held_at),
            command_id=held.command_id,
            label_ids=labels[:LABELS_IN_VIEW],
            error=held.verdict.error(),
            window_days=self.guard.rules.window_days(),
        )
        return body

    def overdue(self, now: float) -> int:
        """Held items waiting longer than ``held_alert_after`` for a decision."""
        return sum(1 for h in self.guard.held.values() if now - h.held_at > self._alert_after)


def _or_none(labels: list[str]) -> list[str | None]:
    """The labels to answer for a SKU; a SKU with none is answered once, label-less."""
    return list(labels) if labels else [None]
