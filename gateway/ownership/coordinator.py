"""The gateway's side of sharing a store: claims in and out over the store's broker,
the ownership rules stepped every second, and every change of owner applied to the
components that act on devices, in one place.

Per step: what this gateway hears (the registry's smoothed RSSI of each device
online here) goes to :meth:`Ownership.step`; its claims are published retained on
this gateway's own claim topics (and saved, so a restart keeps them), withdrawn
ones cleared; a device gained is announced on the broker in its new epoch and its
alerts go on here; a device lost stops at once everywhere: no state, no alert, no
label write.

Claims are published directly (QoS 1, retained), not through the outbox: they
matter only to the gateways connected now, and every connect publishes them all
again. The broker is reached through a narrow port (:class:`~gateway.ownership.link.
ClaimsLink`): the coordinator knows nothing of the bridge, nor the bridge of it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Protocol

import sqlite_utils
import structlog

from drivers.types import DeviceKind
from gateway.alerts.model import Alert, AlertPhase
from gateway.alerts.service import AlertService
from gateway.ownership.claims import (
    SHARDS,
    Claim,
    ClaimedAlert,
    ClaimError,
    ShownContent,
    dump_hearing,
    parse,
    parse_hearing,
    shard_of,
)
from gateway.ownership.link import ClaimsLink, Message
from gateway.ownership.ownership import Gained, Lost, Ownership, Step
from gateway.registry import DeviceRecord, Registry
from gateway.store import Database
from gateway.tasks import wait_set

log = structlog.get_logger("gateway.ownership")

STEP_S = 1.0
NEWS_BATCH_S = 0.05  # news of several labels at once go out together
HEARING_S = 10.0  # how often what this gateway hears is reported (shards that changed)
HEARING_STEP_DB = 3  # RSSI reported in steps of this many dB (fewer changes to send)


class LabelOwner(Protocol):
    """What the label pipeline does when a label changes owner."""

    async def label_gained(
        self, label_id: str, answered: Sequence[str], shown: ShownContent | None
    ) -> None: ...

    async def label_lost(self, label_id: str) -> None: ...

    def claims_published(self) -> None: ...

    def cannot_write(self, label_id: str) -> bool: ...

    def bound(self, label_id: str) -> bool: ...

    def at_rest(self, label_id: str) -> bool: ...


class Coordinator:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        ownership: Ownership,
        link: ClaimsLink,
        alerts: AlertService,
        labels: LabelOwner | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._registry = registry
        self.ownership = ownership
        self._link = link
        self._alerts = alerts
        self._labels = labels
        self._clock = clock
        self._started = clock()
        self._topics = link.topics
        self._withdrawn: set[str] = set()  # claims to clear on the broker (sent or not)
        self._awaiting: dict[str, str] = {}  # label taken over -> the gateway it was taken from
        self._hearing_sent: dict[str, dict[str, int]] = {}  # shard -> what was reported
        self._report_due = False
        self.claims_in = 0
        self.claims_rejected = 0
        self.changes = 0
        self.last_step_s = 0.0
        self._news = asyncio.Event()
        ownership.watch(self._news.set)
        link.watch_connection(self)
        alerts.listeners.append(lambda t: self._alerts_changed(t.alert.subject))

    async def open(self) -> None:
        """This gateway's claims from before the restart: owned again at once."""
        rows = await self._db.read(_load)
        claims = []
        for device_id, text in rows:
            try:
                claim = parse(
                    text.encode(),
                    store_id=self.ownership.store_id,
                    gateway_id=self.ownership.me,
                    device_id=device_id,
                )
            except ClaimError as exc:
                log.error("stored claim unusable; dropped", device_id=device_id, error=str(exc))
                continue
            if claim is not None:
                claims.append(claim)
        self.ownership.restore(claims)
        if claims:
            log.info("owning the devices owned before the restart", devices=len(claims))

    # ---- the broker ------------------------------------------------------------------------

    def on_message(self, inbound: Message) -> None:
        """Another gateway's claim, status or hearing report (or one of this gateway's own,
        echoed): handled the moment it arrives, ahead of any queue of commands."""
        parsed = self._topics.parse_gateway_topic(inbound.topic)
        if parsed is None:
            return
        gateway_id, what, device_id = parsed
        if what == "reviews":
            return  # price decisions: the label pipeline's (see the daemon)
        if what == "status":
            state = _status_state(inbound.payload)
            if state is not None:
                self.ownership.status_seen(gateway_id, state == "online")
            return
        if what == "hears":
            assert device_id is not None  # the shard
            if gateway_id == self.ownership.me:
                return
            try:
                devices = parse_hearing(inbound.payload, gateway_id=gateway_id, shard=device_id)
            except ClaimError as exc:
                log.warning("hearing report ignored", topic=inbound.topic, error=str(exc))
                return
            self.ownership.hearing_seen(gateway_id, device_id, devices)
            return
        assert device_id is not None
        self.claims_in += 1
        try:
            claim = parse(
                inbound.payload,
                store_id=self.ownership.store_id,
                gateway_id=gateway_id,
                device_id=device_id,
            )
        except ClaimError as exc:
            self.claims_rejected += 1
            log.warning("claim ignored", topic=inbound.topic, error=str(exc))
            return
        self.ownership.claim_seen(gateway_id, device_id, claim)

    async def connected(self) -> None:
        """After every connect: our claims and withdrawals again (the broker may have
        missed some), then the retained claims of the others arrive while we settle."""
        self.ownership.connected(self._clock())
        self._report_due = True  # what we hear goes out at once: the others decide on it
        for device_id in list(self._withdrawn):
            self._send(device_id, b"")
        self.ownership.news(self._clock())  # what changed while away goes out below
        self._hearing_sent.clear()  # reported again with the next round
        for device_id in self.ownership.owned():
            claim = self.ownership.claims(device_id)
            mine = [c for c in claim if c.gateway_id == self.ownership.me]
            if mine:
                self._send(device_id, mine[0].dump())

    def disconnected(self) -> None:
        self.ownership.disconnected(self._clock())

    def _send(self, device_id: str, payload: bytes) -> None:
        fut = self._link.publish(self._topics.claim(device_id), payload, qos=1, retain=True)
        if fut is None:
            return  # sent again on the next connect
        if not payload:
            fut.add_done_callback(
                lambda f: (
                    None if f.cancelled() or f.exception() else self._withdrawn.discard(device_id)
                )
            )

    # ---- the steps ---------------------------------------------------------------------------

    async def run(self) -> None:
        reported = self._clock()
        stepped = self._clock()
        while True:
            await wait_set(self._news, STEP_S)
            if self._news.is_set():
                # An answer, a label shown, a transfer started: the others hear it now
                # (a crash right after must not leave them with an older account).
                await asyncio.sleep(NEWS_BATCH_S)
                self._news.clear()
                news = self.ownership.news(self._clock())
                if news:
                    await self.apply(Step(publish=news))
                if self._clock() - stepped < STEP_S:
                    continue
            stepped = self._clock()
            if self._report_due or self._clock() - reported >= HEARING_S:
                reported = self._clock()
                self._report_due = False
                self._report_hearing()
            started = time.perf_counter()
            o = self.ownership
            floor = o.options.label_min_rssi
            margin = o.options.margin_db
            unwritable = self._labels.cannot_write if self._labels is not None else None
            since_start = self._clock() - self._started
            hearing = {
                d.device_id: owning_rssi(
                    d,
                    floor,
                    o.heard_by(d.device_id).values(),
                    margin,
                    cannot_write=unwritable is not None
                    and d.kind is DeviceKind.LABEL
                    and unwritable(d.device_id),
                )
                for d in self._registry
                # A device not heard since this start is not "not heard" until it has
                # been silent as long as it takes to call it offline: a gateway back
                # from a restart keeps its devices (its claims stand as they were).
                if d.adverts or since_start >= self._registry.offline_after(d)
            }
            labels = self._labels
            step = self.ownership.step(
                self._clock(),
                hearing,
                None if labels is None else labels.bound,
                None if labels is None else labels.at_rest,
            )
            self.last_step_s = time.perf_counter() - started
            if step:
                await self.apply(step)
            if self._awaiting:
                await self._settle_awaiting()

    def _report_hearing(self) -> None:
        """What this gateway hears, per shard, where it changed since the last report."""
        shards: dict[str, dict[str, int]] = {s: {} for s in SHARDS}
        for d in self._registry:
            if d.online and d.rssi is not None:
                step = HEARING_STEP_DB
                shards[shard_of(d.device_id)][d.device_id] = max(
                    -127, min(20, step * round(d.rssi / step))
                )
        for shard, devices in shards.items():
            if self._hearing_sent.get(shard) == devices:
                continue
            sent = self._link.publish(
                self._topics.hearing(shard),
                dump_hearing(self.ownership.me, devices) if devices else b"",
                qos=0,
                retain=True,
            )
            if sent is None:
                return
            self._hearing_sent[shard] = devices

    async def apply(self, step: Step) -> None:
        for claim in step.publish:
            self._withdrawn.discard(claim.device_id)
            self._send(claim.device_id, claim.dump())
        for device_id in step.withdraw:
            self._withdrawn.add(device_id)
            self._send(device_id, b"")
        if step.publish or step.withdraw:
            await self._db.run(partial(_save, publish=step.publish, withdraw=step.withdraw))
        if step.publish and self._labels is not None:
            self._labels.claims_published()
        for lost in step.lost:
            await self._lost(lost)
        for gained in step.gained:
            await self._gained(gained)

    async def _gained(self, gained: Gained) -> None:
        self.changes += 1
        previous = gained.previous
        log.info(
            "device taken over",
            device_id=gained.device_id,
            epoch=gained.epoch,
            previous=None if previous is None else previous.gateway_id,
            why=gained.why,
        )
        if previous is not None and previous.alerts:
            await self._alerts.adopt([_alert(gained.device_id, a) for a in previous.alerts])
        self._link.gained(gained.device_id)
        if self._labels is not None and self._is_label(gained.device_id):
            if previous is not None and self._still_speaking(gained.device_id, previous):
                # Its last word is not in yet: a transfer it finished a moment ago may be
                # answered in one more claim. Its withdrawal comes after that claim (one
                # topic, one publisher: in order), or its Will if it is gone.
                self._awaiting[gained.device_id] = previous.gateway_id
                return
            await self._labels_gained(gained.device_id, previous)

    def _still_speaking(self, device_id: str, previous: Claim) -> bool:
        o = self.ownership
        gw = previous.gateway_id
        return gw not in o.offline_gateways() and o.standing(device_id, gw)

    async def _labels_gained(self, device_id: str, previous: Claim | None) -> None:
        assert self._labels is not None
        last = (
            None if previous is None else self.ownership.last_claim(device_id, previous.gateway_id)
        )
        final = last or previous
        await self._labels.label_gained(
            device_id,
            self.ownership.answered_for(device_id) if final is not None else (),
            None if final is None else final.shown,
        )

    async def _settle_awaiting(self) -> None:
        """Labels taken over whose previous owner has since withdrawn its claim (its last
        word in) or gone offline: now finished here."""
        for device_id, gw in list(self._awaiting.items()):
            if not self.ownership.owns(device_id):
                del self._awaiting[device_id]  # lost again meanwhile
                continue
            previous = self.ownership.last_claim(device_id, gw)
            if previous is None or not self._still_speaking(device_id, previous):
                del self._awaiting[device_id]
                await self._labels_gained(device_id, previous)

    async def _lost(self, lost: Lost) -> None:
        self.changes += 1
        log.info("device handed over", device_id=lost.device_id, to=lost.to)
        if self._labels is not None and self._is_label(lost.device_id):
            await self._labels.label_lost(lost.device_id)
        await self._alerts.release(lost.device_id)
        await self._link.lost(lost.device_id)

    def _is_label(self, device_id: str) -> bool:
        device = self._registry.get(device_id)
        return device is not None and device.kind is DeviceKind.LABEL

    def _alerts_changed(self, device_id: str) -> None:
        if self.ownership.owns(device_id):
            firing = self._alerts.firing_on(device_id)
            self.ownership.set_alerts(device_id, tuple(_claimed(a) for a in firing))


def _claimed(a: Alert) -> ClaimedAlert:
    return ClaimedAlert(
        rule=a.rule,
        id=a.id or "",
        started_at=a.started_at,
        metric=a.metric,
        threshold=a.threshold,
        severity=a.severity,
        message=a.message[:512],
        value=a.value,
    )


def _alert(device_id: str, c: ClaimedAlert) -> Alert:
    return Alert(
        rule=c.rule,
        subject=device_id,
        phase=AlertPhase.FIRING,
        since_mono=time.monotonic(),
        started_at=c.started_at,
        severity=c.severity,
        metric=c.metric,
        threshold=c.threshold,
        value=c.value,
        id=c.id,
        message=c.message,
    )


def owning_rssi(
    device: DeviceRecord,
    label_min_rssi: float,
    others: Iterable[int] = (),
    margin_db: float = 8.0,
    *,
    cannot_write: bool = False,
) -> float | None:
    """How well this gateway hears a device, for owning it (None: not at all). A label
    this gateway hears only faintly (its adverts come through, a connection may not)
    while another online gateway (``others``: their RSSI) hears it above the floor and
    clearly better (by the margin: two gateways near the floor never trade it back and
    forth) is not counted as heard here: this gateway neither claims it nor keeps it
    from the one that can write it. Heard faintly by every gateway, the best may own it.
    Likewise a label this gateway could not write in its last attempts
    (``cannot_write``) while another online gateway hears it above the floor, or
    clearly better than this one (by half the margin: heard faintly by all, the best
    should try): its claim says not heard, and that gateway takes it over within its
    claim delay."""
    if not device.online or device.rssi is None:
        return None
    rssi = device.rssi
    if device.kind is DeviceKind.LABEL:
        if cannot_write and any(r >= label_min_rssi or r > rssi + margin_db / 2 for r in others):
            return None
        if rssi < label_min_rssi and any(
            r >= label_min_rssi and r >= rssi + margin_db for r in others
        ):
            return None
    return rssi


def _status_state(payload: bytes) -> str | None:
    """``online`` or ``offline`` from a gateway's status message (None if unreadable)."""
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        return None
    state = body.get("state") if isinstance(body, dict) else None
    return state if state in ("online", "offline") else None


def _load(d: sqlite_utils.Database) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in d.execute("SELECT device_id, claim FROM owned_claims")]


def _save(d: sqlite_utils.Database, publish: Sequence[Claim], withdraw: Sequence[str]) -> None:
    d.conn.executemany(
        "INSERT OR REPLACE INTO owned_claims (device_id, claim) VALUES (?, ?)",
        [(c.device_id, c.dump().decode()) for c in publish],
    )
    d.conn.executemany("DELETE FROM owned_claims WHERE device_id = ?", [(i,) for i in withdraw])
