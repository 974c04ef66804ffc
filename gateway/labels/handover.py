"""Labels in a store with several gateways: hand-over, take-back and held results.

Only the owner of a label writes it and answers its targets (contract 1.1). Every
gateway stores every command's targets; those of labels another gateway owns are
*handed* (``label_results.handed``): that gateway answers them. When a label
changes owner the old owner hands its open targets over and the new one takes
back those the old owner's claim does not say it answered. A result recorded
here is *held* until this gateway's published claim tells it: the next owner
takes over what that claim says, so a target is answered once across the store
even when a gateway dies between a label's last part and its claim.

The pipeline orchestrates; this module holds the rules. It asks the pipeline to
plan the targets it takes back (``plan``, passed in), and the ownership
coordinator tells it of labels gained and lost and of claims published
(:class:`gateway.ownership.coordinator.LabelOwner`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, Protocol

import sqlite_utils
import structlog

from gateway.labels import store
from gateway.labels.campaign import CampaignReporter
from gateway.labels.jobs import AttemptResult, Outcome, Priority
from gateway.labels.model import ContentRef, LabelResult, LabelTwin
from gateway.labels.planner import ContentWork, LabelPlanner, Need
from gateway.labels.scheduler import LabelScheduler
from gateway.ownership.claims import ShownContent
from gateway.store import Database

log = structlog.get_logger("gateway.labels")

ORPHANS_EVERY_S = 5.0  # how often targets handed to a gateway now gone are looked for
# (and targets handed over for a label owned here)


class LabelOwnership(Protocol):
    """A store with several gateways: which labels are this gateway's to write and to
    answer for, and what its claims tell the others (see gateway/ownership)."""

    def owns(self, device_id: str) -> bool: ...

    def writable(self, device_id: str) -> bool: ...

    def owner(self, device_id: str) -> str | None: ...

    def first_online(self) -> bool: ...

    def answered(self, device_id: str, command_id: str) -> None: ...

    def answered_for(self, device_id: str) -> tuple[str, ...]: ...

    def told(self, device_id: str, command_id: str) -> bool: ...

    def told_elsewhere(self, device_id: str, command_id: str) -> bool: ...

    def settled(self, device_id: str) -> bool: ...

    def in_step(self) -> bool: ...

    def set_shown(self, device_id: str, shown: ShownContent | None) -> None: ...

    def set_busy(self, device_id: str, busy: bool) -> None: ...


def answers(o: LabelOwnership | None, label_id: str | None) -> bool:
    """Whether this gateway answers a target: the owner of its label; for a label
    nobody owns, and for label-less targets, the online gateway whose id sorts first.
    With no ownership (one gateway in the store) every target."""
    if o is None:
        return True
    if label_id is not None and o.owns(label_id):
        return True
    if label_id is not None and o.owner(label_id) is not None:
        return False
    return o.first_online()


def record_answer(o: LabelOwnership | None, result: LabelResult) -> None:
    """A target was answered here: the next claim on its label says so. Not yet while the
    label's previous owner may still tell it answered (the result stays held and
    :meth:`LabelHandover.confirm_results` decides)."""
    if o is None or result.label_id is None:
        return
    label_id = result.label_id
    if o.settled(label_id) and not o.told_elsewhere(label_id, result.command_id):
        o.answered(label_id, result.command_id)


# A label whose attempts from this gateway failed this many times in a row (timeouts,
# lost connections) is left to another gateway that hears it, for this long.
CANNOT_WRITE_AFTER = 2
CANNOT_WRITE_FOR_S = 600.0


class LabelHandover:
    """The several-gateways side of the label pipeline (one per pipeline, only in a
    store whose gateways share labels)."""

    def __init__(
        self,
        db: Database,
        ownership: LabelOwnership,
        planner: LabelPlanner,
        scheduler: LabelScheduler,
        reporter: CampaignReporter,
        plan: Callable[[Sequence[Need]], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, object]], None],
        clock: Callable[[], float],
    ) -> None:
        self._db = db
        self._o = ownership
        self._planner = planner
        self._scheduler = scheduler
        self._reporter = reporter
        self._plan = plan
        self._spawn = spawn
        self._clock = clock
        self._orphans_checked = 0.0
        self._failed: dict[str, tuple[int, float]] = {}  # label -> (attempts failed in a row, last)
        self._at_work: set[str] = set()  # labels with a target open in the store (as of a sweep)

    # ---- what the pipeline asks -------------------------------------------------------------

    def elsewhere(self, label_id: str) -> bool:
        """Another gateway, online, owns the label: it renders, writes and answers."""
        return not self._o.owns(label_id) and self._o.owner(label_id) is not None

    def bound(self, label_id: str) -> bool:
        """The label is bound to a product: every campaign writes it."""
        return label_id in self._planner.bindings

    def at_rest(self, label_id: str) -> bool:
        """No command's target is open in the store as this gateway knows it, here or
        handed to a label's owner (as of the last sweep, every few seconds, and of the
        commands planned since): labels may move for an even share without touching a
        running campaign. Not the label's own targets alone: each gateway takes a
        campaign's commands in at its own pace (thousands of labels, tens of seconds
        under load), so a label's targets may not be known here yet while its owner
        is already writing it."""
        return not self._at_work

    def answered_before(self, label_id: str, command_id: str) -> bool:
        """The label's claims say the command was answered for it: by a previous owner
        (this gateway took the command in after it gained the label), or by this gateway
        before a restart (the broker sent the command again)."""
        return command_id in self._o.answered_for(label_id)

    def working(self, label_id: str) -> None:
        """A command's target on the label was planned (here or handed over)."""
        self._work(label_id)

    def _work(self, label_id: str) -> None:
        """The label has a target open: at work, unless the target only waits for its
        SKU's first price (a label-bind before any price: no radio work, and its target
        follows the label wherever it moves)."""
        binding = self._planner.bindings.get(label_id)
        if binding is None or binding.sku in self._planner.items:
            self._at_work.add(label_id)

    def writable(self, label_id: str) -> bool:
        """The label is this gateway's to write now (owned, and in step with the claims)."""
        return self._o.writable(label_id)

    @contextmanager
    def busy(self, label_id: str) -> Iterator[None]:
        """A transfer runs: meanwhile the label is not taken over by another gateway."""
        self._o.set_busy(label_id, True)
        try:
            yield
        finally:
            self._o.set_busy(label_id, False)

    def attempted(self, label_id: str, result: AttemptResult) -> None:
        """An attempt on the label ended: failures in a row are counted, a write clears them."""
        if result.outcome is Outcome.RETRY:
            count, _ = self._failed.get(label_id, (0, 0.0))
            self._failed[label_id] = (count + 1, self._clock())
        elif result.outcome is Outcome.DONE:
            self._failed.pop(label_id, None)

    def cannot_write(self, label_id: str) -> bool:
        """This gateway's last ``CANNOT_WRITE_AFTER`` attempts on the label failed, the last
        within ``CANNOT_WRITE_FOR_S``: a gateway that hears it too should try."""
        count, last = self._failed.get(label_id, (0, 0.0))
        if count and self._clock() - last > CANNOT_WRITE_FOR_S:
            del self._failed[label_id]
            return False
        return count >= CANNOT_WRITE_AFTER

    def twin_changed(self, twin: LabelTwin) -> None:
        """What an owned label shows goes into its claim (its next owner starts there)."""
        if not self._o.owns(twin.label_id):
            return
        d = twin.displayed
        self._o.set_shown(
            twin.label_id,
            None
            if d is None
            else ShownContent(sku=d.sku, version=d.version, content_hash=d.content_hash),
        )

    async def hand_over(self, label_id: str, command_id: str | None = None) -> None:
        """The label's open targets (of one command, or all) are another gateway's."""
        now = self._clock()
        await self._db.run(lambda d: store.hand_over(d, label_id, now, command_id))

    async def hand_over_targets(self, targets: Sequence[tuple[str, str]]) -> None:
        """Targets (label, command) that are other gateways' to answer, in one transaction."""
        now = self._clock()

        def write(d: sqlite_utils.Database) -> None:
            for label_id, command_id in targets:
                store.hand_over(d, label_id, now, command_id)

        await self._db.run(write)

    async def step(self) -> None:
        """Once a second: queued work of labels gone elsewhere handed over, held results
        released, now and then targets answered elsewhere dropped and orphans taken back."""
        await self._sweep()
        await self.confirm_results()

    # ---- what the ownership coordinator tells (LabelOwner) ---------------------------------

    async def label_lost(self, label_id: str) -> None:
        """Another gateway owns the label now: its queued work is dropped and its open
        targets are that gateway's to answer (a transfer already running ends; its result
        is handed over too)."""
        self._scheduler.cancel(label_id, "content")
        self._planner.forget_waiting(label_id)
        await self.hand_over(label_id)
        await self.confirm_results()
        self._reporter.poke()

    async def label_gained(
        self, label_id: str, answered: Sequence[str], shown: ShownContent | None
    ) -> None:
        """The label is ours now: what the previous owner showed is what it shows; the
        targets it did not answer are ours again and planned (a label that already shows
        the content is answered ``unchanged``, not written again)."""
        if shown is not None:
            await self._planner.shown_elsewhere(
                label_id, ContentRef(shown.sku, shown.version, shown.content_hash)
            )
        if not await self._take_back(label_id, answered) and label_id in self._planner.bindings:
            await self._plan([Need(label_id, None, Priority.RESYNC)])
        self._reporter.poke()

    def claims_published(self) -> None:
        """This gateway's claims went out: results they tell of may be reported."""
        self._spawn(self.confirm_results())

    async def confirm_results(self) -> None:
        """Results recorded here are held until this gateway's published claim on the
        label says they were answered here: a label's next owner takes over what that
        claim says, so once it says so nobody answers the target again. A result still
        held when the label is another gateway's (a crash came between the result and the
        claim) is dropped: that gateway never heard of it and answers the target itself.
        A new owner tells its results only once the previous owner has withdrawn its
        claim, and drops those that claim says were answered there."""
        o = self._o
        told: list[tuple[str, str]] = []
        dropped: list[tuple[str, str]] = []
        for label_id, command_id in await self._db.read(store.held_results):
            if o.told(label_id, command_id):
                told.append((label_id, command_id))
            elif o.owns(label_id):
                if not o.writable(label_id):
                    continue  # told once in step with the others
                if o.told_elsewhere(label_id, command_id):
                    # The previous owner told it answered after this gateway took the
                    # label over (their claims crossed): its answer stands.
                    log.info(
                        "result left to the label's previous owner",
                        label_id=label_id,
                        command_id=command_id,
                    )
                    dropped.append((label_id, command_id))
                elif o.settled(label_id):  # the claim tells it with the next news
                    o.answered(label_id, command_id)
                # else: the previous owner has not yet seen that it lost the label and
                # may still tell it answered; held until it withdraws its claim
            elif o.owner(label_id) is None:
                told.append((label_id, command_id))  # nobody's label (contract 1.1)
            elif o.in_step():
                log.info(
                    "result left to the label's owner",
                    label_id=label_id,
                    command_id=command_id,
                    owner=o.owner(label_id),
                )
                dropped.append((label_id, command_id))
        if told or dropped:
            now = self._clock()
            await self._db.run(partial(store.release_results, told=told, dropped=dropped, now=now))
            self._reporter.poke()

    # ---- the rules' own work ------------------------------------------------------------------

    async def _take_back(self, label_id: str, answered: Sequence[str]) -> bool:
        """The label's handed targets of commands not answered elsewhere are ours again,
        and planned. False if there were none."""
        commands = await self._db.run(
            partial(store.take_back, label_id=label_id, answered=list(answered))
        )
        if commands:
            log.info("label targets taken back", label_id=label_id, commands=len(commands))
            await self._plan([Need(label_id, c, Priority.PRICE) for c in commands])
        return bool(commands)

    async def _sweep(self) -> None:
        """Queued work for labels another gateway has come to own (claims arrive at any
        time, not only through this gateway's own changes): handed over."""
        for label_id in self._scheduler.labels():
            if self.elsewhere(label_id):
                self._scheduler.cancel(label_id, "content")
                await self.hand_over(label_id)
        for label_id in self._planner.waiting_labels():
            if self.elsewhere(label_id):
                self._planner.forget_waiting(label_id)
                await self.hand_over(label_id)
        if time.monotonic() - self._orphans_checked >= ORPHANS_EVERY_S:
            self._orphans_checked = time.monotonic()
            await self._drop_answered_elsewhere()
            await self._forget_answered_elsewhere()
            await self._take_back_orphans()

    async def _drop_answered_elsewhere(self) -> None:
        """Targets taken back that the previous owner turns out to have answered (its
        claim said so late, e.g. after its restart): not answered a second time."""
        self._at_work = set()  # filled again here and in _forget_answered_elsewhere
        for label_id, command_id in await self._db.read(store.open_label_targets):
            if command_id not in self._o.answered_for(label_id):
                self._work(label_id)
            else:
                log.info("target answered elsewhere", label_id=label_id, command_id=command_id)
                await self.hand_over(label_id, command_id)
                job = self._scheduler.find(label_id, "content")
                work = None if job is None else job.payload
                if isinstance(work, ContentWork) and set(work.command_ids) <= {command_id}:
                    self._scheduler.cancel(label_id, "content")

    async def _forget_answered_elsewhere(self) -> None:
        """Handed targets another gateway's claim says it answered are forgotten here: the
        claims that say so are not kept across a restart (a withdrawn one is gone from
        the broker), and a label this gateway owns after one must not take them back."""
        done = []
        answered: dict[str, tuple[str, ...]] = {}
        for label_id, command_id in await self._db.read(store.handed_targets):
            if label_id not in answered:
                answered[label_id] = self._o.answered_for(label_id)
            if command_id in answered[label_id]:
                done.append((label_id, command_id))
            else:
                self._work(label_id)
        if done:
            await self._db.run(partial(store.forget_handed, targets=done))

    async def _take_back_orphans(self) -> None:
        """Targets handed over whose label is this gateway's: it claimed the label and
        was stopped before its claim was confirmed (the gain never reached the labels),
        then restarted owning it; they are its own again. Targets handed to a gateway
        that is gone before it answered them: nobody owns their label now, so the
        gateway that answers for nobody's labels takes them back (they fail when their
        time runs out, unless the label is heard and taken over)."""
        first = self._o.first_online()
        for label_id in await self._db.read(store.handed_labels):
            mine = self._o.writable(label_id)
            if mine or (first and self._o.owner(label_id) is None):
                await self._take_back(label_id, self._o.answered_for(label_id))
