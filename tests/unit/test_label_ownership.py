"""Labels in a store with several gateways: only the owner writes a label and answers
its targets; a label nobody owns is answered by the online gateway whose id sorts
first; a label that changes owner is finished by the new owner, not written twice.

Two label pipelines, one per gateway, each with its own database, share one view of
who owns what (as the claims would give them)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlite_utils

from gateway.labels.model import Binding
from gateway.ownership import ShownContent
from gateway.store import Database
from tests.unit.test_label_planner import L1, L2, L3, Rig, item, results


class Owners:
    """Who owns which label (None: nobody), as every gateway sees it; ``standing``: labels
    whose previous owner has not yet withdrawn its claim."""

    def __init__(self, online: list[str]) -> None:
        self.of: dict[str, str | None] = {}
        self.online = online
        self.views: dict[str, View] = {}
        self.standing: set[str] = set()


class View:
    """One gateway's view, in the pipeline's LabelOwnership shape."""

    def __init__(self, me: str, owners: Owners) -> None:
        self.me, self.owners = me, owners
        owners.views[me] = self
        self.answers: list[tuple[str, str]] = []
        self.shown: dict[str, ShownContent | None] = {}
        self.busy: list[tuple[str, bool]] = []
        self.telling = True  # False: its claims never go out (a crash comes first)
        self.told_: set[tuple[str, str]] = set()

    def owns(self, device_id: str) -> bool:
        return self.owners.of.get(device_id) == self.me

    def writable(self, device_id: str) -> bool:
        return self.owns(device_id)

    def owner(self, device_id: str) -> str | None:
        return self.owners.of.get(device_id)

    def first_online(self) -> bool:
        return min(self.owners.online) == self.me

    def answered(self, device_id: str, command_id: str) -> None:
        self.answers.append((device_id, command_id))
        if self.telling:
            self.told_.add((device_id, command_id))

    def told(self, device_id: str, command_id: str) -> bool:
        return (device_id, command_id) in self.told_

    def told_elsewhere(self, device_id: str, command_id: str) -> bool:
        others = [v for gw, v in self.owners.views.items() if gw != self.me]
        return any((device_id, command_id) in v.told_ for v in others)

    def settled(self, device_id: str) -> bool:
        return device_id not in self.owners.standing

    def in_step(self) -> bool:
        return True

    def answered_for(self, device_id: str) -> tuple[str, ...]:
        return tuple(c for label, c in self.answers if label == device_id)

    def set_shown(self, device_id: str, shown: ShownContent | None) -> None:
        self.shown[device_id] = shown

    def set_busy(self, device_id: str, busy: bool) -> None:
        self.busy.append((device_id, busy))


async def gateways(
    tmp_path: Path, of: dict[str, str | None], budget_s: float = 60
) -> tuple[Owners, dict[str, Rig]]:
    """Two gateways, gw-a and gw-b, both online; ``of``: who owns which label."""
    owners = Owners(["gw-a", "gw-b"])
    owners.of = dict(of)
    rigs = {}
    for gw in ("gw-a", "gw-b"):
        db = Database(tmp_path / f"{gw}.db")
        await db.open()
        rig = Rig(db, ownership=View(gw, owners), budget_s=budget_s)
        await rig.planner.load()
        rigs[gw] = rig
    return owners, rigs


def view(rig: Rig) -> View:
    """The gateway's view of who owns what (what its claims told, what it answered)."""
    v = rig.pipeline._ownership
    assert isinstance(v, View)
    return v


async def one_price(rigs: dict[str, Rig]) -> None:
    """Every gateway stores one binding (L1 to A) and one price for A (command ``cmd``)."""
    for rig in rigs.values():
        await rig.bind("bind", [Binding(L1, "A")])
        await rig.price_update("cmd", [item("A", 1, "12.90")])


async def sweep(rig: Rig) -> None:
    """The gateway's handed targets looked at now (the sweep does every few seconds)."""
    rig.pipeline.handover._orphans_checked = float("-inf")
    await rig.pipeline.handover.step()


async def settle(rigs: dict[str, Rig]) -> None:
    for rig in rigs.values():
        await rig.settle()
        await rig.pipeline.handover.confirm_results()  # the claims went out
        await rig.pipeline.reporter.report()


def finals(rig: Rig, command_id: str) -> list[dict[str, object]]:
    return [
        a
        for a in rig.acks
        if a["command_id"] == command_id and a["status"] in ("completed", "partial")
    ]


def answered(rig: Rig, command_id: str) -> list[tuple[object, object]]:
    return sorted(
        (
            (r["label_id"], r["status"])  # type: ignore[index]
            for a in finals(rig, command_id)
            for r in a["results"]  # type: ignore[attr-defined]
        ),
        key=lambda r: (r[0] or "", r[1]),
    )


async def test_each_target_is_answered_by_one_gateway(tmp_path: Path) -> None:
    # L3: no gateway hears it
    _, rigs = await gateways(tmp_path, {L1: "gw-a", L2: "gw-b", L3: None}, budget_s=0.5)
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    for rig in rigs.values():
        await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A"), Binding(L3, "A")])
        await rig.price_update("cmd", [item("A", 1, "12.90"), item("Z", 1, "1.00")])
    await asyncio.sleep(1.0)  # L3's budget runs out
    await settle(rigs)
    a, b = rigs["gw-a"], rigs["gw-b"]
    # gw-a writes its label, answers the label nobody owns (its id sorts first) and the
    # SKU with no label; gw-b writes and answers its own label only.
    assert [w[0] for w in a.written] == [L1] and [w[0] for w in b.written] == [L2]
    assert answered(a, "cmd") == [(None, "unbound"), (L1, "displayed"), (L3, "failed")]
    assert answered(b, "cmd") == [(L2, "displayed")]
    # Both send their final ack; each has no target left open.
    assert len(finals(a, "cmd")) == 1 and len(finals(b, "cmd")) == 1
    assert finals(b, "cmd")[0]["status"] == "completed"
    assert (L2, "cmd") not in view(a).answers
    for run in runs:
        run.cancel()


async def test_a_label_changing_owner_mid_campaign_is_written_once(tmp_path: Path) -> None:
    owners, rigs = await gateways(tmp_path, {L1: "gw-a", L2: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    a.hidden = {L2}  # gw-a has not got to L2 yet when it moves
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    for rig in rigs.values():
        await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
        await rig.price_update("cmd", [item("A", 1, "12.90")])
    await asyncio.sleep(0.2)
    assert [w[0] for w in a.written] == [L1]
    # L2 moves to gw-b, whose claim took what gw-a's said: L2 not answered, shows nothing.
    owners.of[L2] = "gw-b"
    await a.pipeline.handover.label_lost(L2)
    await b.pipeline.handover.label_gained(L2, answered=(), shown=None)
    await settle(rigs)
    assert [w[0] for w in b.written] == [L2]
    assert len(a.written) == 1  # gw-a never wrote L2
    assert answered(a, "cmd") == [(L1, "displayed")]
    assert answered(b, "cmd") == [(L2, "displayed")]
    # gw-a's command is done; only L2's handed target stays a while (if L2 came back
    # before gw-b answered it, gw-a would take it back).
    assert results(tmp_path / "gw-a.db", "cmd") == [(L2, "A", None)]
    for run in runs:
        run.cancel()


async def test_a_label_already_showing_the_content_is_not_written_again(tmp_path: Path) -> None:
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    await one_price(rigs)
    await settle(rigs)
    assert answered(a, "cmd") == [(L1, "displayed")]
    view_a = view(a)
    shown = view_a.shown[L1]
    assert shown is not None and (L1, "cmd") in view_a.answers
    assert (L1, True) in view_a.busy and view_a.busy[-1] == (L1, False)
    # gw-a goes away; gw-b takes L1 over with what gw-a's claim said.
    owners.of[L1] = "gw-b"
    owners.online = ["gw-b"]
    await b.pipeline.handover.label_gained(L1, answered=("cmd",), shown=shown)
    await settle(rigs)
    assert b.written == []  # it already shows that content
    assert answered(b, "cmd") == []  # gw-a answered it
    assert b.planner.twins[L1].displayed is not None
    assert b.planner.twins[L1].displayed.content_hash == shown.content_hash
    for run in runs:
        run.cancel()


async def test_a_gateway_that_answers_no_target_still_sends_its_final_ack(tmp_path: Path) -> None:
    _, rigs = await gateways(tmp_path, {L1: "gw-a", L2: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    for rig in rigs.values():
        await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
        await rig.price_update("cmd", [item("A", 1, "12.90")])
    await settle(rigs)
    await settle(rigs)  # a second round sends nothing more
    assert answered(a, "cmd") == [(L1, "displayed"), (L2, "displayed")]
    assert b.written == []
    b_finals = finals(b, "cmd")
    assert len(b_finals) == 1, b_finals
    assert b_finals[0]["status"] == "completed" and b_finals[0]["results"] == []
    for run in runs:
        run.cancel()


async def test_a_result_the_claims_never_told_is_left_to_the_next_owner(tmp_path: Path) -> None:
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    view_a = view(a)
    view_a.telling = False  # gw-a writes L1, then dies before its claim says so
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    await one_price(rigs)
    await settle(rigs)
    assert [w[0] for w in a.written] == [L1]
    assert finals(a, "cmd") == []  # held: the others cannot know it was answered
    # gw-b took L1 over from gw-a's claim as it stood: no word of the command.
    owners.of[L1] = "gw-b"
    await a.pipeline.handover.label_lost(L1)
    await b.pipeline.handover.label_gained(L1, answered=(), shown=None)
    await settle(rigs)
    assert [w[0] for w in b.written] == [L1]  # written again: the one cost of the crash
    assert answered(b, "cmd") == [(L1, "displayed")]
    assert answered(a, "cmd") == []  # ... but answered once
    assert [f["status"] for f in finals(a, "cmd")] == ["completed"]
    for run in runs:
        run.cancel()


async def test_a_previous_owner_telling_its_answer_late_keeps_it(tmp_path: Path) -> None:
    # gw-a wrote L1 and told it answered in a claim that crossed gw-b's: gw-b took L1
    # over from gw-a's claim before it said so. gw-b, finding L1 showing the content,
    # holds its own answer until gw-a withdraws its claim, then leaves the answer to it.
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    view_a, view_b = view(a), view(b)
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    await one_price(rigs)
    await a.settle()
    assert [w[0] for w in a.written] == [L1]  # held on gw-a: not told yet
    owners.of[L1] = "gw-b"
    owners.standing = {L1}  # gw-a has not seen gw-b's claim yet
    await b.pipeline.handover.label_gained(L1, answered=(), shown=view_a.shown[L1])
    await b.settle()
    await b.pipeline.handover.confirm_results()
    assert b.written == [] and view_b.answers == []  # held: gw-a may still tell it
    view_a.answered(L1, "cmd")  # gw-a's claim, sent before it saw gw-b's, says so
    await a.pipeline.handover.confirm_results()
    owners.standing = set()  # ... and then gw-a withdrew
    await settle(rigs)
    assert answered(a, "cmd") == [(L1, "displayed")]
    assert answered(b, "cmd") == [] and view_b.answers == []
    assert [f["status"] for f in finals(b, "cmd")] == ["completed"]
    for run in runs:
        run.cancel()


async def test_a_command_taken_in_after_the_label_was_gained_answered_is_not_answered_again(
    tmp_path: Path,
) -> None:
    # gw-b gained L1 from gw-a, whose claim said it had answered "cmd"; gw-b takes the
    # command in only now (its intake ran late, or the broker sent it again after a
    # restart): it neither writes L1 nor answers the target a second time.
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    await a.bind("bind", [Binding(L1, "A")])
    await a.price_update("cmd", [item("A", 1, "12.90")])
    await settle({"gw-a": a})
    assert answered(a, "cmd") == [(L1, "displayed")]
    await b.bind("bind", [Binding(L1, "A")])
    owners.of[L1] = "gw-b"
    view(b).answers += [(L1, "bind"), (L1, "cmd")]  # gained: gw-a's claim taken over
    await b.pipeline.handover.label_gained(L1, answered=("bind", "cmd"), shown=view(a).shown[L1])
    # gw-b restarted since: gw-a's withdrawn claim is gone from the broker; what it
    # answered is in gw-b's own claim (taken over when it gained the label).
    view(a).told_.clear()
    await b.price_update("cmd", [item("A", 1, "12.90")])
    await settle(rigs)
    assert b.written == [] and answered(b, "cmd") == []
    assert [f["status"] for f in finals(b, "cmd")] == ["completed"]
    for run in runs:
        run.cancel()


async def test_a_new_owner_tells_its_answer_once_the_previous_one_withdrew(
    tmp_path: Path,
) -> None:
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    view_b = view(b)
    a.hidden = {L1}  # gw-a never gets to write it
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    await one_price(rigs)
    owners.of[L1] = "gw-b"
    owners.standing = {L1}
    await a.pipeline.handover.label_lost(L1)
    await b.pipeline.handover.label_gained(L1, answered=(), shown=None)
    await b.settle()
    await b.pipeline.handover.confirm_results()
    assert [w[0] for w in b.written] == [L1] and view_b.answers == []
    owners.standing = set()
    await settle(rigs)
    # The bind waited for the SKU's first price: answered with it, by the owner.
    assert view_b.answers == [(L1, "bind"), (L1, "cmd")]
    await settle(rigs)
    assert answered(b, "cmd") == [(L1, "displayed")] and answered(a, "cmd") == []
    assert answered(b, "bind") == [(L1, "displayed")] and answered(a, "bind") == []
    for run in runs:
        run.cancel()


async def test_a_held_result_is_told_and_reported_by_a_gateway_still_owning_it(
    tmp_path: Path,
) -> None:
    _, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a = rigs["gw-a"]
    view_a = view(a)
    view_a.telling = False
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    await one_price(rigs)
    await settle(rigs)
    assert finals(a, "cmd") == []
    # Back in step and still the owner: its claim tells the answer, then it is reported.
    view_a.telling = True
    await settle(rigs)  # the claim tells it
    await settle(rigs)  # ... and the result goes out
    assert answered(a, "cmd") == [(L1, "displayed")]
    assert (L1, "cmd") in view_a.told_
    for run in runs:
        run.cancel()


async def test_a_label_owned_here_whose_gain_never_arrived_is_answered_here(
    tmp_path: Path,
) -> None:
    # gw-b claimed L1 from gw-a mid-campaign and was stopped before its claim was
    # confirmed; restarted, it owns L1 (its claims are kept) but its labels never heard
    # of the gain: the target it had handed over is its own again, and answered once.
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    await one_price(rigs)
    owners.of[L1] = "gw-b"  # before gw-a wrote it
    await a.pipeline.handover.label_lost(L1)
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    await settle(rigs)
    assert b.written == []  # handed over: nobody writes it
    await sweep(b)
    await settle(rigs)
    await settle(rigs)
    assert a.written == [] and [w[0] for w in b.written] == [L1]
    assert answered(b, "cmd") == [(L1, "displayed")] and answered(a, "cmd") == []
    for run in runs:
        run.cancel()


async def test_a_target_answered_elsewhere_is_not_taken_back_after_a_restart(
    tmp_path: Path,
) -> None:
    # gw-b handed L1's target to gw-a, whose claim then said it answered it. gw-b comes
    # to own L1 without hearing of the gain (stopped before its claim was confirmed, then
    # restarted: the withdrawn claim of gw-a is gone); it does not answer the target again.
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    runs = [asyncio.create_task(r.scheduler.run()) for r in rigs.values()]
    assert b.pipeline.handover.at_rest(L1) and b.pipeline.handover.at_rest(L2)
    await one_price(rigs)
    # As soon as a command is planned, no label moves for an even share (L2 has no
    # target, but the campaign's other labels may not be known here yet).
    assert not b.pipeline.handover.at_rest(L2)
    await settle(rigs)
    assert [w[0] for w in a.written] == [L1] and answered(a, "cmd") == [(L1, "displayed")]
    view_b = view(b)
    await sweep(b)
    assert not b.pipeline.handover.at_rest(L1)  # its target is open, at gw-a: not moved
    view_b.answers += [(L1, "bind"), (L1, "cmd")]  # gw-a's claim says so, as gw-b reads it
    await sweep(b)
    assert b.pipeline.handover.at_rest(L1)
    view_b.answers.clear()  # restarted: that claim is not known any more
    owners.of[L1] = "gw-b"
    await sweep(b)
    await settle(rigs)
    # (gw-b may write L1 to be sure what it shows, as a label gained with nothing known
    # of its content: not an answer.)
    assert answered(b, "cmd") == [] and answered(a, "cmd") == [(L1, "displayed")]
    for run in runs:
        run.cancel()


async def test_a_result_whose_target_is_no_longer_open_is_not_told(tmp_path: Path) -> None:
    # The target went while the transfer ran (handed over, or forgotten with its command):
    # the claim must not say it was answered here, or nobody would answer it.
    _, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a = rigs["gw-a"]
    a.hold.clear()  # the transfer waits
    run = asyncio.create_task(a.scheduler.run())
    await a.bind("bind", [Binding(L1, "A")])
    await a.price_update("cmd", [item("A", 1, "12.90")])
    for _ in range(100):
        if a.scheduler.find(L1, "content") in a.scheduler._running.values():
            break
        await asyncio.sleep(0.01)
    d = sqlite_utils.Database(tmp_path / "gw-a.db")
    d.execute("DELETE FROM label_results WHERE command_id = 'cmd'")
    d.conn.commit()
    a.hold.set()
    await settle({"gw-a": a})
    assert [w[0] for w in a.written] == [L1]
    assert (L1, "cmd") not in view(a).answers
    assert answered(a, "cmd") == []
    run.cancel()


async def test_a_bind_target_taken_back_before_any_price_waits_for_the_price(
    tmp_path: Path,
) -> None:
    # gw-a owned L1 when the bind came (gw-b handed its target over), then lost it to
    # gw-b before answering: gw-b takes the target back; it waits for the SKU's first
    # price, as it did on gw-a, and is answered with it.
    owners, rigs = await gateways(tmp_path, {L1: "gw-a"})
    a, b = rigs["gw-a"], rigs["gw-b"]
    run = asyncio.create_task(b.scheduler.run())
    await b.bind("bind", [Binding(L1, "A")])
    assert results(tmp_path / "gw-b.db", "bind") == [(L1, "A", None)]  # handed
    owners.of[L1] = "gw-b"
    await b.pipeline.handover.label_gained(L1, answered=(), shown=None)
    await settle({"gw-b": b})
    assert results(tmp_path / "gw-b.db", "bind") == [(L1, "A", None)]  # open: no price yet
    assert not a.written and not b.written
    await b.price_update("cmd", [item("A", 1, "12.90")])
    await settle({"gw-b": b})
    assert answered(b, "bind") == [(L1, "displayed")]
    assert [w[0] for w in b.written] == [L1]
    run.cancel()
