"""``store-gateway devices``: a table that fits the terminal, every reading in --json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drivers.types import Advertisement, DeviceKind, Observation
from gateway.cli import main
from gateway.registry import Registry, RegistryOptions
from gateway.registry.persistence import flush_dirty
from gateway.store import Database


async def test_the_table_fits_the_terminal_and_json_has_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path / "data" / "gateway.db")
    await db.open()
    registry = Registry(RegistryOptions())
    readings = {f"reading_{n}_c": 1.0 + n for n in range(9)} | {"temperature_c": 3.456}
    registry.observe(
        Advertisement(address="C4:01:01:00:00:01", rssi=-70, name="Fridge with a long name"),
        Observation(
            kind=DeviceKind.SENSOR, model="ruuvi-rawv2", readings=readings, battery_pct=80.0
        ),
        time.monotonic(),
        time.time() - 125,
    )
    await flush_dirty(db, registry)
    await db.close()
    config = tmp_path / "gw.toml"
    config.write_text(f'store_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["devices", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 100 for line in out), [len(line) for line in out]
    row = out[1]
    assert "Fridge with a long …" in row and "2m ago" in row and row.endswith("…")
    assert out[-1] == "1 devices (from the database; --json for every reading)"
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["devices", "--config", str(config)]) == 0
    wide = capsys.readouterr().out.splitlines()[1]
    assert "temperature 3.5°C, reading_0 1.0°C, reading_1 2.0°C (+7)" in wide
    assert main(["devices", "--config", str(config), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert len(body["devices"][0]["readings"]) == 10
