"""``store-gateway prices``: from the database, and from the running daemon's local API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.labels import store as label_store
from gateway.labels.model import Binding
from gateway.prices.guard import PriceGuard
from gateway.prices.model import PriceItem
from gateway.store import Database
from gateway.web.local_api import SOCKET_NAME, serve_local_api

T = 1_800_000_000.0


async def prepared(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    db = Database(data / "gateway.db")
    await db.open()
    guard = PriceGuard()
    await db.run(guard.apply(PriceItem("6901234567892", 12, "12.90", "CNY"), "c1", T))
    await db.run(guard.apply(PriceItem("4006381333931", 3, "2.49", "CNY"), "c1", T))
    item = PriceItem("6901234567892", 13, "1.29", "CNY")
    await db.run(guard.hold(item, guard.judge(item, T + 60), "c2", T + 60))
    bindings = [Binding("ff0000000001", "6901234567892"), Binding("ff0000000002", "6901234567892")]
    await db.run(lambda d: label_store.save_bindings(d, bindings, T))
    await db.close()
    config = tmp_path / "gw.toml"
    config.write_text(f'store_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "{data}"\n')
    return config


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["prices", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_prices_from_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = await prepared(tmp_path)
    code, out, _ = await asyncio.to_thread(cli, capsys, "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SKU", "CURRENT", "SINCE", "LABELS", "HELD", "WHY", "HELD"]
    row = next(line for line in lines if line.startswith("6901234567892"))
    assert "12.90 CNY (v12)" in row and "1.29 CNY (v13)" in row
    assert "max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)" in row
    assert lines[-1] == "2 SKUs, 1 with a price held for review (from the database)"

    code, out, _ = await asyncio.to_thread(cli, capsys, "--config", str(config), "--held", "--json")
    body = json.loads(out)
    assert [p["sku"] for p in body["prices"]] == ["6901234567892"]
    assert body["prices"][0]["labels"] == 2 and body["source"] == "database"

    code, out, _ = await asyncio.to_thread(
        cli, capsys, "--config", str(config), "--sku", "6901234567892"
    )
    assert "versions of 6901234567892:" in out and "held" in out.split("versions of")[1]

    code, _, err = await asyncio.to_thread(cli, capsys, "--config", str(config), "--sku", "nope")
    assert code == 1 and "no prices for SKU 'nope'" in err


async def test_prices_from_the_running_daemon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = await prepared(tmp_path)

    class Port:
        def __init__(self) -> None:
            self.asked: list[tuple[str | None, bool]] = []

        async def price_catalogue(self, sku: str | None, held_only: bool) -> list[dict[str, Any]]:
            self.asked.append((sku, held_only))
            return [{"sku": "X", "labels": 0, "current": None, "held": None}]

    port = Port()
    runner = await serve_local_api(port, tmp_path / "data" / SOCKET_NAME)  # type: ignore[arg-type]
    try:
        code, out, _ = await asyncio.to_thread(cli, capsys, "--config", str(config), "--held")
    finally:
        await runner.cleanup()
    assert code == 0 and port.asked == [(None, True)]
    assert out.splitlines()[-1] == "1 SKU, 0 with a price held for review (from the daemon)"


def test_no_database_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(f'store_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "{tmp_path / "none"}"\n')
    code, _, err = cli(capsys, "--config", str(config))
    assert code == 1 and "no running daemon and no readable database" in err
