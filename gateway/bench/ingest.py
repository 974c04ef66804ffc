"""Ingest benchmarks.

- pipeline: adverts/s through payload fingerprint + decode + registry on one
  core (pure code, no D-Bus), beside a baseline loop that only builds the
  advertisements;
- end to end: CPU seconds per 1,000 adverts of the gateway's BLE side (bleak +
  ingest + registry) receiving from the BlueZ double at a given rate, beside a
  bare bleak scanner whose callback only counts adverts, at the same rate
  through the same double, as a ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from drivers.decode import decode, payload_fingerprint
from drivers.types import Advertisement
from gateway.bench.report import report
from gateway.ble.ingest import AdvertIngest, IngestOptions
from gateway.registry import Registry, RegistryOptions
from gateway.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SUPERMARKET = ROOT / "config" / "scenarios" / "supermarket.toml"


def _adverts(count: int) -> list[Advertisement]:
    scenario = load_scenario(SUPERMARKET)
    out = []
    now = time.monotonic()
    devices = scenario.devices
    for i in range(count):
        d = devices[i % len(devices)]
        f = d.advert(now + i)
        out.append(
            Advertisement(
                d.address,
                -70,
                f.name,
                f.tx_power,
                f.manufacturer_data,
                f.service_data,
                f.service_uuids,
            )
        )
    return out


def pipeline(count: int = 200_000) -> list[dict[str, Any]]:
    adverts = _adverts(min(count, 50_000))
    n = len(adverts)
    t0 = time.process_time()
    for i in range(count):
        a = adverts[i % n]
        Advertisement(
            a.address,
            a.rssi,
            a.name,
            a.tx_power,
            a.manufacturer_data,
            a.service_data,
            a.service_uuids,
        )
    base = count / (time.process_time() - t0)
    ingest = AdvertIngest(Registry(RegistryOptions()), IngestOptions())
    t0 = time.process_time()
    for i in range(count):
        ingest.handle(adverts[i % n])
    rate = count / (time.process_time() - t0)
    t0 = time.process_time()
    for i in range(count):
        a = adverts[i % n]
        payload_fingerprint(a)
        decode(a)
    decode_rate = count / (time.process_time() - t0)
    return [
        {"figure": "decode only", "value": decode_rate, "unit": "adverts/s"},
        {
            "figure": "fingerprint+decode+registry",
            "value": rate,
            "unit": "adverts/s",
            "baseline": "building the adverts",
            "baseline_value": base,
            "ratio": base / rate,
        },
    ]


# ---- end to end -----------------------------------------------------------------------------

CHILD = """
import asyncio, json, os, resource, sys, time
mode, seconds = sys.argv[1], float(sys.argv[2])
async def main():
    count = 0
    if mode == "bare":
        from bleak import BleakScanner
        def cb(d, a):
            nonlocal count
            count += 1
        scanner = BleakScanner(cb, bluez={"adapter": "hci0"})
        await scanner.start()
        await asyncio.sleep(2)
        c0, r0 = count, resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(seconds)
        c1, r1 = count, resource.getrusage(resource.RUSAGE_SELF)
        await scanner.stop()
    else:
        from gateway.ble.ingest import AdvertIngest, IngestOptions
        from gateway.ble.manager import BleManager
        from gateway.ble.scanner import ScannerOptions
        from gateway.registry import Registry, RegistryOptions
        ingest = AdvertIngest(Registry(RegistryOptions()), IngestOptions(accept_unknown=True))
        manager = BleManager(("hci0",), ingest.handle, ScannerOptions(mode="active"))
        task = asyncio.create_task(manager.run())
        await asyncio.sleep(2)
        c0, r0 = ingest.counters.received, resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(seconds)
        c1, r1 = ingest.counters.received, resource.getrusage(resource.RUSAGE_SELF)
        task.cancel()
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    print(json.dumps({"adverts": c1 - c0, "cpu_s": cpu, "seconds": seconds}))
asyncio.run(main())
"""


def _child(mode: str, bus: str, seconds: float) -> dict[str, float]:
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def _end_to_end(rate_per_s: float, seconds: float) -> list[dict[str, Any]]:
    from gateway.sim.runner import virtual_store

    scenario = load_scenario(SUPERMARKET)
    natural = sum(1 / d.advert_interval_s for d in scenario.devices)
    async with virtual_store(scenario, rate=rate_per_s / natural) as store:
        loop = asyncio.get_running_loop()
        bare = await loop.run_in_executor(None, _child, "bare", store.bus_address, seconds)
        gw = await loop.run_in_executor(None, _child, "gateway", store.bus_address, seconds)
    bare_k = bare["cpu_s"] / max(1, bare["adverts"]) * 1000
    gw_k = gw["cpu_s"] / max(1, gw["adverts"]) * 1000
    return [
        {
            "figure": f"adverts/s received at {rate_per_s:.0f}/s offered (bare bleak)",
            "value": bare["adverts"] / seconds,
            "unit": "adverts/s",
        },
        {
            "figure": f"adverts/s received at {rate_per_s:.0f}/s offered (gateway)",
            "value": gw["adverts"] / seconds,
            "unit": "adverts/s",
        },
        {
            "figure": f"gateway CPU per 1,000 adverts at {rate_per_s:.0f}/s",
            "value": gw_k,
            "unit": "CPU s",
            "baseline": "bare bleak callback counting adverts",
            "baseline_value": bare_k,
            "ratio": gw_k / bare_k,
        },
    ]


async def _double_capacity(seconds: float) -> list[dict[str, Any]]:
    """What the BlueZ double sustains on one core when asked for far more than it can."""
    from gateway.sim.runner import virtual_store

    scenario = load_scenario(SUPERMARKET)
    natural = sum(1 / d.advert_interval_s for d in scenario.devices)
    async with virtual_store(scenario, rate=20_000 / natural) as store:
        loop = asyncio.get_running_loop()
        child = loop.run_in_executor(None, _child, "bare", store.bus_address, seconds)
        await asyncio.sleep(2)
        sent0 = sum(a.adverts_sent for a in store.double.adapters.values())
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        await asyncio.sleep(seconds - 0.5)
        sent1 = sum(a.adverts_sent for a in store.double.adapters.values())
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = time.monotonic() - t0
        received = await child
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return [
        {
            "figure": "double: adverts/s emitted (20,000/s asked)",
            "value": (sent1 - sent0) / elapsed,
            "unit": "adverts/s",
        },
        {"figure": "double: CPU share of one core", "value": cpu / elapsed * 100, "unit": "%"},
        {
            "figure": "bare bleak: adverts/s received",
            "value": received["adverts"] / seconds,
            "unit": "adverts/s",
        },
    ]


def main(argv: list[str]) -> int:
    seconds = float(os.environ.get("STOREGW_BENCH_SECONDS", "10"))
    report("ingest-pipeline", pipeline())
    rows = []
    for rate in (1000.0, 5000.0):
        rows += asyncio.run(_end_to_end(rate, seconds))
    report("ingest-end-to-end", rows)
    report("virtual-store", asyncio.run(_double_capacity(seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
