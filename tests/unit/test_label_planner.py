import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils

from gateway.contract.events import EventsIn
from gateway.labels import store
from gateway.labels.handover import LabelOwnership
from gateway.labels.jobs import AttemptResult, LabelJob, Outcome, Priority, SchedulerOptions
from gateway.labels.model import Binding, ResultStatus, TwinStatus
from gateway.labels.pipeline import LabelOptions, LabelPipeline
from gateway.labels.planner import ContentWork, Need, Rendered, Renderer, UnsupportedLabel
from gateway.labels.scheduler import ConnectGate
from gateway.prices.model import PriceItem
from gateway.registry import Registry, RegistryOptions
from gateway.store import Database

FAST = SchedulerOptions(backoff_min_s=0.01, requeue_s=0.01)
L1, L2, L3 = "ff0012a3b4c5", "ff0012a3b4c6", "ff0012a3b4c7"


async def render(label_id: str, item: PriceItem, template: str | None) -> Rendered | None:
    if label_id == "ff00000000ee":  # a label whose panel is not known yet
        return None
    digest = hashlib.sha256(f"{item.price}|{item.currency}|{template}".encode()).hexdigest()
    return Rendered(digest[:16], "gicisky-bwr-2.9", digest.encode(), b"png")


class Rig:
    """The label pipeline with a test renderer, a transfer that records what it writes and
    a locator the test controls (labels visible or not)."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], float] = time.time,
        renderer: Renderer = render,
        ownership: LabelOwnership | None = None,
        budget_s: float = 60,
        events: EventsIn | None = None,
    ) -> None:
        self.written: list[tuple[str, str]] = []
        self.acks: list[dict[str, object]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.visible = True
        self.hidden: set[str] = set()  # labels not visible even when the others are

        async def produce(acks: list[dict[str, object]]) -> None:
            self.acks.extend(acks)

        self.pipeline = LabelPipeline(
            db,
            Registry(RegistryOptions()),
            LabelOptions(scheduler=dataclasses.replace(FAST, budget_s=budget_s)),
            lambda: ["hci0"],
            lambda **kw: dict(kw),
            produce,
            render=renderer,
            transfer=self.run,
            locate=lambda label: "hci0" if self.visible and label not in self.hidden else None,
            clock=clock,
            ownership=ownership,
            events_in=events,
        )
        self.scheduler = self.pipeline.scheduler
        self.scheduler.set_slots("hci0", 2)
        self.planner = self.pipeline.planner

    async def run(self, job: LabelJob, adapter: str, gate: ConnectGate) -> AttemptResult:
        await self.hold.wait()
        assert isinstance(job.payload, ContentWork)
        self.written.append((job.label_id, job.payload.content.content_hash))
        return AttemptResult(Outcome.DONE)

    # The flows, as the pipeline runs them for commands and adverts.
    async def bind(self, command_id: str, bindings: list[Binding]) -> None:
        await self.pipeline.plan(await self.planner.bind(command_id, bindings))

    async def price_update(self, command_id: str, items: list[PriceItem]) -> None:
        await self.pipeline.plan(await self.pipeline.prices.update(command_id, items))

    async def due(self) -> None:
        await self.pipeline.plan(await self.planner.due())

    def label_seen(self, label_id: str) -> None:
        self.pipeline.label_heard(label_id)

    async def rebooted(self, label_id: str) -> bool:
        return await self.pipeline.label_restarted(label_id)

    async def reconcile(self) -> int:
        return await self.pipeline.reconcile()

    def repush(self, label_id: str) -> bool:
        return self.pipeline.repush(label_id)

    async def settle(self) -> None:
        for _ in range(500):
            await asyncio.sleep(0.01)
            if self.scheduler.is_idle() and not self.pipeline._tasks:
                return
        raise AssertionError("label jobs did not settle")


async def clocked_rig(tmp_path: Path) -> tuple[Database, Rig, list[float]]:
    """A gateway's label pipeline on a clock the test moves (``now[0]``), no scheduler run."""
    db = Database(tmp_path / "gw.db")
    await db.open()
    now = [1000.0]
    rig = Rig(db, clock=lambda: now[0])
    await rig.planner.load()
    return db, rig, now


def results(db_path: Path, command_id: str) -> list[tuple[str | None, str | None, str | None]]:
    d = sqlite_utils.Database(db_path)
    rows = d.execute(
        "SELECT label_id, sku, status FROM label_results WHERE command_id = ? ORDER BY seq",
        [command_id],
    ).fetchall()
    return sorted((tuple(r) for r in rows), key=lambda r: (r[0] or "", r[1] or ""))  # type: ignore[misc]


def item(sku: str, version: int, price: str) -> PriceItem:
    return PriceItem(sku=sku, version=version, price=price, currency="CNY")


async def test_price_update_campaign(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    run = asyncio.create_task(rig.scheduler.run())
    await rig.bind("bind-1", [Binding(L1, "A"), Binding(L2, "A"), Binding(L3, "B")])
    # Bound, with no price yet: the bind waits for the SKU's first price (pending).
    assert results(tmp_path / "gw.db", "bind-1") == [
        (L1, "A", None),
        (L2, "A", None),
        (L3, "B", None),
    ]
    assert rig.pipeline.label_view(L1)["status"] == "pending"  # type: ignore[index]
    await rig.price_update(
        "cmd-1", [item("A", 1, "12.90"), item("B", 1, "3.50"), item("Z", 1, "1.00")]
    )
    await rig.settle()
    assert results(tmp_path / "gw.db", "cmd-1") == [
        (None, "Z", "unbound"),
        (L1, "A", "displayed"),
        (L2, "A", "displayed"),
        (L3, "B", "displayed"),
    ]
    assert results(tmp_path / "gw.db", "bind-1") == [
        (L1, "A", "displayed"),
        (L2, "A", "displayed"),
        (L3, "B", "displayed"),
    ]
    assert all(t.status is TwinStatus.IN_SYNC for t in rig.planner.twins.values())
    assert len(rig.written) == 3

    # Stale version, and the same picture under a newer version.
    await rig.price_update("cmd-2", [item("A", 1, "9.99"), item("B", 2, "3.50")])
    await rig.settle()
    assert results(tmp_path / "gw.db", "cmd-2") == [
        (None, "A", "skipped-stale"),
        (L3, "B", "unchanged"),
    ]
    assert len(rig.written) == 3  # nothing was written again
    assert rig.repush(L1) is True  # a technician asks for it anyway
    await rig.settle()
    assert len(rig.written) == 4 and rig.planner.twins[L1].status is TwinStatus.IN_SYNC
    assert rig.repush("ff00000000aa") is False
    run.cancel()
    await db.close()


async def test_newer_version_supersedes_queued_one(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A")])
    rig.visible = False  # the label is away: both versions stay queued
    run = asyncio.create_task(rig.scheduler.run())
    await rig.price_update("old", [item("A", 1, "10.00")])
    await rig.price_update("new", [item("A", 2, "11.00")])
    rig.visible = True
    rig.label_seen(L1)
    await rig.settle()
    assert results(tmp_path / "gw.db", "old") == [(L1, "A", "superseded")]
    assert results(tmp_path / "gw.db", "new") == [(L1, "A", "displayed")]
    assert len(rig.written) == 1
    twin = rig.planner.twins[L1]
    assert twin.displayed is not None and twin.displayed.version == 2
    run.cancel()
    await db.close()


async def test_a_bind_waiting_for_a_price_fails_after_the_budget_and_unbind_ends_it(
    tmp_path: Path,
) -> None:
    db, rig, now = await clocked_rig(tmp_path)
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
    await rig.due()
    assert results(tmp_path / "gw.db", "bind") == [(L1, "A", None), (L2, "A", None)]
    await rig.planner.unbind("unbind", [L2])
    assert results(tmp_path / "gw.db", "bind") == [(L1, "A", None), (L2, "A", "failed")]
    now[0] += 61
    await rig.due()
    assert results(tmp_path / "gw.db", "bind") == [(L1, "A", "failed"), (L2, "A", "failed")]
    d = sqlite_utils.Database(tmp_path / "gw.db")
    errors = [r[0] for r in d.execute("SELECT error FROM label_results WHERE command_id = 'bind'")]
    assert sorted(errors) == [
        "no price received for this SKU within 60 s",
        "unbound before its SKU had a price",
    ]
    await db.close()


async def test_a_bind_waiting_for_a_price_survives_a_restart(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A")])
    await db.close()

    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    run = asyncio.create_task(rig.scheduler.run())
    await rig.reconcile()
    await rig.price_update("cmd", [item("A", 1, "12.90")])
    await rig.settle()
    assert results(tmp_path / "gw.db", "bind") == [(L1, "A", "displayed")]
    assert len(rig.written) == 1
    run.cancel()
    await db.close()


async def test_an_unwritable_label_stays_failed_after_a_restart(tmp_path: Path) -> None:
    async def unsupported(label_id: str, item: PriceItem, template: str | None) -> Rendered | None:
        raise UnsupportedLabel("unsupported panel 0x00f0: no layout is known")

    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db, renderer=unsupported)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("cmd", [item("A", 1, "12.90")])
    await db.close()

    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db, renderer=unsupported)
    await rig.planner.load()
    view = rig.pipeline.label_view(L1)
    assert view is not None and view["status"] == "failed" and view["sku"] == "A"
    assert str(view["last_error"]).startswith("unsupported panel 0x00f0")
    await db.close()


async def test_restart_resumes_without_rewriting(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
    rig.hold.clear()  # the "crash" happens before any label is written
    await rig.price_update("cmd", [item("A", 1, "5.00")])
    await db.close()

    db2 = Database(tmp_path / "gw.db")
    await db2.open()
    rig2 = Rig(db2)
    await rig2.planner.load()
    assert {t.status for t in rig2.planner.twins.values()} == {TwinStatus.PENDING}
    run = asyncio.create_task(rig2.scheduler.run())
    assert await rig2.reconcile() == 2
    await rig2.settle()
    assert (results(tmp_path / "gw.db", "cmd")) == [
        (L1, "A", "displayed"),
        (L2, "A", "displayed"),
    ]
    assert await rig2.reconcile() == 0  # in sync: nothing to write again
    run.cancel()
    rows = await db2.read(lambda d: store.unacked_results(d, "cmd", 10))
    assert [r.status for _, r in rows] == [ResultStatus.DISPLAYED] * 2
    await db2.close()


async def test_campaign_acks_progress_then_final_once(tmp_path: Path) -> None:
    from gateway.labels.campaign import CampaignAck, CampaignReporter

    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    acks: list[CampaignAck] = []

    async def sink(ack: CampaignAck) -> None:
        acks.append(ack)

    reporter = CampaignReporter(db, sink)
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
    rig.visible = False
    run = asyncio.create_task(rig.scheduler.run())
    await rig.price_update("cmd", [item("A", 1, "2.00"), item("Q", 1, "1.00")])
    await reporter.report()
    progress = [a for a in acks if a.command_id == "cmd"]
    assert [(a.status, dict(a.counts)) for a in progress] == [
        ("progress", {"in-progress": 2, "unbound": 1})
    ]
    await reporter.report()  # nothing changed: no second progress ack
    assert len([a for a in acks if a.command_id == "cmd"]) == 1
    rig.visible = True
    rig.label_seen(L1)
    rig.label_seen(L2)
    await rig.settle()
    await reporter.report()
    final = [a for a in acks if a.command_id == "cmd" and a.status != "progress"]
    assert [a.status for a in final] == ["completed"]
    assert sorted((r.label_id or "", r.status.value) for r in final[0].results) == [
        ("", "unbound"),
        (L1, "displayed"),
        (L2, "displayed"),
    ]
    count = len(acks)
    await reporter.report()
    assert len(acks) == count  # each result reported once
    run.cancel()
    await db.close()


async def test_progress_acks_at_most_once_per_period(tmp_path: Path) -> None:
    from gateway.labels.campaign import CampaignAck, CampaignReporter

    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    acks: list[CampaignAck] = []

    async def sink(ack: CampaignAck) -> None:
        acks.append(ack)

    now = [1000.0]
    reporter = CampaignReporter(db, sink, period_s=10.0, clock=lambda: now[0])
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
    rig.visible = False
    run = asyncio.create_task(rig.scheduler.run())
    await rig.price_update("cmd", [item("A", 1, "2.00")])
    await reporter.report()
    rig.visible, rig.hidden = True, {L2}
    rig.label_seen(L1)
    for _ in range(200):  # L1 displayed, L2 still open: the counts changed
        await asyncio.sleep(0.01)
        if L1 in {w[0] for w in rig.written} and not rig.pipeline._tasks:
            break
    now[0] += 9.0
    await reporter.report()  # changed, but within the period: no ack
    assert [a.status for a in acks if a.command_id == "cmd"] == ["progress"]
    now[0] += 1.0
    await reporter.report()  # the period is over: the new counts go out
    progress = [dict(a.counts) for a in acks if a.command_id == "cmd"]
    assert progress == [{"in-progress": 2}, {"in-progress": 1, "displayed": 1}]
    run.cancel()
    await db.close()


async def test_a_target_taken_back_while_the_final_ack_goes_out_is_kept_and_reported(
    tmp_path: Path,
) -> None:
    # The reporter reads that no target is open, sends the final ack, then forgets what it
    # reported; a label come back from another gateway may reopen a target in between.
    from gateway.labels.campaign import CampaignAck, CampaignReporter
    from gateway.labels.model import LabelResult

    db = Database(tmp_path / "gw.db")
    await db.open()
    now = time.time()

    def result(label_id: str) -> LabelResult:
        return LabelResult("cmd", label_id, "A", 1, ResultStatus.DISPLAYED, now, None)

    def setup(d: sqlite_utils.Database) -> None:
        store.add_targets(d, "cmd", "price-update", [(L1, "A", 1), (L2, "A", 1)])
        store.set_result(d, result(L1))
        store.hand_over(d, L2, now, "cmd")  # L2 is another gateway's

    await db.run(setup)
    acks: list[CampaignAck] = []

    async def sink(ack: CampaignAck) -> None:
        acks.append(ack)
        if len(acks) == 1:  # L2 comes back while the final ack goes out
            assert await db.run(lambda d: store.take_back(d, L2, [])) == ["cmd"]

    reporter = CampaignReporter(db, sink)
    await reporter.report()
    assert [(a.status, [r.label_id for r in a.results]) for a in acks] == [("completed", [L1])]
    assert results(tmp_path / "gw.db", "cmd") == [(L2, "A", None)]  # L1 reported: forgotten
    await db.run(lambda d: store.set_result(d, result(L2)))
    await reporter.report()
    assert [(a.status, [r.label_id for r in a.results]) for a in acks[1:]] == [("completed", [L2])]
    await reporter.report()
    assert len(acks) == 2
    await db.close()


async def test_plans_of_one_label_side_by_side_share_one_job(tmp_path: Path) -> None:
    # A target taken back and the label's resync at a gain are planned at the same time:
    # the second job of the same content joins the first (the command is not superseded).
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A")])
    rig.visible = False
    await rig.price_update("cmd", [item("A", 1, "12.90")])
    assert rig.scheduler.cancel(L1, "content") is not None  # as if never planned
    both = [Need(L1, "cmd", Priority.PRICE), Need(L1, None, Priority.RESYNC)]
    await asyncio.gather(*(rig.pipeline.plan([n]) for n in both))
    job = rig.scheduler.find(L1, "content")
    assert job is not None and isinstance(job.payload, ContentWork)
    assert job.payload.command_ids == ("cmd",)
    run = asyncio.create_task(rig.scheduler.run())
    rig.visible = True
    rig.label_seen(L1)
    await rig.settle()
    assert len(rig.written) == 1
    assert results(tmp_path / "gw.db", "cmd") == [(L1, "A", "displayed")]
    run.cancel()
    await db.close()


async def test_same_content_asked_twice_is_written_once_for_both(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    await rig.bind("bind-1", [Binding(L1, "A")])
    await rig.price_update("price", [item("A", 1, "12.90")])
    rig.visible = False  # the transfer is still queued when the label is bound again
    run = asyncio.create_task(rig.scheduler.run())
    await rig.bind("bind-2", [Binding(L1, "A")])
    rig.visible = True
    rig.label_seen(L1)
    await rig.settle()
    assert len(rig.written) == 1
    assert results(tmp_path / "gw.db", "price") == [(L1, "A", "displayed")]
    assert results(tmp_path / "gw.db", "bind-2") == [(L1, "A", "displayed")]
    run.cancel()
    await db.close()


async def test_a_bound_label_never_seen_fails_after_the_budget_and_a_newer_price_supersedes(
    tmp_path: Path,
) -> None:
    unseen = "ff00000000ee"  # the test renderer knows no panel for it
    db, rig, now = await clocked_rig(tmp_path)
    await rig.bind("bind", [Binding(unseen, "A")])
    await rig.price_update("v1", [item("A", 1, "2.00")])
    now[0] += 30
    await rig.price_update("v2", [item("A", 2, "2.10")])
    await rig.due()
    assert results(tmp_path / "gw.db", "v1") == [(unseen, "A", "superseded")]
    assert results(tmp_path / "gw.db", "v2") == [(unseen, "A", None)]
    now[0] += 31  # 61 s since the label first waited
    await rig.due()
    assert results(tmp_path / "gw.db", "v2") == [(unseen, "A", "failed")]
    assert rig.planner.twins[unseen].status.value == "failed"
    await db.close()


async def test_a_need_of_no_command_leaves_the_command_waiting_for_the_panel(
    tmp_path: Path,
) -> None:
    unseen = "ff00000000ee"
    db, rig, now = await clocked_rig(tmp_path)
    await rig.bind("bind", [Binding(unseen, "A")])
    await rig.price_update("v1", [item("A", 1, "2.00")])
    # The label is gained from another gateway (or resynced): the same content, no command.
    await rig.pipeline.plan([Need(unseen, None, Priority.RESYNC)])
    await rig.due()
    assert results(tmp_path / "gw.db", "v1") == [(unseen, "A", None)]  # still waiting
    now[0] += 61
    await rig.due()
    assert results(tmp_path / "gw.db", "v1") == [(unseen, "A", "failed")]
    await db.close()


async def test_a_restarted_label_is_written_again_without_dropping_a_queued_command(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    run = asyncio.create_task(rig.scheduler.run())
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
    await rig.price_update("v1", [item("A", 1, "2.00")])
    await rig.settle()
    assert await rig.rebooted(L1) is True
    await rig.settle()
    assert [w[0] for w in rig.written].count(L1) == 2  # written again after the restart
    assert rig.planner.twins[L1].displayed == rig.planner.twins[L1].desired
    rig.visible = False  # the next price waits in the queue...
    await rig.price_update("v2", [item("A", 2, "2.10")])
    assert await rig.rebooted(L2) is True  # ...and a restart must not replace it
    rig.visible = True
    rig.label_seen(L1)
    rig.label_seen(L2)
    await rig.settle()
    assert results(tmp_path / "gw.db", "v2") == [(L1, "A", "displayed"), (L2, "A", "displayed")]
    assert await rig.rebooted("ff00000000aa") is False  # nothing desired there
    run.cancel()
    await db.close()


async def test_content_no_label_wants_or_shows_is_pruned(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    run = asyncio.create_task(rig.scheduler.run())
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("v1", [item("A", 1, "2.00")])
    await rig.settle()
    old = rig.planner.twins[L1].displayed
    await rig.price_update("v2", [item("A", 2, "2.10")])
    await rig.settle()
    new = rig.planner.twins[L1].displayed
    assert old is not None and new is not None and old != new

    def hashes(d: sqlite_utils.Database) -> set[str]:
        return {r[0] for r in d.execute("SELECT content_hash FROM label_content")}

    assert await db.read(hashes) == {old.content_hash, new.content_hash}
    await db.run(store.prune_content)
    assert await db.read(hashes) == {new.content_hash}
    run.cancel()
    await db.close()


async def test_a_label_of_an_unknown_panel_fails_at_once_with_the_reason(tmp_path: Path) -> None:
    async def refuse(label_id: str, item: PriceItem, template: str | None) -> Rendered | None:
        raise UnsupportedLabel("panel type 0x0fff is not supported")

    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db, renderer=refuse)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("v1", [item("A", 1, "2.00")])
    assert results(tmp_path / "gw.db", "v1") == [(L1, "A", "failed")]
    twin = rig.planner.twins[L1]
    assert twin.status.value == "failed" and "0x0fff" in (twin.last_error or "")
    assert rig.scheduler.is_idle()
    await db.close()


async def test_acks_after_a_restart_carry_the_command_type(tmp_path: Path) -> None:
    """The type is stored with the command: a gateway restarted mid-campaign still says
    which command type every later ack is for."""
    from functools import partial

    from gateway.labels.campaign import CampaignAck, CampaignReporter

    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A")])
    rig.visible = False  # nothing written before the restart
    await rig.price_update("cmd", [item("A", 1, "2.00")])
    await db.close()

    db = Database(tmp_path / "gw.db")  # the restart: nothing in memory survives
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    acks: list[CampaignAck] = []

    async def sink(ack: CampaignAck) -> None:
        acks.append(ack)

    reporter = CampaignReporter(db, sink)
    rig.visible = False
    run = asyncio.create_task(rig.scheduler.run())
    await rig.reconcile()
    await reporter.report()
    rig.visible = True
    rig.label_seen(L1)
    await rig.settle()
    await reporter.report()
    ours = [a for a in acks if a.command_id == "cmd"]
    assert [a.status for a in ours] == ["progress", "completed"]
    assert {a.command_type for a in ours} == {"price-update"}
    assert await db.read(partial(store.command_type, command_id="cmd")) is None  # forgotten
    run.cancel()
    await db.close()


async def test_a_label_shown_as_written_always_has_its_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The gateway stops while recording a written label's result: the label is not
    # recorded as showing the content either (one transaction), so after a restart it is
    # written and answered, never found in sync with its target left open.
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db)
    await rig.planner.load()
    await rig.bind("bind", [Binding(L1, "A")])

    def stopped(*_a: object, **_k: object) -> None:
        raise RuntimeError("stopped")

    monkeypatch.setattr(store, "set_result", stopped)
    run = asyncio.create_task(rig.scheduler.run())
    with contextlib.suppress(RuntimeError):
        await rig.price_update("cmd", [item("A", 1, "5.00")])
        await rig.settle()
    run.cancel()
    await db.close()
    monkeypatch.undo()

    db2 = Database(tmp_path / "gw.db")
    await db2.open()
    rig2 = Rig(db2)
    await rig2.planner.load()
    assert rig2.planner.twins[L1].status is not TwinStatus.IN_SYNC
    run = asyncio.create_task(rig2.scheduler.run())
    await rig2.reconcile()
    await rig2.settle()
    assert results(tmp_path / "gw.db", "cmd") == [(L1, "A", "displayed")]
    run.cancel()
    await db2.close()
