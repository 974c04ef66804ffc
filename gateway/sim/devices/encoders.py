"""Advertisement payloads of the simulated devices, byte-exact to the published formats.

The mirror of ``drivers.adverts``: the tests decode what these encode, and the
encoders are checked against the formats' published vectors, so the two sides
cannot drift together.
"""

from __future__ import annotations

import struct
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from drivers.adverts.beacons import URL_EXPANSIONS, URL_SCHEMES


def ibeacon(beacon_uuid: str, major: int, minor: int, tx_power: int) -> bytes:
    """Apple manufacturer data (after the company id 0x004C)."""
    return b"\x02\x15" + uuid.UUID(beacon_uuid).bytes + struct.pack(">HHb", major, minor, tx_power)


def altbeacon(beacon_id: str, major: int, minor: int, ref_rssi: int) -> bytes:
    """Manufacturer data (after any company id) of an AltBeacon."""
    return (
        b"\xbe\xac" + uuid.UUID(beacon_id).bytes + struct.pack(">HHbB", major, minor, ref_rssi, 0)
    )


def eddystone_uid(namespace: str, instance: str, tx_power: int) -> bytes:
    return (
        b"\x00"
        + struct.pack(">b", tx_power)
        + bytes.fromhex(namespace)
        + bytes.fromhex(instance)
        + b"\x00\x00"
    )


def eddystone_url(url: str, tx_power: int) -> bytes:
    code = next((i for i, scheme in enumerate(URL_SCHEMES) if url.startswith(scheme)), None)
    if code is None:
        raise ValueError(f"{url!r} does not start with one of {URL_SCHEMES}")
    rest = url[len(URL_SCHEMES[code]) :]
    out = bytearray()
    i = 0
    while i < len(rest):
        for expansion_code, text in enumerate(URL_EXPANSIONS):
            if rest.startswith(text, i):
                out.append(expansion_code)
                i += len(text)
                break
        else:
            out += rest[i].encode("ascii")
            i += 1
    if len(out) > 17:
        raise ValueError(f"{url!r} is too long for an Eddystone-URL frame")
    return b"\x10" + struct.pack(">bB", tx_power, code) + bytes(out)


def eddystone_tlm(battery_mv: int, temperature_c: float, adv_count: int, uptime_s: float) -> bytes:
    temp = max(-128.0, min(127.99, temperature_c))
    return b"\x20\x00" + struct.pack(
        ">HhII",
        battery_mv,
        round(temp * 256),
        adv_count & 0xFFFFFFFF,
        int(uptime_s * 10) & 0xFFFFFFFF,
    )


def ruuvi_rawv2(
    *,
    temperature_c: float,
    humidity_pct: float,
    pressure_hpa: float,
    acceleration_g: tuple[float, float, float],
    battery_mv: int,
    tx_power_dbm: int,
    movement: int,
    sequence: int,
    mac: str,
) -> bytes:
    """Manufacturer data (after the company id 0x0499), Ruuvi data format 5."""
    power = ((max(1600, min(3646, battery_mv)) - 1600) << 5) | ((tx_power_dbm + 40) // 2 & 0x1F)
    ax, ay, az = (round(a * 1000) for a in acceleration_g)
    return struct.pack(
        ">BhHHhhhHBH6s",
        5,
        round(temperature_c / 0.005),
        round(humidity_pct / 0.0025),
        round(pressure_hpa * 100) - 50000,
        ax,
        ay,
        az,
        power,
        movement % 255,
        sequence % 65535,
        bytes.fromhex(mac.replace(":", "")),
    )


def bthome_objects(
    *,
    packet_id: int,
    battery_pct: int,
    temperature_c: float,
    humidity_pct: float | None,
    door_open: bool | None = None,
) -> bytes:
    """BTHome v2 objects in id order: packet id, battery, temperature, humidity, door."""
    out = struct.pack("<BB", 0x00, packet_id & 0xFF) + struct.pack("<BB", 0x01, battery_pct)
    out += struct.pack("<Bh", 0x02, round(temperature_c * 100))
    if humidity_pct is not None:
        out += struct.pack("<BH", 0x03, round(humidity_pct * 100))
    if door_open is not None:
        out += struct.pack("<BB", 0x1A, int(door_open))
    return out


def bthome_frame(objects: bytes, *, mac: str, key: bytes | None, counter: int) -> bytes:
    """Service data for UUID 0xFCD2: plain, or AES-CCM encrypted with the bind key."""
    if key is None:
        return b"\x40" + objects
    info = 0x41
    count = struct.pack("<I", counter & 0xFFFFFFFF)
    nonce = bytes.fromhex(mac.replace(":", "")) + b"\xd2\xfc" + bytes([info]) + count
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, objects, None)
    return bytes([info]) + sealed[:-4] + count + sealed[-4:]


def gicisky_advert(hardware: int, battery_mv: int, firmware: int) -> bytes:
    """Manufacturer data (after the company id 0x5053) of a Gicisky label: the 16-bit
    type (panel id and flag bits) split around battery, software and hardware version."""
    return bytes(
        [
            hardware & 0xFF,
            min(255, battery_mv // 100),
            firmware >> 8 & 0xFF,
            firmware & 0xFF,
            hardware >> 8 & 0xFF,
        ]
    )
