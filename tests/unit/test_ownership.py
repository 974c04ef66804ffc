"""Ownership among several gateways: each decides alone, from the same claims, and they
agree. A small in-process network delivers what each publishes to the others, in an
order the test chooses, as a broker would."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from drivers.types import DeviceKind
from gateway.ownership import (
    Claim,
    ClaimedAlert,
    ClaimError,
    Ownership,
    OwnershipOptions,
    Step,
)
from gateway.ownership.claims import parse
from gateway.ownership.coordinator import owning_rssi
from gateway.registry import DeviceRecord
from tests.helpers.records import record

DEVICE = "a4c138000001"
OPTIONS = OwnershipOptions(
    margin_db=8, hold_s=60, claim_delay_s=5, confirm_s=2, settle_s=3, republish_min_s=10
)


class Store:
    """Gateways that see each other's claims after each step (shuffled, or reversed)."""

    def __init__(self, ids: list[str], order: str = "shuffle", seed: int = 1) -> None:
        self.gws = {i: Ownership("s1", i, OPTIONS) for i in ids}
        self.now = 0.0
        self.order = order
        self.rng = random.Random(seed)
        self.steps: dict[str, list[Step]] = {i: [] for i in ids}
        self.published: list[Claim] = []
        for g in self.gws.values():
            g.connected(0.0)

    def run(self, seconds: float, hearing: Callable[[str, float], float | None]) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 1.0
            messages: list[tuple[str, str, Claim | None]] = []
            for gid, g in self.gws.items():
                step = g.step(self.now, {DEVICE: hearing(gid, self.now)})
                self.steps[gid].append(step)
                messages += [(gid, c.device_id, c) for c in step.publish]
                messages += [(gid, d, None) for d in step.withdraw]
                self.published += step.publish
            if self.order == "shuffle":
                self.rng.shuffle(messages)
            elif self.order == "reverse":
                messages.reverse()
            for sender, device, claim in messages:
                for g in self.gws.values():  # the sender too: the broker sends it back
                    g.claim_seen(sender, device, claim)

    def owners(self) -> list[str]:
        return [gid for gid, g in self.gws.items() if g.owns(DEVICE)]

    def gains(self, gid: str) -> int:
        return sum(len(s.gained) for s in self.steps[gid])


@pytest.mark.parametrize("order", ["shuffle", "reverse", "in-order"])
def test_simultaneous_claims_are_decided_by_their_contents(order: str) -> None:
    store = Store(["gw-b", "gw-a", "gw-c"], order)
    rssi = {"gw-a": -70.0, "gw-b": -66.0, "gw-c": -80.0}
    store.run(30, lambda gid, _t: rssi[gid])
    # Every gateway claimed at once (epoch 1); the best RSSI wins everywhere.
    assert store.owners() == ["gw-b"]
    assert {g.owner(DEVICE) for g in store.gws.values()} == {"gw-b"}
    assert store.gains("gw-b") == 1
    assert store.gains("gw-a") == store.gains("gw-c") == 0  # never owned, not even briefly
    # Contested in epoch 1 (the others may have owned it there already): confirmed in 2.
    assert store.gws["gw-b"].epoch(DEVICE) > 1  # a new epoch (the contract: at least one up)


def test_equal_rssi_is_decided_by_gateway_id() -> None:
    store = Store(["gw-b", "gw-a"])
    store.run(30, lambda _gid, _t: -70.0)
    assert store.owners() == ["gw-a"]


def test_a_device_heard_about_equally_does_not_move() -> None:
    store = Store(["gw-a", "gw-b"])
    noise = random.Random(7)
    store.run(600, lambda _gid, _t: -72.0 + noise.uniform(-3, 3))
    assert len(store.owners()) == 1
    first = store.owners()[0]
    store.run(600, lambda _gid, _t: -72.0 + noise.uniform(-3, 3))
    assert store.owners() == [first]
    assert store.gains("gw-a") + store.gains("gw-b") == 1  # no move in 20 minutes


def test_clearly_better_for_long_enough_takes_over_once() -> None:
    store = Store(["gw-a", "gw-b"])
    store.run(20, lambda gid, _t: -60.0 if gid == "gw-a" else -75.0)
    assert store.owners() == ["gw-a"]
    # The device moves: gw-b now hears it 12 dB better than gw-a does.
    moved_at = store.now
    store.run(120, lambda gid, _t: -80.0 if gid == "gw-a" else -68.0)
    assert store.owners() == ["gw-b"]
    b_gain = next(i for i, s in enumerate(store.steps["gw-b"]) if s.gained)
    gained_at = b_gain + 1.0
    assert moved_at + OPTIONS.hold_s <= gained_at <= moved_at + OPTIONS.hold_s + 20
    gained = next(s for s in store.steps["gw-b"] if s.gained).gained[0]
    assert gained.previous is not None and gained.epoch == gained.previous.epoch + 1
    assert gained.previous.gateway_id == "gw-a"
    assert gained.why == "heard better"
    assert sum(len(s.lost) for s in store.steps["gw-a"]) == 1
    # Not better by the margin the other way: it stays.
    store.run(600, lambda gid, _t: -70.0 if gid == "gw-a" else -74.0)
    assert store.owners() == ["gw-b"]


def test_a_short_advantage_does_not_move_it() -> None:
    store = Store(["gw-a", "gw-b"])
    store.run(20, lambda gid, _t: -60.0 if gid == "gw-a" else -75.0)
    # gw-b is better for 50 s (less than the hold time), then not.
    store.run(50, lambda gid, _t: -80.0 if gid == "gw-a" else -60.0)
    store.run(300, lambda gid, _t: -60.0 if gid == "gw-a" else -75.0)
    assert store.owners() == ["gw-a"] and store.gains("gw-b") == 0


def test_failover_after_a_will_within_thirty_seconds_and_the_old_owner_yields() -> None:
    store = Store(["gw-a", "gw-b", "gw-c"])
    rssi = {"gw-a": -60.0, "gw-b": -70.0, "gw-c": -72.0}
    store.run(20, lambda gid, _t: rssi[gid])
    assert store.owners() == ["gw-a"]
    dead = store.gws.pop("gw-a")
    for g in store.gws.values():
        g.status_seen("gw-a", online=False)
    will_at = store.now
    store.run(30, lambda gid, _t: rssi[gid])
    assert store.owners() == ["gw-b"]
    gained_at = next(i for i, s in enumerate(store.steps["gw-b"]) if s.gained) + 1.0
    assert gained_at - will_at <= 30
    assert store.gws["gw-b"].epoch(DEVICE) > dead.epoch(DEVICE)
    # gw-a comes back with its old claim: it sees the higher epoch and withdraws.
    for sender in ("gw-b",):
        c = store.gws[sender].claims(DEVICE)[0]
        dead.claim_seen(sender, DEVICE, c)
    for g in store.gws.values():
        g.status_seen("gw-a", online=True)
    step = dead.step(store.now + 1, {DEVICE: -60.0})
    assert step.withdraw == [DEVICE] and [lost.to for lost in step.lost] == ["gw-b"]
    assert not dead.owns(DEVICE)


def test_a_gateway_back_within_the_grace_keeps_its_devices() -> None:
    store = Store(["gw-a", "gw-b"])
    rssi = {"gw-a": -60.0, "gw-b": -70.0}
    store.run(20, lambda gid, _t: rssi[gid])
    assert store.owners() == ["gw-a"]
    a = store.gws.pop("gw-a")  # restarting: its Will arrives
    epoch = a.epoch(DEVICE)
    store.gws["gw-b"].status_seen("gw-a", online=False)
    store.run(OPTIONS.offline_grace_s - 3, lambda gid, _t: rssi[gid])
    assert store.gains("gw-b") == 0 and not store.gws["gw-b"].owns(DEVICE)
    assert store.gws["gw-b"].owner(DEVICE) == "gw-a"  # its targets stay gw-a's
    store.gws["gw-a"] = a  # back, with what it owned
    store.gws["gw-b"].status_seen("gw-a", online=True)
    store.run(60, lambda gid, _t: rssi[gid])
    assert store.owners() == ["gw-a"] and store.gains("gw-b") == 0
    assert a.epoch(DEVICE) == epoch  # no reshuffle, no new epoch


def test_nothing_is_claimed_before_the_retained_claims_arrive_or_while_disconnected() -> None:
    g = Ownership("s1", "gw-a", OPTIONS)
    assert not g.step(90.0, {DEVICE: -60.0})  # not connected
    assert not g.step(91.0, {DEVICE: None})  # and then not heard
    g.connected(100.0)
    assert not g.step(102.0, {DEVICE: -60.0})  # settling
    assert not g.step(106.0, {DEVICE: -60.0})  # heard for 4 s only
    step = g.step(108.0, {DEVICE: -60.0})
    assert [c.epoch for c in step.publish] == [1] and not step.gained
    g.claim_seen("gw-a", DEVICE, step.publish[0])  # the broker sends it back
    g.disconnected(110.0)
    assert not g.step(111.0, {DEVICE: -60.0}).gained  # confirmation needs the broker
    g.connected(112.0)
    assert [x.device_id for x in g.step(112.0, {DEVICE: -60.0}).gained] == [DEVICE]


def test_alerts_and_answered_commands_travel_with_the_device() -> None:
    store = Store(["gw-a", "gw-b"])
    store.run(20, lambda gid, _t: -60.0 if gid == "gw-a" else -75.0)
    alert = ClaimedAlert(
        rule="fridge-warm",
        id="al-1",
        started_at=1000.0,
        metric="temperature",
        threshold=8.0,
        severity="critical",
        message="warm",
        value=9.0,
    )
    store.gws["gw-a"].set_alerts(DEVICE, (alert,))
    store.gws["gw-a"].answered(DEVICE, "cmd-1")
    store.run(2, lambda gid, _t: -60.0 if gid == "gw-a" else -75.0)
    assert store.published[-1].alerts == (alert,) and store.published[-1].answered == ("cmd-1",)
    store.run(120, lambda gid, _t: -85.0 if gid == "gw-a" else -60.0)
    gained = next(s for s in store.steps["gw-b"] if s.gained).gained[0]
    assert gained.previous is not None and gained.previous.alerts == (alert,)
    assert store.gws["gw-b"].claims(DEVICE)[0].answered == ("cmd-1",)


def test_a_restart_keeps_what_was_owned() -> None:
    store = Store(["gw-a", "gw-b"])
    store.run(20, lambda gid, _t: -60.0 if gid == "gw-a" else -75.0)
    mine = store.gws["gw-a"].claims(DEVICE)[0]
    again = Ownership("s1", "gw-a", OPTIONS)
    again.restore([mine])
    assert again.owns(DEVICE) and again.epoch(DEVICE) == mine.epoch
    again.connected(0.0)
    again.claim_seen("gw-b", DEVICE, None)
    assert not again.step(10.0, {DEVICE: -60.0}).lost


def test_claims_from_the_wire_are_checked() -> None:
    good = Claim(store_id="s1", gateway_id="gw-a", device_id=DEVICE, epoch=3, rssi=-60)
    ids = {"store_id": "s1", "gateway_id": "gw-a", "device_id": DEVICE}
    assert parse(good.dump(), **ids) == good
    assert parse(b"", **ids) is None
    with pytest.raises(ClaimError, match="published on the topic of"):
        parse(good.dump(), **{**ids, "gateway_id": "gw-b"})
    with pytest.raises(ClaimError, match="not a claim"):
        parse(b"{not json", **ids)
    with pytest.raises(ClaimError, match="not a claim"):
        parse(good.dump().replace(b'"epoch":3', b'"epoch":0'), **ids)
    with pytest.raises(ClaimError, match="exceeds"):
        parse(b" " * 20000, **ids)


def test_a_label_is_not_taken_over_in_the_middle_of_a_transfer() -> None:
    store = Store(["gw-a", "gw-b"])
    store.run(20, lambda gid, _t: -60.0 if gid == "gw-a" else -80.0)
    store.gws["gw-a"].set_busy(DEVICE, True)
    store.run(120, lambda gid, _t: -85.0 if gid == "gw-a" else -60.0)
    assert store.owners() == ["gw-a"]  # busy: gw-b waits
    store.gws["gw-a"].set_busy(DEVICE, False)
    # Between two attempts: gw-b has heard it better long enough already and takes it.
    store.run(5, lambda gid, _t: -85.0 if gid == "gw-a" else -60.0)
    assert store.owners() == ["gw-b"]


def test_the_gateway_whose_id_sorts_first_among_those_online_answers_for_nobody() -> None:
    a, b = Ownership("s1", "gw-a", OPTIONS), Ownership("s1", "gw-b", OPTIONS)
    for g, other in ((a, "gw-b"), (b, "gw-a")):
        g.status_seen(other, online=True)
    assert a.first_online() and not b.first_online()
    b.status_seen("gw-a", online=False)
    assert b.first_online()


def test_an_unowned_device_is_left_to_the_gateway_that_reports_hearing_it_better() -> None:
    a = Ownership("s1", "gw-a", OPTIONS)
    a.connected(0.0)
    a.status_seen("gw-b", online=True)
    a.hearing_seen("gw-b", DEVICE[-1], {DEVICE: -70})  # gw-b hears it 15 dB better
    for t in range(1, 20):
        assert not a.step(float(t), {DEVICE: -85.0}).publish, t  # gw-b should claim it
    # gw-b never claims it (it cannot, whatever the reason): gw-a does after defer_s.
    claimed = [t for t in range(20, 40) if a.step(float(t), {DEVICE: -85.0}).publish]
    assert claimed and claimed[0] <= 1 + OPTIONS.claim_delay_s + OPTIONS.defer_s + 1
    # Heard about as well by both (within half the margin): no need to wait.
    c = Ownership("s1", "gw-c", OPTIONS)
    c.connected(0.0)
    c.status_seen("gw-b", online=True)
    c.hearing_seen("gw-b", DEVICE[-1], {DEVICE: -70})
    first = next(t for t in range(1, 40) if c.step(float(t), {DEVICE: -73.0}).publish)
    assert first <= OPTIONS.claim_delay_s + 2


def test_labels_are_written_only_in_step_with_the_others() -> None:
    mine = Claim(store_id="s1", gateway_id="gw-a", device_id=DEVICE, epoch=2, rssi=-60)
    g = Ownership("s1", "gw-a", OPTIONS)
    g.restore([mine])  # a restart: it owns what it owned...
    assert g.owns(DEVICE) and not g.writable(DEVICE)  # ...but writes nothing yet
    g.connected(100.0)
    g.step(101.0, {DEVICE: -60.0})
    assert not g.writable(DEVICE)  # the others' claims are still arriving
    g.step(100.0 + OPTIONS.settle_s, {DEVICE: -60.0})
    assert g.writable(DEVICE)
    # The broker goes away: written on until the others may have acted on our Will.
    g.disconnected(200.0)
    g.step(200.0 + OPTIONS.will_after_s / 2, {DEVICE: -60.0})
    assert g.writable(DEVICE)
    g.step(200.0 + OPTIONS.will_after_s + 1, {DEVICE: -60.0})
    assert g.owns(DEVICE) and not g.writable(DEVICE)


def test_the_previous_owner_is_the_one_whose_claim_stands_not_a_withdrawn_rival() -> None:
    b = Ownership("s1", "gw-b", OPTIONS)
    b.connected(0.0)
    for gw in ("gw-a", "gw-c"):
        b.status_seen(gw, online=True)
    # gw-a once claimed it with a strong RSSI and withdrew; gw-c owns it, and its claim
    # says what it answered.
    rival = Claim(store_id="s1", gateway_id="gw-a", device_id=DEVICE, epoch=1, rssi=-50)
    owner = Claim(
        store_id="s1", gateway_id="gw-c", device_id=DEVICE, epoch=1, rssi=-60, answered=("c1",)
    )
    b.claim_seen("gw-a", DEVICE, rival)
    b.claim_seen("gw-c", DEVICE, owner)
    b.claim_seen("gw-a", DEVICE, None)
    b.status_seen("gw-c", online=False)  # gw-c's Will
    steps = []
    for t in range(20, 40):
        steps.append(b.step(float(t), {DEVICE: -70.0}))
        for c in steps[-1].publish:
            b.claim_seen("gw-b", DEVICE, c)  # the broker sends it back
    gained = [g for s in steps for g in s.gained]
    assert gained and gained[0].previous == owner  # not gw-a's stronger withdrawn claim
    assert b.claims(DEVICE)[0].answered == ("c1",)


def test_a_label_heard_too_faintly_to_connect_is_not_counted_as_heard() -> None:
    def device(kind: DeviceKind, rssi: int | None, online: bool = True) -> DeviceRecord:
        return record("ff0101000001", kind, "m", rssi=rssi, online=online)

    assert owning_rssi(device(DeviceKind.LABEL, -80), -92.0, [-60]) == -80
    # Faint here, heard well by another gateway: that one should own it.
    assert owning_rssi(device(DeviceKind.LABEL, -95), -92.0, [-97, -75]) is None
    # Faint everywhere: the best hearer may still try.
    assert owning_rssi(device(DeviceKind.LABEL, -95), -92.0, [-97]) == -95
    # Just above the floor elsewhere, not clearly better: no trading back and forth.
    assert owning_rssi(device(DeviceKind.LABEL, -93), -92.0, [-90]) == -93
    assert owning_rssi(device(DeviceKind.SENSOR, -95), -92.0, [-60]) == -95  # adverts only
    assert owning_rssi(device(DeviceKind.LABEL, -70, online=False), -92.0) is None
    # Heard well but its last attempts from here failed: left to another that hears it...
    assert owning_rssi(device(DeviceKind.LABEL, -70), -92.0, [-85], cannot_write=True) is None
    # ...if there is one: heard by nobody else (or only below the floor), keep trying.
    assert owning_rssi(device(DeviceKind.LABEL, -70), -92.0, [], cannot_write=True) == -70
    assert owning_rssi(device(DeviceKind.LABEL, -70), -92.0, [-95], cannot_write=True) == -70
    # Faint everywhere, failing here, heard clearly better (by half the margin) elsewhere:
    # that one should try; about as faint elsewhere: keep trying here (no trading).
    assert owning_rssi(device(DeviceKind.LABEL, -100), -92.0, [-95], cannot_write=True) is None
    assert owning_rssi(device(DeviceKind.LABEL, -96), -92.0, [-94], cannot_write=True) == -96


def test_a_label_its_owner_cannot_write_is_taken_over_within_the_claim_delay() -> None:
    # gw-a owns the label; gw-b hears it 3 dB worse (never clearly better: no takeover).
    store = Store(["gw-a", "gw-b"])
    failing = {"gw-a": False}

    def hearing(gid: str, _t: float) -> float | None:
        if gid == "gw-a":
            return None if failing["gw-a"] else -70.0  # what owning_rssi then says
        return -73.0

    store.run(60, hearing)
    assert store.owners() == ["gw-a"]
    store.run(300, hearing)
    assert store.owners() == ["gw-a"]  # about equal: it stays
    failing["gw-a"] = True  # gw-a's attempts on it failed: its claim says not heard
    started = store.now
    while store.owners() != ["gw-b"] and store.now - started < 60:
        store.run(1, hearing)
    assert store.owners() == ["gw-b"]
    assert store.now - started <= OPTIONS.claim_delay_s + OPTIONS.confirm_s + 5
    assert store.gws["gw-b"].epoch(DEVICE) > 1  # a new epoch (the contract: at least one up)


def test_an_answer_is_not_told_once_a_winning_claim_of_another_gateway_is_seen() -> None:
    store = Store(["gw-a", "gw-b"])
    store.run(20, lambda gid, _t: -60.0 if gid == "gw-a" else -75.0)
    a = store.gws["gw-a"]
    assert a.owns(DEVICE)
    # gw-b's claim in a newer epoch arrives; gw-a has not stepped yet when its label
    # transfer ends and it records the answer.
    mine = a.claims(DEVICE)[0]
    newer = Claim(
        store_id="s1", gateway_id="gw-b", device_id=DEVICE, epoch=mine.epoch + 1, rssi=-50
    )
    a.claim_seen("gw-b", DEVICE, newer)
    a.answered(DEVICE, "cmd-1")
    assert a.news(store.now) == []  # not told: gw-b answers it, as it was never told
    assert not a.told(DEVICE, "cmd-1")


def test_answers_taken_over_from_the_previous_owner_are_not_told_as_its_own() -> None:
    # gw-a answered cmd-1 and its claim said so; gw-b took the label over, and its claim
    # carries cmd-1 on (nobody answers it again). Told *here* is what gw-b answered: a
    # result for cmd-1 recorded on gw-b too (an intake running late after the gain) is
    # not reported, cmd-1 stays gw-a's answer.
    store = Store(["gw-a", "gw-b"], order="in-order")
    heard = {"gw-a": -60.0, "gw-b": -75.0}
    store.run(20, lambda gid, _t: heard[gid])
    a, b = store.gws["gw-a"], store.gws["gw-b"]
    assert store.owners() == ["gw-a"]

    def tell(g: Ownership) -> None:
        for claim in g.news(store.now):
            for other in store.gws.values():
                other.claim_seen(claim.gateway_id, claim.device_id, claim)

    a.answered(DEVICE, "cmd-1")
    tell(a)
    assert a.told(DEVICE, "cmd-1")
    heard["gw-a"] = -90.0  # gw-b hears it clearly better now
    store.run(OPTIONS.hold_s + 20, lambda gid, _t: heard[gid])
    assert store.owners() == ["gw-b"]
    assert "cmd-1" in b.claims(DEVICE)[0].answered  # carried on: nobody answers it again
    assert not b.told(DEVICE, "cmd-1")
    assert b.told_elsewhere(DEVICE, "cmd-1")
    b.answered(DEVICE, "cmd-2")
    assert not b.told(DEVICE, "cmd-2")  # answered, not yet told
    tell(b)
    assert b.told(DEVICE, "cmd-2")
    assert b.claims(DEVICE)[0].answered == ("cmd-1", "cmd-2")


def test_a_previous_owner_may_tell_answers_until_it_withdraws_or_is_gone() -> None:
    # gw-b won the device; gw-a's claim and gw-b's crossed on their way: until gw-a
    # withdraws, it may still tell an answer in its epoch, and gw-b waits for that.
    b = Ownership("s1", "gw-b", OPTIONS)
    b.status_seen("gw-a", True)
    old = Claim(store_id="s1", gateway_id="gw-a", device_id=DEVICE, epoch=1, rssi=-75)
    b.claim_seen("gw-a", DEVICE, old)
    assert not b.settled(DEVICE)
    b.claim_seen("gw-a", DEVICE, old.model_copy(update={"answered": ("cmd-1",)}))
    assert not b.settled(DEVICE)
    b.claim_seen("gw-a", DEVICE, None)  # withdrawn: what it told is all it answered
    assert b.settled(DEVICE)
    assert b.told_elsewhere(DEVICE, "cmd-1") and not b.told_elsewhere(DEVICE, "cmd-2")
    b.answered(DEVICE, "cmd-2")
    assert not b.told_elsewhere(DEVICE, "cmd-2")  # its own answers are not elsewhere
    # A gateway that is gone (its Will came) never withdraws: nothing to wait for.
    b.status_seen("gw-c", True)
    b.claim_seen("gw-c", DEVICE, old.model_copy(update={"gateway_id": "gw-c", "epoch": 2}))
    assert not b.settled(DEVICE)
    b.status_seen("gw-c", False)
    assert b.settled(DEVICE)


def test_a_restarted_gateway_keeps_its_claims_as_they_were_until_it_has_heard() -> None:
    # Back from a restart, a gateway has not heard its devices yet: its claims stand as
    # they were (the others would take "not heard" as a reason to take them over); once
    # it knows it does not hear one, its claim says so.
    before = Claim(store_id="s1", gateway_id="gw-a", device_id=DEVICE, epoch=2, rssi=-61)
    g = Ownership("s1", "gw-a", OPTIONS)
    g.restore([before])
    g.connected(0.0)
    for t in range(1, 30):
        assert not g.step(float(t), {}).publish  # not heard yet: nothing said
    assert g.owns(DEVICE) and g.claims(DEVICE)[0].rssi == -61
    step = g.step(30.0, {DEVICE: None})
    assert [(c.device_id, c.epoch, c.rssi) for c in step.publish] == [(DEVICE, 2, None)]


def test_a_claim_of_ours_the_gateway_does_not_hold_is_cleared_from_the_broker() -> None:
    # Left on the broker from before the gateway lost its data: the others would count
    # it (and a new owner would wait for it to be withdrawn), so it is withdrawn.
    g = Ownership("s1", "gw-a", OPTIONS)
    g.connected(0.0)
    stale = Claim(store_id="s1", gateway_id="gw-a", device_id=DEVICE, epoch=3, rssi=-60)
    g.claim_seen("gw-a", DEVICE, stale)
    assert g.step(1.0, {}).withdraw == [DEVICE]
    assert g.step(2.0, {}).withdraw == []  # once
    # One it holds, sent back, stays.
    g.restore([stale])
    g.claim_seen("gw-a", DEVICE, stale)
    assert g.step(3.0, {DEVICE: -60.0}).withdraw == []


def test_a_claim_is_confirmed_after_the_broker_sent_it_back_and_twice_that_time() -> None:
    g = Ownership("s1", "gw-a", OPTIONS)
    g.connected(0.0)
    for t in range(10, 15):  # heard for the claim delay
        assert not g.step(float(t), {DEVICE: -60.0}).publish
    claim = g.step(15.0, {DEVICE: -60.0}).publish[0]
    for t in range(16, 21):  # a loaded broker: nothing back yet, nothing confirmed
        assert not g.step(float(t), {DEVICE: -60.0}).gained
    g.claim_seen("gw-a", DEVICE, claim)  # back after 5 s: the others' may take as long
    for t in range(21, 30):
        assert not g.step(float(t), {DEVICE: -60.0}).gained
    assert [x.device_id for x in g.step(30.0, {DEVICE: -60.0}).gained] == [DEVICE]


def test_a_rival_claim_delivered_late_under_load_does_not_make_two_owners() -> None:
    """Both gateways claim at once; every message takes 4 s to arrive (more than
    confirm_s): each waits for its own claim to come back, sees the other's with it,
    and only the stronger confirms."""
    a, b = Ownership("s1", "gw-a", OPTIONS), Ownership("s1", "gw-b", OPTIONS)
    for g in (a, b):
        g.connected(0.0)
    in_flight: list[tuple[float, str, Claim]] = []
    gains: dict[str, int] = {"gw-a": 0, "gw-b": 0}
    for t in range(10, 40):
        for g, rssi in ((a, -60.0), (b, -62.0)):
            step = g.step(float(t), {DEVICE: rssi})
            gains[g.me] += len(step.gained)
            in_flight += [(t + 4.0, g.me, c) for c in step.publish]
        for _due, sender, c in [m for m in in_flight if m[0] <= t]:
            for g in (a, b):
                g.claim_seen(sender, DEVICE, c)
        in_flight = [m for m in in_flight if m[0] > t]
    assert gains == {"gw-a": 1, "gw-b": 0}
    assert a.owns(DEVICE) and not b.owns(DEVICE)


def test_a_rival_confirmed_before_our_claim_arrived_keeps_its_epoch_to_itself() -> None:
    """gw-b claims and confirms; gw-a, lagging, has not seen that claim yet and claims
    the same epoch with a better RSSI. gw-a sees gw-b's claim before its own comes back:
    contested, so gw-a takes the next epoch. Each epoch has one owner."""
    a, b = Ownership("s1", "gw-a", OPTIONS), Ownership("s1", "gw-b", OPTIONS)
    for g in (a, b):
        g.connected(0.0)
    for t in range(10, 16):
        b_step = b.step(float(t), {DEVICE: -75.0})
    [b_claim] = b_step.publish
    b.claim_seen("gw-b", DEVICE, b_claim)
    for t in range(16, 20):
        b_step = b.step(float(t), {DEVICE: -75.0})
    assert b.owns(DEVICE) and b.epoch(DEVICE) == 1
    for t in range(14, 20):  # gw-a: heard later, claims without knowing of gw-b's
        a_step = a.step(float(t), {DEVICE: -60.0})
    [a_claim] = a_step.publish
    assert a_claim.epoch == 1
    a.claim_seen("gw-b", DEVICE, b_claim)  # the broker had it first
    a.claim_seen("gw-a", DEVICE, a_claim)
    owners: dict[int, set[str]] = {1: {"gw-b"}}
    for t in range(20, 40):
        for g in (a, b):
            step = g.step(float(t), {DEVICE: -60.0 if g is a else -75.0})
            for c in step.publish:
                for other in (a, b):
                    other.claim_seen(g.me, DEVICE, c)
            for gained in step.gained:
                owners.setdefault(gained.epoch, set()).add(g.me)
    assert a.owns(DEVICE) and not b.owns(DEVICE)
    assert owners == {1: {"gw-b"}, 2: {"gw-a"}}
