"""A simulated label's frame buffer: from the planes it received to the pixels it shows.

The inverse of the packing, written independently of the gateway's packer
(per-pixel arithmetic here, Pillow's transposes there), so that a test
comparing the two checks one against the other. The result is one byte per
pixel, row by row over the upright picture (a TFT panel's at its own
geometry: half the width, twice the height): 0 black, 1 white, 2 red, 3 yellow.
"""

from __future__ import annotations

from drivers.labels.panels import Panel

BLACK, WHITE, RED, YELLOW = 0, 1, 2, 3
_TWO_BIT_COLOUR = (BLACK, WHITE, YELLOW, RED)  # 00 black, 01 white, 10 yellow, 11 red


def picture_size(panel: Panel) -> tuple[int, int]:
    """(width, height) of the upright picture the panel shows."""
    layout = panel.layout
    if layout is not None and layout.tft_stretch:
        return panel.width // 2, panel.height * 2
    return panel.width, panel.height


def _scan_index(panel: Panel, x: int, y: int) -> int:
    """Where pixel (x, y) of the upright picture lands in the panel's scan order."""
    layout = panel.layout
    assert layout is not None
    w, h = picture_size(panel)
    rotation = layout.rotation % 360
    if rotation == 0:
        u, v, sw, sh = x, y, w, h
    elif rotation == 90:  # counter-clockwise: the right edge becomes the top
        u, v, sw, sh = y, w - 1 - x, h, w
    elif rotation == 180:
        u, v, sw, sh = w - 1 - x, h - 1 - y, w, h
    elif rotation == 270:
        u, v, sw, sh = h - 1 - y, x, h, w
    else:
        raise ValueError(f"rotation {layout.rotation} is not a multiple of 90")
    if layout.mirror_x:
        u = sw - 1 - u
    if layout.mirror_y:
        v = sh - 1 - v
    return v * sw + u


def pixels(panel: Panel, planes: bytes) -> bytes:
    """The colour of every pixel of the upright picture, from the panel's planes."""
    layout = panel.layout
    if layout is None:
        raise ValueError(f"panel 0x{panel.hardware_id:04x} has no known layout")
    if len(planes) != panel.packed_size:
        raise ValueError(f"{len(planes)} bytes of planes; the panel takes {panel.packed_size}")
    w, h = picture_size(panel)
    plane_bytes = (w * h + 7) // 8
    out = bytearray(w * h)
    for y in range(h):
        for x in range(w):
            i = _scan_index(panel, x, y)
            if panel.two_bit:
                value = planes[i >> 2] >> (6 - 2 * (i & 3)) & 3
                out[y * w + x] = _TWO_BIT_COLOUR[value]
                continue
            bit = 0x80 >> (i & 7)
            first = bool(planes[i >> 3] & bit)
            red = panel.planes == 2 and bool(planes[plane_bytes + (i >> 3)] & bit)
            if red:
                out[y * w + x] = RED
            elif layout.invert_bw:
                out[y * w + x] = BLACK if first else WHITE
            else:
                out[y * w + x] = WHITE if first else BLACK
    return bytes(out)
