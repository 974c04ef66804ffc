"""Advertisement patterns for BlueZ passive scanning (AdvertisementMonitor1 or_patterns).

Passive scanning only reports adverts matching a pattern, so these cover every
format the decoders know: (start position, AD type, content prefix).
"""

from __future__ import annotations

from bleak.args.bluez import OrPattern, OrPatternLike
from bleak.assigned_numbers import AdvertisementDataType

_MANUFACTURER = AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA
_SERVICE_DATA = AdvertisementDataType.SERVICE_DATA_UUID16

PASSIVE_OR_PATTERNS: list[OrPatternLike] = [
    OrPattern(0, _MANUFACTURER, b"\x4c\x00\x02\x15"),  # iBeacon (Apple 0x004C)
    OrPattern(0, _MANUFACTURER, b"\x99\x04"),  # RuuviTag (0x0499)
    OrPattern(0, _MANUFACTURER, b"\x53\x50"),  # Gicisky / PICKSMART labels (0x5053)
    OrPattern(2, _MANUFACTURER, b"\xbe\xac"),  # AltBeacon (any company id)
    OrPattern(0, _SERVICE_DATA, b"\xaa\xfe"),  # Eddystone (0xFEAA)
    OrPattern(0, _SERVICE_DATA, b"\xd2\xfc"),  # BTHome v2 (0xFCD2)
]
