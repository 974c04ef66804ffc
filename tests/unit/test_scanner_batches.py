"""The scanner hands adverts on in batches: in order, all of them, none lost at a stop."""

from __future__ import annotations

import asyncio

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.types import Advertisement
from gateway.ble.scanner import AdapterScanner, ScannerOptions


def _advert(address: str, rssi: int, payload: bytes) -> tuple[BLEDevice, AdvertisementData]:
    data = AdvertisementData(
        local_name=None,
        manufacturer_data={0x0499: payload},
        service_data={},
        service_uuids=["0000fcd2-0000-1000-8000-00805f9b34fb"],
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )
    return BLEDevice(address, None, {}), data


async def test_adverts_reach_the_ingest_once_per_batch_in_the_order_they_came() -> None:
    seen: list[Advertisement] = []
    scanner = AdapterScanner("hci1", seen.append, ScannerOptions(coalesce_s=0.05))
    for i in range(5):
        scanner._callback(*_advert(f"C4:09:00:00:00:0{i}", -60 - i, bytes([5, i])))
    assert seen == [] and scanner.adverts == 5  # queued, counted at once
    assert scanner.last_advert_mono is not None
    await asyncio.sleep(0.15)
    assert [a.address for a in seen] == [f"C4:09:00:00:00:0{i}" for i in range(5)]
    first = seen[0]
    assert first.rssi == -60 and first.adapter == "hci1"
    assert first.manufacturer_data == {0x0499: bytes([5, 0])}
    assert first.service_uuids == ("0000fcd2-0000-1000-8000-00805f9b34fb",)
    scanner._callback(*_advert("C4:09:00:00:00:09", -70, b"\x05"))  # a new batch
    await asyncio.sleep(0.15)
    assert len(seen) == 6


async def test_a_failing_advert_does_not_drop_the_rest_of_its_batch() -> None:
    seen: list[str] = []

    def handle(advert: Advertisement) -> None:
        if advert.address.endswith("01"):
            raise ValueError("broken")
        seen.append(advert.address)

    scanner = AdapterScanner("hci0", handle, ScannerOptions(coalesce_s=0.01))
    for i in range(3):
        scanner._callback(*_advert(f"C4:09:00:00:00:0{i}", -60, b"\x05"))
    await asyncio.sleep(0.1)
    assert seen == ["C4:09:00:00:00:00", "C4:09:00:00:00:02"]


async def test_stopping_hands_on_what_is_queued() -> None:
    seen: list[Advertisement] = []
    scanner = AdapterScanner("hci0", seen.append, ScannerOptions(coalesce_s=30.0))
    scanner._callback(*_advert("C4:09:00:00:00:01", -60, b"\x05"))
    await scanner._stop()
    assert [a.address for a in seen] == ["C4:09:00:00:00:01"]
    await asyncio.sleep(0.05)
    assert len(seen) == 1  # the timer went with the batch
