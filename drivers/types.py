"""Typed values that cross from the BLE edge into the pure decoders and back out.

``Advertisement`` is what a scanner hands over (the shape bleak reports, with no
bleak types). ``Observation`` is what a decoder makes of it. Reading names
follow the contract's pattern ``^[a-z][a-z0-9_]*$`` and carry their unit as a
suffix (``temperature_c``, ``humidity_pct``, ``pressure_hpa``, ``voltage_v``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class DecodeError(ValueError):
    """The advertisement claims a known format but its bytes are not valid for it.

    Every decoder raises this (or a subclass) for bad input, and nothing else.
    """


class DeviceKind(StrEnum):
    BEACON = "beacon"
    SENSOR = "sensor"
    LABEL = "label"
    UNKNOWN = "unknown"


class BeaconFormat(StrEnum):
    IBEACON = "ibeacon"
    EDDYSTONE_UID = "eddystone-uid"
    EDDYSTONE_URL = "eddystone-url"
    EDDYSTONE_TLM = "eddystone-tlm"
    ALTBEACON = "altbeacon"


@dataclass(frozen=True, slots=True)
class Advertisement:
    """One advertisement as received: address, name, RSSI and the raw AD fields.

    ``manufacturer_data`` maps the 16-bit company id to the bytes after it;
    ``service_data`` maps the lowercase 128-bit service UUID string to its bytes.
    """

    address: str  # "AA:BB:CC:DD:EE:FF"
    rssi: int | None = None
    name: str | None = None
    tx_power: int | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    service_uuids: tuple[str, ...] = ()
    adapter: str | None = None  # the local adapter that received it, e.g. "hci0"


@dataclass(frozen=True, slots=True)
class BeaconInfo:
    """Identity of a navigation beacon, as the contract's ``beacon`` object."""

    format: BeaconFormat
    uuid: str | None = None
    major: int | None = None
    minor: int | None = None
    namespace: str | None = None
    instance: str | None = None
    url: str | None = None
    tx_power: int | None = None


@dataclass(frozen=True, slots=True)
class LabelAdvert:
    """What a shelf label says about itself in its advertisement."""

    panel_type: int
    width: int  # 0 when the panel type is not known
    height: int
    colors: tuple[str, ...]  # e.g. ("black", "white", "red"); empty when not known
    firmware: int | None = None
    # A counter or flag that changes when the label reboots, if the model has one.
    boot_marker: int | None = None
    # Advertised bits beside the panel type that tell how the label takes its image.
    flags: int = 0
    # Which label protocol it speaks: "gicisky" or "opendisplay".
    family: str = "gicisky"


@dataclass(frozen=True, slots=True)
class Observation:
    """What one advertisement told us about one device."""

    kind: DeviceKind
    model: str
    readings: Mapping[str, float] = field(default_factory=dict)
    battery_pct: float | None = None
    battery_mv: int | None = None
    beacon: BeaconInfo | None = None
    label: LabelAdvert | None = None
    # Some formats carry a packet counter; equal counters mean a repeated advert.
    packet_id: int | None = None


def address_to_device_id(address: str) -> str:
    """``AA:BB:CC:DD:EE:FF`` -> ``aabbccddeeff`` (the contract's device id)."""
    device_id = address.replace(":", "").lower()
    if len(device_id) != 12 or any(c not in "0123456789abcdef" for c in device_id):
        raise ValueError(f"{address!r} is not a Bluetooth address (expected AA:BB:CC:DD:EE:FF)")
    return device_id


def device_id_to_address(device_id: str) -> str:
    """``aabbccddeeff`` -> ``AA:BB:CC:DD:EE:FF``."""
    if len(device_id) != 12 or any(c not in "0123456789abcdef" for c in device_id):
        raise ValueError(f"{device_id!r} is not a device id (expected 12 lowercase hex digits)")
    up = device_id.upper()
    return ":".join(up[i : i + 2] for i in range(0, 12, 2))


def uuid16(short: int) -> str:
    """The 128-bit string of a 16-bit Bluetooth SIG UUID (as BlueZ and bleak report it)."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"
