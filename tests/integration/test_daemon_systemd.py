"""The daemon started the way systemd starts it: notify socket, watchdog, stop budget."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.sim.runner import RunningStore

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "store-gateway.service"


async def recv(sock: socket.socket, timeout: float) -> list[str]:
    loop = asyncio.get_running_loop()
    data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)
    return data.decode().split("\n")


@pytest.fixture
def notify(tmp_path: Path):  # type: ignore[no-untyped-def]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock, str(tmp_path / "notify")
    sock.close()


async def test_ready_status_watchdog_and_stop_as_a_process(
    store: RunningStore,
    notify,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    sock, address = notify
    config = tmp_path / "gw.toml"
    config.write_text(
        f'store_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "{tmp_path}/data"\n'
        '[ble]\nadapters = ["hci0"]\n[mqtt]\nenabled = false\n[web]\nenabled = false\n'
    )
    env = {
        **os.environ,
        "DBUS_SYSTEM_BUS_ADDRESS": store.bus_address,
        "PYTHONPATH": str(ROOT),
        "NOTIFY_SOCKET": address,
        "WATCHDOG_USEC": "2000000",
    }
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "run",
        "--config",
        str(config),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        messages: list[str] = []
        while not any(m == "READY=1" for m in messages):
            messages += await recv(sock, 15)
        ready_after = time.monotonic() - started
        pings = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            batch = await recv(sock, 3)
            pings += batch.count("WATCHDOG=1")
            messages += batch
        assert pings >= 2  # every half interval (1 s)
        status = [m for m in messages if m.startswith("STATUS=")][-1]
        assert "1/1 adapters scanning" in status and "devices online" in status, status
        proc.send_signal(signal.SIGTERM)
        t_stop = time.monotonic()
        seen: list[str] = []
        while "STOPPING=1" not in seen:
            seen += await recv(sock, 5)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert time.monotonic() - t_stop < 15
        print(f"READY after {ready_after:.2f} s")
    finally:
        if proc.returncode is None:
            proc.kill()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    # verify checks that ExecStart= binaries exist: point them at a stand-in.
    stub = tmp_path / "store-gateway"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    unit = tmp_path / "store-gateway.service"
    unit.write_text(UNIT.read_text().replace("/opt/store-gateway/bin/store-gateway", str(stub)))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    problems = [line for line in verify.stderr.splitlines() if "store-gateway.service" in line]
    assert verify.returncode == 0 and problems == [], verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True, text=True
    )
    line = next(x for x in security.stdout.splitlines() if "Overall exposure level" in x)
    exposure = float(line.split(":")[1].split()[0])
    assert exposure <= 2.0, line


async def test_watchdog_stops_pinging_while_the_database_writer_hangs(
    store: RunningStore,
    notify,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from gateway.daemon.app import Gateway, GatewaySettings

    sock, address = notify
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    gw = Gateway(
        GatewaySettings(
            store_id="s1",
            gateway_id="gw-1",
            data_dir=tmp_path / "d",
            adapters=("hci0",),
            watchdog_limits={"ble": 60, "database": 1.5, "publisher": 60},
        )
    )

    async def pings_during(seconds: float) -> int:
        count = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                count += (await recv(sock, max(0.05, deadline - time.monotonic()))).count(
                    "WATCHDOG=1"
                )
            except TimeoutError:
                break
        return count

    await gw.start()
    try:
        assert await pings_during(2.0) >= 2
        freeze = asyncio.create_task(gw.db.run(lambda d: time.sleep(5)))  # the writer hangs
        await pings_during(2.0)  # the database's 1.5 s limit passes
        assert await pings_during(2.0) == 0 and gw.watchdog.stale == ["database"]
        await freeze
        assert await pings_during(2.0) >= 1 and gw.watchdog.stale == []
    finally:
        await gw.stop()
