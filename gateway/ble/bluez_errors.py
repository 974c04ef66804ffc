"""BlueZ's error names and what each means for the one who got it, in one table.

Scanners and label connections get the same errors from BlueZ and must read
them the same way: ``InProgress`` is the adapter busy with another operation
(try again soon), ``NotReady`` a powered-off adapter (wait until it is back),
``DoesNotExist`` and D-Bus's unknown object a device BlueZ has forgotten (wait
until it advertises again); anything else is a failure to back off from.
"""

from __future__ import annotations

from enum import StrEnum

from bleak.exc import BleakDBusError


class Meaning(StrEnum):
    BUSY = "busy"  # another operation on the adapter: try again soon
    ADAPTER_DOWN = "adapter-down"  # powered off or not ready: wait until it is back
    NO_DEVICE = "no-device"  # BlueZ holds no object for it: wait until it is heard
    FAILED = "failed"  # anything else: back off


IN_PROGRESS = "org.bluez.Error.InProgress"
NOT_READY = "org.bluez.Error.NotReady"

MEANINGS: dict[str, Meaning] = {
    IN_PROGRESS: Meaning.BUSY,
    NOT_READY: Meaning.ADAPTER_DOWN,
    "org.bluez.Error.NotAvailable": Meaning.ADAPTER_DOWN,
    "org.bluez.Error.DoesNotExist": Meaning.NO_DEVICE,
    "org.freedesktop.DBus.Error.UnknownObject": Meaning.NO_DEVICE,
    "org.freedesktop.DBus.Error.UnknownMethod": Meaning.NO_DEVICE,
}


def meaning(exc: BaseException) -> Meaning:
    if isinstance(exc, BleakDBusError):
        return MEANINGS.get(exc.dbus_error, Meaning.FAILED)
    return Meaning.FAILED


def describe(exc: BaseException) -> str:
    if isinstance(exc, BleakDBusError):
        return f"{exc.dbus_error}: {exc.dbus_error_details or ''}".rstrip(": ")
    return str(exc) or type(exc).__name__
