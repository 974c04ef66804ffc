"""The Gicisky transfer machine and the label rendering."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from drivers.labels.base import SetTimeout, Write
from drivers.labels.gicisky import COMMAND, IMAGE, PART_BYTES, GiciskyTransfer
from drivers.labels.models import PANELS_BY_MODEL, PanelModel
from gateway.labels.render import THRESHOLD, LabelContent, pack, render

PANEL = PANELS_BY_MODEL["gicisky-bwr-2.9"]


def writes(actions: list[Write | SetTimeout]) -> list[tuple[str, bytes]]:
    return [(a.char_uuid, a.data) for a in actions if isinstance(a, Write)]


def test_full_transfer_byte_exact() -> None:
    content = bytes(range(256)) * 3  # 768 bytes: four parts of at most 240
    m = GiciskyTransfer(content)
    assert writes(m.start()) == [(COMMAND, b"\x01")]
    assert writes(m.receive_notification(COMMAND, b"\x01\xf4\x00")) == [
        (COMMAND, b"\x02" + struct.pack("<I", 768) + b"\x00\x00\x00")
    ]
    assert writes(m.receive_notification(COMMAND, b"\x02\x00")) == [(COMMAND, b"\x03")]
    sent = b""
    for part in range(4):
        [(char, data)] = writes(
            m.receive_notification(COMMAND, b"\x05\x00" + struct.pack("<I", part))
        )
        assert char == IMAGE and data[:4] == struct.pack("<I", part) and len(data) <= 4 + PART_BYTES
        sent += data[4:]
    assert sent == content and not m.finished
    assert m.receive_notification(COMMAND, b"\x05\x08") == []
    assert m.finished and m.failure is None and m.progress == (4, 4)


def test_garbage_silence_and_early_done_fail_with_reasons() -> None:
    m = GiciskyTransfer(b"x" * 10)
    m.start()
    m.receive_notification(COMMAND, b"\x99")
    assert m.failure is not None and m.failure[0] == "protocol" and "99" in m.failure[1]
    m = GiciskyTransfer(b"x" * 10)
    m.start()
    m.receive_notification(COMMAND, b"\x01\xf4\x00")
    m.timeout()
    assert m.failure is not None and m.failure[0] == "timeout" and "step size" in m.failure[1]
    m = GiciskyTransfer(b"x" * 500)
    m.start()
    m.receive_notification(COMMAND, b"\x01\xf4\x00")
    m.receive_notification(COMMAND, b"\x02\x00")
    m.receive_notification(COMMAND, b"\x05\x08")
    assert m.failure is not None and "after 0 of 3 parts" in m.failure[1]
    m = GiciskyTransfer(b"x" * 10)
    m.start()
    m.receive_notification(COMMAND, b"\x01\xf4\x00")
    m.receive_notification(COMMAND, b"\x02\x01")
    assert m.failure is not None and m.failure[0] == "rejected"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=12), max_size=8), st.binary(min_size=1, max_size=600))
def test_any_notifications_keep_the_machine_sane(replies: list[bytes], content: bytes) -> None:
    m = GiciskyTransfer(content)
    m.start()
    for r in replies:
        m.receive_notification(COMMAND, r)
    assert m.finished in (True, False)
    assert m.failure is None or m.failure[0] in ("protocol", "timeout", "rejected")


def test_pack_small_image_bits() -> None:
    from drivers.labels.models import PanelModel

    tiny = PanelModel(0, "t", 8, 2, ("black", "white", "red"))
    img = Image.new("RGB", (8, 2), (255, 255, 255))
    img.putpixel((0, 0), (0, 0, 0))
    img.putpixel((7, 1), (220, 0, 0))
    assert pack(img, tiny) == bytes([0b01111111, 0b11111110, 0, 0b00000001])


def reference_pack(img: Image.Image, panel: PanelModel) -> bytes:
    """The packing rule pixel by pixel, as written in the module's docstring."""
    if panel.rotation:
        img = img.rotate(panel.rotation, expand=True)
    width, height = img.size
    white, red = [], []
    for y in range(height - 1, -1, -1) if panel.mirror_y else range(height):
        for x in range(width - 1, -1, -1) if panel.mirror_x else range(width):
            r, g, b = img.getpixel((x, y))  # type: ignore[misc]
            white.append(round(0.2126 * r + 0.7152 * g + 0.0722 * b) > THRESHOLD)
            red.append(r > THRESHOLD and g < THRESHOLD)

    def bits(plane: list[bool]) -> bytes:
        plane = plane + [False] * (-len(plane) % 8)
        return bytes(
            sum(bit << (7 - i) for i, bit in enumerate(plane[n : n + 8]))
            for n in range(0, len(plane), 8)
        )

    return bits(white) + bits(red) if "red" in panel.colors else bits(white)


@pytest.mark.parametrize(
    "model", sorted(m for m, p in PANELS_BY_MODEL.items() if not p.compression)
)
def test_pack_matches_the_pixel_by_pixel_rule(model: str) -> None:
    panel = PANELS_BY_MODEL[model]
    noise = Image.frombytes(
        "RGB",
        (panel.width, panel.height),
        random.Random(model).randbytes(panel.width * panel.height * 3),
    )
    assert pack(noise, panel) == reference_pack(noise, panel)
    odd = PanelModel(0, "odd", 13, 5, panel.colors, mirror_x=True, mirror_y=True)
    assert pack(noise.crop((0, 0, 13, 5)), odd) == reference_pack(noise.crop((0, 0, 13, 5)), odd)


def test_render_is_deterministic_and_draws() -> None:
    content = LabelContent(
        sku="6901234567892",
        price="12.90",
        currency="CNY",
        name="乌龙茶 500ml",
        original_price="15.90",
        promo_text="会员价",
        template="promo",
    )
    a, b = render(content, PANEL), render(content, PANEL)
    assert a.packed == b.packed and a.content_hash == b.content_hash and len(a.content_hash) == 16
    plane = len(a.packed) // 2
    assert len(a.packed) == 2 * (296 * 128 // 8)
    black = sum(8 - bin(x).count("1") for x in a.packed[:plane])
    red = sum(bin(x).count("1") for x in a.packed[plane:])
    assert black > 200 and red > 50  # text in black, promo price in red
    other = render(LabelContent(sku="x", price="12.80", currency="CNY", name="乌龙茶 500ml"), PANEL)
    assert other.content_hash != a.content_hash
    assert a.preview_png.startswith(b"\x89PNG")


def test_long_names_do_not_overflow_and_bad_prices_are_refused() -> None:
    r = render(LabelContent(sku="s", price="1.00", currency="EUR", name="X" * 300), PANEL)
    assert len(r.packed) == 2 * (296 * 128 // 8)
    with pytest.raises(ValueError, match="decimal"):
        render(LabelContent(sku="s", price="cheap", currency="EUR"), PANEL)


def test_container_of_raw_chunks() -> None:
    from drivers.labels.gicisky import container, read_container

    planes = bytes(range(200))  # halves of 100 bytes: chunks of 64 + 36 each
    data = container(planes)
    assert data[:4] == (100).to_bytes(4, "little")
    assert data[4:7] == bytes((0x74, 67, 64)) and data[7:71] == planes[:64]
    assert data[71:74] == bytes((0x74, 39, 36)) and data[74:110] == planes[64:100]
    assert data[110:113] == bytes((0x74, 67, 64))
    assert len(data) == 4 + 4 * 3 + 200
    assert read_container(data) == planes


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[:2], "header"),
        (lambda d: d[:4] + bytes((0x75,)) + d[5:], "QuickLZ"),
        (lambda d: d[:5] + bytes((60,)) + d[6:], "bad chunk"),
        (lambda d: d[:-1], "past the end"),
        (lambda d: (10_000).to_bytes(4, "little") + d[4:], "second half"),
    ],
)
def test_container_damage_is_refused(damage: object, message: str) -> None:
    from drivers.labels.gicisky import container, read_container

    with pytest.raises(ValueError, match=message):
        read_container(damage(container(bytes(200))))  # type: ignore[operator]
