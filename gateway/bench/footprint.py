"""Footprint of the whole daemon: memory, idle CPU, time to READY.

- memory: the RSS of ``store-gateway run`` (every component on, as a store runs
  it) once ready on an empty store, and once it knows 10,000 devices (6,000
  beacons, 3,000 sensors, 1,000 labels advertising every 10 s), beside an
  interpreter that only imports the core libraries and beside a bare bleak
  scanner on the same 10,000 devices (what any BlueZ client holds for them);
- idle CPU of the daemon with 200 devices at 1 Hz, beside the bare bleak
  scanner's callback counting the same adverts in the same seconds;
- time from ``exec`` to ``READY=1``, beside the interpreter importing the core
  libraries.

``--smoke``: 1,000 devices, short windows.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from gateway.bench.daemon import Daemon, Stand, bare, beside_bare
from gateway.bench.harness import Run, Table, run_bench

CORE_LIBRARIES = (
    "asyncio",
    "bleak",
    "paho.mqtt.client",
    "aiohttp.web",
    "pydantic",
    "sqlite_utils",
    "structlog",
)
ADAPTER = '[[adapters]]\nname = "hci0"\naddress = "00:1A:7D:DA:74:01"\n'


def scenario(beacons: int, sensors: int, labels: int, interval: str) -> str:
    text = f'name = "footprint"\nseed = 11\n{ADAPTER}'
    groups = (
        ("beacons", beacons, 'kind = "ibeacon"', "C0:09"),
        ("sensors", sensors, 'format = "ruuvi"', "C4:09"),
        ("labels", labels, "hardware = 0x4033", "FF:09"),
    )
    for table, count, kind, prefix in groups:
        for start in range(0, count, 20000):  # a group holds at most 20,000 devices
            n = min(20000, count - start)
            text += (
                f"[[{table}]]\ncount = {n}\n{kind}\naddress_prefix = "
                f'"{prefix}:{start // 20000 + 1:02X}"\ninterval = "{interval}"\n'
                "heard_by = { hci0 = -70 }\n"
            )
    return text


def bare_imports() -> tuple[float, float]:
    """(seconds, RSS MiB) of an interpreter importing the core libraries."""
    code = (
        f"import {', '.join(CORE_LIBRARIES)}\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])"
    )
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.monotonic() - t0, int(out.stdout) / 1024


def memory(run: Run) -> list[dict[str, Any]]:
    count = 1000 if run.smoke else 10_000
    _, imports = bare_imports()
    rows: list[dict[str, Any]] = []
    run.at("memory: the daemon on an empty store")
    with Stand(run, "empty", scenario(0, 0, 0, "10s") + "") as stand:
        daemon = Daemon(run, "daemon-empty", stand.bus, stand.broker.port)
        daemon.start()
        try:
            daemon.until_ready()
            time.sleep(2 if run.smoke else 10)
            start_rss = daemon.rss_mib()
        finally:
            daemon.stop()
    rows.append(
        {
            "figure": "daemon RSS once ready, no devices",
            "value": start_rss,
            "unit": "MiB",
            "baseline": "interpreter importing the core libraries",
            "baseline_value": imports,
            "ratio": start_rss / imports,
        }
    )
    run.at(f"memory: the daemon learning {count:,} devices")
    text = scenario(count * 6 // 10, count * 3 // 10, count // 10, "10s")
    with Stand(run, "devices", text) as stand:
        daemon = Daemon(run, "daemon-devices", stand.bus, stand.broker.port)
        daemon.start()
        try:
            daemon.until_ready()
            daemon.until_devices(count, 120)
            time.sleep(5 if run.smoke else 30)  # first states and telemetry sent
            full_rss = daemon.rss_mib()
        finally:
            daemon.stop()
        run.at(f"memory: a bare bleak scanner on the same {count:,} devices")
        scanner = bare(stand.bus, 2 if run.smoke else 5, warmup=12 if run.smoke else 15)
    rows += [
        {
            "figure": f"daemon RSS with {count:,} devices",
            "value": full_rss,
            "unit": "MiB",
            "baseline": "interpreter importing the core libraries",
            "baseline_value": imports,
            "ratio": full_rss / imports,
        },
        {
            "figure": f"daemon RSS with {count:,} devices",
            "value": full_rss,
            "unit": "MiB",
            "baseline": "bare bleak scanner on the same devices",
            "baseline_value": scanner["rss_mib"],
            "ratio": full_rss / scanner["rss_mib"],
        },
        {
            "figure": "memory per device (daemon)",
            "value": (full_rss - start_rss) * 1024 / count,
            "unit": "KiB",
        },
    ]
    return rows


def idle(run: Run) -> list[dict[str, Any]]:
    seconds = 3.0 if run.smoke else 60.0
    run.at("idle CPU: 200 devices at 1 Hz")
    with Stand(run, "idle", scenario(100, 100, 0, "1s")) as stand:
        daemon = Daemon(run, "daemon-idle", stand.bus, stand.broker.port)
        daemon.start()
        try:
            daemon.until_ready()
            daemon.until_devices(200, 60)
            time.sleep(1 if run.smoke else 20)  # every device seen, first telemetry sent
            base, c0, c1, elapsed = beside_bare(stand.bus, seconds, daemon.cpu_seconds)
        finally:
            daemon.stop()
    share = (c1 - c0) / elapsed * 100
    bare_share = base["cpu_s"] / base["seconds"] * 100
    return [
        {
            "figure": "adverts/s heard (bare bleak)",
            "value": base["adverts"] / base["seconds"],
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


def ready(run: Run) -> list[dict[str, Any]]:
    rounds = 1 if run.smoke else 5
    run.at("time to READY")
    times = []
    with Stand(run, "ready", scenario(10, 10, 0, "1s")) as stand:
        for n in range(rounds):
            daemon = Daemon(run, f"daemon-ready-{n}", stand.bus, stand.broker.port)
            daemon.start()
            try:
                times.append(daemon.until_ready())
            finally:
                daemon.stop()
    base = statistics.median(bare_imports()[0] for _ in range(rounds))
    value = statistics.median(times)
    return [
        {
            "figure": f"start to READY=1 (median of {rounds})",
            "value": value,
            "unit": "s",
            "baseline": "interpreter importing the core libraries",
            "baseline_value": base,
            "ratio": value / base,
        }
    ]


def body(run: Run) -> list[Table]:
    return [("footprint", memory(run) + idle(run) + ready(run))]


def main(argv: list[str]) -> int:
    return run_bench("footprint", body, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
