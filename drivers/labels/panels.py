"""Gicisky / PICKSMART panels: every known hardware id, what it is and how it is packed.

A label advertises a 16-bit type: bytes 4 (high) and 0 (low) of its
manufacturer data. The low 14 bits are the panel's hardware id; bit 14
(``0x4000``) is set on the labels the maintained integrations drive with raw
planes (atc1441's uploader and OpenEPaperLink read it as "takes no per-line
compressed container"). The vendor's bit table (its protocol note, copied in
github.com/fpoli/gicisky-tag docs/) names resolution, maker, colours and image
type in the id's bits; the ids themselves and their names come from the device
table of the maintained Home Assistant integration (github.com/eigger/hass-gicisky,
gicisky_ble/devices.py, MIT). Facts only; the code is ours.

What a panel needs to be written is its *layout*: how the picture drawn at
``width`` x ``height`` becomes bytes. A layout is known for some ids
(``Tier.HARDWARE``: a maintained integration drives the panel, or the vendor
app's captures show it). Ids of the same panel family that differ only in
colours (same resolution and maker) probably share it, but no capture or
integration shows it (``Tier.UNVERIFIED``): they are written only when the
store opts in per id (``labels.unverified_layouts``), and their model says
``unverified``. For the other ids the layout has never been published: they
are identified (their adverts decode) but not written (``Tier.IDENTIFIED``).
An id outside the table is refused: :func:`panel` raises
:class:`UnsupportedPanel`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum


class Colours(StrEnum):
    BW = "bw"
    BWR = "bwr"
    BWRY = "bwry"
    SIX = "bwrgby"  # colour e-paper / TFT (pixel format not published)
    SEVEN = "bwrgbyo"


COLOUR_NAMES: dict[Colours, tuple[str, ...]] = {
    Colours.BW: ("black", "white"),
    Colours.BWR: ("black", "white", "red"),
    Colours.BWRY: ("black", "white", "red", "yellow"),
    Colours.SIX: ("black", "white", "red", "green", "blue", "yellow"),
    Colours.SEVEN: ("black", "white", "red", "green", "blue", "yellow", "orange"),
}


class Tier(StrEnum):
    HARDWARE = "hardware"  # layout from a maintained integration or the vendor app's captures
    UNVERIFIED = "unverified"  # a same-size, same-maker sibling's layout: written if opted in
    IDENTIFIED = "identified"  # adverts decode; the layout is not published: never written


@dataclass(frozen=True, slots=True)
class Layout:
    """How the picture (``width`` x ``height``, drawn upright) becomes the panel's bytes.

    In this order: a TFT panel's picture is resized to half the width and twice
    the height; it is turned ``rotation`` degrees counter-clockwise; mirrored
    left-right and/or top-bottom; then scanned row by row from the top left,
    most significant bit first, into planes: black/white (bit 1 = white, or 1 =
    black with ``invert_bw``) then red, or, on four-colour panels, one plane of
    2 bits per pixel (00 black, 01 white, 10 yellow, 11 red).
    """

    rotation: int = 0
    mirror_x: bool = False
    mirror_y: bool = False
    invert_bw: bool = False
    tft_stretch: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    hardware_id: int
    inch: str
    name: str  # the vendor's name for it
    width: int
    height: int
    colours: Colours
    tft: bool
    tier: Tier
    layout: Layout | None
    source: str  # where the layout is known from, or why it is not
    min_voltage: float = 2.2
    max_voltage: float = 3.0

    @property
    def model(self) -> str:
        """Our model name, e.g. ``gicisky-2.9-bwr-0033`` (``…-unverified`` for a panel
        written with a sibling's layout)."""
        name = f"gicisky-{self.inch}-{self.colours.value}-{self.hardware_id:04x}"
        return f"{name}-unverified" if self.tier is Tier.UNVERIFIED else name

    @property
    def colors(self) -> tuple[str, ...]:
        return COLOUR_NAMES[self.colours]

    @property
    def planes(self) -> int:
        """Bit planes on the wire: 1 (black/white, or 2-bit four-colour) or 2 (with red)."""
        return 2 if self.colours is Colours.BWR else 1

    @property
    def two_bit(self) -> bool:
        return self.colours is Colours.BWRY

    @property
    def writable(self) -> bool:
        return self.layout is not None

    @property
    def packed_size(self) -> int:
        """Bytes of the packed planes (what the content hash covers)."""
        stretched = self.layout is not None and self.layout.tft_stretch
        pixels = self.width * self.height  # a TFT's stretch keeps the count (when even)
        if stretched:
            pixels = (self.width // 2) * (self.height * 2)
        if self.two_bit:
            return (pixels + 3) // 4
        return self.planes * ((pixels + 7) // 8)

    def describe(self) -> str:
        kind = "TFT" if self.tft else "e-paper"
        return f'{self.inch}" {kind} {self.width}x{self.height} {self.colours.value.upper()}'


class UnsupportedPanel(ValueError):
    """A hardware id outside the table, or one whose layout is not known."""


FLAG_RAW_PLANES = 0x4000
"""Advert type bit 14: set on labels driven with raw planes (2.1", 2.9", 4.2", TFT)."""

ID_MASK = 0x3FFF

_HG = "github.com/eigger/hass-gicisky devices.py"
_UNPUBLISHED = "identified by the vendor's table; how its pixels are packed is not published"


def _hw(layout: Layout, why: str) -> tuple[Tier, Layout, str]:
    return Tier.HARDWARE, layout, why


def _family(of: int, layout: Layout) -> tuple[Tier, Layout, str]:
    return (
        Tier.UNVERIFIED,
        layout,
        f"the layout of 0x{of:04x} (same size and maker, other colours), which no capture "
        "or integration shows for this id",
    )


_NONE: tuple[Tier, None, str] = (Tier.IDENTIFIED, None, _UNPUBLISHED)

# Layouts known from hardware.
_L_21_212 = Layout(rotation=270, mirror_x=True)
_L_21_250 = Layout(rotation=270, mirror_x=True)
_L_21_TFT = Layout(rotation=90, mirror_x=True, tft_stretch=True)
_L_29 = Layout(rotation=90)
_L_37 = Layout(rotation=180, mirror_x=True)
_L_42 = Layout()
_L_75 = Layout(mirror_y=True, invert_bw=True)
_L_102 = Layout()

# fmt: off
_ROWS: tuple[tuple[int, str, str, int, int, Colours, bool, tuple[Tier, Layout | None, str], float, float], ...] = (
    # id, inch, vendor name, width, height, colours, TFT, (tier, layout, source), volts min, max
    (0x02AE, "1.5", "EPA_LCD_200x200_BWRY", 200, 200, Colours.BWRY, False, _NONE, 2.2, 3.0),
    (0x0008, "2.1", "EPA_LCD_212x104_BW", 212, 104, Colours.BW, False, _family(0x000B, _L_21_212), 2.2, 2.9),
    (0x000B, "2.1", "EPA_LCD_212x104_BWR", 212, 104, Colours.BWR, False, _hw(_L_21_212, _HG), 2.2, 2.9),
    (0x00A0, "2.1", "TFT_LCD_250x132_BW", 250, 132, Colours.BW, True, _hw(_L_21_TFT, _HG), 2.2, 2.9),
    (0x00C0, "2.1", "TFT_LCD_196x96_BW", 196, 96, Colours.BW, True, _NONE, 2.2, 3.0),
    (0x0108, "2.1", "EPA_LCD_250x122_BW", 250, 128, Colours.BW, False, _family(0x010B, _L_21_250), 2.2, 2.9),
    (0x010B, "2.1", "EPA_LCD_250x122_BWR", 250, 128, Colours.BWR, False, _hw(_L_21_250, _HG), 2.2, 2.9),
    (0x010E, "2.1", "EPA_LCD_250x122_BWRY", 250, 128, Colours.BWRY, False, _family(0x010B, _L_21_250), 2.2, 2.9),
    (0x0028, "2.9", "EPA_LCD_296x128_BW", 296, 128, Colours.BW, False, _hw(_L_29, _HG), 2.2, 3.0),
    (0x002B, "2.9", "EPA_LCD_296x128_BWR", 296, 128, Colours.BWR, False, _family(0x0028, _L_29), 2.2, 3.0),
    (0x002E, "2.9", "EPA_LCD_296x128_BWRY", 296, 128, Colours.BWRY, False, _hw(_L_29, _HG + "; OpenEPaperLink #606"), 2.2, 3.0),
    (0x0030, "2.9", "EPA_LCD_296x128_BW_1", 296, 128, Colours.BW, False, _family(0x0033, _L_29), 2.2, 3.0),
    (0x0033, "2.9", "EPA_LCD_296x128_1_BWR", 296, 128, Colours.BWR, False, _hw(_L_29, _HG), 2.2, 3.0),
    (0x0180, "2.9", "TFT_LCD_168x384_BW", 168, 384, Colours.BW, True, _NONE, 2.2, 3.0),
    (0x0182, "2.9", "TFT_LCD_168x384_BWR", 168, 384, Colours.BWR, True, _NONE, 2.2, 3.0),
    (0x01E0, "2.9", "TFT_LCD_384x168_BW", 384, 168, Colours.BW, True, _NONE, 2.2, 3.0),
    (0x01E2, "2.9", "TFT_LCD_384x168_BWR", 384, 168, Colours.BWR, True, _NONE, 2.2, 3.0),
    (0x02CE, "2.9", "EPA_LCD_296x152_BWRY", 296, 152, Colours.BWRY, False, _NONE, 2.2, 3.0),
    (0x0148, "3.7", "EPA_LCD_280x480_BW", 280, 480, Colours.BW, False, _NONE, 2.2, 3.0),
    (0x0228, "3.7", "EPA_LCD_240x416_BW", 240, 416, Colours.BW, False, _family(0x022B, _L_37), 2.2, 3.0),
    (0x022B, "3.7", "EPA_LCD_240x416_BWR", 240, 416, Colours.BWR, False, _hw(_L_37, _HG + "; issue #44"), 2.2, 3.0),
    (0x022E, "3.7", "EPA_LCD_240x416_BWRY", 240, 416, Colours.BWRY, False, _family(0x022B, _L_37), 2.2, 3.0),
    (0x0040, "4.2", "TFT_LCD_400x300_BW", 400, 300, Colours.BW, True, _NONE, 2.2, 3.0),
    (0x0042, "4.2", "TFT_LCD_400x300_BWR", 400, 300, Colours.BWR, True, _NONE, 2.2, 3.0),
    (0x0048, "4.2", "EPA_LCD_400x300_BW", 400, 300, Colours.BW, False, _family(0x004B, _L_42), 2.2, 3.0),
    (0x004B, "4.2", "EPA_LCD_400x300_BWR", 400, 300, Colours.BWR, False, _hw(_L_42, "the vendor app's captures (github.com/fpoli/gicisky-tag docs/Cabalist_notes); " + _HG), 2.2, 3.0),
    (0x004E, "4.2", "EPA_LCD_400x300_BWRY", 400, 300, Colours.BWRY, False, _hw(_L_42, _HG), 2.2, 3.0),
    (0x11A2, "4.2", "TFT_LCD_210x480_Color", 210, 480, Colours.SEVEN, True, _NONE, 2.2, 3.0),
    (0x1202, "4.2", "TFT_LCD_480x210_Color", 480, 210, Colours.SEVEN, True, _NONE, 2.2, 3.0),
    (0x0068, "5.8", "EPA_LCD_640x384_BW", 640, 384, Colours.BW, False, _NONE, 2.2, 3.0),
    (0x006A, "5.8", "EPA_LCD_640x384_BWR", 640, 384, Colours.BWR, False, _NONE, 2.2, 3.0),
    (0x007A, "5.8", "EPA_LCD_640x384_BWR_ZP", 640, 384, Colours.BWR, False, _NONE, 2.2, 3.0),
    (0x00E0, "5.8", "TFT_LCD_640x360_BW", 640, 360, Colours.BW, True, _NONE, 2.2, 3.0),
    (0x028E, "5.8", "EPA_LCD_528x768_BWRY", 528, 768, Colours.BWRY, False, _NONE, 2.2, 3.0),
    (0x124C, "5.8", "EPA_LCD_400x600_Color", 400, 600, Colours.SIX, False, _NONE, 2.2, 3.0),
    (0x11CC, "7.3", "EPA_LCD_1024x576_Color", 1024, 576, Colours.SIX, False, _NONE, 2.2, 3.0),
    (0x0128, "7.5", "EPA_LCD_800x480_BW", 800, 480, Colours.BW, False, _family(0x012B, _L_75), 2.2, 3.0),
    (0x012B, "7.5", "EPA_LCD_800x480_BWR", 800, 480, Colours.BWR, False, _hw(_L_75, _HG + "; issue #55"), 2.2, 3.0),
    (0x012E, "7.5", "EPA_LCD_800x480_BWRY", 800, 480, Colours.BWRY, False, _family(0x012B, _L_75), 2.2, 3.0),
    (0x0136, "7.5", "EPA_LCD_800x480_BWRY_1", 800, 480, Colours.BWRY, False, _NONE, 2.2, 3.0),
    (0x013B, "7.5", "EPA_LCD_800x480_BWR_ZP", 800, 480, Colours.BWR, False, _NONE, 2.2, 3.0),
    (0x013E, "7.5", "EPA_LCD_800x480_BWRY_ZP", 800, 480, Colours.BWRY, False, _NONE, 2.2, 3.0),
    (0x1138, "7.5", "EPA_LCD_800x480_BWRGBYO_ZP", 800, 480, Colours.SEVEN, False, _NONE, 2.2, 3.0),
    (0x113C, "7.5", "EPA_LCD_800x480_BWRGBY_ZP", 800, 480, Colours.SIX, False, _NONE, 2.2, 3.0),
    (0x0A6B, "9.7", "EPA_LCD_792x272_BWR", 792, 272, Colours.BWR, False, _NONE, 2.2, 3.0),
    (0x0A6E, "9.7", "EPA_LCD_792x272_BWRY", 792, 272, Colours.BWRY, False, _NONE, 2.2, 3.0),
    (0x0A8B, "9.7", "EPA_LCD_272x792_BWR", 272, 792, Colours.BWR, False, _NONE, 2.2, 3.0),
    (0x0A8E, "9.7", "EPA_LCD_272x792_BWRY", 272, 792, Colours.BWRY, False, _NONE, 2.2, 3.0),
    (0x0088, "10.2", "EPA_LCD_960x640_BW", 960, 640, Colours.BW, False, _family(0x008B, _L_102), 2.2, 3.2),
    (0x008B, "10.2", "EPA_LCD_960x640_BWR", 960, 640, Colours.BWR, False, _hw(_L_102, _HG + "; issue #24"), 2.2, 3.2),
    (0x008E, "10.2", "EPA_LCD_960x640_BWRY", 960, 640, Colours.BWRY, False, _family(0x008B, _L_102), 2.2, 3.2),
    (0x009B, "10.2", "EPA_LCD_960x640_BWR_ZP", 960, 640, Colours.BWR, False, _NONE, 2.2, 3.2),
    (0x0A4B, "10.2", "EPA_LCD_960x680_BWR", 960, 680, Colours.BWR, False, _NONE, 2.2, 3.2),
    (0x017B, "11.6", "EPA_LCD_1360X480_BWR", 1360, 480, Colours.BWR, False, _NONE, 2.2, 3.0),
    (0x126C, "13.3", "EPA_LCD_1600x1200_BWR", 1600, 1200, Colours.BWR, False, _NONE, 2.2, 3.0),
)
# fmt: on

PANELS: dict[int, Panel] = {
    hid: Panel(hid, inch, name, w, h, colours, tft, tier, layout, source, vmin, vmax)
    for (hid, inch, name, w, h, colours, tft, (tier, layout, source), vmin, vmax) in _ROWS
}
PANELS_BY_MODEL: dict[str, Panel] = {p.model: p for p in PANELS.values()}


def panel(hardware_id: int) -> Panel:
    """The panel of a 14-bit hardware id; :class:`UnsupportedPanel` if the id is unknown."""
    found = PANELS.get(hardware_id & ID_MASK)
    if found is None:
        raise UnsupportedPanel(
            f"unsupported panel 0x{hardware_id & ID_MASK:04x}: not a known Gicisky hardware id"
        )
    return found


def writable_panel(hardware_id: int, unverified: Collection[int] = ()) -> Panel:
    """The panel if this gateway can write it; :class:`UnsupportedPanel` with the reason
    if not. ``unverified``: the ids of ``Tier.UNVERIFIED`` the store opted in to write."""
    found = panel(hardware_id)
    if found.layout is None:
        raise UnsupportedPanel(
            f"unsupported panel 0x{found.hardware_id:04x} ({found.describe()}): {found.source}"
        )
    if found.tier is Tier.UNVERIFIED and found.hardware_id not in unverified:
        raise UnsupportedPanel(
            f"unverified panel 0x{found.hardware_id:04x} ({found.describe()}): it would be "
            f"written with {found.source}; to write it anyway, add 0x{found.hardware_id:04x} "
            "to labels.unverified_layouts"
        )
    return found


def check_unverified(ids: Collection[int]) -> None:
    """ValueError naming an id that is not one of ``Tier.UNVERIFIED`` (configuration)."""
    for hid in ids:
        found = PANELS.get(hid)
        if found is None:
            raise ValueError(f"0x{hid:04x} is not a known Gicisky hardware id")
        if found.tier is Tier.HARDWARE:
            raise ValueError(f"0x{hid:04x} has a verified layout: it is written without opting in")
        if found.tier is Tier.IDENTIFIED:
            raise ValueError(
                f"0x{hid:04x} ({found.describe()}) has no layout to write it with: {found.source}"
            )
