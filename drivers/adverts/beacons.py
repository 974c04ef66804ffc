"""Navigation beacons: iBeacon, AltBeacon and Eddystone (UID, URL, TLM).

Sources: Apple's "Proximity Beacon Specification" (iBeacon layout), the
AltBeacon specification (github.com/AltBeacon/spec), and Google's Eddystone
protocol specification (github.com/google/eddystone: eddystone-uid,
eddystone-url, eddystone-tlm).
"""

from __future__ import annotations

import struct
import uuid

from drivers.types import BeaconFormat, BeaconInfo, DecodeError

APPLE = 0x004C
EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"

_IBEACON = struct.Struct(">16sHHb")
_ALTBEACON = struct.Struct(">16sHHbB")
_TLM = struct.Struct(">BHhII")

URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
URL_EXPANSIONS = (
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
)  # fmt: skip


class BeaconError(DecodeError):
    """Beacon bytes that do not follow their format."""


_UUIDS: dict[bytes, str] = {}
_UUIDS_MAX = 1024


def _uuid_text(raw: bytes) -> str:
    """One string per beacon UUID (a store's beacons share a few; each kept per device)."""
    text = _UUIDS.get(raw)
    if text is None:
        text = str(uuid.UUID(bytes=raw))
        if len(_UUIDS) < _UUIDS_MAX:
            _UUIDS[raw] = text
    return text


def decode_ibeacon(data: bytes) -> BeaconInfo | None:
    """Apple manufacturer data (after the company id); None if it is not an iBeacon frame."""
    if len(data) < 2 or data[0] != 0x02:
        return None
    if data[1] != 0x15 or len(data) < 23:
        raise BeaconError(f"iBeacon frame of {len(data)} bytes; expected 23 (02 15 + 21)")
    raw_uuid, major, minor, tx_power = _IBEACON.unpack_from(data, 2)
    return BeaconInfo(
        format=BeaconFormat.IBEACON,
        uuid=_uuid_text(raw_uuid),
        major=major,
        minor=minor,
        tx_power=tx_power,
    )


def decode_altbeacon(data: bytes) -> BeaconInfo | None:
    """Manufacturer data of any company; None unless it starts with the AltBeacon code BE AC."""
    if len(data) < 2 or data[0] != 0xBE or data[1] != 0xAC:
        return None
    if len(data) < 24:
        raise BeaconError(f"AltBeacon frame of {len(data)} bytes; expected 24")
    raw_id, major, minor, ref_rssi, _reserved = _ALTBEACON.unpack_from(data, 2)
    return BeaconInfo(
        format=BeaconFormat.ALTBEACON,
        uuid=_uuid_text(raw_id),
        major=major,
        minor=minor,
        tx_power=ref_rssi,
    )


def decode_eddystone(data: bytes) -> tuple[BeaconInfo, dict[str, float], int | None]:
    """Eddystone service data: (identity, readings, battery mV)."""
    if not data:
        raise BeaconError("empty Eddystone frame")
    frame = data[0]
    if frame == 0x00:  # UID
        if len(data) < 18:
            raise BeaconError(f"Eddystone-UID frame of {len(data)} bytes; expected 18 or 20")
        return (
            BeaconInfo(
                format=BeaconFormat.EDDYSTONE_UID,
                tx_power=struct.unpack_from(">b", data, 1)[0],
                namespace=data[2:12].hex(),
                instance=data[12:18].hex(),
            ),
            {},
            None,
        )
    if frame == 0x10:  # URL
        if len(data) < 3:
            raise BeaconError("Eddystone-URL frame too short")
        if data[2] >= len(URL_SCHEMES):
            raise BeaconError(f"Eddystone-URL scheme code {data[2]:#04x} is not defined")
        return (
            BeaconInfo(
                format=BeaconFormat.EDDYSTONE_URL,
                tx_power=struct.unpack_from(">b", data, 1)[0],
                url=URL_SCHEMES[data[2]] + _expand_url(data[3:]),
            ),
            {},
            None,
        )
    if frame == 0x20:  # TLM
        if len(data) < 14:
            raise BeaconError(f"Eddystone-TLM frame of {len(data)} bytes; expected 14")
        version, vbatt, temp, adv_count, uptime = _TLM.unpack_from(data, 1)
        if version != 0x00:
            raise BeaconError("encrypted Eddystone-TLM (version 1) is not supported")
        readings: dict[str, float] = {}
        if temp != -0x8000:  # 0x8000 = not supported
            readings["temperature_c"] = temp / 256.0
        readings["adv_count"] = float(adv_count)
        readings["uptime_s"] = uptime / 10.0
        battery = vbatt if vbatt else None  # 0 = not battery powered
        return BeaconInfo(format=BeaconFormat.EDDYSTONE_TLM), readings, battery
    raise BeaconError(f"Eddystone frame type {frame:#04x} is not supported")


def _expand_url(encoded: bytes) -> str:
    out = []
    for byte in encoded:
        if byte < len(URL_EXPANSIONS):
            out.append(URL_EXPANSIONS[byte])
        elif 0x21 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            raise BeaconError(f"Eddystone-URL byte {byte:#04x} is neither text nor an expansion")
    return "".join(out)
