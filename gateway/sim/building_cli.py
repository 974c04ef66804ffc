"""``store-gateway simulate-building``: the virtual store's building for the demo.

Serves the three air-conditioned and three lighting zones of
``gateway/sim/energy_weeks.py`` over Modbus TCP (units 1-6: sales-east,
sales-west, fresh, lights-east, lights-west, lights-fresh) while the zones warm,
cool and follow their plant in real time (``--speed`` times faster), and pushes
a door counter's periods to the gateway's footfall endpoint with its token, as a
real counter would (a report the gateway did not answer is sent again: the
gateway counts it once).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import ssl
import sys
import time
from pathlib import Path

from gateway.sim.building import (
    DoorCounter,
    LightingZone,
    ThermalZone,
    Weather,
    people_inside,
    serve_zones,
)
from gateway.sim.energy_weeks import building, store_calendar

REPORT_ATTEMPTS_KEPT = 50  # unanswered reports kept for sending again


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=15020, help="Modbus TCP port (127.0.0.1)")
    parser.add_argument("--footfall-url", help="the gateway's /api/footfall/{counter} URL")
    parser.add_argument(
        "--footfall-ca",
        type=Path,
        help="HTTPS: the certificate to trust for the gateway (its own web-cert.pem, or its CA)",
    )
    parser.add_argument("--token", default="", help="the counter's token")
    parser.add_argument("--period", type=float, default=60.0, help="seconds per counting period")
    parser.add_argument("--speed", type=float, default=1.0, help="store time per real second")


def run(args: argparse.Namespace) -> int:
    if args.speed <= 0 or args.period <= 0:
        print("simulate-building: --speed and --period must be positive", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"simulate-building: cannot serve Modbus on port {args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(args: argparse.Namespace) -> None:
    rooms, lamps = building()
    zones: list[ThermalZone | LightingZone] = [*rooms, *lamps]
    server = await serve_zones(zones, "127.0.0.1", args.port)
    print(f"MODBUS=127.0.0.1:{args.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(_physics(rooms, lamps, args.speed, stop))]
    if args.footfall_url:
        tasks.append(asyncio.create_task(_counter(args, stop)))
    await stop.wait()
    for t in tasks:
        t.cancel()
    await server.shutdown()


async def _physics(
    rooms: list[ThermalZone], lamps: list[LightingZone], speed: float, stop: asyncio.Event
) -> None:
    calendar = store_calendar()
    counter, weather = DoorCounter(calendar), Weather()
    while not stop.is_set():
        now = time.time()
        local = calendar.local(now)
        people = people_inside(counter.day(local.date()), local)
        for room in rooms:
            room.step(speed, weather.at(now), people)
        for lamp in lamps:
            lamp.step(speed)
        await asyncio.sleep(1.0)


async def _counter(args: argparse.Namespace, stop: asyncio.Event) -> None:
    import aiohttp

    calendar = store_calendar()
    counter = DoorCounter(calendar, seed=3)
    unsent: list[dict[str, object]] = []
    headers = {"Authorization": f"Bearer {args.token}"}
    start = time.time()
    trust: ssl.SSLContext | None = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while not stop.is_set():
            await asyncio.sleep(args.period)
            if args.footfall_ca is not None and trust is None:
                try:  # the gateway makes its certificate when it first starts
                    trust = ssl.create_default_context(cafile=str(args.footfall_ca))
                except (OSError, ssl.SSLError) as exc:
                    print(f"footfall: no certificate to trust yet ({exc})", file=sys.stderr)
            end = time.time()
            local = calendar.local(start)
            per_slot = counter.day(local.date())[local.hour * 4 + local.minute // 15]
            people = round(per_slot * (end - start) / 900 * args.speed)
            unsent.append(
                {"start": _iso(start), "end": _iso(end), "in": people, "out": max(0, people - 1)}
            )
            del unsent[:-REPORT_ATTEMPTS_KEPT]
            start = end
            try:
                async with http.post(
                    args.footfall_url,
                    json={"periods": unsent},
                    headers=headers,
                    ssl=trust if trust is not None else True,
                ) as resp:
                    if resp.status in (200, 400):  # taken, or never takeable: not again
                        unsent.clear()
                    if resp.status != 200:
                        print(
                            f"footfall report refused: {resp.status} {await resp.text()}",
                            file=sys.stderr,
                            flush=True,
                        )
            except (aiohttp.ClientError, TimeoutError) as exc:
                print(
                    f"footfall report not sent (again next period): {exc}",
                    file=sys.stderr,
                    flush=True,
                )


def _iso(t: float) -> str:
    return (
        dt.datetime.fromtimestamp(t, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
