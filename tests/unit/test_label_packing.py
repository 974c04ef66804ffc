"""Packing pictures for panels: the colour rule, geometry, planes, and the label's frame buffer."""

from __future__ import annotations

import dataclasses
import io
import random

import pytest
from PIL import Image, ImageDraw

from drivers.labels import containers
from drivers.labels.panels import PANELS, Colours, Layout, Panel, Tier
from gateway.labels.packing import BLACK, RED, WHITE, YELLOW, classify, pack, panel_picture
from gateway.labels.render import LabelContent, draw, render
from gateway.sim.devices import frame

WRITABLE = sorted(p.model for p in PANELS.values() if p.writable)
BY_MODEL = {p.model: p for p in PANELS.values()}
PROMO = LabelContent(
    sku="6901234567892",
    price="12.90",
    currency="CNY",
    name="乌龙茶 500ml",
    original_price="15.90",
    promo_text="会员价",
    template="promo",
)


@pytest.mark.parametrize(
    ("rgb", "bw", "bwr", "bwry"),
    [
        ((255, 255, 255), WHITE, WHITE, WHITE),
        ((0, 0, 0), BLACK, BLACK, BLACK),
        ((128, 128, 128), WHITE, WHITE, WHITE),  # on from 128 up
        ((127, 127, 127), BLACK, BLACK, BLACK),
        ((220, 0, 0), BLACK, RED, RED),  # red on a black/white panel: dark
        ((250, 240, 10), WHITE, WHITE, YELLOW),  # yellow without yellow: light
        ((0, 200, 0), WHITE, WHITE, WHITE),  # green: luminance 182
        ((0, 200, 200), WHITE, WHITE, WHITE),  # cyan
        ((0, 0, 255), BLACK, BLACK, BLACK),  # blue: luminance 18
        ((255, 0, 255), BLACK, BLACK, BLACK),  # magenta: luminance 72
        ((255, 127, 127), BLACK, RED, RED),  # light red stays red
    ],
)
def test_the_colour_rule(rgb: tuple[int, int, int], bw: int, bwr: int, bwry: int) -> None:
    img = Image.new("RGB", (1, 1), rgb)
    for colours, want in ((Colours.BW, bw), (Colours.BWR, bwr), (Colours.BWRY, bwry)):
        names = {Colours.BW: ("black", "white"), Colours.BWR: ("black", "white", "red")}.get(
            colours, ("black", "white", "red", "yellow")
        )
        assert classify(img, names).getpixel((0, 0)) == want, (rgb, colours)


def reference_pack(img: Image.Image, panel: Panel) -> bytes:
    """The docstring's rule pixel by pixel: the slow, obvious way."""
    layout = panel.layout
    assert layout is not None
    colour_names = panel.colors
    rgb = {
        "black": (0, 0, 0),
        "white": (255, 255, 255),
        "red": (255, 0, 0),
        "yellow": (255, 255, 0),
    }

    def name_of(pixel: tuple[int, int, int], first_on: int) -> str:
        on = tuple(int(c >= first_on) for c in pixel)
        named = {(1, 1, 1): "white", (0, 0, 0): "black", (1, 0, 0): "red", (1, 1, 0): "yellow"}
        name = named.get(on)  # type: ignore[call-overload]
        if name not in colour_names:
            lum = 0.2126 * 255 * on[0] + 0.7152 * 255 * on[1] + 0.0722 * 255 * on[2]
            name = "white" if lum >= 128 else "black"
        return name  # type: ignore[no-any-return]

    first_on = 128
    if layout.tft_stretch:  # the rule, the resize, then the rule with channels on above 128
        img = img.convert("RGB")
        coloured = Image.new("RGB", img.size)
        for y in range(img.height):
            for x in range(img.width):
                coloured.putpixel((x, y), rgb[name_of(img.getpixel((x, y)), 128)])  # type: ignore[arg-type]
        img = coloured.resize((img.width // 2, img.height * 2), resample=Image.Resampling.BICUBIC)
        first_on = 129
    if layout.rotation:
        img = img.rotate(layout.rotation, expand=True)
    width, height = img.size
    values = []
    for y in range(height - 1, -1, -1) if layout.mirror_y else range(height):
        for x in range(width - 1, -1, -1) if layout.mirror_x else range(width):
            values.append(name_of(img.getpixel((x, y)), first_on))  # type: ignore[arg-type]
    if panel.two_bit:
        code = {"black": 0, "white": 1, "yellow": 2, "red": 3}
        pixels = [code[v] for v in values] + [0] * (-len(values) % 4)
        return bytes(
            pixels[i] << 6 | pixels[i + 1] << 4 | pixels[i + 2] << 2 | pixels[i + 3]
            for i in range(0, len(pixels), 4)
        )

    def bits(plane: list[bool]) -> bytes:
        plane = plane + [False] * (-len(plane) % 8)
        return bytes(
            sum(bit << (7 - i) for i, bit in enumerate(plane[n : n + 8]))
            for n in range(0, len(plane), 8)
        )

    first = [v == ("black" if layout.invert_bw else "white") for v in values]
    if panel.planes == 2:
        return bits(first) + bits([v == "red" for v in values])
    return bits(first)


LAYOUTS = sorted(
    {(p.layout, p.colours) for p in PANELS.values() if p.layout is not None},
    key=repr,
)


@pytest.mark.parametrize(("layout", "colours"), LAYOUTS, ids=repr)
def test_pack_follows_the_rule_pixel_by_pixel(layout: Layout, colours: Colours) -> None:
    """Every layout and colour set of the table, on small odd-sized pictures of noise."""
    for width, height in ((13, 7), (16, 9), (6, 10)):
        tiny = Panel(
            0,
            "0",
            "tiny",
            width,
            height,
            colours,
            layout.tft_stretch,
            Tier.HARDWARE,
            layout,
            "test",
        )
        rng = random.Random(f"{layout}{colours}{width}")
        noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        assert pack(noise, tiny) == reference_pack(noise, tiny)
        assert len(pack(noise, tiny)) == tiny.packed_size


@pytest.mark.parametrize("model", WRITABLE)
def test_the_labels_frame_buffer_shows_the_picture_pixel_for_pixel(model: str) -> None:
    """Rendered, packed, sent in every container, decoded by the simulated label: what
    its panel shows equals the picture under the colour rule, pixel for pixel."""
    panel = BY_MODEL[model]
    img = draw(PROMO, panel)
    expected = panel_picture(img, panel).tobytes()
    packed = render(PROMO, panel).packed
    for container in containers.Container:
        data = containers.encode(container, panel, packed)
        assert containers.decode(container, panel, data) == packed, container
    assert frame.pixels(panel, packed) == expected
    counts = {c: expected.count(c) for c in (BLACK, WHITE, RED)}
    assert counts[BLACK] > 100 and counts[WHITE] > len(expected) // 2
    assert (counts[RED] > 20) == ("red" in panel.colors)


def hass_gicisky_tft(img: Image.Image) -> bytes:
    """hass-gicisky's writer on its 2.1" TFT (0x00A0: 250x132, rotation 90, mirrored
    left-right), given a picture already in the panel's colours (its renderer's
    palette): resized bicubic to half the width and twice the height, rotated, then
    white where every channel is above 128, MSB first."""
    img = img.convert("RGB").resize((125, 264), resample=Image.Resampling.BICUBIC)
    img = img.rotate(90, expand=True)
    width, height = img.size
    bits = []
    for y in range(height):
        for x in range(width - 1, -1, -1):
            r, g, b = img.getpixel((x, y))  # type: ignore[misc]
            bits.append(r > 128 and g > 128 and b > 128)
    bits += [False] * (-len(bits) % 8)
    return bytes(
        sum(bit << (7 - i) for i, bit in enumerate(bits[n : n + 8])) for n in range(0, len(bits), 8)
    )


def test_the_grey_level_rule_on_the_tft_is_hass_giciskys() -> None:
    """On the TFT, greys the resize makes at an edge: exactly 128 is black, as in the
    maintained integration; a flat grey follows the colour rule (128 white, 127 black)."""
    panel = PANELS[0x00A0]
    img = Image.new("RGB", (panel.width, panel.height), "white")
    pen = ImageDraw.Draw(img)
    rng = random.Random(1)
    for _ in range(400):
        x, y = rng.randrange(panel.width), rng.randrange(panel.height)
        pen.rectangle([x, y, x + rng.randrange(1, 4), y + rng.randrange(1, 4)], fill="black")
    resized = img.resize((125, 264), resample=Image.Resampling.BICUBIC).convert("L").tobytes()
    assert resized.count(128) > 50  # the case in question occurs
    assert pack(img, panel) == hass_gicisky_tft(img)
    for grey, plane_byte in ((128, 0xFF), (127, 0x00)):
        flat = Image.new("RGB", (panel.width, panel.height), (grey, grey, grey))
        assert set(pack(flat, panel)) == {plane_byte}, grey


def test_the_7_5_inch_black_white_plane_is_inverted() -> None:
    panel = PANELS[0x012B]
    img = Image.new("RGB", (panel.width, panel.height), (255, 255, 255))
    img.putpixel((0, 0), (0, 0, 0))
    packed = pack(img, panel)
    plane = len(packed) // 2
    # Mirrored top-bottom: the top-left pixel is the first of the last row; 1 = black.
    last_row = (panel.height - 1) * panel.width // 8
    assert packed[last_row] == 0x80 and packed[:last_row] == bytes(last_row)
    assert packed[plane:] == bytes(plane)


def test_four_colour_panels_take_two_bits_a_pixel() -> None:
    panel = dataclasses.replace(PANELS[0x004E], width=4, height=1, layout=Layout())
    img = Image.new("RGB", (4, 1))
    img.putdata([(0, 0, 0), (255, 255, 255), (255, 255, 0), (255, 0, 0)])
    assert pack(img, panel) == bytes([0b00_01_10_11])


def test_a_picture_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="296x128"):
        pack(Image.new("RGB", (10, 10)), PANELS[0x0033])


def test_render_is_deterministic_and_draws() -> None:
    panel = PANELS[0x0033]
    a, b = render(PROMO, panel), render(PROMO, panel)
    assert a.packed == b.packed and a.content_hash == b.content_hash and len(a.content_hash) == 16
    plane = len(a.packed) // 2
    assert len(a.packed) == 2 * (296 * 128 // 8)
    black = sum(8 - bin(x).count("1") for x in a.packed[:plane]) - sum(
        bin(x).count("1") for x in a.packed[plane:]
    )
    red = sum(bin(x).count("1") for x in a.packed[plane:])
    assert black > 200 and red > 50  # text in black, promo price in red
    other = render(LabelContent(sku="x", price="12.80", currency="CNY", name="乌龙茶 500ml"), panel)
    assert other.content_hash != a.content_hash
    assert a.preview_png.startswith(b"\x89PNG")
    preview = Image.open(io.BytesIO(a.preview_png)).convert("RGB")
    assert preview.size == (296, 128)  # in the colours the panel shows
    assert {c for _, c in preview.getcolors() or []} == {(0, 0, 0), (255, 255, 255), (255, 0, 0)}


def test_long_names_do_not_overflow_and_bad_prices_are_refused() -> None:
    panel = PANELS[0x0033]
    r = render(LabelContent(sku="s", price="1.00", currency="EUR", name="X" * 300), panel)
    assert len(r.packed) == 2 * (296 * 128 // 8)
    with pytest.raises(ValueError, match="decimal"):
        render(LabelContent(sku="s", price="cheap", currency="EUR"), panel)
