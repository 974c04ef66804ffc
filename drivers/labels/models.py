"""Gicisky / PICKSMART label panels: what each panel type is.

Source: the panel table of the public Home Assistant integration that
reverse-engineered these labels (github.com/eigger/hass-gicisky,
gicisky_ble/devices.py), which also gives each panel's battery voltage range.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PanelModel:
    panel_type: int
    model: str  # our model name, e.g. "gicisky-bwr-2.9"
    width: int
    height: int
    colors: tuple[str, ...]
    rotation: int = 0  # degrees the image is turned before packing
    mirror_x: bool = False
    mirror_y: bool = False
    compression: bool = False
    tft: bool = False
    min_voltage: float = 2.2
    max_voltage: float = 2.9


_BW = ("black", "white")
_BWR = ("black", "white", "red")

PANELS: dict[int, PanelModel] = {
    p.panel_type: p
    for p in (
        PanelModel(0xA0, "gicisky-bw-2.1-tft", 250, 132, _BW, rotation=90, mirror_x=True, tft=True),
        PanelModel(0x0B, "gicisky-bwr-2.1", 250, 128, _BWR, rotation=270, mirror_x=True),
        PanelModel(0x33, "gicisky-bwr-2.9", 296, 128, _BWR, rotation=90, max_voltage=3.0),
        PanelModel(0x4B, "gicisky-bwr-4.2", 400, 300, _BWR, max_voltage=3.0),
        PanelModel(
            0x2B,
            "gicisky-bwr-7.5",
            800,
            480,
            _BWR,
            mirror_y=True,
            compression=True,
            max_voltage=3.0,
        ),
        PanelModel(0x8B, "gicisky-bwr-10.2", 960, 640, _BWR, max_voltage=3.0),
    )
}
PANELS_BY_MODEL: dict[str, PanelModel] = {p.model: p for p in PANELS.values()}
