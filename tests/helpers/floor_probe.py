"""A bleak client on one box's bus, as a process of its own (``python -m
tests.helpers.floor_probe``), the way each box's gateway is one.

bleak keeps one BlueZ connection per event loop, on the bus of
``DBUS_SYSTEM_BUS_ADDRESS``; a test that talks to several boxes runs one probe per
box:

- ``scan SECONDS [--adapters hci0,hci1]`` prints one JSON line: every advert's RSSI
  per address, or the error that stopped the scan;
- ``connect ADDRESS [--adapter hci0] [--timeout S]`` prints ``connected <t>`` once
  connected, holds the connection until a line arrives on stdin (or it closes),
  disconnects and prints ``disconnected <t>``; or prints ``failed <t> <error>``.
  Times are ``time.time()``, comparable between processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError


async def scan(seconds: float, adapters: list[str]) -> dict[str, Any]:
    heard: dict[str, list[int]] = {}

    def seen(device: BLEDevice, adv: AdvertisementData) -> None:
        heard.setdefault(device.address, []).append(adv.rssi)

    scanners = [BleakScanner(seen, bluez={"adapter": a}) for a in adapters]
    try:
        for scanner in scanners:
            await scanner.start()
    except BleakDBusError as exc:
        return {"error": exc.dbus_error, "heard": heard}
    await asyncio.sleep(seconds)
    for scanner in scanners:
        await scanner.stop()
    return {"heard": heard}


def describe(exc: BaseException) -> str:
    if isinstance(exc, BleakDBusError):
        return f"{exc.dbus_error}: {exc.dbus_error_details or ''}"
    return type(exc).__name__


async def connect(address: str, adapter: str, timeout: float) -> int:
    client = BleakClient(address, bluez={"adapter": adapter}, timeout=timeout)
    try:
        await client.connect()
    except Exception as exc:
        print(f"failed {time.time()} {describe(exc)}", flush=True)
        return 1
    print(f"connected {time.time()}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await client.disconnect()
    print(f"disconnected {time.time()}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan")
    s.add_argument("seconds", type=float)
    s.add_argument("--adapters", default="hci0")
    c = sub.add_parser("connect")
    c.add_argument("address")
    c.add_argument("--adapter", default="hci0")
    c.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    if args.cmd == "scan":
        print(json.dumps(asyncio.run(scan(args.seconds, args.adapters.split(",")))), flush=True)
        return 0
    return asyncio.run(connect(args.address, args.adapter, args.timeout))


if __name__ == "__main__":
    raise SystemExit(main())
