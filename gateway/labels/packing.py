"""A label's picture as its panel's bytes: colours, geometry and planes.

**Colour rule.** Every pixel takes one of the panel's colours: each of its red,
green and blue values counts as *on* from 128 up (the value's top bit); white
is all three on, black all off, red only red on, yellow red and green on. A
pixel whose combination is not among the panel's colours (green, cyan, blue,
magenta; red on a black/white panel; yellow without yellow) becomes white if
that combination's luminance (Rec. 709) is 128 or more, else black: green and
cyan become white, blue and magenta black, red on a black/white panel black,
yellow on a panel without yellow white. No dithering, so the same picture
gives the same bytes on every machine.

**Geometry and planes** follow the panel's layout
(:class:`drivers.labels.panels.Layout`): a TFT panel's picture is resized to
half the width and twice the height, as hass-gicisky does it: the colour rule
first, then the resize (bicubic), then each channel of the resized picture
counts as on *above* 128 (its writer's ``> 128``), so that a grey of exactly
128 that the resize makes at an edge is black, as there; then it is turned and
mirrored; then scanned row by row from the top left, most
significant bit first: a black/white plane (1 = white; 1 = black on panels with
``invert_bw``), then a red plane (1 = red) on black/white/red panels, or one
plane of 2 bits per pixel (00 black, 01 white, 10 yellow, 11 red) on
four-colour panels.

Done with Pillow's C operations: a per-pixel Python loop costs ~15 ms per
label, which a campaign of thousands of labels cannot afford.
"""

from __future__ import annotations

from PIL import Image

from drivers.labels.panels import Panel

BLACK, WHITE, RED, YELLOW = 0, 1, 2, 3  # colour indices
PALETTE = {BLACK: (0, 0, 0), WHITE: (255, 255, 255), RED: (255, 0, 0), YELLOW: (255, 255, 0)}
_INDEX_OF_NAME = {"black": BLACK, "white": WHITE, "red": RED, "yellow": YELLOW}

# The three channels' top bits as one number 0..7 (4 red, 2 green, 1 blue): on from 128.
_TOP_BITS = [0] * 128 + [4] * 128 + [0] * 128 + [2] * 128 + [0] * 128 + [1] * 128
# The same, on above 128 (a TFT's picture after its resize).
_ABOVE_128 = [0] * 129 + [4] * 127 + [0] * 129 + [2] * 127 + [0] * 129 + [1] * 127
_CORNERS = {
    0: (0, 0, 0),
    1: (0, 0, 255),
    2: (0, 255, 0),
    3: (0, 255, 255),
    4: (255, 0, 0),
    5: (255, 0, 255),
    6: (255, 255, 0),
    7: (255, 255, 255),
}
_CORNER_COLOUR = {0: BLACK, 4: RED, 6: YELLOW, 7: WHITE}


def _luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def colour_of_corner(corner: int, colours: tuple[str, ...]) -> int:
    """The colour index a channel combination (4 red + 2 green + 1 blue) takes on a panel."""
    wanted = _CORNER_COLOUR.get(corner)
    if wanted is not None and any(_INDEX_OF_NAME.get(c) == wanted for c in colours):
        return wanted
    return WHITE if _luminance(_CORNERS[corner]) >= 128 else BLACK


def classify(img: Image.Image, colours: tuple[str, ...], *, above_128: bool = False) -> Image.Image:
    """An ``L`` image of colour indices (BLACK, WHITE, RED, YELLOW) by the colour rule
    (a channel on from 128, or with ``above_128`` from 129)."""
    bits = _ABOVE_128 if above_128 else _TOP_BITS
    corners = img.convert("RGB").point(bits).convert("L", (1, 1, 1, 0))
    lut = [colour_of_corner(c, colours) for c in range(8)] + [BLACK] * 248
    return corners.point(lut)


def panel_picture(img: Image.Image, panel: Panel) -> Image.Image:
    """The colour indices the panel shows, upright (a TFT panel's at its own geometry)."""
    layout = panel.layout
    if layout is None:
        raise ValueError(f"panel 0x{panel.hardware_id:04x} has no known layout")
    indices = classify(img.convert("RGB"), panel.colors)
    if not layout.tft_stretch:
        return indices
    size = (img.width // 2, img.height * 2)
    stretched = preview_colours(indices).resize(size, resample=Image.Resampling.BICUBIC)
    return classify(stretched, panel.colors, above_128=True)


def pack(img: Image.Image, panel: Panel) -> bytes:
    """The panel's planes for a picture drawn at ``panel.width`` x ``panel.height``."""
    layout = panel.layout
    if layout is None:
        raise ValueError(f"panel 0x{panel.hardware_id:04x} has no known layout")
    if img.size != (panel.width, panel.height):
        raise ValueError(f"picture of {img.size}; the panel is {panel.width}x{panel.height}")
    indices = panel_picture(img, panel)
    if layout.rotation:
        indices = indices.rotate(layout.rotation, expand=True)
    if layout.mirror_x:
        indices = indices.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if layout.mirror_y:
        indices = indices.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if panel.two_bit:
        return _two_bits(indices.point(_TWO_BIT).tobytes())
    bw = _INVERTED if layout.invert_bw else _IS_WHITE
    planes = _bits(indices.point(bw).tobytes())
    if panel.planes == 2:
        planes += _bits(indices.point(_IS_RED).tobytes())
    return planes


def _lut(values: dict[int, int]) -> list[int]:
    return [values.get(i, 0) for i in range(256)]


_IS_WHITE = _lut({WHITE: 1})
_INVERTED = _lut({BLACK: 1})
_IS_RED = _lut({RED: 1})
_TWO_BIT = _lut({BLACK: 0, WHITE: 1, YELLOW: 2, RED: 3})
_BINARY = bytes.maketrans(b"\x00\x01", b"01")
_QUATERNARY = bytes.maketrans(b"\x00\x01\x02\x03", b"0123")


def _bits(mask: bytes) -> bytes:
    """One byte of 0/1 per pixel -> packed bits, MSB first, the last byte padded with 0."""
    padded = mask + b"\x00" * (-len(mask) % 8)
    return int(padded.translate(_BINARY), 2).to_bytes(len(padded) // 8, "big")


def _two_bits(values: bytes) -> bytes:
    """One byte of 0..3 per pixel -> 4 pixels per byte, the first in the top bits."""
    padded = values + b"\x00" * (-len(values) % 4)
    return int(padded.translate(_QUATERNARY), 4).to_bytes(len(padded) // 4, "big")


def preview_colours(indices: Image.Image) -> Image.Image:
    """An RGB picture of colour indices, as the panel shows them."""
    out = indices.convert("P")
    flat = [channel for i in range(256) for channel in PALETTE.get(i, (0, 0, 0))]
    out.putpalette(flat)
    return out.convert("RGB")
