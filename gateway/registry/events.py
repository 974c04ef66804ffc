"""A device's lifecycle as the cloud hears it: ``device.new``, ``device.online`` and
``device.offline`` events, decided here, where the changes are made."""

from __future__ import annotations

from gateway.contract.events import Event
from gateway.registry.device import ChangeKind, DeviceChange


def lifecycle_event(change: DeviceChange, now: float) -> Event | None:
    """The event a change is worth, if any (one per change: new before online)."""
    device = change.device
    who = device.name or device.address
    if ChangeKind.NEW in change.kinds:
        return Event(
            "device.new",
            "info",
            f"new {device.kind.value} {device.model} {device.address}",
            now,
            device.device_id,
        )
    if ChangeKind.ONLINE in change.kinds:
        return Event("device.online", "info", f"{who} is back online", now, device.device_id)
    if ChangeKind.OFFLINE in change.kinds:
        return Event("device.offline", "warning", f"{who} went offline", now, device.device_id)
    return None
