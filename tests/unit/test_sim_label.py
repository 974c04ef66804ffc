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
from gateway.sim.devices.labels import SERVICE
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


async def test_a_firmware_without_quicklz_refuses_it_and_takes_raw_planes() -> None:
    link = Link(sim_label(takes_quicklz=False))
    assert await link.command(b"\x02" + struct.pack("<I", 5000) + b"\x01") == b"\x02\x01"
    assert await link.command(b"\x02" + struct.pack("<I", 9472) + bytes(3)) == b"\x02\x00"


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
