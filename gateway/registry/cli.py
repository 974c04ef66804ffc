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


def _print_table(devices: list[dict[str, Any]], source: str) -> None:
    headers = ("DEVICE", "KIND", "MODEL", "NAME", "ONLINE", "LAST SEEN", "RSSI", "BATT", "READINGS")
    rows = []
    for d in devices:
        readings = " ".join(f"{k}={v:g}" for k, v in sorted(d["readings"].items()))
        online = "-" if d["online"] is None else ("yes" if d["online"] else "no")
        battery = "" if d["battery_pct"] is None else f"{d['battery_pct']:.0f}%"
        rssi = "" if d["rssi"] is None else str(d["rssi"])
        rows.append(
            (
                d["device_id"],
                d["kind"],
                d["model"],
                d["name"] or "",
                online,
                d["last_seen"],
                rssi,
                battery,
                readings,
            )
        )
    print_table(headers, rows)
    print(f"{len(devices)} devices (from the {source})")
