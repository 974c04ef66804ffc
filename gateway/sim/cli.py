"""``store-gateway simulate``: serve a virtual store until SIGTERM or SIGINT.

Prints exactly one line, ``DBUS_SYSTEM_BUS_ADDRESS=<address>``, once the double
is ready; point bleak (or the gateway) at that bus.

A floor plan of several gateway boxes prints one line per box instead,
``DBUS_SYSTEM_BUS_ADDRESS_<ID>=<address>`` (the box id upper-cased, ``-`` as
``_``), in the scenario's order; each box's ``store-gateway run`` gets its own
as ``DBUS_SYSTEM_BUS_ADDRESS``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from gateway.sim.bluez.state import DEVICE_TIMEOUT_S
from gateway.sim.runner import virtual_floor, virtual_store
from gateway.sim.scenario import ScenarioError, env_name, read_scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", required=True, type=Path, help="scenario TOML file")
    parser.add_argument(
        "--bus-address", help="serve on this D-Bus instead of starting a private one"
    )
    parser.add_argument("--rate", type=float, default=1.0, help="advert rate multiplier")
    parser.add_argument(
        "--device-timeout",
        type=float,
        default=DEVICE_TIMEOUT_S,
        help="seconds without adverts before a device object is removed (BlueZ: 180)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        spec = read_scenario(args.scenario)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if spec.floor is not None and args.bus_address:
        print(
            "--bus-address: a floor plan starts one private bus per gateway box; leave it out",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.rate <= 10000:
        print("--rate must be above 0 and at most 10000", file=sys.stderr)
        return 2
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if read_scenario(args.scenario).floor is not None:
        async with virtual_floor(
            args.scenario, device_timeout_s=args.device_timeout, rate=args.rate
        ) as floor:
            lines = [f"{env_name(b)}={floor.bus_address(b)}" for b in floor.boxes]
            print("\n".join(lines), flush=True)
            await stop.wait()
        return 0
    async with virtual_store(
        args.scenario,
        bus_address=args.bus_address,
        device_timeout_s=args.device_timeout,
        rate=args.rate,
    ) as store:
        print(f"DBUS_SYSTEM_BUS_ADDRESS={store.bus_address}", flush=True)
        await stop.wait()
    return 0
