r"""The label planner: from commands to desired content per label, jobs and results.

It keeps bindings, the newest price item per SKU and every label's twin
(desired vs displayed) in memory, mirrored in SQLite before anything is
acknowledged. It decides; it does not orchestrate: commands return the
:class:`Need`\ s of labels whose content must be planned, :meth:`place` turns a
label's rendered content into a :class:`Placement` (a job to schedule, a queued
job to drop, a command to add to the transfer already queued), and the label
pipeline renders, schedules and reports back. Rendering needs the label's panel,
known from its adverts; a label never seen yet is planned when it first shows up.

Results per target are stored as they are decided and reported by the campaign
reporter (``campaign.py``): ``skipped-stale`` and ``unbound`` at once,
``unchanged`` when the label already shows the exact content, ``superseded``
when a newer version replaced one not yet shown, ``displayed`` / ``failed``
when the transfer ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlite_utils
import structlog

from gateway.labels import store
from gateway.labels.jobs import AttemptResult, LabelJob, Outcome, Priority
from gateway.labels.model import (
    Binding,
    ContentRef,
    LabelResult,
    LabelTwin,
    ResultStatus,
    TwinStatus,
)
from gateway.prices.guard import PriceGuard
from gateway.prices.model import PriceItem
from gateway.store import Database

log = structlog.get_logger("gateway.labels")


@dataclass(frozen=True, slots=True)
class Rendered:
    content_hash: str
    model: str
    packed: bytes
    preview_png: bytes


class UnsupportedLabel(ValueError):
    """The label's panel cannot be rendered for (an unknown panel type)."""


class Renderer(Protocol):
    async def __call__(
        self, label_id: str, item: PriceItem, template: str | None
    ) -> Rendered | None:
        """Render ``item`` for ``label_id``'s panel, or None if the label was not seen yet.

        Raises :class:`UnsupportedLabel` when its panel cannot be served.
        """
        ...


@dataclass(frozen=True, slots=True)
class ContentWork:
    """Payload of a content job: which command wants which content on the label."""

    command_id: str | None
    content: ContentRef
    also: tuple[str, ...] = ()  # other commands that asked for exactly this content

    @property
    def command_ids(self) -> tuple[str, ...]:
        return ((self.command_id,) if self.command_id else ()) + self.also


@dataclass(frozen=True, slots=True)
class Need:
    """A label whose content must be planned (rendered, then placed) for a command."""

    label_id: str
    command_id: str | None
    priority: Priority


@dataclass(frozen=True, slots=True)
class Placement:
    """What to do with a label's rendered content: schedule ``submit``; drop the label's
    queued content job (``cancel``: it already shows the content); add ``join`` to the
    commands of the transfer already queued with exactly this content."""

    submit: LabelJob | None = None
    cancel: bool = False
    join: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FlashWork:
    command_id: str
    color: str
    duration_s: int


class LabelPlanner:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], float] = time.time,
        unseen_budget_s: float = 1800.0,
        on_change: Callable[[LabelTwin], None] | None = None,
        answers: Callable[[str | None], bool] = lambda _label_id: True,
        on_answered: Callable[[LabelResult], None] | None = None,
        hold_results: bool = False,
        guard: PriceGuard | None = None,
    ) -> None:
        self._db = db
        # The SKUs' prices (the newest applied item of each, its history, held items).
        self.guard = guard or PriceGuard()
        self._clock = clock
        self._on_change = on_change
        # Several gateways in one store: a label's targets are answered by its owner
        # (label-less ones by one gateway); the others hand them over.
        self.answers = answers
        self._on_answered = on_answered
        # ... and a label's result is reported only once the claims have told the others.
        self._hold = hold_results
        self.bindings: dict[str, Binding] = {}
        self._by_sku: dict[str, list[str]] | None = None  # sku -> labels, from bindings
        self.twins: dict[str, LabelTwin] = {}
        # label -> (commands, since, version): bound labels never seen (their panel is
        # unknown), the commands whose targets wait for it and the version they want
        self._waiting_for_panel: dict[str, tuple[tuple[str, ...], float, int]] = {}
        # label -> {command: since}: targets of bound labels whose SKU has no price yet,
        # answered once its first price reaches them (or failed after the budget)
        self._waiting_for_price: dict[str, dict[str, float]] = {}
        self._unseen_budget_s = unseen_budget_s
        self._scheduled: list[tuple[float, str, str]] = []  # (valid_from, sku, command id)
        self.results: dict[str, int] = {}  # results answered here since start, by status

    # ---- start-up --------------------------------------------------------------------

    @property
    def items(self) -> dict[str, PriceItem]:
        """The newest applied price item per SKU (the price guard's)."""
        return self.guard.items

    async def load(self) -> None:
        await self.guard.load(self._db)

        def read(d: sqlite_utils.Database) -> tuple[list[Binding], list[LabelTwin]]:
            return store.load_bindings(d), store.load_twins(d)

        bindings, twins = await self._db.read(read)
        self.bindings = {b.label_id: b for b in bindings}
        self._by_sku = None
        self.twins = {t.label_id: t for t in twins}
        now = self._clock()
        for item in self.items.values():
            if item.valid_from is not None and item.valid_from > now:
                self.schedule(item.valid_from, item.sku, None)

    def reconcile(
        self, open_targets: Mapping[str, Sequence[str]] | None = None
    ) -> tuple[list[LabelJob], list[Need]]:
        """Jobs for every label whose displayed content differs from its desired content,
        and needs for bound labels whose desired content is not their SKU's price in
        force (none yet, or an older version: a stop came between a price taking effect
        and its labels being planned). ``open_targets``: label -> the commands whose
        targets on it are still open (a need each: they answer them)."""
        open_targets = open_targets or {}
        now = self._clock()
        jobs, needs = [], []
        for label_id, binding in self.bindings.items():
            twin = self.twins.get(label_id)
            item = self.items.get(binding.sku)
            desired = None if twin is None else twin.desired
            if item is not None and item.valid_from is not None and item.valid_from > now:
                item = None  # not in force yet: planned when it is due
            behind = item is not None and (
                desired is None or desired.sku != item.sku or desired.version < item.version
            )
            if behind or desired is None:
                commands: list[str | None] = list(open_targets.get(label_id, ())) or [
                    None if twin is None else twin.desired_command_id
                ]
                needs += [Need(label_id, c, Priority.RESYNC) for c in commands]
            elif twin is not None and desired is not None and desired != twin.displayed:
                jobs.append(self._job(twin, twin.desired_command_id, Priority.RESYNC))
        return jobs, needs

    # ---- commands ----------------------------------------------------------------------

    async def bind(self, command_id: str, bindings: Sequence[Binding]) -> list[Need]:
        now = self._clock()
        for b in bindings:
            self.bindings[b.label_id] = b
        self._by_sku = None
        await self._db.run(lambda d: store.save_bindings(d, bindings, now))
        await self._register(
            command_id, "label-bind", [(b.label_id, b.sku, None) for b in bindings]
        )
        # Bound, with no price for the SKU yet: planned all the same, the target waits
        # for the SKU's first price (``nothing_to_show``).
        return [Need(b.label_id, command_id, Priority.PRICE) for b in bindings]

    async def unbind(self, command_id: str, label_ids: Sequence[str]) -> None:
        """Forget the labels' bindings and desired content (the pipeline drops their jobs)."""
        now = self._clock()
        self._by_sku = None
        for label_id in label_ids:
            self.bindings.pop(label_id, None)
            for waiting in self._waiting_for_price.pop(label_id, {}):
                await self._result(
                    waiting,
                    label_id,
                    None,
                    None,
                    ResultStatus.FAILED,
                    "unbound before its SKU had a price",
                )
            twin = self.twins.setdefault(label_id, LabelTwin(label_id))
            twin.desired, twin.desired_command_id = None, None
            twin.status = TwinStatus.UNBOUND
            self._changed(twin)
        twins = [self.twins[i] for i in label_ids]

        def write(d: sqlite_utils.Database) -> None:
            store.delete_bindings(d, label_ids)
            store.save_twins(d, twins, now)

        await self._db.run(write)

    def labels_of(self, sku: str) -> list[str]:
        """The labels bound to ``sku``, in order."""
        by_sku = self._by_sku
        if by_sku is None:  # made again after bindings changed (campaigns ask per item)
            by_sku = {}
            for b in self.bindings.values():
                by_sku.setdefault(b.sku, []).append(b.label_id)
            for labels in by_sku.values():
                labels.sort()
            self._by_sku = by_sku
        return list(by_sku.get(sku, ()))

    def schedule(self, valid_from: float, sku: str, command_id: str | None) -> None:
        """The SKU's labels are planned once ``valid_from`` has come."""
        entry = (valid_from, sku, command_id or "")
        if entry not in self._scheduled:
            self._scheduled.append(entry)

    def record_in(
        self, d: sqlite_utils.Database, results: Sequence[LabelResult], now: float
    ) -> list[LabelResult]:
        """Inside the caller's transaction: results decided at once (the command's targets
        were added in it), or handed to the gateway that answers them. Returns those
        recorded here; the caller passes them to :meth:`told` once committed."""
        recorded = []
        for r in results:
            if not self.answers(r.label_id):
                store.hand_over(d, r.label_id, now, r.command_id)
            elif store.set_result(d, r, held=self._hold):
                recorded.append(r)
        return recorded

    def told(self, results: Sequence[LabelResult], recorded: Sequence[LabelResult]) -> None:
        """Results recorded with :meth:`record_in` (committed now) are told to the claims."""
        self._answered([r for r in results if self.answers(r.label_id)], list(recorded))

    def changed(self, label_id: str) -> None:
        """Something the label's state shows changed outside its twin (its SKU's price
        held or decided)."""
        twin = self.twins.get(label_id)
        self._changed(twin if twin is not None else LabelTwin(label_id))

    async def due(self) -> list[Need]:
        """Needs of items whose ``valid_from`` has come, and give up on bound labels never
        seen within the budget (call about once a second)."""
        now = self._clock()
        for label_id, (commands, since, _version) in list(self._waiting_for_panel.items()):
            if now - since <= self._unseen_budget_s:
                continue
            del self._waiting_for_panel[label_id]
            reason = f"label not seen for {self._unseen_budget_s:.0f} s since it was bound"
            twin = self.twins.setdefault(label_id, LabelTwin(label_id))
            twin.status, twin.last_error = TwinStatus.FAILED, reason
            await self._save_twin(twin, now)
            self._changed(twin)
            binding = self.bindings.get(label_id)
            item = self.items.get(binding.sku) if binding else None
            for command_id in commands:
                await self._result(
                    command_id,
                    label_id,
                    binding.sku if binding else None,
                    item.version if item else None,
                    ResultStatus.FAILED,
                    reason,
                )
        for label_id, waiting in list(self._waiting_for_price.items()):
            for command_id, since in list(waiting.items()):
                if now - since <= self._unseen_budget_s:
                    continue
                del waiting[command_id]
                binding = self.bindings.get(label_id)
                await self._result(
                    command_id,
                    label_id,
                    None if binding is None else binding.sku,
                    None,
                    ResultStatus.FAILED,
                    f"no price received for this SKU within {self._unseen_budget_s:.0f} s",
                )
            if not waiting:
                del self._waiting_for_price[label_id]
        ready = [s for s in self._scheduled if s[0] <= now]
        if not ready:
            return []
        self._scheduled = [s for s in self._scheduled if s[0] > now]
        return [
            Need(label_id, command_id or None, Priority.PRICE)
            for _, sku, command_id in ready
            for label_id in self.labels_of(sku)
        ]

    def label_seen(self, label_id: str) -> list[Need]:
        """A label advertised: the needs that waited for its panel (to plan now)."""
        if label_id in self._waiting_for_panel:
            commands = self._waiting_for_panel.pop(label_id)[0]
            return [Need(label_id, c, Priority.PRICE) for c in commands or (None,)]
        return []

    # ---- planning ------------------------------------------------------------------------

    def content_for(self, need: Need) -> tuple[PriceItem, str | None] | None:
        """The price item and template to render for a need (None: nothing to show)."""
        binding = self.bindings.get(need.label_id)
        item = self.items.get(binding.sku) if binding else None
        if binding is None or item is None:
            return None
        return item, binding.template

    async def nothing_to_show(self, need: Need) -> None:
        """A command's target on a label with no content to show: bound, with no price
        for its SKU yet, it waits for the first price (placed with it; failed after the
        budget); bound no more, it fails (a target taken back from another
        gateway must not stay open for ever)."""
        if need.command_id is None:
            return
        if need.label_id in self.bindings:
            waiting = self._waiting_for_price.setdefault(need.label_id, {})
            waiting.setdefault(need.command_id, self._clock())
            return
        await self._result(
            need.command_id,
            need.label_id,
            None,
            None,
            ResultStatus.FAILED,
            "the label is not bound to a product any more",
        )

    async def place(
        self,
        need: Need,
        rendered: Rendered | UnsupportedLabel | None,
        pending: LabelJob | None,
    ) -> Placement:
        """Decide what the label's rendered content asks for (``None``: its panel is not
        known yet; ``pending``: the label's content job queued now, if any)."""
        label_id, command_id = need.label_id, need.command_id
        what = self.content_for(need)
        if what is None:
            return Placement()
        item, _ = what
        binding = self.bindings[label_id]
        twin = self.twins.setdefault(label_id, LabelTwin(label_id))
        # The need's command, and the targets that waited for the SKU's first price:
        # answered alike (a label-bind before any price rides on the price that came).
        riders = tuple(c for c in self._waiting_for_price.pop(label_id, {}) if c != command_id)
        commands = ((command_id,) if command_id else ()) + riders
        if isinstance(rendered, UnsupportedLabel):
            twin.status, twin.last_error = TwinStatus.FAILED, str(rendered)
            await self._save_twin(twin, self._clock())
            self._changed(twin)
            for c in commands:
                await self._result(
                    c, label_id, item.sku, item.version, ResultStatus.FAILED, str(rendered)
                )
            return Placement()
        if rendered is None:
            # Commands asking for the same version wait together (a need of no command,
            # a resync or a label gained, adds none); a newer version supersedes them.
            waiting, since, version = self._waiting_for_panel.get(
                label_id, ((), self._clock(), item.version)
            )
            if version != item.version:
                for c in waiting:
                    if c not in commands:
                        await self._result(
                            c,
                            label_id,
                            binding.sku,
                            None,
                            ResultStatus.SUPERSEDED,
                            "a newer version replaced it",
                        )
                waiting = ()
            waiting = (*waiting, *(c for c in commands if c not in waiting))
            self._waiting_for_panel[label_id] = (waiting, since, item.version)
            twin.status = TwinStatus.PENDING
            self._changed(twin)
            return Placement()
        now = self._clock()
        ref = ContentRef(item.sku, item.version, rendered.content_hash)
        twin.desired, twin.desired_command_id = ref, command_id
        if twin.displayed is not None and twin.displayed.content_hash == ref.content_hash:
            twin.status = TwinStatus.IN_SYNC
            twin.last_error = None
            await self._db.run(lambda d: store.save_twins(d, [twin], now))
            for c in commands:
                await self._result(
                    c, label_id, item.sku, item.version, ResultStatus.UNCHANGED, None
                )
            self._changed(twin)
            return Placement(cancel=True)
        if (
            pending is not None
            and isinstance(pending.payload, ContentWork)
            and pending.payload.content == ref
        ):
            # The same content is already on its way: these commands wait for that
            # transfer rather than replacing it (which would report the other superseded).
            joining = tuple(c for c in commands if c not in pending.payload.command_ids)
            return Placement(join=joining)
        twin.status = TwinStatus.PENDING

        def write(d: sqlite_utils.Database) -> None:
            store.save_content(
                d, rendered.content_hash, rendered.model, rendered.packed, rendered.preview_png, now
            )
            store.save_twins(d, [twin], now)

        await self._db.run(write)
        self._changed(twin)
        return Placement(submit=self._job(twin, command_id, need.priority, riders))

    def _job(
        self,
        twin: LabelTwin,
        command_id: str | None,
        priority: Priority,
        also: tuple[str, ...] = (),
    ) -> LabelJob:
        assert twin.desired is not None
        work = ContentWork(command_id, twin.desired, also)
        return LabelJob(twin.label_id, priority, "content", work)

    async def superseded(self, replaced: LabelJob) -> None:
        """A queued job was replaced by a newer one before it ran: its commands learn it."""
        work = replaced.payload
        if not isinstance(work, ContentWork):
            return
        for command_id in work.command_ids:
            await self._result(
                command_id,
                replaced.label_id,
                work.content.sku,
                work.content.version,
                ResultStatus.SUPERSEDED,
                "a newer version replaced it",
            )

    # ---- outcomes ------------------------------------------------------------------------

    async def finished(self, job: LabelJob, result: AttemptResult) -> None:
        """A content job ended (called by the pipeline for the scheduler's callback)."""
        work = job.payload
        if not isinstance(work, ContentWork):
            return
        now = self._clock()
        twin = self.twins.setdefault(job.label_id, LabelTwin(job.label_id))
        status: ResultStatus
        if result.outcome is Outcome.DONE:
            twin.displayed, twin.displayed_at = work.content, now
            twin.last_error = None
            twin.status = TwinStatus.IN_SYNC if twin.desired == work.content else TwinStatus.PENDING
            status = ResultStatus.DISPLAYED
        elif result.outcome is Outcome.SUPERSEDED:
            status = ResultStatus.SUPERSEDED
        else:
            twin.status = TwinStatus.FAILED if twin.desired == work.content else twin.status
            twin.last_error = result.reason
            status = ResultStatus.FAILED
        error = None if status is not ResultStatus.FAILED else result.reason
        results = [
            LabelResult(c, job.label_id, work.content.sku, work.content.version, status, now, error)
            for c in work.command_ids
        ]
        answering = self.answers(job.label_id)

        def write(d: sqlite_utils.Database) -> list[LabelResult]:
            # One transaction: a label shown as written always has its answers (a restart
            # between the two found it in sync and never answered its targets).
            store.save_twins(d, [twin], now)
            recorded = []
            for r in results:
                if not answering:
                    store.hand_over(d, job.label_id, now, r.command_id)
                elif store.set_result(d, r, held=self._hold):
                    recorded.append(r)
            return recorded

        recorded = await self._db.run(write)
        self._changed(twin)
        if answering:
            self._answered(results, recorded)

    def repush(self, label_id: str) -> LabelJob | None:
        """The job writing the desired content again (a technician's request); None if the
        label has no desired content."""
        twin = self.twins.get(label_id)
        if twin is None or twin.desired is None:
            return None
        twin.status = TwinStatus.PENDING
        self._changed(twin)
        return self._job(twin, None, Priority.PRICE)

    async def rebooted(self, label_id: str, queued: bool) -> LabelJob | None:
        """The label restarted: what it displays is no longer known, so write it again.

        Returns the job to schedule (None when the label has no desired content, or when
        a content job is ``queued`` already: that one writes it).
        """
        twin = self.twins.get(label_id)
        if twin is None or twin.desired is None:
            return None
        now = self._clock()
        twin.displayed, twin.displayed_at = None, None
        twin.status = TwinStatus.PENDING
        await self._db.run(lambda d: store.save_twins(d, [twin], now))
        self._changed(twin)
        log.info("label restarted; writing its content again", label_id=label_id)
        return None if queued else self._job(twin, None, Priority.RESYNC)

    # ---- several gateways ------------------------------------------------------------------

    def waiting_labels(self) -> list[str]:
        """Bound labels waiting to be seen (their panel unknown)."""
        return list(self._waiting_for_panel)

    def forget_waiting(self, label_id: str) -> None:
        """Another gateway owns the label: it is not waited for here."""
        self._waiting_for_panel.pop(label_id, None)

    async def shown_elsewhere(self, label_id: str, shown: ContentRef) -> None:
        """What the label displays, as the gateway that owned it until now said."""
        twin = self.twins.setdefault(label_id, LabelTwin(label_id))
        if twin.displayed == shown:
            return
        now = self._clock()
        twin.displayed, twin.displayed_at = shown, now
        twin.status = TwinStatus.IN_SYNC if twin.desired == shown else TwinStatus.PENDING
        await self._db.run(lambda d: store.save_twins(d, [twin], now))
        self._changed(twin)

    def mark_updating(self, label_id: str) -> None:
        twin = self.twins.get(label_id)
        if twin is not None:
            twin.status = TwinStatus.UPDATING
            self._changed(twin)

    # ---- helpers -------------------------------------------------------------------------

    async def _register(
        self,
        command_id: str,
        command_type: str,
        targets: list[tuple[str | None, str | None, int | None]],
    ) -> None:
        await self._db.run(lambda d: store.add_targets(d, command_id, command_type, targets))

    async def _result(
        self,
        command_id: str,
        label_id: str | None,
        sku: str | None,
        version: int | None,
        status: ResultStatus,
        error: str | None,
    ) -> None:
        now = self._clock()
        result = LabelResult(command_id, label_id, sku, version, status, now, error)
        if not self.answers(label_id):
            await self._db.run(lambda d: store.hand_over(d, label_id, now, command_id))
            return
        recorded = await self._db.run(lambda d: store.set_result(d, result, held=self._hold))
        self._answered([result], [result] if recorded else [])

    def _answered(self, results: list[LabelResult], recorded: list[LabelResult]) -> None:
        """Results recorded here are told (the label's claim says so). A result whose
        target is no longer open here (handed over, or forgotten with its command while
        this transfer ran) is not: whoever holds the target answers it."""
        for r in results:
            if r not in recorded:
                log.warning(
                    "label result for a target no longer open here; not recorded",
                    label_id=r.label_id,
                    command_id=r.command_id,
                    status=r.status.value,
                )
            else:
                self.results[r.status.value] = self.results.get(r.status.value, 0) + 1
                if self._on_answered is not None:
                    self._on_answered(r)

    async def _save_twin(self, twin: LabelTwin, now: float) -> None:
        await self._db.run(lambda d: store.save_twins(d, [twin], now))

    def _changed(self, twin: LabelTwin) -> None:
        if self._on_change is not None:
            self._on_change(twin)
