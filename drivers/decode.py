"""Which format an advertisement is, and what it says: ``decode(adv) -> Observation | None``.

Dispatch is by dictionary lookups on the company ids and service UUIDs present;
``None`` means "not a format we know" (phones, headphones...). Every decoder
raises only :class:`~drivers.types.DecodeError` (or a subclass) for bad bytes.

A beacon that sends Eddystone UID/URL and TLM frames is one device: each frame
yields an Observation of the same model ``eddystone``; the registry keeps the
identity from UID/URL frames and takes readings and battery from TLM frames.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.adverts.beacons import (
    APPLE,
    EDDYSTONE_UUID,
    decode_altbeacon,
    decode_eddystone,
    decode_ibeacon,
)
from drivers.adverts.bthome import BTHOME_UUID, decode_bthome
from drivers.adverts.gicisky import GICISKY, decode_gicisky
from drivers.adverts.opendisplay import OPENDISPLAY, decode_opendisplay
from drivers.adverts.ruuvi import RUUVI, battery_pct_from_mv, decode_ruuvi
from drivers.types import Advertisement, DeviceKind, Observation

_NO_KEYS: Mapping[str, bytes] = {}


def decode(
    adv: Advertisement, *, bthome_keys: Mapping[str, bytes] | None = None
) -> Observation | None:
    service_data = adv.service_data
    if service_data:
        data = service_data.get(BTHOME_UUID)
        if data is not None:
            b = decode_bthome(data, adv.address, bthome_keys or _NO_KEYS)
            return Observation(
                kind=DeviceKind.SENSOR,
                model="bthome-v2",
                readings=b.readings,
                battery_pct=b.battery_pct,
                packet_id=b.packet_id if b.counter is None else b.counter,
            )
        data = service_data.get(EDDYSTONE_UUID)
        if data is not None:
            beacon, readings, battery_mv = decode_eddystone(data)
            return Observation(
                kind=DeviceKind.BEACON,
                model="eddystone",
                readings=readings,
                battery_mv=battery_mv,
                beacon=beacon,
            )
    manufacturer = adv.manufacturer_data
    if manufacturer:
        data = manufacturer.get(RUUVI)
        if data is not None:
            readings, battery_mv, seq = decode_ruuvi(data)
            return Observation(
                kind=DeviceKind.SENSOR,
                model="ruuvi-rawv2",
                readings=readings,
                battery_mv=battery_mv,
                battery_pct=None if battery_mv is None else battery_pct_from_mv(battery_mv),
                packet_id=seq,
            )
        data = manufacturer.get(GICISKY)
        if data is not None:
            return decode_gicisky(data)
        data = manufacturer.get(OPENDISPLAY)
        if data is not None:
            return decode_opendisplay(data)
        data = manufacturer.get(APPLE)
        if data is not None:
            ibeacon = decode_ibeacon(data)
            if ibeacon is not None:
                return Observation(kind=DeviceKind.BEACON, model="ibeacon", beacon=ibeacon)
        for data in manufacturer.values():
            altbeacon = decode_altbeacon(data)
            if altbeacon is not None:
                return Observation(kind=DeviceKind.BEACON, model="altbeacon", beacon=altbeacon)
    return None


def payload_fingerprint(adv: Advertisement) -> int:
    """Equal for two adverts with the same manufacturer and service data (RSSI aside)."""
    m, s = adv.manufacturer_data, adv.service_data
    if len(m) == 1 and not s:
        (item,) = m.items()
        return hash(item)
    return hash((tuple(m.items()), tuple(s.items())))
