"""OpenDisplay BLE e-paper labels: the advertisement (company id 0x2446).

As OpenDisplay's firmware sends it (its ``MsdAdvertisement``; py-opendisplay's
``models/advertisement.py`` reads the same), after the company id:

- 14 bytes (firmware 1.0 on): ``[0:11]`` sensor slots, ``[11]`` the chip's
  temperature as ``(t + 40) x 2``, ``[12]`` the battery in 10 mV, low byte,
  ``[13]`` status: bit 0 the battery's bit 8, bit 1 rebooted since the last
  connection, bit 2 a connection requested, bits 4-7 a loop counter;
- 11 bytes (older firmware): ``[7:9]`` the battery in mV (LE), ``[9]`` the
  temperature in whole degrees (signed), ``[10]`` a loop counter.

The advert says nothing about the panel: its size and colours are in the
configuration the gateway reads on its first connection. The reboot flag is
not a boot marker (a connection clears it), so a reboot is not told from it.
"""

from __future__ import annotations

from drivers.types import DecodeError, DeviceKind, LabelAdvert, Observation

OPENDISPLAY = 0x2446
MODEL = "opendisplay"


class OpenDisplayError(DecodeError):
    """Advertisement bytes that do not follow OpenDisplay's layout."""


def decode_opendisplay(data: bytes) -> Observation:
    if len(data) == 16 and data[:2] == b"\x46\x24":
        data = data[2:]  # the company id left in by some stacks
    if len(data) == 14:
        millivolts = (data[12] | (data[13] & 0x01) << 8) * 10
        temperature = data[11] / 2.0 - 40.0
    elif len(data) == 11:
        millivolts = int.from_bytes(data[7:9], "little")
        temperature = float(int.from_bytes(data[9:10], "little", signed=True))
    else:
        raise OpenDisplayError(f"OpenDisplay advert of {len(data)} bytes; expected 14 (or 11)")
    return Observation(
        kind=DeviceKind.LABEL,
        model=MODEL,
        readings={"temperature_c": temperature},
        battery_mv=millivolts or None,
        label=LabelAdvert(panel_type=0, width=0, height=0, colors=(), family="opendisplay"),
    )
