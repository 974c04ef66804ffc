"""The shelf-label pipeline: commands in, label transfers out, results acknowledged.

The one orchestrator of label work, which flows one way: a command goes to the
planner (bindings, prices, twins), which returns the labels whose content must
be planned; the pipeline renders each (``render``), asks the planner where the
content goes (:meth:`LabelPlanner.place`), schedules the transfer (the
scheduler: slots, priorities, retries), runs it when the scheduler says
(``transfer``: the GATT session for the Gicisky protocol), hands the result back
to the planner and lets the campaign reporter acknowledge. Its collaborators
come in through the constructor; tests pass their own renderer, transfer and
locator. Labels are located through the registry: a label
heard within ``not_seen_after`` is served by the adapter (among those up) that
heard it loudest in that time. A label whose advert says it restarted gets its
content written again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import sqlite_utils
import structlog

from drivers.labels import containers
from drivers.labels.containers import Container
from drivers.labels.gicisky import FINAL_TIMEOUT_S, NOTIFY_SETTLE_S, GiciskyTransfer, Payload
from drivers.labels.panels import Panel, UnsupportedPanel, writable_panel
from drivers.types import DeviceKind
from gateway.commands.model import (
    LabelBind,
    LabelCommand,
    LabelFlash,
    LabelUnbind,
    PriceReview,
    PriceRulesUpdate,
    PriceUpdate,
)
from gateway.contract.events import EventsIn
from gateway.labels import catalogue, refusals, store
from gateway.labels.campaign import CampaignAck, CampaignReporter
from gateway.labels.handover import LabelHandover, LabelOwnership, answers, record_answer
from gateway.labels.jobs import AttemptResult, LabelJob, Outcome, SchedulerOptions
from gateway.labels.model import (
    Binding,
    LabelResult,
    LabelTwin,
    ResultStatus,
    TwinStatus,
)
from gateway.labels.planner import (
    ContentWork,
    LabelPlanner,
    Need,
    Rendered,
    Renderer,
    UnsupportedLabel,
)
from gateway.labels.prices import PriceDesk
from gateway.labels.refusals import Refusals
from gateway.labels.scheduler import ConnectGate, LabelScheduler
from gateway.labels.session import AttemptTimings, TransferCounts, run_machine
from gateway.labels.shelf import Shelf
from gateway.prices import relay
from gateway.prices.guard import PriceGuard
from gateway.prices.model import PriceItem
from gateway.prices.rules import BadRules, PriceRules
from gateway.prices.store import Decision
from gateway.registry import ChangeKind, DeviceChange, DeviceRecord, Registry
from gateway.store import Database
from gateway.tasks import spawn
from gateway.timeutil import format_epoch, parse_ts

log = structlog.get_logger("gateway.labels")

PRUNE_EVERY_S = 3600.0
UP_ADAPTERS_TTL_S = 0.5
PACKED_CACHE = 256  # rendered contents kept in memory (a few KiB to ~100 KiB each)


@dataclass(frozen=True)
class LabelOptions:
    slots_per_adapter: int = 3
    scheduler: SchedulerOptions = field(default_factory=SchedulerOptions)
    not_seen_after_s: float = 600.0
    default_template: str = "price"
    font_path: str | None = None
    notify_settle_s: float = NOTIFY_SETTLE_S
    confirm_timeout_s: float = FINAL_TIMEOUT_S  # after the last part, for the label's answer
    compress: bool = True  # False: QuickLZ only to labels that take nothing else
    unverified_layouts: frozenset[int] = frozenset()  # ids opted in to a sibling's layout
    price_rules: PriceRules = field(default_factory=PriceRules)  # until a price-rules command
    held_alert_after_s: float = 900.0  # a held price older than this is overdue for review


AckSink = Callable[[list[dict[str, Any]]], Awaitable[None]]


Transfer = Callable[[LabelJob, str, ConnectGate], Awaitable[AttemptResult]]
Locator = Callable[[str], str | None]


class LabelPipeline:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        options: LabelOptions,
        adapters: Callable[[], list[str]],
        make_ack: Callable[..., dict[str, Any]],
        produce_acks: AckSink,
        *,
        render: Renderer | None = None,
        transfer: Transfer | None = None,
        locate: Locator | None = None,
        clock: Callable[[], float] = time.time,
        ownership: LabelOwnership | None = None,
        events_in: EventsIn | None = None,
    ) -> None:
        self._db = db
        self._registry = registry
        self._o = options
        self._adapters = adapters
        self._make_ack = make_ack
        self._produce = produce_acks
        # Recently rendered content by hash, so a campaign does not read back from the
        # database what it just wrote; bounded (older content is read when needed).
        self._packed: OrderedDict[str, bytes] = OrderedDict()
        self._render_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="label-render")
        self._render = render or self._render_label
        self._locate_heard = locate or self._by_registry
        self._transfer_fn = transfer or self._transfer
        self._ownership = ownership
        self._clock = clock
        self.scheduler = LabelScheduler(
            {},
            self._attempt,
            self._locate,
            self._finished,
            options.scheduler,
        )
        self.planner = LabelPlanner(
            db,
            clock,
            unseen_budget_s=options.scheduler.budget_s,
            on_change=self._twin_changed,
            answers=partial(answers, ownership),
            on_answered=partial(record_answer, ownership),
            hold_results=ownership is not None,
            guard=PriceGuard(options.price_rules),
        )
        self.shelf = Shelf(
            db,
            self.planner,
            (lambda _label_id: True) if ownership is None else ownership.owns,
            clock,
        )
        self.prices = PriceDesk(
            db, self.planner, self.planner.guard, events_in, clock, options.held_alert_after_s
        )
        self.reporter = CampaignReporter(db, self._ack)
        # Several gateways share the store's labels: the rules of hand-over.
        self.handover = (
            None
            if ownership is None
            else LabelHandover(
                db,
                ownership,
                self.planner,
                self.scheduler,
                self.reporter,
                self.plan,
                self._spawn,
                clock,
            )
        )
        self.timings = AttemptTimings()
        self.transfers = TransferCounts()
        self.refusals = Refusals()
        self._up: tuple[float, list[str]] = (-UP_ADAPTERS_TTL_S, [])
        self._tasks: set[asyncio.Task[object]] = set()
        registry.subscribe(self._on_device)

    async def start(self) -> None:
        self.refusals.load(await self._db.read(refusals.load))
        await self.planner.load()
        await self.shelf.load()

    async def drain(self, timeout_s: float) -> None:
        """Let running transfers end (starting no new one) and record their results."""
        finished = await self.scheduler.drain(timeout_s)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        if not finished:
            log.warning("label transfers still running at stop", running=self.scheduler.running)
        self._render_pool.shutdown(wait=False, cancel_futures=True)

    def tasks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {
            "label-scheduler": self._scheduler_loop,
            "label-campaigns": self.reporter.run,
            "label-due": self._due_loop,
        }

    async def _scheduler_loop(self) -> None:
        for name in self._adapters():
            self.scheduler.set_slots(name, self._o.slots_per_adapter)
        await self.reconcile()
        await self.scheduler.run()

    # ---- the flow: needs -> render -> place -> schedule ----------------------------------

    async def plan(self, needs: Sequence[Need]) -> None:
        """Render the content each label needs and act on where the planner places it."""
        handover = self.handover
        handed: list[tuple[str, str]] = []  # recorded together: a campaign hands thousands
        for need in needs:
            if handover is not None and need.command_id:
                handover.working(need.label_id)
            if handover is not None and handover.elsewhere(need.label_id):
                # Another gateway owns the label: it renders, writes and answers.
                if need.command_id:
                    handed.append((need.label_id, need.command_id))
                continue
            if (
                handover is not None
                and need.command_id
                and handover.answered_before(need.label_id, need.command_id)
            ):
                handed.append((need.label_id, need.command_id))  # and forgotten: answered
                continue
            if handover is not None and handed:
                await handover.hand_over_targets(handed)
                handed = []
            what = self.planner.content_for(need)
            if what is None:
                await self.planner.nothing_to_show(need)
                continue
            item, template = what
            rendered: Rendered | UnsupportedLabel | None
            try:
                rendered = await self._render(need.label_id, item, template)
            except UnsupportedLabel as exc:
                rendered = exc
            pending = self.scheduler.find(need.label_id, "content")
            placement = await self.planner.place(need, rendered, pending)
            if placement.cancel:
                self.scheduler.cancel(need.label_id, "content")
            if placement.join and pending is not None:
                work = pending.payload
                assert isinstance(work, ContentWork)
                pending.payload = dataclasses.replace(work, also=(*work.also, *placement.join))
            if placement.submit is not None:
                await self.schedule(placement.submit)
        if handover is not None and handed:
            await handover.hand_over_targets(handed)

    async def schedule(self, job: LabelJob) -> None:
        current = self.scheduler.find(job.label_id, job.kind)
        if (
            current is not None
            and isinstance(current.payload, ContentWork)
            and isinstance(job.payload, ContentWork)
            and current.payload.content == job.payload.content
        ):
            # The same content was queued while this job was planned (plans of one label
            # can run side by side: a target taken back and the label's resync at a
            # gain): its commands wait for that transfer rather than replacing it (which
            # would report the other one's commands superseded).
            work = current.payload
            joining = tuple(c for c in job.payload.command_ids if c not in work.command_ids)
            if joining:
                current.payload = dataclasses.replace(work, also=(*work.also, *joining))
            return
        replaced = self.scheduler.submit(job)
        if replaced is not None:
            log.info(
                "queued label job replaced by a newer one",
                label_id=job.label_id,
                replaced=str(replaced.payload),
                by=str(job.payload),
            )
            await self.planner.superseded(replaced)

    async def reconcile(self) -> int:
        """Queue every label whose displayed content differs from its desired content;
        how many labels were queued or planned."""
        open_targets: dict[str, list[str]] = {}
        for label_id, command_id in await self._db.read(store.open_label_targets):
            open_targets.setdefault(label_id, []).append(command_id)
        jobs, needs = self.planner.reconcile(open_targets)
        for job in jobs:
            await self.schedule(job)
        await self.plan(needs)
        return len(jobs) + len(needs)

    async def review_on_page(
        self,
        sku: str,
        version: int,
        decision: Literal["release", "discard"],
        user: str,
        note: str | None,
    ) -> bool:
        """A person's decision on a held item (the page checked who may take it). False:
        the item is not held (decided meanwhile, or superseded)."""
        held = self.planner.guard.held.get(sku)
        if held is None or held.item.version != version:
            return False
        now = self._clock()
        await self.plan(
            await self.prices.review(
                None, [Decision(sku, version, decision, user, note, now, "page")]
            )
        )
        return True

    async def price_preview(self, sku: str, version: int, label_id: str) -> bytes | None:
        """The held item as it would look on the label (rendered now, stored nowhere);
        None: not held, the label not bound to its SKU, or its panel unknown."""
        held = self.planner.guard.held.get(sku)
        binding = self.planner.bindings.get(label_id)
        if held is None or held.item.version != version or binding is None or binding.sku != sku:
            return None
        try:
            rendered = await self._render(label_id, held.item, binding.template)
        except UnsupportedLabel:
            return None
        return None if rendered is None else rendered.preview_png

    async def price_catalogue(self, sku: str | None, held_only: bool) -> list[dict[str, Any]]:
        return await self._db.read(partial(catalogue.read, sku=sku, held_only=held_only))

    def shelf_search(self, query: str) -> dict[str, Any] | None:
        """Every label of a SKU (or of the SKU a label id is bound to): what it shows,
        what it should show and why they differ. None: no such SKU or label."""
        q = query.strip()
        label_id = q.replace(":", "").lower()
        planner = self.planner
        binding = planner.bindings.get(label_id)
        sku = binding.sku if binding is not None else q
        labels = planner.labels_of(sku)
        item = planner.items.get(sku)
        held = planner.guard.held.get(sku)
        if not labels and item is None and held is None:
            return None
        rows = []
        for label in labels:
            device = self._registry.get(label)
            rows.append(
                {
                    **self.shelf.why(label),
                    "model": None if device is None else device.model,
                    "online": device is not None and device.online,
                    "width": None if device is None or not device.label else device.label.width,
                    "label": self.label_view(label),
                }
            )
        return {
            "sku": sku,
            "current": None
            if item is None
            else {"version": item.version, "price": item.price, "currency": item.currency},
            "held": None if held is None else self.prices.held_view(held),
            "labels": rows,
        }

    async def peer_reviews(self, gateway_id: str, payload: bytes) -> None:
        """Decisions taken on another gateway's page: taken here too (those on items not
        held here are kept, for an item whose price-update is still on its way)."""
        try:
            decisions = relay.parse(payload, gateway_id)
        except relay.BadReviews as exc:
            log.warning(
                "price decisions of another gateway ignored", gateway=gateway_id, error=str(exc)
            )
            return
        guard = self.planner.guard

        def open_here(d: Decision) -> bool:
            """Held here, or a version not taken in yet (older ones are past)."""
            held = guard.held.get(d.sku)
            on_hold = held is not None and held.item.version == d.version
            return on_hold or (guard.newest_version(d.sku) or 0) < d.version

        fresh = [d for d in decisions if open_here(d)]
        if fresh:
            await self.plan(await self.prices.review(None, fresh))

    def repush(self, label_id: str) -> bool:
        """Write the label's desired content again; False if it has none."""
        job = self.planner.repush(label_id)
        if job is None:
            return False
        self.scheduler.submit(job)
        return True

    def repush_sku(self, sku: str) -> list[str] | None:
        """Write every label of ``sku`` again (those with content); None: no such SKU
        bound to any label. Returns the labels queued."""
        labels = self.planner.labels_of(sku)
        if not labels:
            return None
        return [label_id for label_id in labels if self.repush(label_id)]

    async def _due_loop(self) -> None:
        pruned = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            for name in self._adapters():
                self.scheduler.set_slots(name, self._o.slots_per_adapter)
            await self.plan(await self.planner.due())
            if self.handover is not None:
                await self.handover.step()
            if time.monotonic() - pruned >= PRUNE_EVERY_S:
                # Rendered content no label wants or shows any more: years of campaigns
                # would otherwise fill the disk.
                pruned = time.monotonic()
                await self._db.run(store.prune_content)
                # Targets handed to another gateway: answered by it long since.
                before = self._clock() - 2 * self._o.scheduler.budget_s
                await self._db.run(partial(store.prune_handed, before=before))
                # Price history no rule asks for any more (the newest of each SKU stays).
                await self._db.run(partial(self.planner.guard.prune, now=self._clock()))
                await self._db.run(partial(self.shelf.prune, now=self._clock()))

    # ---- commands -------------------------------------------------------------------------

    async def execute(self, command: LabelCommand) -> None:
        """Carry out a label command (typed and checked by the inbox). A command whose
        targets are already stored was executed before a restart: it is not run twice."""
        if await self._db.read(partial(store.command_type, command_id=command.id)):
            return
        match command:
            case PriceUpdate(body=body):
                items = [
                    PriceItem(
                        i.sku,
                        i.version,
                        i.price,
                        i.currency,
                        i.original_price,
                        i.promo_text,
                        i.unit_price_text,
                        i.name,
                        parse_ts(i.valid_from).timestamp() if i.valid_from else None,
                    )
                    for i in body.items
                ]
                await self.plan(await self.prices.update(command.id, items))
            case PriceReview(body=body):
                now = self._clock()
                decisions = [
                    Decision(r.sku, r.version, r.decision, "cloud", r.note, now)
                    for r in body.reviews
                ]
                await self.plan(await self.prices.review(command.id, decisions))
            case PriceRulesUpdate():
                await self._price_rules(command)
            case LabelBind(body=body):
                bindings = [Binding(b.label_id, b.sku, b.template) for b in body.bindings]
                await self.plan(await self.planner.bind(command.id, bindings))
            case LabelUnbind(body=body):
                await self.planner.unbind(command.id, body.label_ids)
                for label_id in body.label_ids:
                    self.scheduler.cancel(label_id, "content")
                await self._immediate(command, body.label_ids, ResultStatus.UNCHANGED, None)
            case LabelFlash(body=body):
                # Gicisky labels have no LED: an honest failure, not a pretend flash.
                await self._immediate(
                    command, body.label_ids, ResultStatus.FAILED, "this label model has no LED"
                )
        self.reporter.poke()

    async def _price_rules(self, command: PriceRulesUpdate) -> None:
        """The store's price rules from the cloud, replacing the gateway's whole (a rule
        not named at its default; ``currency`` absent: the store's stays). An older
        version changes nothing (``skipped-stale``); a body that cannot apply changes
        nothing (``failed``, the reason). Each gateway of a store sets its own rules and
        sends its own final ack; a result without a label is given by one of them."""
        guard, body, now = self.planner.guard, command.body, self._clock()
        given = {name: r.model_dump(exclude_none=True) for name, r in body.rules.items()}
        outcome, error = "applied", None
        write = None
        if guard.rules_command == command.id:
            pass  # carried out before a restart: applied already
        elif body.version <= guard.rules.version:
            outcome, error = "skipped-stale", f"price rules version {guard.rules.version} in use"
        else:
            try:
                rules = PriceRules.parse(given, body.currency or guard.rules.currency, body.version)
            except BadRules as exc:
                outcome, error = "failed", str(exc)
            else:
                write = guard.set_rules(rules, command.id, given, now)
        if write is not None:
            await self._db.run(write)
            log.info("price rules set", version=body.version, currency=guard.rules.currency)
        answering = outcome == "applied" or answers(self._ownership, None)
        results = (
            []
            if outcome == "applied" or not answering
            else [
                {
                    "label_id": None,
                    "sku": None,
                    "version": body.version,
                    "status": outcome,
                    "at": format_epoch(now),
                    "error": error,
                }
            ]
        )
        ack = self._make_ack(
            command_id=command.id,
            command_type=command.type,
            status="partial" if results and outcome == "failed" else "completed",
            now=now,
            counts={outcome: 1} if answering else {},
            results=results,
        )
        await self._produce([ack])

    async def _immediate(
        self,
        command: LabelCommand,
        label_ids: list[str],
        status: ResultStatus,
        error: str | None,
    ) -> None:
        now = time.time()

        answering = {i: answers(self._ownership, i) for i in label_ids}

        def write(d: sqlite_utils.Database) -> None:
            store.add_targets(d, command.id, command.type, [(i, None, None) for i in label_ids])
            for i in label_ids:
                if answering[i]:
                    result = LabelResult(command.id, i, None, None, status, now, error)
                    store.set_result(d, result, held=self._ownership is not None)
                else:
                    store.hand_over(d, i, now, command.id)

        await self._db.run(write)

    async def _ack(self, ack: CampaignAck) -> None:
        results = [
            {
                "label_id": r.label_id,
                "sku": r.sku,
                "version": r.version,
                "status": r.status.value,
                "at": format_epoch(r.at),
                "error": r.error,
            }
            for r in ack.results
        ]
        body = self._make_ack(
            command_id=ack.command_id,
            command_type=ack.command_type,
            status=ack.status,
            now=time.time(),
            counts=dict(ack.counts),
            results=results if ack.status != "progress" else None,
        )
        await self._produce([body])

    # ---- the scheduler's collaborators --------------------------------------------------------

    async def _render_label(
        self, label_id: str, item: PriceItem, template: str | None
    ) -> Rendered | None:
        device = self._registry.get(label_id)
        if device is None:
            return None
        if device.label is None:
            raise UnsupportedLabel(f"{device.model}: not a shelf label this gateway can write")
        if device.label.family != "gicisky":
            raise UnsupportedLabel(
                f"{device.label.family} label: recognised, but campaigns write Gicisky labels "
                "only in this version"
            )
        try:
            panel = writable_panel(device.label.panel_type, self._o.unverified_layouts)
        except UnsupportedPanel as exc:
            raise UnsupportedLabel(str(exc)) from exc
        # Pillow and the fonts are loaded with the first label to render: a store whose
        # gateway has no bound labels never pays for them.
        from gateway.labels.render import LabelContent, render

        content = LabelContent(
            sku=item.sku,
            price=item.price,
            currency=item.currency,
            name=item.name,
            original_price=item.original_price,
            promo_text=item.promo_text,
            unit_price_text=item.unit_price_text,
            template=template or self._o.default_template,
        )
        font = Path(self._o.font_path) if self._o.font_path else None
        # A few ms of Pillow, off the loop; one thread for it, not the default pool's
        # many (each thread that allocates gets its own malloc arena to keep).
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(self._render_pool, render, content, panel, font)
        self._packed[out.content_hash] = out.packed
        self._packed.move_to_end(out.content_hash)
        while len(self._packed) > PACKED_CACHE:
            self._packed.popitem(last=False)
        return Rendered(out.content_hash, panel.model, out.packed, out.preview_png)

    def _up_adapters(self) -> list[str]:
        """The adapters up, looked up at most every ``UP_ADAPTERS_TTL_S`` (asked per job)."""
        now = time.monotonic()
        if now - self._up[0] >= UP_ADAPTERS_TTL_S:
            self._up = (now, self._adapters())
        return self._up[1]

    def _locate(self, label_id: str) -> str | None:
        if self.handover is not None and not self.handover.writable(label_id):
            return None  # another gateway's to write (or nobody's yet, or not known yet)
        return self._locate_heard(label_id)

    def _by_registry(self, label_id: str) -> str | None:
        device = self._registry.get(label_id)
        if device is None or not device.online:
            return None
        if time.time() - device.last_seen > self._o.not_seen_after_s:
            return None
        adapters = self._up_adapters()
        best = device.best_adapter(adapters, time.monotonic() - self._o.not_seen_after_s)
        if best is not None:
            return best
        # Heard, but not through an adapter that is up now (or before adapters were
        # tracked): try the first one up; a failed connect is retried with backoff.
        return adapters[0] if adapters else None

    async def _attempt(self, job: LabelJob, adapter: str, gate: ConnectGate) -> AttemptResult:
        """One transfer; while it runs the label is not taken over by another gateway."""
        if self.handover is None:
            return await self._transfer_fn(job, adapter, gate)
        with self.handover.busy(job.label_id):
            result = await self._transfer_fn(job, adapter, gate)
        self.handover.attempted(job.label_id, result)
        return result

    async def _transfer(self, job: LabelJob, adapter: str, gate: ConnectGate) -> AttemptResult:
        work = job.payload
        if not isinstance(work, ContentWork):
            return AttemptResult(Outcome.FAILED, "unknown job")
        content_hash = work.content.content_hash
        packed = self._packed.get(content_hash)
        if packed is None:
            packed = await self._db.read(partial(store.load_content, content_hash=content_hash))
        if packed is None:
            return AttemptResult(Outcome.FAILED, "rendered content is missing")
        device = self._registry.get(job.label_id)
        if device is None or device.label is None:
            return AttemptResult(Outcome.NOT_SEEN, "label not seen")
        try:
            panel = writable_panel(device.label.panel_type, self._o.unverified_layouts)
        except UnsupportedPanel as exc:
            return AttemptResult(Outcome.FAILED, str(exc))
        label = device.label
        firmware = label.firmware or 0
        accepted = containers.accepted(panel, firmware, label.flags)
        if not self._o.compress:
            accepted = tuple(c for c in accepted if c is not Container.QUICKLZ) or accepted
        accepted = self.refusals.offer(job.label_id, firmware, accepted)
        loop = asyncio.get_running_loop()
        payloads = await loop.run_in_executor(self._render_pool, _payloads, accepted, panel, packed)
        self.planner.mark_updating(job.label_id)
        machine = GiciskyTransfer(
            payloads,
            settle_s=self._o.notify_settle_s,
            final_timeout_s=self._o.confirm_timeout_s,
        )
        result = await run_machine(machine, job.label_id, adapter, gate, timings=self.timings)
        if result.outcome is Outcome.DONE:
            self.transfers.count(machine.container, machine.progress[1])
        if self.refusals.refused(job.label_id, firmware, machine.refused):
            log.info(
                "label did not read a container; its next writes skip it",
                label_id=job.label_id,
                firmware=f"{firmware:04x}",
                containers=[c.value for c in self.refusals.of(job.label_id)],
            )
            await self._db.run(
                partial(
                    refusals.save,
                    label_id=job.label_id,
                    firmware=firmware,
                    containers=self.refusals.of(job.label_id),
                    now=self._clock(),
                )
            )
        return result

    def _finished(self, job: LabelJob, result: AttemptResult) -> None:
        self._spawn(self._settle(job, result))

    async def _settle(self, job: LabelJob, result: AttemptResult) -> None:
        await self.planner.finished(job, result)
        self.reporter.poke()
        work = job.payload
        if result.outcome is Outcome.DONE and isinstance(work, ContentWork):
            await self.shelf.shown(job.label_id, work.content.sku, work.content.version)

    # ---- registry and views ------------------------------------------------------------------

    def _twin_changed(self, twin: LabelTwin) -> None:
        self._registry.label_changed(twin.label_id)
        if self.handover is not None:
            self.handover.twin_changed(twin)

    def _on_device(self, change: DeviceChange) -> None:
        device = change.device
        if device.kind is not DeviceKind.LABEL:
            return
        if ChangeKind.REBOOTED in change.kinds:
            self._spawn(self.label_restarted(device.device_id))
        if change.kinds & {ChangeKind.NEW, ChangeKind.ONLINE, ChangeKind.INFO}:
            self.label_heard(device.device_id)

    def label_heard(self, label_id: str) -> None:
        """The label advertised: jobs waiting to see it may run, content waiting for its
        panel is planned."""
        self.scheduler.label_seen(label_id)
        needs = self.planner.label_seen(label_id)
        if needs:
            self._spawn(self.plan(needs))

    async def label_restarted(self, label_id: str) -> bool:
        """The label restarted: write its content again. False if it has none."""
        if label_id not in self.planner.twins or self.planner.twins[label_id].desired is None:
            return False
        queued = self.scheduler.find(label_id, "content") is not None
        job = await self.planner.rebooted(label_id, queued)
        if job is not None:
            self.scheduler.submit(job)
        return True

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        spawn(work, name="label-work", keep=self._tasks)

    async def preview(self, content_hash: str) -> bytes | None:
        return await self._db.read(partial(store.load_preview, content_hash=content_hash))

    def device_label(self, device: DeviceRecord) -> Mapping[str, Any] | None:
        """The ``label`` object of a device's state message: what the label should show
        and shows (``unbound`` for a label with no SKU yet); None for other devices."""
        if device.kind is not DeviceKind.LABEL:
            return None
        return self.label_view(device.device_id) or {
            "sku": None,
            "desired": None,
            "displayed": None,
            "displayed_at": None,
            "status": "unbound",
            "last_error": None,
        }

    def label_view(self, label_id: str) -> Mapping[str, Any] | None:
        twin = self.planner.twins.get(label_id)
        binding = self.planner.bindings.get(label_id)
        if twin is None and binding is None:
            return None
        twin = twin or LabelTwin(label_id)

        def ref(r: Any) -> dict[str, Any] | None:
            return (
                None
                if r is None
                else {"sku": r.sku, "version": r.version, "content_hash": r.content_hash}
            )

        # A label whose SKU's newest price is held keeps what it shows, and says so; a
        # bound label with nothing to show yet waits for it.
        held = binding is not None and binding.sku in self.planner.guard.held
        status = twin.status.value
        if binding is not None and twin.status is TwinStatus.UNBOUND:
            status = TwinStatus.PENDING.value
        return {
            "sku": binding.sku if binding else None,
            "desired": ref(twin.desired),
            "displayed": ref(twin.displayed),
            "displayed_at": None if twin.displayed_at is None else format_epoch(twin.displayed_at),
            "status": "held" if held else status,
            "last_error": twin.last_error,
        }


def _payloads(
    accepted: tuple[containers.Container, ...], panel: Panel, packed: bytes
) -> list[Payload]:
    """The content in every container the label takes (compressing is CPU: off the loop)."""
    return [Payload(c, containers.encode(c, panel, packed)) for c in accepted]
