"""The baseline of the ingest and footprint benchmarks: a bare bleak scanner.

``python -m gateway.bench.bare SECONDS [--warmup S]`` scans on ``hci0`` of the bus
in ``DBUS_SYSTEM_BUS_ADDRESS`` with a callback that only counts adverts, prints
``measuring`` when its window starts, then one JSON line: adverts counted and CPU
seconds spent in the window, and the process's RSS at its end. It is what any BlueZ client pays for
the same feed: D-Bus parsing and bleak's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from typing import Any

from bleak import BleakScanner

from gateway.bench.rig.processes import rss_mib


async def measure(seconds: float, warmup: float) -> dict[str, Any]:
    count = 0

    def counted(_device: object, _advert: object) -> None:
        nonlocal count
        count += 1

    scanner = BleakScanner(counted, bluez={"adapter": "hci0"})
    await scanner.start()
    try:
        await asyncio.sleep(warmup)
        print("measuring", flush=True)  # the bench measures the daemon beside it from now
        c0, r0 = count, resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(seconds)
        c1, r1 = count, resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await scanner.stop()
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return {"adverts": c1 - c0, "cpu_s": cpu, "seconds": seconds, "rss_mib": rss_mib(os.getpid())}


def main(argv: list[str]) -> int:
    seconds = float(argv[0])
    warmup = float(argv[argv.index("--warmup") + 1]) if "--warmup" in argv else 2.0
    print(json.dumps(asyncio.run(measure(seconds, warmup))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
