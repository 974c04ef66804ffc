"""Ingest benchmarks.

- pipeline: adverts/s through payload fingerprint + decode + registry on one
  core (pure code, no D-Bus), beside a baseline loop that only builds the
  advertisements;
- whole daemon: CPU seconds per 1,000 adverts of ``store-gateway run`` with every
  component a store runs (scanning, registry, alerts, the MQTT bridge to a local
  mosquitto, the web page, labels idle), fed by the virtual supermarket at 1,000
  and 5,000 adverts/s, beside a bare bleak scanner whose callback only counts
  adverts, on the same adverts in the same seconds, as a ratio;
- the virtual store's own capacity.

``--smoke``: short windows.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from drivers.decode import decode, payload_fingerprint
from drivers.types import Advertisement
from gateway.bench.daemon import Daemon, Stand, bare, beside_bare
from gateway.bench.harness import Run, Table, run_bench
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


# ---- end to end: the whole daemon -------------------------------------------------------------


def whole_daemon(run: Run, rate_per_s: float, seconds: float) -> list[dict[str, Any]]:
    """CPU per advert of ``store-gateway run`` (every component on) fed by the virtual
    supermarket at ``rate_per_s``, beside the bare bleak scanner in the same seconds."""
    spec = load_scenario(SUPERMARKET)
    natural = sum(1 / d.advert_interval_s for d in spec.devices)
    run.at(f"whole daemon at {rate_per_s:,.0f} adverts/s")
    text = SUPERMARKET.read_text()
    with Stand(run, f"ingest-{rate_per_s:.0f}", text, rate=rate_per_s / natural) as stand:
        daemon = Daemon(run, f"daemon-{rate_per_s:.0f}", stand.bus, stand.broker.port)
        daemon.start()
        try:
            daemon.until_ready()
            if not run.smoke:
                daemon.until_devices(len(spec.devices), 120)
            time.sleep(2 if run.smoke else 10)  # warm: every device known, states sent
            base, (a0, c0), (a1, c1), _ = beside_bare(
                stand.bus, seconds, lambda: (daemon.adverts(), daemon.cpu_seconds())
            )
        finally:
            daemon.stop()
    bare_k = base["cpu_s"] / max(1, base["adverts"]) * 1000
    gw_k = (c1 - c0) / max(1.0, a1 - a0) * 1000
    return [
        {
            "figure": f"adverts/s received at {rate_per_s:,.0f}/s offered (bare bleak)",
            "value": base["adverts"] / base["seconds"],
            "unit": "adverts/s",
        },
        {
            "figure": f"adverts/s received at {rate_per_s:,.0f}/s offered (daemon)",
            "value": (a1 - a0) / seconds,
            "unit": "adverts/s",
        },
        {
            "figure": f"daemon CPU per 1,000 adverts at {rate_per_s:,.0f}/s",
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
        child = loop.run_in_executor(None, bare, store.bus_address, seconds)
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


def body(run: Run) -> list[Table]:
    seconds = 3.0 if run.smoke else float(os.environ.get("STORE_GATEWAY_BENCH_SECONDS", "20"))
    run.at("pipeline")
    tables: list[Table] = [("ingest-pipeline", pipeline(20_000 if run.smoke else 200_000))]
    rows = []
    for rate in (1000.0, 5000.0):
        rows += whole_daemon(run, rate, seconds)
    tables.append(("ingest-whole-daemon", rows))
    run.at("the virtual store's capacity")
    tables.append(("virtual-store", asyncio.run(_double_capacity(seconds))))
    return tables


def main(argv: list[str]) -> int:
    return run_bench("ingest", body, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
