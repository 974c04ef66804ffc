"""BTHome v2 (service data UUID 0xFCD2), plain and encrypted (AES-CCM with a bind key).

Source: the BTHome v2 format and encryption specification (bthome.io/format,
bthome.io/encryption). Written here rather than taken from the bthome-ble
library because that library imports habluetooth, bleak-retry-connector and
bluetooth-sensor-state-data (~0.4 s and ~17 MB at import) for what is a small
table-driven parser; the tests cross-check this decoder against bthome-ble.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from drivers.types import DecodeError

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
_UUID_LE = b"\xd2\xfc"


class BTHomeError(DecodeError):
    """BTHome bytes that do not follow the format."""


class MissingKey(BTHomeError):
    """The device sends encrypted BTHome but no bind key is configured for it."""


class BadKey(BTHomeError):
    """The configured bind key does not decrypt this device's adverts."""


@dataclass(frozen=True, slots=True)
class _Obj:
    name: str | None  # None: read and skip
    size: int  # bytes; 0 = variable (first byte is the length)
    signed: bool = False
    factor: float = 1.0


# Object id -> meaning (bthome.io/format). Reading names carry their unit.
_OBJECTS: dict[int, _Obj] = {
    0x00: _Obj("packet_id", 1),
    0x01: _Obj("battery_pct", 1),
    0x02: _Obj("temperature_c", 2, True, 0.01),
    0x03: _Obj("humidity_pct", 2, False, 0.01),
    0x04: _Obj("pressure_hpa", 3, False, 0.01),
    0x05: _Obj("illuminance_lux", 3, False, 0.01),
    0x06: _Obj("mass_kg", 2, False, 0.01),
    0x07: _Obj("mass_lb", 2, False, 0.01),
    0x08: _Obj("dewpoint_c", 2, True, 0.01),
    0x09: _Obj("count", 1),
    0x0A: _Obj("energy_kwh", 3, False, 0.001),
    0x0B: _Obj("power_w", 3, False, 0.01),
    0x0C: _Obj("voltage_v", 2, False, 0.001),
    0x0D: _Obj("pm25_ugm3", 2),
    0x0E: _Obj("pm10_ugm3", 2),
    0x0F: _Obj("generic_on", 1),
    0x10: _Obj("power_on", 1),
    0x11: _Obj("opening_open", 1),
    0x12: _Obj("co2_ppm", 2),
    0x13: _Obj("tvoc_ugm3", 2),
    0x14: _Obj("moisture_pct", 2, False, 0.01),
    0x15: _Obj("battery_low", 1),
    0x16: _Obj("battery_charging", 1),
    0x17: _Obj("carbon_monoxide_detected", 1),
    0x18: _Obj("cold", 1),
    0x19: _Obj("connected", 1),
    0x1A: _Obj("door_open", 1),
    0x1B: _Obj("garage_door_open", 1),
    0x1C: _Obj("gas_detected", 1),
    0x1D: _Obj("heat", 1),
    0x1E: _Obj("light_detected", 1),
    0x1F: _Obj("lock_unlocked", 1),
    0x20: _Obj("moisture_detected", 1),
    0x21: _Obj("motion_detected", 1),
    0x22: _Obj("moving", 1),
    0x23: _Obj("occupancy", 1),
    0x24: _Obj("plug_in", 1),
    0x25: _Obj("presence", 1),
    0x26: _Obj("problem", 1),
    0x27: _Obj("running", 1),
    0x28: _Obj("unsafe", 1),
    0x29: _Obj("smoke_detected", 1),
    0x2A: _Obj("sound_detected", 1),
    0x2B: _Obj("tamper", 1),
    0x2C: _Obj("vibration", 1),
    0x2D: _Obj("window_open", 1),
    0x2E: _Obj("humidity_pct", 1),
    0x2F: _Obj("moisture_pct", 1),
    0x3A: _Obj("button_event", 1),
    0x3C: _Obj(None, 2),  # dimmer event
    0x3D: _Obj("count", 2),
    0x3E: _Obj("count", 4),
    0x3F: _Obj("rotation_deg", 2, True, 0.1),
    0x40: _Obj("distance_mm", 2),
    0x41: _Obj("distance_m", 2, False, 0.1),
    0x42: _Obj("duration_s", 3, False, 0.001),
    0x43: _Obj("current_a", 2, False, 0.001),
    0x44: _Obj("speed_ms", 2, False, 0.01),
    0x45: _Obj("temperature_c", 2, True, 0.1),
    0x46: _Obj("uv_index", 1, False, 0.1),
    0x47: _Obj("volume_l", 2, False, 0.1),
    0x48: _Obj("volume_ml", 2),
    0x49: _Obj("volume_flow_m3h", 2, False, 0.001),
    0x4A: _Obj("voltage_v", 2, False, 0.1),
    0x4B: _Obj("gas_m3", 3, False, 0.001),
    0x4C: _Obj("gas_m3", 4, False, 0.001),
    0x4D: _Obj("energy_kwh", 4, False, 0.001),
    0x4E: _Obj("volume_l", 4, False, 0.001),
    0x4F: _Obj("water_l", 4, False, 0.001),
    0x50: _Obj("timestamp", 4),
    0x51: _Obj("acceleration_ms2", 2, False, 0.001),
    0x52: _Obj("gyroscope_dps", 2, False, 0.001),
    0x53: _Obj(None, 0),  # text
    0x54: _Obj(None, 0),  # raw
    0x55: _Obj("volume_storage_l", 4, False, 0.001),
    0x56: _Obj("conductivity_uscm", 2),
    0x57: _Obj("temperature_c", 1, True),
    0x58: _Obj("temperature_c", 1, True, 0.35),
    0x59: _Obj("count", 1, True),
    0x5A: _Obj("count", 2, True),
    0x5B: _Obj("count", 4, True),
    0x5C: _Obj("power_w", 4, True, 0.01),
    0x5D: _Obj("current_a", 2, True, 0.001),
    0x5E: _Obj("direction_deg", 2, False, 0.01),
    0x5F: _Obj("precipitation_mm", 2, False, 0.1),
    0x60: _Obj("channel", 1),
}


@dataclass(frozen=True, slots=True)
class BTHomeData:
    readings: dict[str, float]
    battery_pct: float | None
    packet_id: int | None
    encrypted: bool
    counter: int | None  # encryption counter (replay protection), if encrypted


def decode_bthome(data: bytes, address: str, keys: Mapping[str, bytes] | None = None) -> BTHomeData:
    """Decode BTHome v2 service data of the device at ``address`` (AA:BB:...)."""
    if not data:
        raise BTHomeError("empty BTHome frame")
    info = data[0]
    version = info >> 5
    if version != 2:
        raise BTHomeError(f"BTHome version {version} is not supported (only v2)")
    encrypted = bool(info & 0x01)
    counter = None
    payload = data[1:]
    if encrypted:
        device_id = address.replace(":", "").lower()
        key = (keys or {}).get(device_id)
        if key is None:
            raise MissingKey(
                f"{address} sends encrypted BTHome; configure its bind key "
                f"(ble.bthome_keys.{device_id})"
            )
        if len(payload) < 9:
            raise BTHomeError("encrypted BTHome frame too short")
        ciphertext, count, mic = payload[:-8], payload[-8:-4], payload[-4:]
        nonce = bytes.fromhex(device_id) + _UUID_LE + bytes([info]) + count
        # cryptography is loaded with the first encrypted advert of a device with a key.
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESCCM

        try:
            payload = AESCCM(key, tag_length=4).decrypt(nonce, ciphertext + mic, None)
        except (InvalidTag, ValueError) as exc:
            raise BadKey(f"{address}: the bind key does not decrypt its BTHome adverts") from exc
        counter = int.from_bytes(count, "little")
    readings, battery, packet_id = _objects(payload)
    return BTHomeData(readings, battery, packet_id, encrypted, counter)


def _objects(payload: bytes) -> tuple[dict[str, float], float | None, int | None]:
    readings: dict[str, float] = {}
    battery: float | None = None
    packet_id: int | None = None
    i, n = 0, len(payload)
    while i < n:
        obj = _OBJECTS.get(payload[i])
        if obj is None:
            # Sizes of unknown objects are unknown: what follows cannot be read.
            raise BTHomeError(f"BTHome object id {payload[i]:#04x} is not supported")
        i += 1
        size = obj.size
        if size == 0:
            if i >= n:
                raise BTHomeError("BTHome variable-length object without its length")
            size = payload[i]
            i += 1
        if i + size > n:
            raise BTHomeError("BTHome object runs past the end of the frame")
        if obj.name is not None and obj.size:
            raw = int.from_bytes(payload[i : i + size], "little", signed=obj.signed)
            value = raw * obj.factor if obj.factor != 1.0 else float(raw)
            if obj.name == "battery_pct":
                battery = value
            elif obj.name == "packet_id":
                packet_id = raw
            else:
                readings.setdefault(obj.name, round(value, 6))
        i += size
    return readings, battery, packet_id
