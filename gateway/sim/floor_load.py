"""Whether one process keeps up with a whole floor: ``python -m gateway.sim.floor_load``.

Serves a floor scenario (the hypermarket by default), puts a bare bleak scanner
on every adapter of every box (one process per box, as each box's gateway is
one), and after a warm-up measures for a while: per box the adverts the double
emitted and the scanner received per second, and the CPU of the floor's
process, of each box's dbus-daemon and of each scanner. Prints one JSON line.

``--rate`` multiplies every device's advert rate, to find where it stops
keeping up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from gateway.sim.runner import RunningFloor, virtual_floor

ROOT = Path(__file__).resolve().parents[2]
HYPERMARKET = ROOT / "config" / "scenarios" / "hypermarket.toml"


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _scanner(seconds: float, warmup: float, adapters: list[str]) -> dict[str, Any]:
    from bleak import BleakScanner

    count = 0

    def counted(_device: object, _advert: object) -> None:
        nonlocal count
        count += 1

    scanners = [BleakScanner(counted, bluez={"adapter": a}) for a in adapters]
    for scanner in scanners:
        await scanner.start()
    await asyncio.sleep(warmup)
    c0, t0 = count, _own_cpu_s()
    await asyncio.sleep(seconds)
    c1, t1 = count, _own_cpu_s()
    for scanner in scanners:
        await scanner.stop()
    return {"adverts": c1 - c0, "cpu_s": t1 - t0}


async def _measure(floor: RunningFloor, seconds: float, warmup: float) -> dict[str, Any]:
    children = {}
    for box_id, box in floor.boxes.items():
        adapters = ",".join(a.name for a in box.spec.adapters)
        children[box_id] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.sim.floor_load",
            "--scanner",
            str(seconds),
            "--warmup",
            str(warmup),
            "--adapters",
            adapters,
            stdout=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "DBUS_SYSTEM_BUS_ADDRESS": box.bus_address,
            },
        )

    def sent() -> dict[str, int]:
        return {
            b: sum(a.adverts_sent for a in floor.double(b).adapters.values()) for b in floor.boxes
        }

    def buses() -> dict[str, float]:
        return {b: _cpu_s(box.bus.pid or 0) for b, box in floor.boxes.items()}

    await asyncio.sleep(warmup + 1.0)  # the scanners start (bleak's import) and warm up
    s0, b0, c0, t0 = sent(), buses(), _own_cpu_s(), time.monotonic()
    await asyncio.sleep(seconds - 1.0)
    s1, b1, c1, t1 = sent(), buses(), _own_cpu_s(), time.monotonic()
    elapsed = t1 - t0
    received = {}
    for box_id, proc in children.items():
        out, _ = await proc.communicate()
        received[box_id] = json.loads(out)
    devices = floor.floor.devices
    status = floor.floor.status()["boxes"]
    return {
        "devices": len(devices),
        "floor_adverts_per_s": round(sum(floor.floor.rate / d.advert_interval_s for d in devices)),
        "seconds": round(elapsed, 1),
        "floor_process_cpu_pct": round((c1 - c0) / elapsed * 100, 1),
        "boxes": {
            b: {
                "adapters": len(floor.boxes[b].spec.adapters),
                "devices_in_reach": status[b]["devices_in_reach"],
                "devices_heard": status[b]["devices_heard"],
                "emitted_per_s": round((s1[b] - s0[b]) / elapsed),
                "received_per_s": round(received[b]["adverts"] / seconds),
                "dbus_daemon_cpu_pct": round((b1[b] - b0[b]) / elapsed * 100, 1),
                "scanner_cpu_pct": round(received[b]["cpu_s"] / seconds * 100, 1),
            }
            for b in floor.boxes
        },
    }


async def _run(scenario: Path, seconds: float, warmup: float, rate: float) -> dict[str, Any]:
    t0 = time.monotonic()
    async with virtual_floor(scenario, rate=rate) as floor:
        started = time.monotonic() - t0
        result = await _measure(floor, seconds, warmup)
    return {"scenario": scenario.name, "rate": rate, "start_s": round(started, 2), **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.sim.floor_load")
    parser.add_argument("--scenario", type=Path, default=HYPERMARKET)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=8.0, help="every device heard once")
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--scanner", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--adapters", default="hci0", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scanner is not None:
        result = asyncio.run(_scanner(args.scanner, args.warmup, args.adapters.split(",")))
    else:
        result = asyncio.run(_run(args.scenario, args.seconds, args.warmup, args.rate))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
