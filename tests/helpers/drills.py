"""What the reliability drills share: the gateway's drill configuration and the tally."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess


def config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(f"""
store_id = "drill-store"
gateway_id = "gw-1"
data_dir = "{tmp_path / "data"}"
[ble]
adapters = ["hci0"]
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = "5s"
reconnect_min = "0.2s"
reconnect_max = "1s"
[telemetry]
sample_interval = "1s"
batch_max_delay = "0.5s"
batch_max_readings = 20
[device_state]
min_interval = "1s"
status_heartbeat = "5s"
[web]
enabled = false
[logging]
level = "warning"
""")
    return path


STREAMS = ("telemetry", "events", "acks")


def outbox_ledger(data_dir: Path) -> tuple[dict[str, int], dict[str, set[int]]]:
    """From a stopped gateway's database: the last seq produced per stream, and the seqs
    still in its outbox (to be delivered after the next start, so not lost)."""
    db = data_dir / "gateway.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        produced = {
            key[len("seq.") :]: int(value)
            for key, value in conn.execute(
                "SELECT key, value FROM gateway_meta WHERE key LIKE 'seq.%'"
            )
        }
        pending: dict[str, set[int]] = {}
        for stream, seq in conn.execute("SELECT stream, seq FROM outbox WHERE seq IS NOT NULL"):
            pending.setdefault(stream, set()).add(int(seq))
    return produced, pending


def unexplained(cloud: Cloud, tmp_path: Path) -> dict[str, list[int]]:
    """Per stream, the seqs the stopped gateway produced that the cloud has not received,
    that are not in the outbox still and that were not reported dropped."""
    produced_by, pending_by = outbox_ledger(tmp_path / "data")
    return {
        stream: cloud.gaps(
            stream, upto=produced_by.get(stream, 0), pending=pending_by.get(stream, set())
        )
        for stream in STREAMS
    }


async def settle(cloud: Cloud, tmp_path: Path, timeout: float = 60) -> None:
    """Once the gateway has stopped: wait until the cloud has read what the broker already
    acknowledged to the gateway (the broker may still be handing it out)."""
    await cloud.until(
        lambda: not any(unexplained(cloud, tmp_path).values()), timeout, "the cloud caught up"
    )


def tally(cloud: Cloud, name: str, tmp_path: Path) -> None:
    """Print produced / delivered / pending / duplicates / lost per stream; lost must be 0.

    Call it once the gateway has stopped: "produced" is the gateway's own last seq, so
    a tail that never arrived counts as lost unless it is still in the outbox."""
    produced_by, pending_by = outbox_ledger(tmp_path / "data")
    for stream, lost in unexplained(cloud, tmp_path).items():
        got, dupes = cloud.seqs(stream)
        produced = produced_by.get(stream, 0)
        pending = pending_by.get(stream, set())
        print(
            f"{name}: {stream}: produced {produced} delivered {len(got)} "
            f"pending {len(pending)} duplicates {dupes} lost {len(lost)}"
        )
        assert lost == [], (stream, lost[:20])
        assert max(got, default=0) <= produced, (stream, "received a seq never produced")
    assert cloud.violations == [], cloud.violations[:5]


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    bus_address: str,
    broker_port: int,
    gateway_port: int | None = None,
    cfg: Path | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[GatewayProcess, Cloud]]:
    """The cloud checker on the broker and the gateway as a process (reaching the broker
    at ``gateway_port`` if given: a proxy). Leaving the block normally stops the
    gateway (it must exit 0) and waits until the cloud has read everything; the cloud
    and the gateway are stopped in any case. Tally after the block."""
    cloud = Cloud(broker_port)
    cloud.start()
    gateway = GatewayProcess(
        cfg or config(tmp_path, gateway_port or broker_port),
        bus_address,
        tmp_path / "gw.log",
        env,
    )
    gateway.start()
    try:
        yield gateway, cloud
        assert await asyncio.to_thread(gateway.stop) == 0
        await settle(cloud, tmp_path)
    finally:
        gateway.ensure_stopped()
        cloud.stop()
