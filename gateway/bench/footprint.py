"""Footprint: memory with 10,000 devices, idle CPU, time to READY.

- RSS with 10,000 devices in the registry (decoded through the real ingest path),
  beside the same process with the gateway loaded and an empty registry;
- idle CPU of the whole daemon (``store-gateway run``: scanning, registry,
  telemetry to a local mosquitto, web page) with 200 devices advertising at 1 Hz,
  beside a bare bleak scanner callback counting the same adverts;
- time from ``exec`` to ``READY=1`` on the notify socket, beside a bare
  interpreter importing the same core libraries.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.bench.ingest import ROOT, _child
from gateway.bench.report import report

RSS_CHILD = r"""
import gc, json, sys, time
def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
import gateway.daemon.app  # everything the daemon loads
from drivers.types import Advertisement
from gateway.ble.ingest import AdvertIngest, IngestOptions
from gateway.registry import Registry, RegistryOptions
from gateway.bench.ingest import _adverts
templates = _adverts(2150)
registry = Registry(RegistryOptions())
ingest = AdvertIngest(registry, IngestOptions())
gc.collect()
before = rss_kib()
count = int(sys.argv[1])
for i in range(count):
    t = templates[i % len(templates)]
    address = ":".join(["D0"] + ["%02X" % (i >> s & 255) for s in (32, 24, 16, 8, 0)])
    ingest.handle(Advertisement(address, -70, t.name, t.tx_power, t.manufacturer_data,
                                t.service_data, t.service_uuids, "hci0"))
gc.collect()
print(json.dumps({"before_kib": before, "after_kib": rss_kib(), "devices": len(registry)}))
"""

IDLE_SCENARIO = """
name = "idle"
seed = 11
[[adapters]]
name = "hci0"
address = "00:1A:7D:DA:74:01"
[[sensors]]
count = 100
format = "ruuvi"
address_prefix = "C4:09:01"
interval = "1s"
heard_by = { hci0 = -70 }
[[beacons]]
count = 100
kind = "ibeacon"
address_prefix = "C0:09:01"
interval = "1s"
heard_by = { hci0 = -70 }
"""


def _rss(devices: int) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(devices)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    m = json.loads(out.stdout.strip().splitlines()[-1])
    after, before = m["after_kib"] / 1024, m["before_kib"] / 1024
    return [
        {
            "figure": f"RSS with {m['devices']:,} devices in the registry",
            "value": after,
            "unit": "MiB",
            "baseline": "gateway loaded, registry empty",
            "baseline_value": before,
            "ratio": after / before,
        },
        {
            "figure": "memory per device",
            "value": (m["after_kib"] - m["before_kib"]) / m["devices"],
            "unit": "KiB",
        },
    ]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _daemon_config(work: Path, port: int) -> Path:
    cfg = work / "gateway.toml"
    cfg.write_text(f"""
store_id = "bench-store"
gateway_id = "gw-1"
data_dir = "{work / "data"}"
[ble]
adapters = ["hci0"]
[mqtt]
host = "127.0.0.1"
port = {port}
[web]
port = 0
[logging]
level = "warning"
""")
    return cfg


async def _idle(seconds: float) -> list[dict[str, Any]]:
    from gateway.bench.rig.broker import Mosquitto
    from gateway.sim.runner import virtual_store

    work = Path(tempfile.mkdtemp(prefix="storegw-bench-"))
    scenario = work / "idle.toml"
    scenario.write_text(IDLE_SCENARIO)
    (work / "broker").mkdir()
    broker = Mosquitto(work / "broker")
    broker.start()
    try:
        async with virtual_store(scenario) as store:
            loop = asyncio.get_running_loop()
            bare = await loop.run_in_executor(None, _child, "bare", store.bus_address, seconds)
            proc = _start_daemon(_daemon_config(work, broker.port), store.bus_address)
            try:
                await asyncio.sleep(15)  # warm-up: every device seen, first telemetry sent
                c0, t0 = _cpu_seconds(proc.pid), time.monotonic()
                await asyncio.sleep(seconds)
                c1, t1 = _cpu_seconds(proc.pid), time.monotonic()
            finally:
                proc.terminate()
                proc.wait(30)
    finally:
        broker.stop()
    share = (c1 - c0) / (t1 - t0) * 100
    bare_share = bare["cpu_s"] / bare["seconds"] * 100
    return [
        {
            "figure": "adverts/s heard (bare bleak)",
            "value": bare["adverts"] / bare["seconds"],
            "unit": "adverts/s",
        },
        {
            "figure": "daemon CPU, 200 devices at 1 Hz",
            "value": share,
            "unit": "% of a core",
            "baseline": "bare bleak callback",
            "baseline_value": bare_share,
            "ratio": share / bare_share,
        },
    ]


def _start_daemon(cfg: Path, bus: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "--config", str(cfg)],
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _time_to_ready(work: Path, bus: str, port: int) -> float:
    sock_path = work / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(60)
    t0 = time.monotonic()
    proc = _start_daemon(_daemon_config(work, port), bus, NOTIFY_SOCKET=str(sock_path))
    try:
        while True:
            if b"READY=1" in sock.recv(4096):
                return time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(30)
        sock.close()


def _bare_imports() -> float:
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", "import " + ", ".join(CORE_LIBRARIES)], check=True, timeout=120
    )
    return time.monotonic() - t0


CORE_LIBRARIES = ("bleak", "paho.mqtt.client", "aiohttp", "pydantic", "sqlite_utils", "structlog")


async def _ready(rounds: int) -> list[dict[str, Any]]:
    from gateway.bench.rig.broker import Mosquitto
    from gateway.sim.runner import virtual_store

    bare = [_bare_imports() for _ in range(rounds)]
    work = Path(tempfile.mkdtemp(prefix="storegw-bench-"))
    scenario = work / "idle.toml"
    scenario.write_text(IDLE_SCENARIO)
    (work / "broker").mkdir()
    broker = Mosquitto(work / "broker")
    broker.start()
    times = []
    try:
        async with virtual_store(scenario) as store:
            loop = asyncio.get_running_loop()
            for n in range(rounds):
                run_dir = work / f"run-{n}"
                run_dir.mkdir()
                times.append(
                    await loop.run_in_executor(
                        None, _time_to_ready, run_dir, store.bus_address, broker.port
                    )
                )
    finally:
        broker.stop()
    ready, base = sorted(times)[rounds // 2], sorted(bare)[rounds // 2]
    return [
        {
            "figure": f"start to READY=1 (median of {rounds})",
            "value": ready,
            "unit": "s",
            "baseline": "interpreter importing the core libraries",
            "baseline_value": base,
            "ratio": ready / base,
        }
    ]


def main() -> int:
    seconds = float(os.environ.get("STOREGW_BENCH_SECONDS", "10"))
    rows = _rss(10_000)
    rows += asyncio.run(_idle(max(seconds, 20)))
    rows += asyncio.run(_ready(5))
    report("footprint", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
