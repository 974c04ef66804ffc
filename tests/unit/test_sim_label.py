"""The simulated Gicisky label: its advert and its side of the protocol, as real labels do."""

from __future__ import annotations

import asyncio
import struct

import pytest

from drivers.decode import decode
from drivers.labels import containers
from drivers.labels.containers import Container
from drivers.labels.panels import PANELS
from drivers.types import Advertisement
from gateway.sim.devices.labels import SERVICE, LabelDevice
from tests.helpers.sim_labels import Link, sim_label


def test_it_advertises_as_real_labels_do() -> None:
    frame = sim_label(hardware=0x410B).advert(0.0)
    assert frame.manufacturer_data == {0x5053: bytes.fromhex("0b1d810141")}
    assert frame.service_uuids == (SERVICE,) and frame.name == "NEMR92946598"
    obs = decode(Advertisement("FF:FF:92:94:65:98", -60, manufacturer_data=frame.manufacturer_data))
    assert obs is not None and obs.label is not None and obs.label.flags == 0x4000


async def test_commands_before_notifications_settle_are_lost() -> None:
    link = Link(sim_label(notify_settle_s=0.2))
    assert await link.command(b"\x01") is None
    await asyncio.sleep(0.25)
    assert await link.command(b"\x01") == b"\x01\xf4\x00"


@pytest.mark.parametrize(
    ("size", "accepted"),
    [
        (b"\x02" + struct.pack("<I", 9472), True),  # 5 bytes
        (b"\x02" + struct.pack("<I", 9472) + b"\x00", True),  # 6 bytes, type 0
        (b"\x02" + struct.pack("<I", 9472) + b"\x00\x00\x00", True),  # 8 bytes
        (b"\x02" + struct.pack("<I", 9472) + b"\x01", True),  # the vendor app's QuickLZ form
        (b"\x02" + struct.pack("<I", 0) + b"\x00\x00\x00", False),
        (b"\x02\x10", False),
    ],
)
async def test_every_size_command_form(size: bytes, accepted: bool) -> None:
    link = Link(sim_label())
    answer = await link.command(size)
    assert answer == (b"\x02\x00" if accepted else b"\x02\x01")


async def send(device: LabelDevice, size_command: bytes, data: bytes) -> bytes | None:
    """One whole transfer (01, the size command, 03, every part); the last answer."""
    link = Link(device)
    await link.command(b"\x01")
    assert await link.command(size_command) == b"\x02\x00"
    await link.command(b"\x03")
    reply = None
    for part in range(-(-len(data) // 240)):
        reply = await link.part(struct.pack("<I", part) + data[part * 240 : (part + 1) * 240])
    await asyncio.sleep(0.01)  # the refresh
    return reply


def size(length: int, tail: bytes = b"\x00\x00\x00") -> bytes:
    return b"\x02" + struct.pack("<I", length) + tail


async def test_a_firmware_without_quicklz_takes_it_never_confirms_and_reads_raw_planes() -> None:
    device = sim_label(takes_quicklz=False)
    panel = PANELS[0x0033]
    planes = bytes(range(256)) * 37
    qlz = containers.encode(Container.QUICKLZ, panel, planes)
    assert await send(device, size(len(qlz), b"\x01"), qlz) is None  # taken, never confirmed
    assert device.label_image() is None
    assert await send(device, size(len(planes)), planes) is not None
    assert device.label_image() == planes


async def test_the_image_type_byte_is_deprecated_the_label_reads_the_content() -> None:
    # The 8-byte size command (type byte 00) announcing a QuickLZ image: read as QuickLZ.
    device = sim_label()
    panel = PANELS[0x0033]
    planes = bytes(range(256)) * 37
    qlz = containers.encode(Container.QUICKLZ, panel, planes)
    assert await send(device, size(len(qlz)), qlz) is not None
    assert device.label_image() == planes
    # ...and raw planes announced with type byte 01, the QuickLZ form.
    other = bytes(reversed(planes))
    assert await send(device, size(len(other), b"\x01"), other) is not None
    assert device.label_image() == other
    assert device.label_stats()["containers"] == {"quicklz": 1, "raw": 1}


@pytest.mark.parametrize("hardware", [0x002E, 0x004E, 0x00A0])
async def test_four_colour_and_tft_at_8101_without_the_type_bit_read_raw_planes(
    hardware: int,
) -> None:
    # What the driver sends them (hass-gicisky does the same): raw planes.
    device = sim_label(hardware=hardware, firmware=0x8101)
    panel = PANELS[hardware]
    assert containers.accepted(panel, 0x8101, 0) == (Container.RAW,)
    planes = bytes(i % 251 for i in range(panel.packed_size))
    assert await send(device, size(len(planes)), planes) is not None
    assert device.label_image() == planes


def fpoli_lines(planes: bytes, line_bytes: int) -> bytes:
    """The per-line container as fpoli/gicisky-tag's encoder writes it: a u32 of the
    body's length (the header not counted), then each line as a literal packet."""
    body = bytearray()
    for i in range(0, len(planes), line_bytes):
        line = planes[i : i + line_bytes]
        body += bytes((0x75, 3 + 4 + len(line), len(line))) + bytes(4) + line
    return struct.pack("<I", len(body)) + bytes(body)


async def test_fpoli_gicisky_tags_upload_to_a_2_1_inch_label_is_read() -> None:
    device = sim_label(hardware=0x410B)
    panel = PANELS[0x010B]
    planes = bytes(i * 7 % 256 for i in range(panel.packed_size))
    data = fpoli_lines(planes, panel.height // 8)
    assert len(data) == 11504 and struct.unpack_from("<I", data)[0] == 11500
    # Its size command: 5 bytes, the whole length.
    assert await send(device, b"\x02" + struct.pack("<I", len(data)), data) is not None
    assert device.label_image() == planes


async def test_a_damaged_part_is_asked_again_and_cancel_is_answered() -> None:
    device = sim_label(failure_probability=1.0)
    device.rng.seed(5)
    planes = bytes(9472)
    for _ in range(20):  # until the injected fault is a damaged part (05 01)
        link = Link(device)
        await link.command(b"\x01")
        await link.command(b"\x02" + struct.pack("<I", len(planes)) + bytes(3))
        await link.command(b"\x03")
        if link.session._fail_mode == "damage":
            break
    else:
        pytest.fail("no damaged-part fault drawn")
    bad = link.session._fail_at
    assert bad is not None
    for part in range(bad):
        await link.part(struct.pack("<I", part) + planes[part * 240 : (part + 1) * 240])
    again = await link.part(struct.pack("<I", bad) + planes[bad * 240 : (bad + 1) * 240])
    assert again == b"\x05\x01" + struct.pack("<I", bad)  # previous block failed: resend it
    ok = await link.part(struct.pack("<I", bad) + planes[bad * 240 : (bad + 1) * 240])
    assert ok == b"\x05\x00" + struct.pack("<I", bad + 1)
    assert await link.command(b"\x04") == b"\x04\x00"


async def test_it_decodes_every_container_into_its_frame_buffer() -> None:
    panel = PANELS[0x012B]
    planes = bytes(range(256)) * 375  # 96,000 bytes
    for firmware, container in ((0x0101, Container.QUICKLZ), (0x8101, Container.LINES)):
        device = sim_label(hardware=0x012B, firmware=firmware, finish="done")
        data = containers.encode(container, panel, planes)
        link = Link(device)
        await link.command(b"\x01")
        assert await link.command(containers.size_command(container, len(data))) == b"\x02\x00"
        await link.command(b"\x03")
        parts = -(-len(data) // 240)
        for part in range(parts):
            reply = await link.part(struct.pack("<I", part) + data[part * 240 : (part + 1) * 240])
        assert reply == b"\x05\x08"
        await asyncio.sleep(0.01)  # refresh
        assert device.label_image() == planes, container


async def test_a_transfer_it_cannot_decode_is_never_confirmed() -> None:
    device = sim_label()
    link = Link(device)
    await link.command(b"\x01")
    await link.command(b"\x02" + struct.pack("<I", 480) + b"\x01")  # QuickLZ, but garbage
    await link.command(b"\x03")
    await link.part(struct.pack("<I", 0) + bytes(240))
    assert await link.part(struct.pack("<I", 1) + bytes(240)) is None
    assert device.label_image() is None
