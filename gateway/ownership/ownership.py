"""Which gateway owns which device, decided by each gateway alone from the claims all of
them publish (contract v1.1, "Several gateways in one store").

Pure: no I/O and no clock of its own. The coordinator feeds it what the broker
delivers (claims, gateways' statuses, hearing reports: kept in a
:class:`gateway.ownership.book.ClaimBook`), what this gateway hears (RSSI per
device) and the time; :meth:`Ownership.step` answers with the claims to publish
or withdraw and the devices gained or lost. A claim of this gateway carries the
label commands answered for the device, here and, taken over at a gain, by the
previous owners; only the first count as told here (:meth:`Ownership.told`).

The rules:

- the owner is the strongest live claim (:func:`gateway.ownership.claims.rank`:
  highest epoch, then best RSSI, then the gateway id that sorts first); a claim of
  a gateway whose status is ``offline`` (its Will) stops being live
  ``offline_grace_s`` after that status arrived (a gateway restarting, or one
  that lost the broker for a moment, comes back to its devices: no reshuffle, and
  what it wrote just before it went is told in its own claims);
- nobody owns a device this gateway hears: claim it (epoch one above any seen)
  after hearing it for ``claim_delay_s``, unless another gateway reports hearing it
  clearly better (then that one claims it; after ``defer_s`` more, claim anyway);
- another gateway owns it but hears it ``margin_db`` worse (or not at all) for
  ``hold_s`` (``claim_delay_s`` if not at all): claim it. Equal hearing never moves a
  device, and a move needs the margin both ways, so it cannot bounce;
- a claim becomes ownership once the broker has sent it back and ``confirm_s``
  more have passed (at least twice the time it took to come back: a loaded
  gateway or broker delays the others' claims as much as its own), if it is
  still the strongest: simultaneous claims (several gateways after one Will, or
  all of them at a store's first start) are all delivered by then and every
  gateway has picked the same winner; a claim that met a rival's claim of the
  same epoch before it was confirmed (the rival may have been confirmed already,
  by a gateway that had not seen ours yet) is made again one epoch higher
  instead, so two owners never publish in the same epoch;
- bound labels are shared out between gateways that hear them about equally
  (:mod:`gateway.ownership.balance`): a gateway owning clearly fewer takes some of
  them from one owning clearly more after ``balance_hold_s``; a label moved between two
  gateways stays put for ``moved_min_s``;
- a gateway whose claim is beaten withdraws it and stops at once;
- nothing is claimed in the first ``settle_s`` after connecting (the retained
  claims arrive first) nor while disconnected; what is owned stays owned while
  the broker is away (the others take it over after this gateway's Will, with a
  higher epoch that wins when it comes back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gateway.ownership.balance import Candidate, pick, shares
from gateway.ownership.book import ClaimBook
from gateway.ownership.claims import MAX_ANSWERED, Claim, ClaimedAlert, ShownContent, rank


@dataclass(frozen=True)
class OwnershipOptions:
    margin_db: float = 8.0
    hold_s: float = 60.0
    claim_delay_s: float = 5.0
    confirm_s: float = 2.0
    settle_s: float = 12.0  # longer than the hearing reports' period: they arrive first
    defer_s: float = 15.0  # how long to leave an unowned device to a gateway hearing it better
    will_after_s: float = 45.0  # the broker publishes our Will this long after losing us
    republish_db: float = 4.0  # the owner's RSSI moved this much: tell the others
    republish_min_s: float = 10.0
    label_min_rssi: float = -92.0  # a label heard weaker cannot be written: not claimed
    offline_grace_s: float = 15.0  # a gateway offline this long: its devices are taken over
    balance_labels: bool = True  # share labels heard about equally (gateway.ownership.balance)
    balance_tolerance: float = 0.03  # owning this share of the mean more is even enough
    balance_min: int = 4  # ... or this many labels more
    balance_hold_s: float = 20.0  # a label chosen for an even share this long is taken
    moved_min_s: float = 600.0  # a label moved between two gateways stays put this long


@dataclass(frozen=True)
class Gained:
    device_id: str
    epoch: int
    previous: Claim | None  # the claim it was taken from (its alerts, its answered commands)
    why: str = "unowned"  # unowned, heard better, not heard by its owner, even share


@dataclass(frozen=True)
class Lost:
    device_id: str
    to: str | None  # the gateway that owns it now


@dataclass
class Step:
    publish: list[Claim] = field(default_factory=list)
    withdraw: list[str] = field(default_factory=list)  # device ids
    gained: list[Gained] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.publish or self.withdraw or self.gained or self.lost)


@dataclass(slots=True)
class _Track:
    rssi: float | None = None
    heard_since: float | None = None
    better_since: float | None = None
    claimed_at: float | None = None  # my claim, not confirmed yet
    echoed_at: float | None = None  # ... and when the broker sent it back
    contested: bool = False  # ... and a rival's claim of the same epoch came meanwhile
    published_at: float = -1e18
    extras_changed: bool = False
    shown: ShownContent | None = None
    busy: bool = False
    owner: str | None = None  # the last gateway seen owning it
    owner_since: float = 0.0  # ... since when
    moved_at: float | None = None  # when the owner last changed (a race at a claim is no move)
    why: str = "unowned"  # why this gateway claimed it last


BALANCE_EVERY_S = 5.0  # how often the labels to take for an even share are chosen again


class Ownership:
    def __init__(self, store_id: str, me: str, options: OwnershipOptions) -> None:
        self.store_id = store_id
        self.me = me
        self.options = options
        self._book = ClaimBook(me, options.offline_grace_s)  # what the others said
        self._owned: dict[str, int] = {}  # device -> epoch: confirmed mine
        self._tracks: dict[str, _Track] = {}
        self._alerts: dict[str, tuple[ClaimedAlert, ...]] = {}
        self._answered: dict[str, tuple[str, ...]] = {}  # what the claim says was answered
        self._inherited: dict[str, frozenset[str]] = {}  # ... of that, by previous owners
        self._connected_at: float | None = None
        self._disconnected_at: float | None = None
        self._in_step = False  # in step with the others: what we own is ours to write
        self._watchers: list[Callable[[], None]] = []
        self._news: set[str] = set()
        self._evens: set[str] = set()  # labels to take over for an even share
        self._stale: set[str] = set()  # devices with a claim of ours on the broker to clear
        self._at_rest: Callable[[str], bool] = lambda _d: True  # may move for an even share
        self._evened_at = float("-inf")

    # ---- what this gateway knows ---------------------------------------------------------

    def restore(self, claims: Iterable[Claim]) -> None:
        """This gateway's own claims from before a restart: owned again at once, heard as
        they say until what this gateway hears is known (see ``step``: a device left out
        of ``hearing`` keeps what was known of it)."""
        for c in claims:
            self._book.put(c)
            self._owned[c.device_id] = c.epoch
            self._alerts[c.device_id] = c.alerts
            self._answered[c.device_id] = c.answered
            t = self._track(c.device_id)
            t.shown, t.rssi = c.shown, c.rssi  # as it was heard, until heard again

    def connected(self, now: float) -> None:
        self._connected_at = now
        self._disconnected_at = None

    def disconnected(self, now: float) -> None:
        self._connected_at = None
        self._disconnected_at = now

    def claim_seen(self, gateway_id: str, device_id: str, claim: Claim | None) -> None:
        """A retained claim of another gateway arrived (None: withdrawn)."""
        if gateway_id == self.me:
            # Our own, sent back: claims the others made before they saw it arrive
            # within about the same time again.
            t = self._tracks.get(device_id)
            mine = self._book.claim(device_id, self.me)
            if (
                t is not None
                and t.claimed_at is not None
                and t.echoed_at is None
                and claim is not None
                and mine is not None
                and claim.epoch == mine.epoch
            ):
                t.echoed_at = max(self._book.now, t.claimed_at)
            if claim is not None and mine is None:
                # Ours on the broker, not ours here (withdrawn since, its withdrawal still
                # on its way, or left from before this gateway lost its data): cleared,
                # or the others would count it, and wait for it to be withdrawn.
                self._stale.add(device_id)
            return
        if claim is None:
            self._book.withdrawn(device_id, gateway_id)
        else:
            t = self._tracks.get(device_id)
            mine = self._book.claim(device_id, self.me)
            if (
                t is not None
                and t.claimed_at is not None
                and mine is not None
                and claim.epoch == mine.epoch
            ):
                t.contested = True
            self._book.put(claim)

    def hearing_seen(self, gateway_id: str, shard: str, devices: Mapping[str, int]) -> None:
        """Another gateway's report of what it hears in one shard (for the status page)."""
        if gateway_id != self.me:
            self._book.hearing_seen(gateway_id, shard, devices)

    def answered_for(self, device_id: str) -> tuple[str, ...]:
        """The commands any gateway's last claim says were answered for the device."""
        done: dict[str, None] = {}
        for claim in self._book.lasts(device_id).values():
            done.update(dict.fromkeys(claim.answered))
        done.update(dict.fromkeys(self._answered.get(device_id, ())))
        return tuple(done)

    def heard_by(self, device_id: str) -> dict[str, int]:
        """The other gateways that report hearing the device, with their RSSI."""
        return self._book.heard_by(device_id)

    def status_seen(self, gateway_id: str, online: bool) -> None:
        if gateway_id != self.me:
            self._book.status_seen(gateway_id, online)

    def set_alerts(self, device_id: str, alerts: tuple[ClaimedAlert, ...]) -> None:
        """Alerts firing on an owned device: the claim says so (a new owner continues them)."""
        if self._alerts.get(device_id, ()) != alerts:
            self._alerts[device_id] = alerts
            self._extras_changed(device_id)

    def answered(self, device_id: str, command_id: str) -> None:
        """A label command was answered here for this label: the claim says so."""
        inherited = self._inherited.get(device_id)
        if inherited is not None and command_id in inherited:
            self._inherited[device_id] = inherited - {command_id}
        self._carry(device_id, command_id)

    def _carry(self, device_id: str, command_id: str) -> None:
        done = self._answered.get(device_id, ())
        if command_id not in done:
            self._answered[device_id] = (*done, command_id)[-MAX_ANSWERED:]
            self._extras_changed(device_id)

    def set_shown(self, device_id: str, shown: ShownContent | None) -> None:
        """What an owned label displays now: the claim says so."""
        t = self._track(device_id)
        if t.shown != shown:
            t.shown = shown
            self._extras_changed(device_id)

    def set_busy(self, device_id: str, busy: bool) -> None:
        """A transfer to an owned label started or ended: the claim says so."""
        t = self._track(device_id)
        if t.busy != busy:
            t.busy = busy
            self._extras_changed(device_id)

    def watch(self, listener: Callable[[], None]) -> None:
        """``listener()`` is called when an owned device's claim has news to tell (an
        answer, what a label shows, a transfer starting or ending, an alert): the others
        should hear it at once, not at the next step."""
        self._watchers.append(listener)

    def _extras_changed(self, device_id: str) -> None:
        self._track(device_id).extras_changed = True
        self._news.add(device_id)
        for listener in self._watchers:
            listener()

    def news(self, now: float) -> list[Claim]:
        """The claims of owned devices whose news has not been published yet (published
        now: the caller sends them)."""
        out = []
        for device_id in self._news:
            mine = self._book.claim(device_id, self.me)
            t = self._tracks.get(device_id)
            if mine is None or t is None or not t.extras_changed or device_id not in self._owned:
                continue
            if self._book.winner(device_id) is not mine:
                # Beaten by a claim the next step will act on: no answer is told in an
                # epoch that is over (the new owner answers what it was not told of).
                continue
            claim = self._make(device_id, mine.epoch, t.rssi)
            self._book.put(claim)
            t.published_at, t.extras_changed = now, False
            out.append(claim)
        self._news.clear()
        return out

    # ---- questions ---------------------------------------------------------------------------

    def first_online(self) -> bool:
        """This gateway's id sorts first among the gateways online: it answers for labels
        no gateway owns (contract 1.1)."""
        return self._book.first_online()

    def owns(self, device_id: str) -> bool:
        return device_id in self._owned

    def writable(self, device_id: str) -> bool:
        """Owned, and this gateway is in step with the others: it has read their claims
        since it (re)connected, or lost the broker too recently for them to have taken
        anything over (its Will). A label is written only then: a gateway that restarts
        owns what it owned, but writes only once it knows nobody took it meanwhile."""
        return self._in_step and device_id in self._owned

    def in_step(self) -> bool:
        """This gateway knows the others' claims as they stand (see ``writable``)."""
        return self._in_step

    def told(self, device_id: str, command_id: str) -> bool:
        """The last claim this gateway published on the device (withdrawn since or not)
        says the command was answered here: whoever owns the label next takes that over.
        Not the answers the claim carries on from the label's previous owners (see
        ``told_elsewhere``); after a restart those are not known apart from its own."""
        mine = self._book.last(device_id, self.me)
        return (
            mine is not None
            and command_id in mine.answered
            and command_id not in self._inherited.get(device_id, ())
        )

    def told_elsewhere(self, device_id: str, command_id: str) -> bool:
        """Another gateway's last claim on the device (withdrawn since or not) says the
        command was answered there."""
        return self._book.told_elsewhere(device_id, command_id)

    def settled(self, device_id: str) -> bool:
        """No other online gateway's claim on the device stands. A gateway that lost a
        device withdraws its claim once it sees the winner's, so until then it may
        still tell answers in the epoch that is over (its claim and the winner's
        crossed on their way); once withdrawn (or once its Will came), its last claim
        says all it will ever have answered."""
        return self._book.settled(device_id)

    def epoch(self, device_id: str) -> int:
        return self._owned.get(device_id, 1)

    def owner(self, device_id: str) -> str | None:
        winner = self._book.winner(device_id)
        return None if winner is None else winner.gateway_id

    def owned(self) -> dict[str, int]:
        return dict(self._owned)

    def claims(self, device_id: str) -> list[Claim]:
        """Live claims on a device, strongest first."""
        return sorted(self._book.live(device_id), key=rank)

    def owners(self) -> dict[str, int]:
        """Devices owned per gateway (live claims that win)."""
        out: dict[str, int] = {}
        for device_id in self._book.devices():
            w = self._book.winner(device_id)
            if w is not None:
                out[w.gateway_id] = out.get(w.gateway_id, 0) + 1
        return out

    def offline_gateways(self) -> set[str]:
        return self._book.offline()

    def last_claim(self, device_id: str, gateway_id: str) -> Claim | None:
        """The last claim a gateway published on a device (withdrawn since or not)."""
        return self._book.last(device_id, gateway_id)

    def standing(self, device_id: str, gateway_id: str) -> bool:
        """The gateway's claim on the device is still on the broker (not withdrawn)."""
        return self._book.standing(device_id, gateway_id)

    # ---- deciding ------------------------------------------------------------------------

    def step(
        self,
        now: float,
        hearing: Mapping[str, float | None],
        balanced: Callable[[str], bool] | None = None,
        at_rest: Callable[[str], bool] | None = None,
    ) -> Step:
        """Decide, given what this gateway hears now (RSSI per device; None: not heard; a
        device left out keeps what was known of it).
        ``balanced``: the devices shared out evenly between gateways that hear them about
        equally (bound labels: the work of a campaign); None: none. ``at_rest``: those
        of them that may move for an even share now (no campaign running: a share
        evens out the next campaign, never disturbs the running one); asked again when
        the hold time is over."""
        out = Step()
        self._book.now = now
        self._at_rest = at_rest or (lambda _d: True)
        for device_id, rssi in hearing.items():
            t = self._track(device_id)
            if rssi is None:
                t.rssi, t.heard_since, t.better_since = None, None, None
            else:
                t.rssi = rssi
                if t.heard_since is None:
                    t.heard_since = now
        may_claim = (
            self._connected_at is not None and now - self._connected_at >= self.options.settle_s
        )
        self._in_step = may_claim or (
            self._disconnected_at is not None
            and self._in_step
            and now - self._disconnected_at < self.options.will_after_s
        )
        if not may_claim or balanced is None or not self.options.balance_labels:
            self._evens = set()
        elif now - self._evened_at >= BALANCE_EVERY_S:
            self._evened_at = now
            self._evens = self._to_even(now, balanced, self._at_rest)
        for device_id in set(self._tracks) | set(self._book.devices()):
            self._decide(device_id, now, may_claim, out)
        for device_id in self._stale:
            if not self._book.standing(device_id, self.me) and device_id not in out.withdraw:
                out.withdraw.append(device_id)
        self._stale.clear()
        return out

    def _to_even(
        self, now: float, balanced: Callable[[str], bool], at_rest: Callable[[str], bool]
    ) -> set[str]:
        """The labels to take from gateways owning clearly more of them than this one."""
        o = self.options
        counts: dict[str, int] = {}
        candidates = []
        for device_id in self._book.devices():
            if not balanced(device_id):
                continue
            w = self._book.winner(device_id)
            if w is None:
                continue
            counts[w.gateway_id] = counts.get(w.gateway_id, 0) + 1
            t = self._tracks.get(device_id)
            if (
                w.gateway_id == self.me
                or w.rssi is None
                or w.busy
                or t is None
                or t.rssi is None
                or t.heard_since is None
                or now - t.heard_since < o.claim_delay_s
                or (t.moved_at is not None and now - t.moved_at < o.moved_min_s)
                or not at_rest(device_id)
            ):
                continue
            # About as well as its owner (by its claim or its latest report, the better)
            # and clear of the floor (heard near it, the owner would take it back): half
            # the margin to be chosen, the margin to stay chosen.
            chosen = device_id in self._evens
            reported = self._book.reported(device_id, w.gateway_id)
            owner_rssi = w.rssi if reported is None else max(w.rssi, reported)
            floor = o.label_min_rssi + (0 if chosen else o.margin_db / 2)
            if t.rssi < floor or t.rssi < owner_rssi - o.margin_db / (1 if chosen else 2):
                continue
            candidates.append(Candidate(device_id, w.gateway_id))
        online = {self.me} | self._book.online()
        quotas = shares(
            counts, self.me, online, tolerance=o.balance_tolerance, minimum=o.balance_min
        )
        return pick(candidates, quotas, self._evens)

    def _decide(self, device_id: str, now: float, may_claim: bool, out: Step) -> None:
        o = self.options
        t = self._track(device_id)
        mine = self._book.claim(device_id, self.me)
        winner = self._book.winner(device_id)
        if winner is not None and winner.gateway_id != t.owner:
            if t.owner is not None and now - t.owner_since >= o.settle_s:
                t.moved_at = now
            t.owner, t.owner_since = winner.gateway_id, now
        if mine is not None:
            if winner is not mine:
                # Beaten: withdraw and stop at once.
                self._book.withdrawn(device_id, self.me)
                t.claimed_at = t.echoed_at = None
                out.withdraw.append(device_id)
                if self._owned.pop(device_id, None) is not None:
                    out.lost.append(Lost(device_id, None if winner is None else winner.gateway_id))
                return
            if device_id not in self._owned:
                confirmed = (
                    t.claimed_at is not None
                    and t.echoed_at is not None
                    and now - t.echoed_at >= max(o.confirm_s, 2 * (t.echoed_at - t.claimed_at))
                )
                if confirmed and self._connected_at is not None:
                    if t.contested:
                        # The rival may own it in this epoch already: ours is the next.
                        self._claim(device_id, t, now, out, self._book.previous(device_id))
                    else:
                        self._confirm(device_id, mine, t, out)
                return
            self._maybe_republish(device_id, mine, t, now, out)
            return
        if not may_claim or t.rssi is None or t.heard_since is None:
            t.better_since = None
            return
        if winner is None:
            heard_for = now - t.heard_since
            if heard_for >= o.claim_delay_s and (
                not self._heard_better(device_id, t.rssi)
                or heard_for >= o.claim_delay_s + o.defer_s
            ):
                self._claim(device_id, t, now, out, None, "unowned")
            return
        if winner.rssi is None:
            better, hold, why = True, o.claim_delay_s, "not heard by its owner"
        else:
            better, hold, why = t.rssi >= winner.rssi + o.margin_db, o.hold_s, "heard better"
        if not better:
            if device_id not in self._evens or not self._at_rest(device_id):
                # (A campaign that started while the hold ran: it stays where it is.)
                t.better_since = None
                return
            # An even share: the counts are all that need to settle.
            hold, why = o.balance_hold_s, "even share"
        if t.better_since is None:
            t.better_since = now
        # Not in the middle of a transfer: between two (a label its owner keeps retrying
        # is taken over by the gateway that hears it better as soon as an attempt ends).
        if now - t.better_since >= hold and not winner.busy:
            self._claim(device_id, t, now, out, winner, why)

    def _claim(
        self,
        device_id: str,
        t: _Track,
        now: float,
        out: Step,
        previous: Claim | None,
        why: str | None = None,
    ) -> None:
        """Claim the device (``why``: the reason, told when it is gained; None: the same
        as the claim this one makes again)."""
        newest = self._book.newest_epoch(device_id)
        epoch = 1 + (self._owned.get(device_id, 0) if newest is None else newest)
        alerts = previous.alerts if previous else self._alerts.get(device_id, ())
        self._alerts[device_id] = alerts
        if previous is not None:
            self._answered[device_id] = previous.answered
            self._inherited[device_id] = frozenset(previous.answered)
            t.shown = previous.shown
        t.busy = False
        if why is not None:
            t.why = why
        claim = self._make(device_id, epoch, t.rssi)
        self._book.put(claim)
        t.claimed_at, t.better_since, t.published_at = now, None, now
        t.echoed_at, t.contested = None, False
        t.extras_changed = False
        out.publish.append(claim)

    def _confirm(self, device_id: str, mine: Claim, t: _Track, out: Step) -> None:
        """Ours now. What the previous owner said last (it may have answered a command or
        seen an alert fire after we claimed) is taken over, and the claim says so."""
        t.claimed_at = t.echoed_at = None
        self._owned[device_id] = mine.epoch
        previous = self._book.previous(device_id)
        if previous is not None:
            if previous.alerts != mine.alerts:
                self.set_alerts(device_id, previous.alerts)
            inherited = self._inherited.get(device_id, frozenset())
            self._inherited[device_id] = inherited | set(previous.answered)
            for command_id in previous.answered:
                self._carry(device_id, command_id)
            self.set_shown(device_id, previous.shown)
        out.gained.append(Gained(device_id, mine.epoch, previous, t.why))

    def _maybe_republish(
        self, device_id: str, mine: Claim, t: _Track, now: float, out: Step
    ) -> None:
        o = self.options
        heard = None if t.rssi is None else round(t.rssi)
        moved = (heard is None) != (mine.rssi is None) or (
            heard is not None
            and mine.rssi is not None
            and abs(heard - mine.rssi) >= o.republish_db
            and now - t.published_at >= o.republish_min_s
        )
        if not (moved or t.extras_changed):
            return
        claim = self._make(device_id, mine.epoch, t.rssi)
        self._book.put(claim)
        t.published_at, t.extras_changed = now, False
        out.publish.append(claim)

    # ---- helpers ---------------------------------------------------------------------------

    def _make(self, device_id: str, epoch: int, rssi: float | None) -> Claim:
        return Claim(
            store_id=self.store_id,
            gateway_id=self.me,
            device_id=device_id,
            epoch=epoch,
            rssi=None if rssi is None else max(-127, min(20, round(rssi))),
            alerts=self._alerts.get(device_id, ()),
            answered=self._answered.get(device_id, ()),
            shown=self._track(device_id).shown,
            busy=self._track(device_id).busy,
        )

    def _heard_better(self, device_id: str, rssi: float) -> bool:
        """An online gateway reports hearing the device clearly better (by more than half
        the margin: reports come in 3 dB steps): it should be the one to claim it."""
        tolerance = self.options.margin_db / 2
        return any(r > rssi + tolerance for r in self._book.heard_by(device_id).values())

    def _track(self, device_id: str) -> _Track:
        t = self._tracks.get(device_id)
        if t is None:
            t = self._tracks[device_id] = _Track()
        return t
