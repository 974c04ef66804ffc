"""``store-gateway devices``: the registry, from the running daemon or its database."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from gateway.cli import print_table
from gateway.web.local_api import SOCKET_NAME, ask_daemon


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the gateway's TOML config")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from gateway.config.load import EX_CONFIG, load_or_report

    config = load_or_report(args.config)
    if config is None:
        return EX_CONFIG
    data_dir = Path(config.data_dir)
    source = "daemon"
    socket_path = data_dir / SOCKET_NAME
    devices = asyncio.run(_from_daemon(socket_path)) if socket_path.exists() else None
    if devices is None:
        source = "database"
        try:
            devices = _from_database(data_dir / "gateway.db")
        except sqlite3.Error as exc:
            print(
                f"store-gateway devices: no running daemon and no readable database in "
                f"{data_dir} ({exc}); start the gateway once with this config",
                file=sys.stderr,
            )
            return 1
    if args.json:
        print(json.dumps({"source": source, "devices": devices}, indent=2, ensure_ascii=False))
    else:
        _print_table(devices, source)
    return 0


async def _from_daemon(socket_path: Path) -> list[dict[str, Any]] | None:
    body = await ask_daemon(socket_path, "/api/devices")
    devices = body.get("devices") if isinstance(body, dict) else None
    return devices if isinstance(devices, list) else None


def _from_database(path: Path) -> list[dict[str, Any]]:
    from gateway.registry.persistence import row_to_record
    from gateway.registry.views import device_view

    if not path.exists():
        raise sqlite3.OperationalError(f"{path} does not exist")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        from gateway.registry.persistence import SELECT_DEVICES

        rows = conn.execute(SELECT_DEVICES).fetchall()
    finally:
        conn.close()
    views = [device_view(row_to_record(r)) for r in rows]
    for view in views:
        view["online"] = None  # unknown without the daemon
    return sorted(views, key=lambda v: v["device_id"])


UNITS = {"_c": "°C", "_pct": "%", "_hpa": "hPa", "_mv": "mV", "_v": "V", "_dbm": "dBm"}
READINGS_SHOWN = 3  # the table summarises; --json has them all
NAME_WIDTH = 20


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _reading(name: str, value: float) -> str:
    unit = next((u for suffix, u in UNITS.items() if name.endswith(suffix)), "")
    short = name
    for suffix in UNITS:
        short = short.removesuffix(suffix)
    text = f"{value:.1f}" if unit in ("°C", "V") else f"{value:g}" if not unit else f"{value:.0f}"
    return f"{short} {text}{unit}"


def _summary(readings: dict[str, float]) -> str:
    names = sorted(readings, key=lambda n: (not n.startswith("temperature"), n))
    shown = [_reading(n, readings[n]) for n in names[:READINGS_SHOWN]]
    more = len(names) - READINGS_SHOWN
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")


def _age(ts: str, now: float) -> str:
    from gateway.timeutil import parse_ts

    seconds = max(0.0, now - parse_ts(ts).timestamp())
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f}h ago"
    return f"{seconds / 86400:.0f}d ago"


def _print_table(devices: list[dict[str, Any]], source: str) -> None:
    import shutil
    import time

    now = time.time()
    width = shutil.get_terminal_size((120, 24)).columns
    headers = ("DEVICE", "KIND", "MODEL", "NAME", "ONLINE", "SEEN", "RSSI", "BATT", "READINGS")
    rows = []
    for d in devices:
        online = "-" if d["online"] is None else ("yes" if d["online"] else "no")
        battery = "" if d["battery_pct"] is None else f"{d['battery_pct']:.0f}%"
        rssi = "" if d["rssi"] is None else str(d["rssi"])
        rows.append(
            [
                d["device_id"],
                d["kind"],
                d["model"],
                _cut(d["name"] or "", NAME_WIDTH),
                online,
                _age(d["last_seen"], now),
                rssi,
                battery,
                _summary(d["readings"]),
            ]
        )
    # The table fits the terminal: the readings column takes what is left, cut short.
    fixed = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)][:-1]
    room = max(12, width - sum(fixed) - 2 * len(fixed))
    for row in rows:
        row[-1] = _cut(row[-1], room)
    print_table(headers, rows)
    print(f"{len(devices)} devices (from the {source}; --json for every reading)")
