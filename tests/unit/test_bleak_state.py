"""The names bleak keeps of BlueZ's objects are shared; an advert's changes pass as they came."""

from __future__ import annotations

import sys

from dbus_fast import Variant

from gateway.ble.bleak_state import share_property_names


def fresh(text: str) -> str:
    """A string equal to ``text`` but not the interned one (as dbus-fast makes them)."""
    made = "".join(list(text))
    assert made is not sys.intern(text) or len(text) < 2
    return made


def unpack(data: dict[str, object]) -> dict[str, object]:
    from bleak.backends.bluezdbus import manager

    assert share_property_names()
    result: dict[str, object] = manager.unpack_variants(data)
    return result


def test_a_device_added_keeps_one_copy_of_its_names_and_shared_values() -> None:
    props = unpack(
        {
            fresh("Address"): Variant("s", "C4:09:00:00:00:01"),
            fresh("Adapter"): Variant("o", fresh("/org/bluez/hci0")),
            fresh("ManufacturerData"): Variant("a{qv}", {0x0499: Variant("ay", b"\x05")}),
        }
    )
    assert props == {
        "Address": "C4:09:00:00:00:01",
        "Adapter": "/org/bluez/hci0",
        "ManufacturerData": {0x0499: b"\x05"},
    }
    assert all(name is sys.intern(name) for name in props)
    assert props["Adapter"] is sys.intern("/org/bluez/hci0")


def test_the_objects_at_start_keep_one_copy_of_their_interface_and_property_names() -> None:
    objects = unpack({fresh("org.bluez.Device1"): {fresh("Address"): Variant("s", "x")}})
    interface = next(iter(objects))
    assert interface is sys.intern("org.bluez.Device1")
    inner = objects[interface]
    assert isinstance(inner, dict)
    assert next(iter(inner)) is sys.intern("Address")


def test_an_adverts_changes_pass_as_they_came() -> None:
    rssi = fresh("RSSI")
    data = fresh("ManufacturerData")
    changed = unpack({rssi: Variant("n", -61), data: Variant("a{qv}", {1: Variant("ay", b"")})})
    assert changed == {"RSSI": -61, "ManufacturerData": {1: b""}}
    names = list(changed)
    assert names[0] is rssi and names[1] is data  # not looked up: bleak holds these names
