"""Outbox benchmarks.

- commit: messages/s produced into the outbox (batches of 500 per transaction,
  synchronous=FULL) beside a bare sqlite3 insert loop with the same batching;
- drain: messages/s from a 100,000-message backlog to a local mosquitto at
  QoS 1 through the publisher's in-flight window, beside a bare paho loop that
  publishes the same count at QoS 1 with the same window;
- recovery: the time to deliver what a 1,000-sensor store buffers during a
  1-hour outage (three readings per sensor every 60 s, in telemetry batches of
  500 readings), beside a bare paho loop publishing the same payloads.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.bench.harness import Run, Table, run_bench
from gateway.bridge import payloads
from gateway.bridge.mqtt import MqttConnection, MqttOptions, Will
from gateway.bridge.outbox import Outbox, Outgoing
from gateway.bridge.publisher import Publisher
from gateway.contract.topics import Topics
from gateway.store import Database

IDENT = payloads.Identity("bench-store", "gw-1")
TOPICS = Topics("retail/v1", "bench-store", "gw-1")
BATCH = 500
WINDOW = 200


def _message(i: int) -> Outgoing:
    body = payloads.telemetry(
        IDENT, [("c4d912ab0f31", time.time(), "temperature_c", i * 0.01)], time.time()
    )
    return Outgoing("telemetry", TOPICS.telemetry, body)


async def _fill(db_path: Path, count: int) -> tuple[float, Outbox, Database]:
    db = Database(db_path, synchronous="full")
    await db.open()
    box = Outbox(db, IDENT, TOPICS, max_bytes=2**40, ttl={})
    await box.open()
    batches = [
        [_message(i) for i in range(start, min(count, start + BATCH))]
        for start in range(0, count, BATCH)
    ]
    t0 = time.perf_counter()
    for batch in batches:
        await box.produce(batch)
    return count / (time.perf_counter() - t0), box, db


def _bare_sqlite(path: Path, count: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, topic TEXT, payload BLOB)")
    payload = b'{"schema":"telemetry/1",' + b"x" * 250 + b"}"
    t0 = time.perf_counter()
    for start in range(0, count, BATCH):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO t (topic, payload) VALUES (?, ?)",
            [("t", payload)] * min(BATCH, count - start),
        )
        conn.execute("COMMIT")
    rate = count / (time.perf_counter() - t0)
    conn.close()
    return rate


def _bare_paho(
    port: int, count: int, payloads_: list[bytes] | None = None, *, with_connect: bool = False
) -> float:
    """Messages/s of a bare paho QoS 1 loop (``with_connect``: the clock starts before
    connecting, as a gateway's recovery starts with its reconnect)."""
    t_connect = time.perf_counter()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = 0
    window = threading.Semaphore(WINDOW)

    def on_publish(*_: Any) -> None:
        nonlocal acked
        acked += 1
        window.release()
        if acked == count:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    bodies = payloads_ or [b'{"schema":"telemetry/1",' + b"x" * 250 + b"}"]
    t0 = t_connect if with_connect else time.perf_counter()
    for i in range(count):
        window.acquire()
        client.publish("bench/bare", bodies[i % len(bodies)], qos=1)
    done.wait(300)
    rate = count / (time.perf_counter() - t0)
    client.disconnect()
    client.loop_stop()
    return rate


async def _drain(box: Outbox, port: int) -> float:
    options = MqttOptions(host="127.0.0.1", port=port, client_id="bench-gw", inflight=WINDOW)
    will = Will(TOPICS.status, b"{}")
    publisher: Publisher | None = None

    async def on_connected() -> None:
        assert publisher is not None
        box.connected = True
        publisher.online()

    async def ignore(_: Any) -> None:
        return None

    conn = MqttConnection(options, lambda: will, [], ignore, on_connected, lambda _: None)
    publisher = Publisher(box, conn, WINDOW)
    total = box.status.pending
    tasks = [asyncio.create_task(conn.run()), asyncio.create_task(publisher.run())]
    t0 = time.perf_counter()
    while box.status.pending > 0:
        await asyncio.sleep(0.05)
    rate = total / (time.perf_counter() - t0)
    for t in tasks:
        t.cancel()
    return rate


SENSORS = 1000
METRICS = ("temperature_c", "humidity_pct", "battery_pct")
SAMPLE_S = 60
OUTAGE_S = 3600
READINGS_PER_BATCH = 500


def _outage_backlog(now: float, sensors: int) -> list[Outgoing]:
    readings = [
        (f"c4{n:010x}", now - OUTAGE_S + k * SAMPLE_S, metric, 20.0 + n % 7 + k * 0.01)
        for k in range(OUTAGE_S // SAMPLE_S)
        for n in range(sensors)
        for metric in METRICS
    ]
    return [
        Outgoing(
            "telemetry",
            TOPICS.telemetry,
            payloads.telemetry(IDENT, readings[i : i + READINGS_PER_BATCH], now),
        )
        for i in range(0, len(readings), READINGS_PER_BATCH)
    ]


async def _recovery(work: Path, port: int, sensors: int) -> list[dict[str, Any]]:
    backlog = _outage_backlog(time.time(), sensors)
    db = Database(work / "recovery.db", synchronous="full")
    await db.open()
    box = Outbox(db, IDENT, TOPICS, max_bytes=2**40, ttl={})
    await box.open()
    for start in range(0, len(backlog), 50):
        await box.produce(backlog[start : start + 50])
    size = sum(len(json.dumps(m.body)) for m in backlog)
    t0 = time.perf_counter()
    await _drain(box, port)
    recovery = time.perf_counter() - t0
    await db.close()
    bodies = [json.dumps(m.body).encode() for m in backlog]
    rate = await asyncio.to_thread(_bare_paho, port, len(bodies), bodies, with_connect=True)
    bare = len(bodies) / rate
    return [
        {
            "figure": f"1-h outage backlog of {sensors:,} sensors: messages",
            "value": len(backlog),
            "unit": f"msgs ({size / 2**20:.1f} MiB)",
        },
        {
            "figure": "recovery time (backlog delivered after the broker is back)",
            "value": recovery,
            "unit": "s",
            "baseline": "bare paho connecting and publishing the same payloads",
            "baseline_value": bare,
            "ratio": recovery / bare,
        },
    ]


async def _main(run: Run, count: int, sensors: int) -> list[Table]:
    work = run.work
    run.at(f"committing {count:,} messages (and a bare sqlite loop)")
    bare_commit = _bare_sqlite(work / "bare.db", count)
    commit, box, db = await _fill(work / "gw.db", count)
    tables: list[Table] = [
        (
            "outbox-commit",
            [
                {
                    "figure": f"messages/s committed ({count:,}, batches of {BATCH})",
                    "value": commit,
                    "unit": "msg/s",
                    "baseline": "bare sqlite insert loop",
                    "baseline_value": bare_commit,
                    "ratio": bare_commit / commit,
                },
            ],
        )
    ]
    binary = shutil.which("mosquitto")
    if binary is None:
        raise RuntimeError("mosquitto is not installed (Debian package: mosquitto)")
    from gateway.bench.rig.broker import free_port

    port = free_port()
    conf = work / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n")
    proc = await asyncio.create_subprocess_exec(
        binary, "-c", str(conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await asyncio.sleep(0.5)
    try:
        run.at(f"draining {count:,} messages (and a bare paho loop)")
        bare = await asyncio.to_thread(_bare_paho, port, count)
        drain = await _drain(box, port)
        run.at(f"recovering from a 1-hour outage of {sensors:,} sensors")
        recovery = await _recovery(work, port, sensors)
    finally:
        proc.terminate()
        await proc.wait()
        await db.close()
    tables.append(
        (
            "outbox-drain",
            [
                {
                    "figure": f"drain rate, {count:,}-message backlog, QoS 1, window {WINDOW}",
                    "value": drain,
                    "unit": "msg/s",
                    "baseline": "bare paho QoS 1 publish loop",
                    "baseline_value": bare,
                    "ratio": bare / drain,
                },
            ],
        )
    )
    tables.append(("outbox-recovery", recovery))
    return tables


def body(run: Run) -> list[Table]:
    count = 5_000 if run.smoke else int(run.args[0]) if run.args else 100_000
    return asyncio.run(_main(run, count, 50 if run.smoke else SENSORS))


def main(argv: list[str]) -> int:
    return run_bench("outbox", body, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
