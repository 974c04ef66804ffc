"""Real traffic: the vendor app writing 99 images to a real 4.2" label (tests/fixtures/gicisky).

Each capture is replayed from both ends: the label's side into the gateway's
transfer machine (whose image writes must equal the capture byte for byte), and
the app's side into the simulated label (whose answers must follow the vendor
note and whose frame buffer must show what the file name says).
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from drivers.labels import containers
from drivers.labels.base import Write
from drivers.labels.containers import Container
from drivers.labels.gicisky import COMMAND, IMAGE, GiciskyTransfer, Payload
from drivers.labels.panels import PANELS
from gateway.labels.packing import pack
from tests.helpers.sim_labels import Link, sim_label

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gicisky" / "captures"
PANEL = PANELS[0x004B]
W, H = 400, 300
BLACK, WHITE, RED = 0, 1, 2
NAMES = sorted(p.stem for p in CAPTURES.glob("*.txt"))
MISLABELLED = {"1px_delta_x_4", "all_black_except_first_data_line_v2"}


def capture(name: str) -> list[bytes]:
    return [bytes.fromhex(line) for line in (CAPTURES / f"{name}.txt").read_text().split()]


def planes_of(writes: list[bytes]) -> bytes:
    """The planes a capture carries (decoded with the gateway's own container reader)."""
    data = b"".join(w[4:] for w in writes)
    return containers.decode(Container.QUICKLZ, PANEL, data)


def picture(pixel: Callable[[int, int], int]) -> bytes:
    return bytes(pixel(x, y) for y in range(H) for x in range(W))


def black_where(test: Callable[[int, int], bool]) -> bytes:
    return picture(lambda x, y: BLACK if test(x, y) else WHITE)


def black_in_scan_order(test: Callable[[int], bool]) -> bytes:
    return black_where(lambda x, y: test(y * W + x))


FIXED: dict[str, Callable[[], bytes]] = {
    "white": lambda: picture(lambda x, y: WHITE),
    "black": lambda: picture(lambda x, y: BLACK),
    "red": lambda: picture(lambda x, y: RED),
    "1px": lambda: black_where(lambda x, y: (x, y) == (100, 100)),
    "1px_upper_right": lambda: black_where(lambda x, y: (x, y) == (W - 1, 0)),
    "1px_bottom_left": lambda: black_where(lambda x, y: (x, y) == (0, H - 1)),
    "1px_bottom_right": lambda: black_where(lambda x, y: (x, y) == (W - 1, H - 1)),
    "black_white": lambda: black_where(lambda x, y: x < W // 2),
    "white_black": lambda: black_where(lambda x, y: x >= W // 2),
    "black_white_horiz": lambda: black_where(lambda x, y: y < H // 2),
    "white_black_horiz": lambda: black_where(lambda x, y: y >= H // 2),
    "white_black_2x2_checkerboard": lambda: black_where(
        lambda x, y: (x >= W // 2) != (y >= H // 2)
    ),
    "25px_checkerboard_black_white": lambda: black_where(lambda x, y: (x // 25 + y // 25) % 2 == 0),
    "100px_horizontal_line": lambda: black_where(lambda x, y: 100 <= x < 200 and y == 100),
    "100px_horizontal_line_2px": lambda: black_where(
        lambda x, y: 100 <= x < 200 and 100 <= y < 102
    ),
    "100px_horizontal_line_3px": lambda: black_where(
        lambda x, y: 100 <= x < 200 and 100 <= y < 103
    ),
    "100px_vertical_line": lambda: black_where(lambda x, y: x == 100 and 100 <= y < 200),
    # The annotators' "data line" is one 64-byte chunk: 512 pixels in scan order.
    "last_dataline_black": lambda: black_in_scan_order(lambda i: i >= 234 * 512),
    "1px_at_each_dataline_start": lambda: black_in_scan_order(lambda i: i % 512 == 0),
    "64px_at_start_and_end": lambda: black_in_scan_order(lambda i: i < 64 or 448 <= i < 512),
}


def expected_picture(name: str) -> bytes | None:
    """What the file name says the label shows (None: the name says too little)."""
    if name in FIXED:
        return FIXED[name]()
    if m := re.fullmatch(r"1px_upper_left_down_(\d+)_over_(\d+)", name):
        y, x = int(m[1]), int(m[2])
        return black_where(lambda a, b: (a, b) == (x, y))
    if m := re.fullmatch(r"1px_delta_([xy])(?:_(\d+))?", name):
        d = int(m[2] or 1)
        target = (100 + d, 100) if m[1] == "x" else (100, 100 + d)
        return black_where(lambda a, b: (a, b) == target)
    if m := re.fullmatch(r"(\d+)px", name):
        n = int(m[1])
        return black_in_scan_order(lambda i: i < n)
    if m := re.fullmatch(r"(\d+)px_at_end", name):
        n = int(m[1])
        return black_in_scan_order(lambda i: 512 - n <= i < 512)
    return None


def test_the_fixtures_are_all_there() -> None:
    assert len(NAMES) == 99
    checked = [n for n in NAMES if expected_picture(n) is not None and n not in MISLABELLED]
    assert len(checked) >= 60


@pytest.mark.parametrize("name", NAMES)
def test_the_gateway_writes_what_the_vendor_app_wrote(name: str) -> None:
    writes = capture(name)
    block = len(writes[0])  # 244, or 20 on the links that made the app send 16 bytes a part
    shown = expected_picture(name)
    if shown is not None and name not in MISLABELLED:
        # The picture the name describes, packed by the gateway: what the app sent.
        colours = {BLACK: (0, 0, 0), WHITE: (255, 255, 255), RED: (255, 0, 0)}
        img = Image.new("RGB", (W, H))
        img.putdata([colours[i] for i in shown])
        planes = pack(img, PANEL)
        assert planes == planes_of(writes)
    else:
        planes = planes_of(writes)
    payload = containers.encode(Container.QUICKLZ, PANEL, planes)
    machine = GiciskyTransfer([Payload(Container.QUICKLZ, payload)], settle_s=0)
    sent: list[bytes] = []

    def image_writes(actions: list[object]) -> list[bytes]:
        out = [a.data for a in actions if isinstance(a, Write) and a.char_uuid == IMAGE]
        sent.extend(out)
        return out

    machine.start(max_write=block)
    machine.receive_notification(COMMAND, b"\x01" + struct.pack("<H", block))
    machine.receive_notification(COMMAND, b"\x02\x00")
    for part in range(len(writes)):
        image_writes(machine.receive_notification(COMMAND, b"\x05\x00" + struct.pack("<I", part)))
    assert sent == writes  # byte for byte, part indices included
    machine.receive_notification(COMMAND, b"\x05\x00" + struct.pack("<I", len(writes)))
    assert machine.finished and machine.failure is None


@pytest.mark.parametrize("name", NAMES)
async def test_the_simulated_label_takes_what_the_vendor_app_wrote(name: str) -> None:
    writes = capture(name)
    block = len(writes[0])
    label = sim_label(hardware=0x404B, att_mtu=block + 3)
    link = Link(label)

    async def answer(write: Callable[[], None]) -> bytes:
        reply = await link.answer(write)
        assert reply is not None
        return reply

    session = link.session
    length = sum(len(w) - 4 for w in writes)
    assert await answer(lambda: session.command(b"\x01")) == b"\x01" + struct.pack("<H", block)
    size = containers.size_command(Container.QUICKLZ, length)
    assert await answer(lambda: session.command(size)) == b"\x02\x00"
    assert await answer(lambda: session.command(b"\x03")) == b"\x05\x00" + bytes(4)
    for n, write in enumerate(writes):  # each part answered with the next; the last, past the end
        reply = await answer(lambda w=write: session.part(w))  # type: ignore[misc]
        assert reply == b"\x05\x00" + struct.pack("<I", n + 1)
    await asyncio.sleep(0.01)  # the panel refreshes
    assert label.label_image() == planes_of(writes)
    expected = expected_picture(name)
    if expected is not None and name not in MISLABELLED:
        assert label.label_pixels() == expected
