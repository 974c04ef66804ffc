"""What bleak keeps for every device BlueZ knows, kept small.

A store box hears thousands of devices, and bleak mirrors each one twice: the
properties of its BlueZ object (``BlueZManager._properties``, needed to connect
and to read adverts) and the device's last ``BLEDevice`` and
``AdvertisementData`` (the backend's ``seen_devices``, for
``discovered_devices``). Measured on 10,000 devices (docs/benchmarks.md,
"Footprint"), that is about 44 MiB, more than the gateway's own state:

- ``seen_devices`` is about 18 MiB, and the gateway never reads it (adverts go
  to the ingest as they come; a label's connection is made from its BlueZ
  object, :func:`gateway.labels.session.known_device`). It is emptied with every
  batch of adverts handed on.
- dbus-fast makes a new string for every property name of every message
  ("org.bluez.Device1", "ManufacturerData", "/org/bluez/hci0" ...), so the
  mirror holds 10,000 copies of each: about 11 MiB. The names are interned as
  bleak unpacks an object's properties (one copy each); an advert's changes
  update names bleak holds already and pass untouched.

Both reach into bleak 3.x (a private attribute, a module-level function);
tests/integration/test_gateway_ble.py fails if a bleak release moves them, and
both do nothing rather than break scanning if they are gone (the names' sharing
says so in a warning).
"""

from __future__ import annotations

import sys
from typing import Any

import structlog
from bleak import BleakScanner

log = structlog.get_logger("gateway.ble")

_SHARED_VALUES = frozenset({"Adapter", "AddressType", "UUIDs"})  # same for many devices
_installed = False


def share_property_names() -> bool:
    """Intern the names (and the few values many devices share) in the properties bleak
    keeps of BlueZ objects; once per process. False if bleak has no such hook."""
    global _installed
    if _installed:
        return True
    try:
        from bleak.backends.bluezdbus import manager
    except ImportError:
        return False
    unpack = getattr(manager, "unpack_variants", None)
    if unpack is None:
        log.warning("bleak unpacks BlueZ properties another way; their names are not shared")
        return False

    def unpack_shared(data: Any) -> Any:
        props = unpack(data)
        return _shared(props) if _adds_names(props) else props

    setattr(manager, "unpack_variants", unpack_shared)  # noqa: B010 (not exported by bleak)
    _installed = True
    return True


def _adds_names(props: Any) -> bool:
    """Whether bleak will keep these names: an object's interfaces (GetManagedObjects at
    start) or a device's or adapter's whole set of properties (InterfacesAdded, with its
    ``Address``). A change (PropertiesChanged: an advert's RSSI, its data) updates names
    bleak already holds; it passes as it came."""
    if type(props) is not dict:
        return False
    if "Address" in props:
        return True
    first = next(iter(props), None)
    return type(first) is str and first.startswith("org.")


def _shared(value: Any) -> Any:
    if type(value) is not dict:
        return value
    out = {}
    for key, item in value.items():
        if type(key) is str:
            key = sys.intern(key)
            if type(item) is dict:
                item = _shared(item)
            elif key in _SHARED_VALUES:
                item = _intern(item)
        out[key] = item
    return out


def _intern(value: Any) -> Any:
    if type(value) is str:
        return sys.intern(value)
    if type(value) is list:
        return [sys.intern(v) if type(v) is str else v for v in value]
    return value


def forget_last_adverts(scanner: BleakScanner) -> bool:
    """Empty bleak's record of every device's last advert (the gateway never reads it).
    False if this bleak keeps it elsewhere."""
    seen = getattr(getattr(scanner, "_backend", None), "seen_devices", None)
    if not isinstance(seen, dict):
        return False
    seen.clear()
    return True
