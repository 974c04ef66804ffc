"""One floor served to two gateway boxes: real dbus-daemons, and real bleak on each box's
bus in a process of its own (as each box's gateway is)."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from gateway.sim.control import VirtualStoreClient, VirtualStoreError
from gateway.sim.runner import RunningFloor, virtual_floor
from gateway.sim.scenario import env_name
from tests.integration.conftest import SCENARIOS

FLOOR = SCENARIOS / "two-box-floor.toml"
ROOT = Path(__file__).resolve().parents[2]
NEAR_A = [f"FF:0A:01:00:00:0{n}" for n in range(1, 5)]
NEAR_B = [f"FF:0A:02:00:00:0{n}" for n in range(1, 5)]
BETWEEN = ["FF:0A:03:00:00:01", "FF:0A:03:00:00:02"]
CONNECT_TIMEOUT = 1.5  # how long a box waits for a label another box holds


@pytest.fixture
async def floor() -> AsyncIterator[RunningFloor]:
    async with virtual_floor(
        FLOOR, device_timeout_s=5.0, connect_timeout_s=CONNECT_TIMEOUT
    ) as running:
        yield running


@pytest.fixture
async def control(floor: RunningFloor) -> AsyncIterator[VirtualStoreClient]:
    client = await VirtualStoreClient.connect(floor.bus_address("box-a"))
    yield client
    await client.close()


def env(bus: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DBUS_SYSTEM_BUS_ADDRESS": bus}


async def probe_scan(bus: str, seconds: float, adapters: str = "hci0") -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.helpers.floor_probe",
        "scan",
        str(seconds),
        "--adapters",
        adapters,
        stdout=asyncio.subprocess.PIPE,
        env=env(bus),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
    assert proc.returncode == 0
    data: dict[str, Any] = json.loads(out)
    return data


class Holder:
    """A bleak connection from one box, held until released."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, bus: str, address: str, timeout: float) -> Holder:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.helpers.floor_probe",
            "connect",
            address,
            "--timeout",
            str(timeout),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env(bus),
        )
        return cls(proc)

    async def line(self, within: float) -> tuple[str, float, str]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout=within)
        word, at, *rest = [*raw.decode().strip().split(" ", 2), ""]
        return word, float(at), rest[0]

    async def release(self) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        word, at, _ = await self.line(15)
        assert word == "disconnected"
        await self.proc.wait()
        return at

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


def mean_rssi(heard: dict[str, list[int]], addresses: list[str]) -> float:
    return statistics.mean(r for a in addresses for r in heard.get(a, []))


async def test_each_box_hears_the_nearer_devices_stronger_and_not_the_far_ones(
    floor: RunningFloor,
) -> None:
    a, b = await asyncio.gather(
        probe_scan(floor.bus_address("box-a"), 3, "hci0,hci1"),
        probe_scan(floor.bus_address("box-b"), 3),
    )
    heard_a, heard_b = a["heard"], b["heard"]
    assert set(NEAR_A + BETWEEN) <= set(heard_a)
    assert set(NEAR_B + BETWEEN) <= set(heard_b)
    assert not set(NEAR_B) & set(heard_a)  # out of box-a's reach
    assert not set(NEAR_A) & set(heard_b)
    assert mean_rssi(heard_a, NEAR_A) > mean_rssi(heard_a, BETWEEN) + 3
    assert mean_rssi(heard_b, NEAR_B) > mean_rssi(heard_b, BETWEEN) + 3
    # Between the boxes, nearer box-a: box-a hears them louder than box-b does.
    assert mean_rssi(heard_a, BETWEEN) > mean_rssi(heard_b, BETWEEN) + 2
    for rssi in (r for h in (heard_a, heard_b) for rs in h.values() for r in rs):
        assert -100 <= rssi <= 0


async def raw_connect(bus_address: str, address: str) -> tuple[str, str, float]:
    """Device1.Connect straight on a box's bus (no bleak retry): error name, text, seconds."""
    bus = await MessageBus(bus_address=bus_address).connect()
    try:
        path = f"/org/bluez/hci0/dev_{address.replace(':', '_')}"
        call = {"destination": "org.bluez", "path": "/org/bluez/hci0"}
        start = Message(**call, interface="org.bluez.Adapter1", member="StartDiscovery")
        assert (await bus.call(start)).message_type == MessageType.METHOD_RETURN
        get = Message(
            destination="org.bluez",
            path="/",
            interface="org.freedesktop.DBus.ObjectManager",
            member="GetManagedObjects",
        )
        for _ in range(50):
            reply = await bus.call(get)
            if path in reply.body[0]:
                break
            await asyncio.sleep(0.1)
        t0 = time.monotonic()
        reply = await bus.call(
            Message(
                destination="org.bluez", path=path, interface="org.bluez.Device1", member="Connect"
            )
        )
        elapsed = time.monotonic() - t0
        if reply.message_type == MessageType.ERROR:
            return reply.error_name or "", reply.body[0] if reply.body else "", elapsed
        await bus.call(
            Message(
                destination="org.bluez",
                path=path,
                interface="org.bluez.Device1",
                member="Disconnect",
            )
        )
        return "", "", elapsed
    finally:
        bus.disconnect()


async def test_a_label_takes_one_box_at_a_time(
    floor: RunningFloor, control: VirtualStoreClient
) -> None:
    label = BETWEEN[0]
    holder = await Holder.start(floor.bus_address("box-a"), label, timeout=10)
    waiting: Holder | None = None
    try:
        word, _, _ = await holder.line(20)
        assert word == "connected"
        assert (await control.hearing(label))["holder"] == "box-a/hci0"
        # BlueZ on box-b: the label does not advertise connectably, the attempt times out.
        name, text, seconds = await raw_connect(floor.bus_address("box-b"), label)
        assert (name, text) == ("org.bluez.Error.Failed", "le-connection-abort-by-local")
        assert seconds >= CONNECT_TIMEOUT * 0.9
        # bleak on box-b retries that error until box-a lets go, then connects.
        waiting = await Holder.start(floor.bus_address("box-b"), label, timeout=20)
        await asyncio.sleep(3)
        released = await holder.release()
        word, connected_at, _ = await waiting.line(20)
        assert word == "connected" and connected_at > released
        assert (await control.hearing(label))["holder"] == "box-b/hci0"
        await waiting.release()
    finally:
        holder.kill()
        if waiting is not None:
            waiting.kill()
    stats = (await control.label_stats())[label]
    assert stats["boxes"]["box-a"]["connects"] == 1
    assert stats["boxes"]["box-b"]["connects"] == 1
    assert stats["writes"] == {} and stats["refreshes"] == {}


async def test_moving_a_device_changes_which_box_hears_it(
    floor: RunningFloor, control: VirtualStoreClient
) -> None:
    moved = NEAR_A[0]
    before = await control.hearing(moved)
    assert before["boxes"]["box-a"]["mean_rssi"] > before["boxes"]["box-b"]["mean_rssi"]
    await control.move_device(moved, 54.0, 10.0)  # beside box-b, out of box-a's reach
    after = await control.hearing(moved)
    assert after["boxes"]["box-b"]["heard"] and not after["boxes"]["box-a"]["in_reach"]
    a, b = await asyncio.gather(
        probe_scan(floor.bus_address("box-a"), 2.5, "hci0,hci1"),
        probe_scan(floor.bus_address("box-b"), 2.5),
    )
    assert moved in b["heard"] and moved not in a["heard"]
    assert statistics.mean(b["heard"][moved]) > -95
    with pytest.raises(VirtualStoreError, match="off the floor"):
        await control.move_device(moved, 70.0, 10.0)


async def test_a_box_with_its_radio_off_hears_nothing_until_it_is_back(
    floor: RunningFloor,
) -> None:
    # Drilled through box-b's bus: any box's bus reaches the floor.
    client = await VirtualStoreClient.connect(floor.bus_address("box-b"))
    try:
        await client.set_box_radio("box-a", False)
        status = await VirtualStoreClient.connect(floor.bus_address("box-a"))
        adapters = (await status.status())["adapters"]
        await status.close()
        assert {n: (a["powered"], a["blocked"]) for n, a in adapters.items()} == {
            "hci0": (False, True),
            "hci1": (False, True),
        }
        # The gateway cannot power a blocked adapter on again.
        bus = await MessageBus(bus_address=floor.bus_address("box-a")).connect()
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/org/bluez/hci0",
                interface="org.freedesktop.DBus.Properties",
                member="Set",
                signature="ssv",
                body=["org.bluez.Adapter1", "Powered", Variant("b", True)],
            )
        )
        bus.disconnect()
        assert reply.error_name == "org.bluez.Error.Blocked"
        a, b = await asyncio.gather(
            probe_scan(floor.bus_address("box-a"), 1.5),
            probe_scan(floor.bus_address("box-b"), 1.5),
        )
        assert a == {"error": "org.bluez.Error.NotReady", "heard": {}}
        assert set(NEAR_B) <= set(b["heard"])
        await client.set_box_radio("box-a", True)
        a = await probe_scan(floor.bus_address("box-a"), 2)
        assert set(NEAR_A) <= set(a["heard"])
    finally:
        await client.close()


async def test_a_killed_box_frees_its_labels_and_comes_back_at_the_same_address(
    floor: RunningFloor, control: VirtualStoreClient
) -> None:
    label = BETWEEN[1]
    address_b = floor.bus_address("box-b")
    holder = await Holder.start(address_b, label, timeout=10)
    try:
        word, _, _ = await holder.line(20)
        assert word == "connected"
        await control.kill_box("box-b")
        assert floor.boxes["box-b"].double is None
        with pytest.raises(OSError):  # the bus is gone with its machine
            await MessageBus(bus_address=address_b).connect()
        status = await control.floor_status()
        assert status["boxes"]["box-b"]["alive"] is False and status["links_held"] == 0
        name, _, _ = await raw_connect(floor.bus_address("box-a"), label)
        assert name == ""  # box-a takes the label at once
        await control.revive_box("box-b")
        b = await probe_scan(address_b, 2)
        assert set(NEAR_B) <= set(b["heard"])
    finally:
        holder.kill()


def test_simulate_prints_one_bus_per_box() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "simulate", "--scenario", str(FLOOR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        names = [line.split("=", 1)[0] for line in lines]
        assert (
            names
            == [env_name("box-a"), env_name("box-b")]
            == [
                "DBUS_SYSTEM_BUS_ADDRESS_BOX_A",
                "DBUS_SYSTEM_BUS_ADDRESS_BOX_B",
            ]
        )
        heard = [asyncio.run(probe_scan(line.split("=", 1)[1], 2))["heard"] for line in lines]
        assert set(NEAR_A) <= set(heard[0]) and not set(NEAR_A) & set(heard[1])
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == ""
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "simulate",
            "--scenario",
            str(FLOOR),
            "--bus-address",
            "x",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert refused.returncode == 2 and "--bus-address" in refused.stderr


def test_the_load_measurement_runs_on_a_floor() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.sim.floor_load",
            "--scenario",
            str(FLOOR),
            "--seconds",
            "2",
            "--warmup",
            "1",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    boxes = result["boxes"]
    assert set(boxes) == {"box-a", "box-b"} and result["devices"] == 15
    # box-a scans on two adapters: each hears its share of the floor's adverts.
    assert boxes["box-a"]["emitted_per_s"] > boxes["box-b"]["emitted_per_s"] > 5
    assert all(b["received_per_s"] > 0 for b in boxes.values())
