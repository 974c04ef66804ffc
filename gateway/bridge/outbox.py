"""The durable outbox: a message is produced once committed, deleted once PUBACKed.

Every gateway -> cloud message goes through here. At production (one SQLite
transaction per batch, on the database's writer thread) a reliable-stream
message gets its ``msg_id`` and its per-stream ``seq`` (read and advanced in
the same transaction, so a crash can never leave a gap); a device state gets
its per-device ``seq`` and replaces an unsent older state of the same device
(conflation); status is conflated the same way.

Capacity (the contract's policy): above ``max_bytes`` the oldest telemetry is
evicted to make room, never events or acks; above the hard cap
(``HARD_CAP_FACTOR`` x ``max_bytes``) new telemetry and device states are
refused. Every eviction produces a ``gateway.data-dropped`` event naming the
exact seq ranges lost, in the same transaction. Messages past their stream's
TTL are dropped and reported the same way. A message that can never be
published (over 128 KiB) goes to the dead-letter table instead.

``historical`` is decided when a message is sent: true if it was produced
while the broker was unreachable or is older than ``HISTORICAL_AFTER_S``.

Ages (TTL, ``historical``, the oldest message's age) are measured on this
boot's clock for messages produced in this boot, on the wall clock otherwise
(:class:`gateway.timeutil.Instant`): a wall clock stepped by days does not
expire what was buffered a minute ago.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlite_utils
import structlog

from gateway.bridge import meta, payloads
from gateway.contract.events import Event
from gateway.contract.topics import Topics
from gateway.store import Database
from gateway.timeutil import Instant, now_instant

log = structlog.get_logger("gateway.bridge")

Stream = Literal["status", "acks", "events", "state", "telemetry"]
RELIABLE: frozenset[str] = frozenset({"telemetry", "events", "acks"})
PRIORITY: dict[str, int] = {"status": 0, "acks": 0, "events": 1, "state": 2, "telemetry": 3}
MAX_PAYLOAD = 128 * 1024
HARD_CAP_FACTOR = 1.25
HISTORICAL_AFTER_S = 10.0
DELETE_CHUNK = 500  # ids per statement
_INSERT = (
    "INSERT INTO outbox (stream, priority, topic, payload, retain, seq, conflate, created, "
    "boot, since_boot, offline, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LIVE = b'"historical":false'
_HISTORICAL = b'"historical":true'


@dataclass(frozen=True, slots=True)
class Outgoing:
    stream: Stream
    topic: str
    body: dict[str, Any]
    retain: bool = False
    conflate: str | None = None  # status / device state: newest per key wins
    device_id: str | None = None  # device state: the per-device seq


@dataclass(frozen=True, slots=True)
class Produced:
    """When a buffered message was produced, on both clocks (rows from before the
    boot clock was recorded have ``boot`` and ``since_boot`` None)."""

    created: float
    boot: str | None = None
    since_boot: float | None = None

    @classmethod
    def at(cls, now: Instant) -> Produced:
        return cls(now.wall, now.boot, now.since_boot)

    def age(self, now: Instant) -> float:
        return now.age_of(self.created, self.boot, self.since_boot)


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    stream: str
    topic: str
    payload: bytes
    retain: bool
    produced: Produced
    offline: bool

    def wire_payload(self, now: Instant) -> bytes:
        if self.offline or self.produced.age(now) > HISTORICAL_AFTER_S:
            return self.payload.replace(_LIVE, _HISTORICAL, 1)
        return self.payload


@dataclass
class OutboxStatus:
    pending: int = 0
    bytes: int = 0
    dropped: int = 0
    refused: int = 0
    dead: int = 0
    oldest: Produced | None = None


def _dump(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _oldest(d: sqlite_utils.Database) -> Produced | None:
    """The oldest buffered message's production (the lowest id: rows are only ever
    appended, a conflated row is replaced by a new one)."""
    row = d.execute("SELECT created, boot, since_boot FROM outbox ORDER BY id LIMIT 1").fetchone()
    return None if row is None else Produced(float(row[0]), row[1], row[2])


def _ranges(seqs: Sequence[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


class Outbox:
    def __init__(
        self,
        db: Database,
        identity: payloads.Identity,
        topics: Topics,
        *,
        max_bytes: int,
        ttl: Mapping[str, float],
        clock: Callable[[], Instant] = now_instant,
    ) -> None:
        self._db = db
        self.identity = identity
        self.topics = topics
        self.max_bytes = max_bytes
        self._ttl = dict(ttl)
        self._clock = clock
        # Counts as of the last commit; a transaction works on a staged copy that replaces
        # them once it has committed (a rolled-back one changes nothing).
        self.status = OutboxStatus()
        self._staged: OutboxStatus | None = None
        self.connected = False
        self._inflight: set[int] = set()  # ids published and awaiting PUBACK (loop thread)
        self._protected: frozenset[int] = frozenset()  # snapshot for the writer thread
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> Instant:
        return self._clock()

    # ---- in flight (the publisher says; the outbox keeps) --------------------------------

    def sending(self, message_id: int) -> None:
        """Published, awaiting its PUBACK: not offered again, not evicted, not conflated."""
        self._inflight.add(message_id)

    def unsent(self, message_id: int) -> None:
        """Its publish failed or its connection ended: it may go out again."""
        self._inflight.discard(message_id)

    def connection_ended(self) -> None:
        """Whatever was in flight goes out again on the next connection."""
        self._inflight.clear()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def _stage(self) -> OutboxStatus:
        """The status this transaction changes (writer thread); committed with it."""
        if self._staged is None:
            staged = self._staged = dataclasses.replace(self.status)

            def done(committed: bool) -> None:
                if committed:
                    self.status = staged
                self._staged = None

            self._db.when_done(done)
        return self._staged

    async def open(self) -> None:
        def load(d: sqlite_utils.Database) -> tuple[int, int, Produced | None, int]:
            row = d.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM outbox").fetchone()
            dead = d.execute("SELECT COUNT(*) FROM outbox_dead").fetchone()[0]
            return int(row[0]), int(row[1]), _oldest(d), int(dead)

        pending, size, oldest, dead = await self._db.read(load)
        self.status = OutboxStatus(pending=pending, bytes=size, oldest=oldest, dead=dead)

    # ---- producing ---------------------------------------------------------------------

    async def produce(self, items: Sequence[Outgoing]) -> None:
        """Store ``items`` durably (one transaction). Returns once committed."""
        if not items:
            return
        self._protected = frozenset(self._inflight)
        await self._db.run(lambda d: self._produce(d, items))
        self.produced()

    def on_produced(self, listener: Callable[[], None]) -> None:
        """``listener()`` is called after each commit of new messages (the publisher wakes)."""
        self._listeners.append(listener)

    async def produce_acks(
        self, bodies: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Acks (and the events that go with them, e.g. command.rejected) in one transaction."""
        await self.produce(
            [Outgoing("acks", self.topics.acks, b) for b in bodies]
            + [Outgoing("events", self.topics.events, e) for e in events]
        )

    def produce_in(self, d: sqlite_utils.Database, items: Sequence[Outgoing]) -> None:
        """Produce inside the caller's transaction (on the writer thread), so that the
        messages commit together with the caller's own rows, or not at all. Once it
        committed, the caller calls :meth:`produced` (the publisher wakes)."""
        self._produce(d, items)

    def write_in(self, d: sqlite_utils.Database, events: Sequence[Event]) -> None:
        """Events committed with the caller's own rows (``EventsIn``; then
        :meth:`written`)."""
        self._produce(d, [self.event_item(e) for e in events])

    def written(self) -> None:
        self.produced()

    def event_item(self, event: Event) -> Outgoing:
        """What a component described, as the ``event/1`` message on the events topic."""
        return Outgoing("events", self.topics.events, payloads.of_event(self.identity, event))

    def produced(self) -> None:
        """Messages produced with :meth:`produce_in` were committed: publish them now."""
        for listener in self._listeners:
            listener()

    def _produce(self, d: sqlite_utils.Database, items: Sequence[Outgoing]) -> None:
        instant = self._clock()
        now = instant.wall
        conn = d.conn
        seqs = meta.seqs(d, RELIABLE)
        st = self._stage()
        dropped_events: list[Outgoing] = []
        plain: list[tuple[object, ...]] = []
        offline = int(not self.connected)
        for item in items:
            body = dict(item.body)
            seq: int | None = None
            if item.stream in RELIABLE:
                body["msg_id"] = str(uuid.uuid4())
            if item.stream == "state":
                assert item.device_id is not None
                row = conn.execute(
                    "SELECT seq FROM device_seq WHERE device_id = ?", [item.device_id]
                ).fetchone()
                seq = (int(row[0]) if row else 0) + 1
                conn.execute(
                    "INSERT OR REPLACE INTO device_seq (device_id, seq) VALUES (?, ?)",
                    [item.device_id, seq],
                )
                body["seq"] = seq
            if item.stream in RELIABLE:
                seqs[item.stream] += 1
                seq = seqs[item.stream]
                body["seq"] = seq
            payload = _dump(body)
            if len(payload) > MAX_PAYLOAD:
                if item.stream in RELIABLE:
                    seqs[item.stream] -= 1  # not spent: no gap for a message never queued
                self._dead(d, item, payload, seq, "payload over 128 KiB", now)
                continue
            if not self._make_room(d, item.stream, len(payload), seqs, dropped_events, now):
                if item.stream in RELIABLE:
                    seqs[item.stream] -= 1
                st.refused += 1
                continue
            if item.conflate is None:
                plain.append(
                    (
                        item.stream,
                        PRIORITY[item.stream],
                        item.topic,
                        payload,
                        int(item.retain),
                        seq,
                        None,
                        now,
                        instant.boot,
                        instant.since_boot,
                        offline,
                        len(payload),
                    )
                )
                st.pending += 1
                st.bytes += len(payload)
            else:
                self._insert(d, item, payload, seq, instant)
        if plain:
            conn.executemany(_INSERT, plain)
            if st.oldest is None:
                st.oldest = Produced.at(instant)
        self._report_drops(d, dropped_events, seqs, instant)
        meta.set_seqs(d, seqs)

    def _report_drops(
        self,
        d: sqlite_utils.Database,
        events: Sequence[Outgoing],
        seqs: dict[str, int],
        now: Instant,
    ) -> None:
        """Add data-dropped events; an unsent one for the same stream is extended instead,
        so a long outage yields one report with many ranges, not thousands of reports."""
        for ev in events:
            stream = ev.body["dropped"]["stream"]
            key = f"dropped:{stream}:{ev.body['dropped']['reason']}"
            row = d.conn.execute(
                "SELECT id, payload, bytes FROM outbox WHERE conflate = ?", [key]
            ).fetchone()
            if row is not None and int(row[0]) not in self._protected:
                body = json.loads(row[1])
                seen = [s for a, b in body["dropped"]["ranges"] for s in range(a, b + 1)]
                new = [s for a, b in ev.body["dropped"]["ranges"] for s in range(a, b + 1)]
                body["dropped"]["ranges"] = _ranges(seen + new)
                body["message"] = (
                    f"{body['dropped']['reason']}: dropped {len(seen) + len(new)} {stream} messages"
                )
                payload = _dump(body)
                d.conn.execute(
                    "UPDATE outbox SET payload = ?, bytes = ? WHERE id = ?",
                    [payload, len(payload), row[0]],
                )
                self._stage().bytes += len(payload) - int(row[2])
                continue
            seqs["events"] += 1
            body = {**ev.body, "msg_id": str(uuid.uuid4()), "seq": seqs["events"]}
            self._insert(
                d,
                Outgoing("events", ev.topic, body, conflate=key),
                _dump(body),
                seqs["events"],
                now,
            )

    def _insert(
        self,
        d: sqlite_utils.Database,
        item: Outgoing,
        payload: bytes,
        seq: int | None,
        now: Instant,
    ) -> None:
        st = self._stage()
        if item.conflate is not None:
            old = d.conn.execute(
                "SELECT id, bytes FROM outbox WHERE conflate = ?", [item.conflate]
            ).fetchone()
            if old is not None and int(old[0]) not in self._protected:
                d.conn.execute("DELETE FROM outbox WHERE id = ?", [old[0]])
                st.pending -= 1
                st.bytes -= int(old[1])
            elif old is not None:
                # The older one is on the wire: keep it, and let the new one follow.
                d.conn.execute("UPDATE outbox SET conflate = NULL WHERE id = ?", [old[0]])
        d.conn.execute(
            _INSERT,
            [
                item.stream,
                PRIORITY[item.stream],
                item.topic,
                payload,
                int(item.retain),
                seq,
                item.conflate,
                now.wall,
                now.boot,
                now.since_boot,
                int(not self.connected),
                len(payload),
            ],
        )
        st.pending += 1
        st.bytes += len(payload)
        if st.oldest is None:
            st.oldest = Produced.at(now)

    def _make_room(
        self,
        d: sqlite_utils.Database,
        stream: str,
        size: int,
        seqs: dict[str, int],
        dropped_events: list[Outgoing],
        now: float,
    ) -> bool:
        st = self._stage()
        if st.bytes + size <= self.max_bytes:
            return True
        if stream in ("telemetry", "state") and st.bytes + size > self.max_bytes * HARD_CAP_FACTOR:
            return False
        need = st.bytes + size - self.max_bytes
        rows = d.conn.execute(
            "SELECT id, seq, bytes FROM outbox WHERE stream = 'telemetry' ORDER BY id LIMIT ?",
            [max(64, len(self._protected) + 64)],
        ).fetchall()
        evicted: list[int] = []
        freed = 0
        for row_id, seq, nbytes in rows:
            if freed >= need:
                break
            if row_id in self._protected:
                continue
            d.conn.execute("DELETE FROM outbox WHERE id = ?", [row_id])
            evicted.append(int(seq))
            freed += int(nbytes)
            st.pending -= 1
            st.bytes -= int(nbytes)
        if evicted:
            st.dropped += len(evicted)
            dropped_events.append(self._dropped_event(evicted, "buffer-full", now))
        if st.bytes + size <= self.max_bytes:
            return True
        # Nothing (more) to evict: events and acks still go in up to the hard cap.
        return stream not in ("telemetry", "state")

    def _dropped_event(self, seqs: Sequence[int], reason: str, now: float) -> Outgoing:
        ranges = _ranges(seqs)
        body = payloads.event(
            self.identity,
            type="gateway.data-dropped",
            severity="warning",
            message=f"{reason}: dropped {len(seqs)} telemetry messages",
            now=now,
            dropped={"stream": "telemetry", "ranges": ranges, "reason": reason},
        )
        return Outgoing("events", self.topics.events, body)

    def _dead(
        self,
        d: sqlite_utils.Database,
        item: Outgoing,
        payload: bytes,
        seq: int | None,
        reason: str,
        now: float,
    ) -> None:
        d.conn.execute(
            "INSERT INTO outbox_dead (stream, topic, payload, seq, created, reason, dead_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [item.stream, item.topic, payload, seq, now, reason, now],
        )
        self._stage().dead += 1
        log.error("message can never be published", stream=item.stream, reason=reason)

    # ---- sending ------------------------------------------------------------------------

    async def next_batch(self, limit: int) -> list[Queued]:
        """Up to ``limit`` ready messages by priority then age, skipping those in flight."""
        skip = set(self._inflight)

        def fetch(d: sqlite_utils.Database) -> list[Queued]:
            rows = d.conn.execute(
                "SELECT id, stream, topic, payload, retain, created, boot, since_boot, offline "
                "FROM outbox ORDER BY priority, id LIMIT ?",
                [limit + len(skip)],
            ).fetchall()
            return [
                Queued(
                    int(r[0]),
                    r[1],
                    r[2],
                    bytes(r[3]),
                    bool(r[4]),
                    Produced(float(r[5]), r[6], r[7]),
                    bool(r[8]),
                )
                for r in rows
                if int(r[0]) not in skip
            ][:limit]

        return await self._db.read(fetch)

    async def delivered(self, ids: Sequence[int]) -> None:
        """PUBACKs arrived: delete in one transaction."""
        if not ids:
            return

        def delete(d: sqlite_utils.Database) -> None:
            for start in range(0, len(ids), DELETE_CHUNK):
                # The ids as one JSON array: one statement text whatever their number (with
                # one "?" per id, SQLite's statement cache kept up to 128 texts of ~30 KB).
                chunk = json.dumps(list(ids[start : start + DELETE_CHUNK]))
                size, count = d.conn.execute(
                    "SELECT COALESCE(SUM(bytes), 0), COUNT(*) FROM outbox "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (chunk,),
                ).fetchone()
                d.conn.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", (chunk,)
                )
                st = self._stage()
                st.bytes -= int(size)
                st.pending -= int(count)
            self._stage().oldest = _oldest(d)

        await self._db.run(delete)

    async def forget_state(self, device_id: str) -> None:
        """The device changed owner: its state still waiting here is not ours to send
        (one already in flight goes; the cloud keeps the higher epoch anyway)."""
        protected = frozenset(self._inflight)

        def forget(d: sqlite_utils.Database) -> None:
            rows = d.conn.execute(
                "SELECT id, bytes FROM outbox WHERE conflate = ?", [f"state:{device_id}"]
            ).fetchall()
            rows = [r for r in rows if int(r[0]) not in protected]
            if not rows:
                return
            d.conn.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in rows])
            st = self._stage()
            st.pending -= len(rows)
            st.bytes -= sum(int(r[1]) for r in rows)
            st.oldest = _oldest(d)

        await self._db.run(forget)

    async def bury(self, message: Queued, reason: str) -> None:
        """The broker refused a message for good: move it to the dead letters."""

        def move(d: sqlite_utils.Database) -> None:
            d.conn.execute(
                "INSERT INTO outbox_dead (stream, topic, payload, seq, created, reason, dead_at) "
                "SELECT stream, topic, payload, seq, created, ?, ? FROM outbox WHERE id = ?",
                [reason, self._clock().wall, message.id],
            )
            d.conn.execute("DELETE FROM outbox WHERE id = ?", [message.id])
            st = self._stage()
            st.pending -= 1
            st.bytes -= len(message.payload)
            st.dead += 1

        await self._db.run(move)

    async def expire(self) -> int:
        """Drop messages past their stream's TTL; telemetry losses are reported as such.

        This boot's messages are aged on the time since boot, older ones on the wall clock."""
        now = self._clock()
        self._protected = frozenset(self._inflight)

        def purge(d: sqlite_utils.Database) -> int:
            removed = 0
            seqs = meta.seqs(d, RELIABLE)
            events: list[Outgoing] = []
            for stream, ttl in self._ttl.items():
                rows = d.conn.execute(
                    "SELECT id, seq, bytes FROM outbox WHERE stream = ? AND ("
                    "(boot = ? AND since_boot IS NOT NULL AND since_boot < ?) OR "
                    "((boot IS NOT ? OR since_boot IS NULL) AND created < ?))",
                    [stream, now.boot, now.since_boot - ttl, now.boot, now.wall - ttl],
                ).fetchall()
                rows = [r for r in rows if r[0] not in self._protected]
                if not rows:
                    continue
                d.conn.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in rows])
                st = self._stage()
                st.pending -= len(rows)
                st.bytes -= sum(int(r[2]) for r in rows)
                removed += len(rows)
                if stream in RELIABLE:
                    st.dropped += len(rows)
                    ev = self._dropped_event([int(r[1]) for r in rows], "expired", now.wall)
                    ev.body["dropped"]["stream"] = stream
                    ev.body["message"] = f"expired: dropped {len(rows)} {stream} messages"
                    events.append(ev)
            self._report_drops(d, events, seqs, now)
            meta.set_seqs(d, seqs)
            return removed

        return await self._db.run(purge)

    def view(self) -> dict[str, Any]:
        st, now = self.status, self._clock()
        oldest = (
            None if st.oldest is None or st.pending == 0 else max(0.0, round(st.oldest.age(now), 3))
        )
        return {
            "pending": max(0, st.pending),
            "bytes": max(0, st.bytes),
            "dropped": st.dropped + st.refused,
            "oldest_age_s": oldest,
        }
