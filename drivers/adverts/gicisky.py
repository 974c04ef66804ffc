"""Gicisky / PICKSMART shelf labels: the advertisement (company id 0x5053, "SP").

Five bytes after the company id (source: github.com/eigger/hass-gicisky,
gicisky_ble/parser.py): ``[0]`` low byte of the hardware id, ``[1]`` battery
voltage in tenths of a volt, ``[2:4]`` firmware (big endian), ``[4]`` high byte
of the hardware id. The panel type is the hardware id's low 14 bits.

The advert has no boot counter. A label restarts when its firmware is updated
(and then shows its start screen), so the firmware number is its boot marker:
when it changes, the gateway writes the label's content again.
"""

from __future__ import annotations

from drivers.labels.models import PANELS
from drivers.types import DecodeError, DeviceKind, LabelAdvert, Observation

GICISKY = 0x5053


class GiciskyError(DecodeError):
    """Label advertisement bytes that do not follow the Gicisky layout."""


def decode_gicisky(data: bytes) -> Observation:
    if len(data) != 5:
        raise GiciskyError(f"Gicisky advert of {len(data)} bytes; expected 5")
    hardware = (data[4] << 8) | data[0]
    panel_type = hardware & 0x3FFF
    firmware = (data[2] << 8) | data[3]
    volts = data[1] / 10.0
    panel = PANELS.get(panel_type)
    if panel is None:
        return Observation(
            kind=DeviceKind.LABEL,
            model=f"gicisky-{panel_type:04x}",
            battery_mv=data[1] * 100,
        )
    share = (volts - panel.min_voltage) * 100 / (panel.max_voltage - panel.min_voltage)
    return Observation(
        kind=DeviceKind.LABEL,
        model=panel.model,
        battery_mv=data[1] * 100,
        battery_pct=float(max(0, min(100, round(share)))),
        label=LabelAdvert(
            panel_type=panel_type,
            width=panel.width,
            height=panel.height,
            colors=panel.colors,
            firmware=firmware,
            boot_marker=firmware,
        ),
    )
