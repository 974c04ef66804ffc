"""RuuviTag data format 5 (RAWv2), manufacturer id 0x0499.

Source: Ruuvi's "Data format 5 (RAWv2)" specification (docs.ruuvi.com), whose
test vectors are in tests/unit/test_decode_ruuvi.py. Values the tag marks as
"not available" are left out, not reported as numbers.
"""

from __future__ import annotations

import struct

from drivers.types import DecodeError

RUUVI = 0x0499
_RAWV2 = struct.Struct(">BhHHhhhHBH6s")

# Battery share from voltage: a CR2477 runs from ~3.0 V fresh to ~2.5 V empty
# under load (linear in between; Ruuvi's own apps use a similar range).
BATTERY_FULL_MV = 3000
BATTERY_EMPTY_MV = 2500


class RuuviError(DecodeError):
    """Ruuvi bytes that do not follow data format 5."""


def decode_ruuvi(data: bytes) -> tuple[dict[str, float], int | None, int | None]:
    """(readings, battery mV, measurement sequence) from manufacturer data after the id."""
    if not data:
        raise RuuviError("empty Ruuvi frame")
    if data[0] != 0x05:
        raise RuuviError(f"Ruuvi data format {data[0]} is not supported (only 5, RAWv2)")
    if len(data) < 24:
        raise RuuviError(f"Ruuvi RAWv2 frame of {len(data)} bytes; expected 24")
    (_fmt, temp, hum, pres, ax, ay, az, power, movement, seq, _mac) = _RAWV2.unpack_from(data)
    readings: dict[str, float] = {}
    if temp != -0x8000:
        readings["temperature_c"] = round(temp * 0.005, 3)
    if hum != 0xFFFF:
        readings["humidity_pct"] = round(hum * 0.0025, 4)
    if pres != 0xFFFF:
        readings["pressure_hpa"] = round((pres + 50000) / 100.0, 2)
    for axis, value in (("x", ax), ("y", ay), ("z", az)):
        if value != -0x8000:
            readings[_ACCELERATION[axis]] = value / 1000.0
    battery_mv: int | None = None
    if power >> 5 != 0x7FF:
        battery_mv = (power >> 5) + 1600
        readings["voltage_v"] = battery_mv / 1000.0
    if power & 0x1F != 0x1F:
        readings["tx_power_dbm"] = float((power & 0x1F) * 2 - 40)
    if movement != 0xFF:
        readings["movement_count"] = float(movement)
    return readings, battery_mv, None if seq == 0xFFFF else seq


# The reading names, made once: a string built per advert is kept per sensor.
_ACCELERATION = {axis: f"acceleration_{axis}_g" for axis in "xyz"}


def battery_pct_from_mv(mv: int) -> float:
    share = (mv - BATTERY_EMPTY_MV) / (BATTERY_FULL_MV - BATTERY_EMPTY_MV) * 100.0
    return round(min(100.0, max(0.0, share)), 1)
