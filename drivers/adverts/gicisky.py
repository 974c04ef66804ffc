"""Gicisky / PICKSMART shelf labels: the advertisement (company id 0x5053, "SP").

Five bytes after the company id (the vendor's protocol note, copied in
github.com/fpoli/gicisky-tag docs/ble-tag-protocol.html): ``[0]`` low byte of
the type, ``[1]`` battery voltage in tenths of a volt, ``[2]`` software
version, ``[3]`` hardware version, ``[4]`` high byte of the type. The type's
low 14 bits are the panel's hardware id; bit 14 (``0x4000``) says how the label
takes its image (see :mod:`drivers.labels.containers`). Real adverts:
``0b 1d 81 01 41`` (2.1" BWR, id 0x010B, bit 14 set), ``2b 1e 01 01 01`` (7.5"
BWR, id 0x012B), ``2b 1d 01 01 00`` (2.9" BWR, id 0x002B).

A label of an id outside the panel table is still a label (the gateway says
why it cannot write it), with no size or colours.

The advert has no boot counter. A label restarts when its firmware is updated
(and then shows its start screen), so the firmware number is its boot marker:
when it changes, the gateway writes the label's content again.
"""

from __future__ import annotations

from drivers.labels.panels import ID_MASK, PANELS
from drivers.types import DecodeError, DeviceKind, LabelAdvert, Observation

GICISKY = 0x5053


class GiciskyError(DecodeError):
    """Label advertisement bytes that do not follow the Gicisky layout."""


def decode_gicisky(data: bytes) -> Observation:
    if len(data) != 5:
        raise GiciskyError(f"Gicisky advert of {len(data)} bytes; expected 5")
    advertised = (data[4] << 8) | data[0]
    hardware_id = advertised & ID_MASK
    firmware = (data[2] << 8) | data[3]
    volts = data[1] / 10.0
    panel = PANELS.get(hardware_id)
    if panel is None:
        return Observation(
            kind=DeviceKind.LABEL,
            model=f"gicisky-unknown-{hardware_id:04x}",
            battery_mv=data[1] * 100,
            label=LabelAdvert(
                panel_type=hardware_id,
                width=0,
                height=0,
                colors=(),
                firmware=firmware,
                boot_marker=firmware,
                flags=advertised & ~ID_MASK,
            ),
        )
    share = (volts - panel.min_voltage) * 100 / (panel.max_voltage - panel.min_voltage)
    return Observation(
        kind=DeviceKind.LABEL,
        model=panel.model,
        battery_mv=data[1] * 100,
        battery_pct=float(max(0, min(100, round(share)))),
        label=LabelAdvert(
            panel_type=hardware_id,
            width=panel.width,
            height=panel.height,
            colors=panel.colors,
            firmware=firmware,
            boot_marker=firmware,
            flags=advertised & ~ID_MASK,
        ),
    )
