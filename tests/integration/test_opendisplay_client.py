"""The simulated OpenDisplay label speaks OpenDisplay: the maintained client, py-opendisplay
(pinned, test-only), drives it through the real bleak and the BlueZ double as it drives a
real device, and the label's frame buffer shows what the client sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import numpy as np
import pytest
from bleak import BleakScanner
from epaper_dithering import ColorScheme
from opendisplay import (
    AuthenticationFailedError,
    AuthenticationRequiredError,
    OpenDisplayDevice,
    ProtocolError,
    RefreshTimeoutError,
)
from opendisplay.discovery import discover_devices_with_adv
from opendisplay.models.led_flash import LedFlashConfig
from PIL import Image, ImageDraw

from drivers.labels.opendisplay import (
    Display,
    OpenDisplayTransfer,
    ReadConfig,
    compress,
    etag_of,
    pack,
)
from drivers.labels.opendisplay import Scheme as OdScheme
from gateway.labels.jobs import Outcome
from gateway.labels.scheduler import ConnectGate
from gateway.labels.session import run_machine
from gateway.sim.devices.opendisplay import OpenDisplayBehaviour, OpenDisplayLabel, Scheme
from gateway.sim.model import AdapterSpec, Scenario
from gateway.sim.runner import virtual_store

ADDRESS = "F0:0D:00:00:00:01"


def label(**behaviour: object) -> OpenDisplayLabel:
    timing = {"chunk_rtt_s": 0.002, "refresh_s": 0.2, "fast_refresh_s": 0.05}
    return OpenDisplayLabel(
        behaviour=OpenDisplayBehaviour(**{"connect_latency_s": 0.05, **timing, **behaviour}),  # type: ignore[arg-type]
        battery_mv=2950,
        address=ADDRESS,
        name=None,
        interval_s=0.1,
        heard_by={"hci0": -55},
        rssi_noise=0,
        away=[],
        seed=1,
    )


KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


@contextlib.asynccontextmanager
async def running(
    monkeypatch: pytest.MonkeyPatch, **behaviour: object
) -> AsyncIterator[OpenDisplayLabel]:
    device = label(**behaviour)
    scenario = Scenario(
        name="opendisplay", adapters=[AdapterSpec("hci0", "00:1A:7D:DA:71:01")], devices=[device]
    )
    async with virtual_store(scenario) as store:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", store.bus_address)
        yield device


@pytest.fixture
async def store(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OpenDisplayLabel]:
    async with running(monkeypatch) as device:
        yield device


def picture(width: int, height: int) -> Image.Image:
    img = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(img)
    pen.rectangle([4, 4, width // 2, height // 2], fill="black")
    pen.rectangle([width // 2, height // 2, width - 5, height - 5], fill=(255, 0, 0))
    pen.text((10, height - 30), "12.90", fill="black")
    return img


@pytest.mark.parametrize("compress", [True, False])
async def test_the_real_client_interrogates_and_uploads(
    store: OpenDisplayLabel, compress: bool
) -> None:
    async with OpenDisplayDevice(mac_address=ADDRESS, timeout=10) as device:
        # The configuration as the client reads it from the label.
        assert (device.width, device.height) == (296, 128)
        assert device.color_scheme == ColorScheme.BWR
        config = device.config
        assert config is not None and len(config.leds) == 1
        processed = await device.upload_image(picture(296, 128), compress=compress)
    shown = store.label_pixels()
    assert shown is not None
    assert shown == np.asarray(processed).astype(np.uint8).tobytes()
    assert set(shown) == {0, 1, 2}  # black, white and red all arrived
    assert store.refreshes and store.commands[0x0070] == 1
    assert store.received == {"zlib" if compress else "raw": 1}
    chunks = store.commands[0x0071]
    assert (chunks < 10) if compress else (chunks == -(-9472 // 230))  # 230-byte chunks


@pytest.mark.parametrize(
    ("scheme", "size", "colours"),
    [
        (Scheme.MONO, (200, 200), {0, 1}),
        (Scheme.BWRY, (400, 300), {0, 1, 3}),  # its palette: black, white, yellow, red
    ],
)
async def test_other_colour_schemes_and_sizes(
    monkeypatch: pytest.MonkeyPatch, scheme: Scheme, size: tuple[int, int], colours: set[int]
) -> None:
    width, height = size
    async with (
        running(monkeypatch, scheme=scheme, width=width, height=height, rotation=0) as store,
        OpenDisplayDevice(mac_address=ADDRESS, timeout=10) as device,
    ):
        assert (device.width, device.height) == size
        assert device.color_scheme == ColorScheme.from_value(int(scheme))
        processed = await device.upload_image(picture(width, height))
        await asyncio.sleep(0.3)  # the refresh
        shown = store.label_pixels()
    assert shown is not None and shown == np.asarray(processed).astype(np.uint8).tobytes()
    assert colours <= set(shown)


async def test_the_led_flashes_as_asked_and_a_missing_one_is_an_error(
    store: OpenDisplayLabel,
) -> None:
    pattern = LedFlashConfig.single(color=0xE0, flash_count=3)
    async with OpenDisplayDevice(mac_address=ADDRESS, timeout=10) as device:
        await device.activate_led(0, pattern)
        with pytest.raises(ProtocolError, match="firmware error code 0x02"):
            await device.activate_led(1, pattern)
        version = await device.read_firmware_version()
    assert store.flashes == [(0, pattern.to_bytes())]
    assert (version["major"], version["minor"], version["patch"]) == (2, 25, 0)


async def test_a_refresh_that_times_out_is_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    async with (
        running(monkeypatch, refresh_timeout_probability=1.0) as store,
        OpenDisplayDevice(mac_address=ADDRESS, timeout=10) as device,
    ):
        with pytest.raises(RefreshTimeoutError):
            await device.upload_image(picture(296, 128))
    assert store.label_pixels() is None


async def test_an_encrypted_label_takes_only_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running(monkeypatch, key=KEY) as store:
        # Without a key, the label says so; with a wrong one, the client is refused.
        with pytest.raises(AuthenticationRequiredError):
            async with OpenDisplayDevice(mac_address=ADDRESS, timeout=10):
                pass
        with pytest.raises(AuthenticationFailedError):
            async with OpenDisplayDevice(mac_address=ADDRESS, timeout=10, encryption_key=bytes(16)):
                pass
        assert store.auth_failures == 1
        # With its key: the configuration, an image and the LED, all in the session's envelope.
        async with OpenDisplayDevice(mac_address=ADDRESS, timeout=10, encryption_key=KEY) as device:
            assert (device.width, device.height) == (296, 128)
            processed = await device.upload_image(picture(296, 128))
            await device.activate_led(0, LedFlashConfig.single(color=0x1C))
        await asyncio.sleep(0.3)
        shown = store.label_pixels()
    assert shown is not None and shown == np.asarray(processed).astype(np.uint8).tobytes()
    assert len(store.flashes) == 1


async def test_its_advert_as_the_client_reads_it(store: OpenDisplayLabel) -> None:
    found = await discover_devices_with_adv(timeout=1.0)
    ((name, (address, advert)),) = found.items()
    assert address == ADDRESS and name == "OD000001"
    assert advert is not None and advert.format_version == "v1"
    assert advert.battery_mv == 2950 and advert.temperature_c == 22.0
    assert advert.reboot_flag is True  # nobody has connected since it started
    async with OpenDisplayDevice(mac_address=ADDRESS, timeout=10):
        pass
    (_, (_, after)), *_ = (await discover_devices_with_adv(timeout=1.0)).items()
    assert after is not None and after.reboot_flag is False


@pytest.mark.parametrize("compressed", [True, False])
async def test_the_gateways_own_transfer_reaches_the_same_frame_buffer(
    store: OpenDisplayLabel, compressed: bool
) -> None:
    # What the maintained client makes of a picture, as palette indices...
    async with OpenDisplayDevice(mac_address=ADDRESS, timeout=10) as device:
        processed = await device.upload_image(picture(296, 128))
    indices = np.asarray(processed).astype(np.uint8).tobytes()
    await asyncio.sleep(0.3)
    assert store.label_pixels() == indices
    store.show(bytes(len(store.label_image() or b"")), 0, 0, "reset")  # a blank panel
    # ...written by the gateway's own machines: the configuration, then the image.
    label_id = ADDRESS.replace(":", "").lower()
    reading = ReadConfig()
    assert (await run_machine(reading, label_id, "hci0", ConnectGate())).outcome is Outcome.DONE
    display = reading.display
    assert display == Display(296, 128, OdScheme.BWR, 0, 0x0A, 1)
    assert reading.container == store.config
    image = pack(indices, display)
    etag = etag_of("3f2a9c01" + "0" * 56)
    machine = OpenDisplayTransfer(
        image, compressed=compress(image) if compressed else None, etag=etag
    )
    result = await run_machine(machine, label_id, "hci0", ConnectGate())
    assert result.outcome is Outcome.DONE, result
    assert machine.sent_compressed is compressed
    await asyncio.sleep(0.3)
    assert store.label_pixels() == indices  # the same frame buffer as the client's
    # The etag is committed with an END; a raw image the label ended itself has none.
    assert store.etag == (etag if compressed else 0)
    assert store.received == ({"zlib": 2} if compressed else {"zlib": 1, "raw": 1})


@pytest.mark.parametrize(
    ("fault", "outcome", "words"),
    [
        ("lost_chunk_probability", Outcome.RETRY, "no answer from the label (after a chunk)"),
        ("drop_probability", Outcome.RETRY, ""),
    ],
)
async def test_a_chunk_lost_or_the_link_dropped_is_retried_and_nothing_is_shown(
    monkeypatch: pytest.MonkeyPatch, fault: str, outcome: Outcome, words: str
) -> None:
    async with running(monkeypatch, **{fault: 1.0}) as store:
        assert await BleakScanner.find_device_by_address(ADDRESS, timeout=5) is not None
        display = Display(296, 128, OdScheme.BWR, 0, 0x0A, 1)
        image = pack(bytes(296 * 128), display)
        machine = OpenDisplayTransfer(image, compressed=None, etag=5, step_timeout_s=0.5)
        result = await run_machine(machine, ADDRESS.replace(":", "").lower(), "hci0", ConnectGate())
    assert result.outcome is outcome and words in (result.reason or ""), result
    assert store.label_pixels() is None and store.refreshes == []
