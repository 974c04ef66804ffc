from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.bridge import payloads
from gateway.bridge.outbox import HISTORICAL_AFTER_S, Outbox, Outgoing
from gateway.contract import schema_errors
from gateway.contract.topics import Topics
from gateway.store import Database
from gateway.timeutil import Instant

IDENT = payloads.Identity("store-0042", "gw-1")
TOPICS = Topics("retail/v1", "store-0042", "gw-1")


class Clock:
    """The wall clock (``t``) and this boot's clock, moved by the test."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0
        self.boot = "boot-1"
        self.since_boot = 3_600.0

    def __call__(self) -> Instant:
        return Instant(self.t, self.boot, self.since_boot)

    def advance(self, seconds: float) -> None:
        """Time passes: both clocks move."""
        self.t += seconds
        self.since_boot += seconds

    def reboot(self, up_for: float = 30.0) -> None:
        self.boot = f"boot-{int(self.boot.split('-')[1]) + 1}"
        self.since_boot = up_for


def telemetry(i: int, clock: Clock, size: int = 1) -> Outgoing:
    readings = [("c4d912ab0f31", clock.t, "temperature_c", float(i))] * size
    return Outgoing("telemetry", TOPICS.telemetry, payloads.telemetry(IDENT, readings, clock.t))


def event(clock: Clock, msg: str = "x") -> Outgoing:
    body = payloads.event(
        IDENT,
        type="device.new",
        severity="info",
        message=msg,
        now=clock.t,
        device_id="c4d912ab0f31",
    )
    return Outgoing("events", TOPICS.events, body)


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(tmp_path / "gw.db")
    await database.open()
    yield database
    await database.close()


async def drain(box: Outbox) -> list[dict]:  # type: ignore[type-arg]
    out = []
    while batch := await box.next_batch(100):
        out += [json.loads(m.wire_payload(box._clock())) for m in batch]
        await box.delivered([m.id for m in batch])
    return out


async def test_seq_and_msg_id_per_stream_survive_restart(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={}, clock=clock)
    await box.open()
    await box.produce([telemetry(1, clock), event(clock), telemetry(2, clock)])
    got = await drain(box)
    assert [(m["schema"], m["seq"]) for m in got] == [
        ("event/1", 1),
        ("telemetry/1", 1),
        ("telemetry/1", 2),
    ]
    assert len({m["msg_id"] for m in got}) == 3
    for m in got:
        name = "event" if m["schema"] == "event/1" else "telemetry"
        assert schema_errors(name, m) == []
    box2 = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={}, clock=clock)
    await box2.open()
    await box2.produce([telemetry(3, clock)])
    assert [m["seq"] for m in await drain(box2)] == [3]


async def test_device_state_is_conflated_and_seq_increases(db: Database) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={}, clock=clock)
    await box.open()
    for i in range(3):
        await box.produce(
            [
                Outgoing(
                    "state",
                    TOPICS.device_state("aa"),
                    {"n": i},
                    retain=True,
                    conflate="state:aa",
                    device_id="aa",
                )
            ]
        )
    assert box.status.pending == 1
    [only] = await box.next_batch(10)
    assert json.loads(only.payload) == {"n": 2, "seq": 3} and only.retain


async def test_in_flight_state_is_not_replaced(db: Database) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={}, clock=clock)
    await box.open()
    state = Outgoing("state", "t", {"n": 1}, retain=True, conflate="state:aa", device_id="aa")
    await box.produce([state])
    [first] = await box.next_batch(10)
    box.sending(first.id)
    await box.produce([Outgoing("state", "t", {"n": 2}, True, "state:aa", "aa")])
    assert box.status.pending == 2


async def test_buffer_full_evicts_oldest_telemetry_and_reports_ranges(db: Database) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=20_000, ttl={}, clock=clock)
    await box.open()
    for i in range(1, 201):
        await box.produce([telemetry(i, clock)])
        if i % 50 == 0:
            await box.produce([event(clock, f"e{i}")])
    got = await drain(box)
    tele = [m["seq"] for m in got if m["schema"] == "telemetry/1"]
    events = [m for m in got if m["schema"] == "event/1"]
    dropped = [e for e in events if e["type"] == "gateway.data-dropped"]
    lost = set(range(1, 201)) - set(tele)
    assert lost and max(lost) < min(tele)  # the oldest went first
    reported = {s for e in dropped for a, b in e["dropped"]["ranges"] for s in range(a, b + 1)}
    assert reported == lost
    assert [e["message"] for e in events if e["type"] == "device.new"] == [
        "e50",
        "e100",
        "e150",
        "e200",
    ]
    assert sorted(e["seq"] for e in events) == list(range(1, len(events) + 1))
    for e in dropped:
        assert schema_errors("event", e) == []


async def test_hard_cap_refuses_telemetry_but_keeps_events(db: Database) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=4_000, ttl={}, clock=clock)
    await box.open()
    for _ in range(40):
        await box.produce([event(clock, "x" * 200)])
    before = box.status.pending
    await box.produce([telemetry(1, clock)])
    assert box.status.pending == before and box.status.refused == 1
    await box.produce([event(clock)])
    assert box.status.pending == before + 1


async def test_oversized_message_goes_to_dead_letters_without_a_gap(db: Database) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={}, clock=clock)
    await box.open()
    await box.produce([telemetry(1, clock), telemetry(2, clock, size=3000), telemetry(3, clock)])
    assert [m["seq"] for m in await drain(box)] == [1, 2]
    assert box.status.dead == 1


async def test_ttl_expiry_is_reported(db: Database) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={"telemetry": 60.0}, clock=clock)
    await box.open()
    await box.produce([telemetry(1, clock), telemetry(2, clock)])
    clock.advance(120)
    await box.produce([telemetry(3, clock)])
    assert await box.expire() == 2
    got = await drain(box)
    [ev] = [m for m in got if m["schema"] == "event/1"]
    assert ev["dropped"] == {"stream": "telemetry", "ranges": [[1, 2]], "reason": "expired"}


async def test_historical_flag(db: Database) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={}, clock=clock)
    await box.open()
    box.connected = True
    await box.produce([telemetry(1, clock)])
    box.connected = False
    await box.produce([telemetry(2, clock)])
    box.connected = True
    await box.produce([telemetry(3, clock)])
    batch = await box.next_batch(10)
    flags = [json.loads(m.wire_payload(clock()))["historical"] for m in batch]
    assert flags == [False, True, False]
    clock.advance(HISTORICAL_AFTER_S + 1)
    later = [json.loads(m.wire_payload(clock()))["historical"] for m in batch]
    assert later == [True, True, True]


async def test_ages_within_a_boot_ignore_wall_clock_steps(db: Database) -> None:
    """A box without a real-time clock is stepped forward by NTP, days after boot: what
    it buffered a minute ago is neither expired nor historical, and its age stays a
    minute; stepped back, an old message still counts as old."""
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={"telemetry": 3_600.0}, clock=clock)
    await box.open()
    box.connected = True
    await box.produce([telemetry(1, clock)])
    clock.advance(5)
    clock.t += 8 * 86_400  # the wall clock steps eight days ahead
    assert await box.expire() == 0
    [m] = await box.next_batch(10)
    assert json.loads(m.wire_payload(clock()))["historical"] is False
    assert box.view()["oldest_age_s"] == 5.0
    clock.t -= 30 * 86_400  # and a month back
    clock.advance(HISTORICAL_AFTER_S)
    assert json.loads(m.wire_payload(clock()))["historical"] is True
    assert box.view()["oldest_age_s"] == 5.0 + HISTORICAL_AFTER_S
    clock.advance(3_600)  # an hour of the boot's clock: past the TTL
    assert await box.expire() == 1


async def test_ages_across_a_reboot_and_from_older_rows_use_the_wall_clock(
    db: Database,
) -> None:
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={"telemetry": 3_600.0}, clock=clock)
    await box.open()
    await box.produce([telemetry(1, clock), telemetry(2, clock)])
    # Row 2 as written before the boot clock was recorded (schema 7).
    await db.run(
        lambda d: d.execute("UPDATE outbox SET boot = NULL, since_boot = NULL WHERE seq = 2")
    )
    clock.reboot()
    clock.t += 1_800  # half an hour later by the wall clock
    box = Outbox(db, IDENT, TOPICS, max_bytes=10**7, ttl={"telemetry": 3_600.0}, clock=clock)
    await box.open()
    assert box.view()["oldest_age_s"] == 1_800.0
    assert await box.expire() == 0
    clock.t += 1_801
    assert await box.expire() == 2


async def test_counts_change_only_with_the_commit(db: Database) -> None:
    """The in-memory counts follow the database: a transaction that rolls back after
    producing leaves them as they were; one that commits moves them."""
    clock = Clock()
    box = Outbox(db, IDENT, TOPICS, max_bytes=1 << 20, ttl={}, clock=clock)
    await box.open()

    def produce_then_fail(d: object) -> None:
        box.produce_in(d, [telemetry(1, clock), event(clock)])  # type: ignore[arg-type]
        raise RuntimeError("the caller's own rows failed")

    with pytest.raises(RuntimeError):
        await db.run(produce_then_fail)
    assert (box.status.pending, box.status.bytes) == (0, 0)
    assert await db.read(lambda d: d.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]) == 0
    await db.run(lambda d: box.produce_in(d, [telemetry(1, clock), event(clock)]))
    assert box.status.pending == 2 and box.status.bytes > 0
