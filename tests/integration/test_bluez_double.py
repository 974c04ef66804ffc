"""The real bleak against the BlueZ double: discovery, GATT, and BlueZ's failures."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakError

from drivers.decode import decode
from drivers.types import Advertisement
from gateway.ble.patterns import PASSIVE_OR_PATTERNS
from gateway.sim.control import VirtualStoreClient
from gateway.sim.model import AdapterSpec, Scenario
from gateway.sim.runner import RunningStore, virtual_store
from gateway.sim.scenario import bthome_key, expected_devices
from tests.helpers.sim_labels import sim_label
from tests.integration.conftest import LABEL_SPEEDUP, SMALL_STORE

LABEL = "FF:01:01:00:00:01"
FEF1 = "0000fef1-0000-1000-8000-00805f9b34fb"
FEF2 = "0000fef2-0000-1000-8000-00805f9b34fb"
ROOT = Path(__file__).resolve().parents[2]


async def scan(seconds: float, mode: str = "active") -> dict[str, AdvertisementData]:
    seen: dict[str, AdvertisementData] = {}

    def cb(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = adv

    bluez: dict[str, object] = {"adapter": "hci0"}
    if mode == "passive":
        bluez["or_patterns"] = PASSIVE_OR_PATTERNS
    scanner = BleakScanner(cb, scanning_mode=mode, bluez=bluez)  # type: ignore[arg-type]
    await scanner.start()
    await asyncio.sleep(seconds)
    await scanner.stop()
    return seen


def keys() -> dict[str, bytes]:
    return {
        e.address.replace(":", "").lower(): bthome_key(42, e.address)
        for e in expected_devices(SMALL_STORE)
        if e.group == "bthome-encrypted"
    }


@pytest.mark.parametrize("mode", ["active", "passive"])
async def test_every_device_discovered_with_decodable_data(store: RunningStore, mode: str) -> None:
    seen = await scan(5, mode)
    expected = expected_devices(SMALL_STORE)
    assert sorted(seen) == sorted(e.address for e in expected)
    for e in expected:
        adv = seen[e.address]
        obs = decode(
            Advertisement(
                e.address,
                adv.rssi,
                adv.local_name,
                adv.tx_power,
                adv.manufacturer_data,
                adv.service_data,
                tuple(adv.service_uuids),
            ),
            bthome_keys=keys(),
        )
        assert obs is not None, e
        assert (obs.kind.value, obs.model) == (e.kind, e.model), e
        assert -100 <= adv.rssi <= 0


async def test_gatt_write_and_notify_with_the_label(store: RunningStore) -> None:
    """A 2.9" label's side of the protocol through bleak: raw planes in 40 parts of 240."""
    planes = bytes(range(256)) * 37  # 9,472 bytes: two planes of 296 x 128
    async with BleakClient(LABEL, bluez={"adapter": "hci0"}, timeout=10) as client:
        uuids = {c.uuid for s in client.services for c in s.characteristics}
        assert {FEF1, FEF2} <= uuids
        image = client.services.get_characteristic(FEF2)
        assert image is not None and image.max_write_without_response_size == 244
        replies: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(FEF1, lambda _, data: replies.put_nowait(bytes(data)))
        await asyncio.sleep(0.1)  # notifications settle (0.3 s on real labels, 10x faster here)
        await client.write_gatt_char(FEF1, b"\x01", response=True)
        assert await asyncio.wait_for(replies.get(), 5) == b"\x01\xf4\x00"
        await client.write_gatt_char(FEF1, b"\x02" + len(planes).to_bytes(4, "little") + bytes(3))
        assert await asyncio.wait_for(replies.get(), 5) == b"\x02\x00"
        await client.write_gatt_char(FEF1, b"\x03")
        assert await asyncio.wait_for(replies.get(), 5) == b"\x05\x00" + bytes(4)
        for part in range(40):
            chunk = planes[part * 240 : (part + 1) * 240]
            await client.write_gatt_char(FEF2, part.to_bytes(4, "little") + chunk, response=False)
            reply = await asyncio.wait_for(replies.get(), 5)
            assert reply == b"\x05\x00" + (part + 1).to_bytes(4, "little")  # 40: past the end
    control = await VirtualStoreClient.connect(store.bus_address)
    await asyncio.sleep(12.0 / LABEL_SPEEDUP + 0.3)  # the panel refreshes
    assert await control.label_image(LABEL) == planes
    await control.close()


async def test_a_label_without_an_mtu_exchange_asks_for_twenty_byte_writes(
    store: RunningStore,
) -> None:
    async with BleakClient("FF:01:03:00:00:01", bluez={"adapter": "hci0"}, timeout=10) as client:
        image = client.services.get_characteristic(FEF2)
        assert image is not None and image.max_write_without_response_size == 20
        replies: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(FEF1, lambda _, data: replies.put_nowait(bytes(data)))
        await asyncio.sleep(0.1)
        await client.write_gatt_char(FEF1, b"\x01", response=True)
        assert await asyncio.wait_for(replies.get(), 5) == b"\x01\x14\x00"
        with pytest.raises(BleakError, match="Length"):  # BlueZ: longer than MTU - 3
            await client.write_gatt_char(FEF2, bytes(21), response=False)


async def test_concurrent_connect_is_in_progress(
    store: RunningStore, control: VirtualStoreClient
) -> None:
    await scan(3)
    await control.set_connect_fault(LABEL, "hang")
    slow = BleakClient(LABEL, bluez={"adapter": "hci0"}, timeout=3)
    other = BleakClient("FF:01:01:00:00:02", bluez={"adapter": "hci0"}, timeout=5)
    slow_task = asyncio.create_task(slow.connect())
    await asyncio.sleep(0.5)
    with pytest.raises(BleakDBusError) as info:
        await other.connect()
    assert info.value.dbus_error == "org.bluez.Error.InProgress"
    with pytest.raises((TimeoutError, BleakError)):
        await slow_task


async def test_connect_failure_and_slot_limit(
    store: RunningStore, control: VirtualStoreClient
) -> None:
    await scan(3)
    await control.set_connect_fault(
        LABEL, "fail", "org.bluez.Error.Failed", "Software caused connection abort"
    )
    with pytest.raises(BleakDBusError) as info:
        await BleakClient(LABEL, bluez={"adapter": "hci0"}, timeout=5).connect()
    assert info.value.dbus_error == "org.bluez.Error.Failed"
    await control.set_connect_fault(LABEL, "none")
    await control.set_slots("hci0", 1)
    first = BleakClient("FF:01:01:00:00:02", bluez={"adapter": "hci0"}, timeout=5)
    await first.connect()
    try:
        with pytest.raises(BleakDBusError) as info:
            await BleakClient("FF:01:01:00:00:03", bluez={"adapter": "hci0"}, timeout=5).connect()
        assert "limited resources" in str(info.value)
    finally:
        await first.disconnect()


async def test_powered_off_adapter_is_not_ready(
    store: RunningStore, control: VirtualStoreClient
) -> None:
    await control.set_powered("hci0", False)
    with pytest.raises(BleakDBusError) as info:
        await BleakScanner(bluez={"adapter": "hci0"}).start()
    assert info.value.dbus_error == "org.bluez.Error.NotReady"
    await control.set_powered("hci0", True)
    assert len(await scan(3)) > 40


async def test_out_of_range_device_disappears_and_returns(
    store: RunningStore, control: VirtualStoreClient
) -> None:
    gone = asyncio.Event()
    back = asyncio.Event()
    target = "C4:01:01:00:00:01"
    await control.set_in_range(target, False)
    scanner = BleakScanner(bluez={"adapter": "hci0"})
    await scanner.start()
    t0 = time.monotonic()
    while target in {d.address for d in scanner.discovered_devices} and time.monotonic() - t0 < 15:
        await asyncio.sleep(0.2)
    gone.set()
    assert target not in {d.address for d in scanner.discovered_devices}
    await control.set_in_range(target, True)
    t0 = time.monotonic()
    while (
        target not in {d.address for d in scanner.discovered_devices} and time.monotonic() - t0 < 10
    ):
        await asyncio.sleep(0.2)
    back.set()
    await scanner.stop()
    assert target in {d.address for d in scanner.discovered_devices}


async def test_silent_scanner_and_bluez_restart_as_bleak_sees_them(
    store: RunningStore, control: VirtualStoreClient
) -> None:
    count = 0

    def cb(device: BLEDevice, adv: AdvertisementData) -> None:
        nonlocal count
        count += 1

    scanner = BleakScanner(cb, bluez={"adapter": "hci0"})
    await scanner.start()
    await asyncio.sleep(1)
    assert count > 0
    await control.set_silent("hci0", True)
    await asyncio.sleep(0.3)
    before = count
    await asyncio.sleep(1.5)
    assert count == before  # Discovering stays true, nothing arrives
    status = await control.status()
    assert status["adapters"]["hci0"]["discovering"] is True
    await scanner.stop()
    await scanner.start()  # restarting discovery brings adverts back
    await asyncio.sleep(1)
    assert count > before

    await control.restart_bluez()
    await asyncio.sleep(1.5)
    during = count
    await asyncio.sleep(1)
    assert count == during  # bleak's discovery died with bluetoothd and it did not notice
    assert (await control.status())["bluez_restarts"] == 1


def test_simulate_command_prints_the_bus_address(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "simulate", "--scenario", str(SMALL_STORE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("DBUS_SYSTEM_BUS_ADDRESS=unix:path=")
        script = (
            "import asyncio\nfrom bleak import BleakScanner\n"
            "async def main():\n    d = await BleakScanner.discover(timeout=6)\n    print(len(d))\n"
            "asyncio.run(main())\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, "DBUS_SYSTEM_BUS_ADDRESS": line.split("=", 1)[1]},
        )
        assert int(out.stdout.strip()) == len(expected_devices(SMALL_STORE)), out.stderr
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == ""  # exactly one line


def test_bad_scenario_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[adapters]]\nname = "hci0"\naddress = "nope"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "simulate", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert out.returncode == 2 and "adapters.0.address" in out.stderr and out.stdout == ""


async def test_many_large_label_images_read_at_once(store: RunningStore) -> None:
    """The checks at a campaign's end read every label's frame buffer at once: large
    replies fill the control connection's socket, which must wait, not drop."""
    labels = [a for a, dev in store.double.devices.items() if hasattr(dev, "show")]
    assert len(labels) >= 5
    for n, address in enumerate(labels):
        store.double.devices[address].show(bytes([n]) * 200_000)  # type: ignore[attr-defined]
    control = await VirtualStoreClient.connect(store.bus_address)
    try:
        images = await asyncio.gather(*(control.label_image(a) for a in labels * 40))
    finally:
        await control.close()
    assert [img[:1] for img in images] == [bytes([n]) for n in range(len(labels))] * 40
    assert {len(img) for img in images} == {200_000}


async def test_a_second_discovery_reports_a_device_whose_adverts_never_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As bluetoothd does: when discovery stops, the devices found lose their RSSI
    # (invalidated), so the next discovery reports each again with its first advert.
    quiet = sim_label()  # the same advert and RSSI every time
    scenario = Scenario("quiet", [AdapterSpec("hci0", "00:1A:7D:DA:71:01")], [quiet])
    async with virtual_store(scenario) as running:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", running.bus_address)
        for _ in range(3):
            seen = await scan(1.5)
            assert quiet.address in seen
            assert seen[quiet.address].rssi == -60
