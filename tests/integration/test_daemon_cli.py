"""The daemon as a process with its CLI: devices from the daemon and from the database,
SIGHUP reloads tags (and refuses a broken file without changing anything)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.sim.runner import RunningStore

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, data_dir: Path, tags: str = "") -> None:
    path.write_text(
        f'store_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "{data_dir}"\n'
        '[ble]\nadapters = ["hci0"]\n[mqtt]\nenabled = false\n[web]\nenabled = false\n'
        f"[registry.tags]\n{tags}\n"
    )


async def devices(config: Path) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "devices",
        "--config",
        str(config),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_devices_command_and_sighup(store: RunningStore, tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    write_config(config, tmp_path / "data")
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": store.bus_address, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "run",
        "--config",
        str(config),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            await asyncio.sleep(0.2)
            if (tmp_path / "data" / "api.sock").exists():
                live = await devices(config)
                if len(live["devices"]) >= 40:
                    break
        assert live["source"] == "daemon" and len(live["devices"]) >= 40
        fridge = next(d for d in live["devices"] if d["device_id"] == "c40101000001")
        assert fridge["tags"] == [] and fridge["online"] is True

        write_config(config, tmp_path / "data", '"c40101000001" = ["fridge"]')
        proc.send_signal(signal.SIGHUP)
        for _ in range(50):
            await asyncio.sleep(0.1)
            tagged = next(
                d for d in (await devices(config))["devices"] if d["device_id"] == "c40101000001"
            )
            if tagged["tags"] == ["fridge"]:
                break
        assert tagged["tags"] == ["fridge"]

        config.write_text(config.read_text().replace('store_id = "s1"', "store_id = 5"))
        proc.send_signal(signal.SIGHUP)  # broken file: refused, the daemon carries on
        await asyncio.sleep(1)
        assert proc.returncode is None
        write_config(config, tmp_path / "data", '"c40101000001" = ["fridge"]')
        after = await devices(config)
        assert after["source"] == "daemon" and len(after["devices"]) >= 40
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    stored = await devices(config)
    assert stored["source"] == "database" and len(stored["devices"]) >= 40
    assert all(d["online"] is None for d in stored["devices"])
