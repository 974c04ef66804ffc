"""``store-gateway prices``: every SKU's current and held price, from the running daemon
or else from its database."""

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
    parser.add_argument(
        "--held", action="store_true", help="only SKUs with a price held for review"
    )
    parser.add_argument("--sku", help="one SKU, with every version kept")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from gateway.config.load import EX_CONFIG, load_or_report

    config = load_or_report(args.config)
    if config is None:
        return EX_CONFIG
    data_dir = Path(config.data_dir)
    socket_path = data_dir / SOCKET_NAME
    params = {"held": "1" if args.held else "0", **({"sku": args.sku} if args.sku else {})}
    body = (
        asyncio.run(ask_daemon(socket_path, "/api/prices", params))
        if socket_path.exists()
        else None
    )
    prices = body.get("prices") if isinstance(body, dict) else None
    source = "daemon"
    if not isinstance(prices, list):
        source = "database"
        try:
            prices = _from_database(data_dir / "gateway.db", args.sku, args.held)
        except sqlite3.Error as exc:
            print(
                f"store-gateway prices: no running daemon and no readable database in "
                f"{data_dir} ({exc}); start the gateway once with this config",
                file=sys.stderr,
            )
            return 1
    if args.sku and not prices:
        print(f"store-gateway prices: no prices for SKU {args.sku!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"source": source, "prices": prices}, indent=2, ensure_ascii=False))
    else:
        _print(prices, source, args.sku is not None)
    return 0


def _from_database(path: Path, sku: str | None, held: bool) -> list[dict[str, Any]]:
    import sqlite_utils

    from gateway.labels import catalogue

    if not path.exists():
        raise sqlite3.OperationalError(f"{path} does not exist")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return catalogue.read(sqlite_utils.Database(conn), sku, held)
    finally:
        conn.close()


def _money(v: dict[str, Any] | None) -> str:
    return "" if v is None else f"{v['price']} {v['currency']} (v{v['version']})"


def _print(prices: list[dict[str, Any]], source: str, history: bool) -> None:
    headers = ("SKU", "CURRENT", "SINCE", "LABELS", "HELD", "WHY HELD")
    rows = [
        (
            p["sku"],
            _money(p["current"]),
            "" if p["current"] is None else (p["current"]["since"] or ""),
            str(p["labels"]),
            _money(p["held"]),
            "" if p["held"] is None else (p["held"]["rules"] or ""),
        )
        for p in prices
    ]
    print_table(headers, rows)
    held = sum(1 for p in prices if p["held"] is not None)
    skus = f"{len(prices)} SKU" + ("" if len(prices) == 1 else "s")
    print(f"{skus}, {held} with a price held for review (from the {source})")
    if history:
        for p in prices:
            print(f"\nversions of {p['sku']}:")
            print_table(
                ("VERSION", "STATE", "PRICE", "WAS", "SINCE", "DECIDED BY", "RULES"),
                [
                    (
                        str(v["version"]),
                        v["state"],
                        f"{v['price']} {v['currency']}",
                        v["original_price"] or "",
                        v["since"] or v["accepted_at"],
                        v["decided_by"] or "",
                        v["rules"] or "",
                    )
                    for v in p["history"]
                ],
            )
