"""Watch BlueZ itself on the system bus: its name owner, its adapters, their power.

bleak does not notice when bluetoothd leaves and rejoins the bus; scanning then
silently stays dead. This watcher owns one D-Bus connection of its own and
reports, as plain callbacks on the event loop:

- ``on_bluez_restarted()`` when ``org.bluez`` gets a new owner,
- ``on_bluez_gone()`` when it loses its owner,
- ``on_adapter(name, address, powered)`` when an adapter appears or its power changes,
- ``on_adapter_removed(name)`` when an adapter disappears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

log = structlog.get_logger("gateway.ble")

BLUEZ = "org.bluez"
ADAPTER_IFACE = "org.bluez.Adapter1"
DEVICE_IFACE = "org.bluez.Device1"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    name: str
    path: str
    address: str | None
    powered: bool


class BlueZWatcherCallbacks:
    """Override what you need; every method runs on the event loop and must not block."""

    def on_bluez_restarted(self) -> None:
        pass

    def on_bluez_gone(self) -> None:
        pass

    def on_adapter(self, info: AdapterInfo) -> None:
        pass

    def on_adapter_removed(self, name: str) -> None:
        pass


def _adapter_name(path: str) -> str | None:
    # /org/bluez/hci0 -> hci0; device and GATT paths are deeper and not adapters.
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "org" and parts[2] == "bluez":
        return parts[3]
    return None


def _unvariant(value: Any) -> Any:
    return value.value if isinstance(value, Variant) else value


class BlueZWatcher:
    def __init__(self, callbacks: BlueZWatcherCallbacks) -> None:
        self._callbacks = callbacks
        self._bus: MessageBus | None = None
        self._owner: str | None = None
        self._adapters: dict[str, AdapterInfo] = {}

    @property
    def adapters(self) -> dict[str, AdapterInfo]:
        return dict(self._adapters)

    @property
    def connected(self) -> bool:
        return self._bus is not None and self._bus.connected

    async def start(self) -> None:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        self._bus = bus
        bus.add_message_handler(self._on_message)
        for rule in (
            f"type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{BLUEZ}'",
            f"type='signal',interface='{OBJECT_MANAGER}',member='InterfacesAdded',arg0path='/org/bluez/'",
            f"type='signal',interface='{OBJECT_MANAGER}',member='InterfacesRemoved',arg0path='/org/bluez/'",
            f"type='signal',interface='{PROPERTIES}',member='PropertiesChanged',arg0='{ADAPTER_IFACE}'",
        ):
            await self._call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                "s",
                [rule],
            )
        reply = await self._call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            "s",
            [BLUEZ],
        )
        if reply is not None and reply.body[0]:
            owner = await self._call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "GetNameOwner",
                "s",
                [BLUEZ],
            )
            self._owner = owner.body[0] if owner is not None else None
            await self.refresh_adapters()

    async def stop(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    async def wait_closed(self) -> None:
        if self._bus is not None:
            await self._bus.wait_for_disconnect()  # type: ignore[no-untyped-call]

    async def refresh_adapters(self) -> None:
        """Read every adapter from BlueZ and report it (used at start and after a restart)."""
        reply = await self._call(BLUEZ, "/", OBJECT_MANAGER, "GetManagedObjects", "", [])
        if reply is None:
            return
        seen: set[str] = set()
        for path, interfaces in reply.body[0].items():
            name = _adapter_name(path)
            if name is None or ADAPTER_IFACE not in interfaces:
                continue
            seen.add(name)
            self._set_adapter(name, path, interfaces[ADAPTER_IFACE])
        for gone in set(self._adapters) - seen:
            del self._adapters[gone]
            self._callbacks.on_adapter_removed(gone)

    async def disconnect_stale(self, wanted: Callable[[str], bool]) -> list[str]:
        """Disconnect every device BlueZ still holds connected on the ``wanted`` adapters.

        Called once at start: nothing of this process is connected yet, so such a link
        was left by an earlier run that died without disconnecting. BlueZ keeps it up
        (bluetoothd does not tie a connection to the client that asked for it), and a
        label on it refuses every other central, this gateway's next run included.
        Returns the addresses disconnected."""
        reply = await self._call(BLUEZ, "/", OBJECT_MANAGER, "GetManagedObjects", "", [])
        if reply is None:
            return []
        done = []
        for path, interfaces in reply.body[0].items():
            props = interfaces.get(DEVICE_IFACE)
            parts = path.split("/")
            if props is None or len(parts) != 5 or not wanted(parts[3]):
                continue
            if not _unvariant(props.get("Connected", False)):
                continue
            if await self._call(BLUEZ, path, DEVICE_IFACE, "Disconnect", "", []) is not None:
                done.append(str(_unvariant(props.get("Address", path))))
        return done

    async def _call(
        self, dest: str, path: str, iface: str, member: str, sig: str, body: list[Any]
    ) -> Message | None:
        if self._bus is None:
            return None
        reply = await self._bus.call(
            Message(
                destination=dest,
                path=path,
                interface=iface,
                member=member,
                signature=sig,
                body=body,
            )
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            log.warning(
                "bluez call failed",
                member=member,
                error=None if reply is None else reply.error_name,
            )
            return None
        return reply

    def _set_adapter(self, name: str, path: str, props: dict[str, Any]) -> None:
        old = self._adapters.get(name)
        address = (
            _unvariant(props.get("Address"))
            if "Address" in props
            else (old.address if old else None)
        )
        powered = (
            bool(_unvariant(props["Powered"]))
            if "Powered" in props
            else (old.powered if old else False)
        )
        info = AdapterInfo(name=name, path=path, address=address, powered=powered)
        if info != old:
            self._adapters[name] = info
            self._callbacks.on_adapter(info)

    def _on_message(self, msg: Message) -> bool:
        if msg.message_type != MessageType.SIGNAL:
            return False
        member = msg.member
        if member == "NameOwnerChanged" and msg.body and msg.body[0] == BLUEZ:
            _, old_owner, new_owner = msg.body
            self._owner = new_owner or None
            if not new_owner:
                log.warning("bluez left the bus")
                for name in list(self._adapters):
                    del self._adapters[name]
                    self._callbacks.on_adapter_removed(name)
                self._callbacks.on_bluez_gone()
            else:
                log.warning("bluez (re)joined the bus", old_owner=old_owner, new_owner=new_owner)
                self._callbacks.on_bluez_restarted()
        elif member == "InterfacesAdded":
            added_path, interfaces = msg.body
            added = _adapter_name(added_path)
            if added is not None and ADAPTER_IFACE in interfaces:
                self._set_adapter(added, added_path, interfaces[ADAPTER_IFACE])
        elif member == "InterfacesRemoved":
            removed_path, removed = msg.body
            gone = _adapter_name(removed_path)
            if gone is not None and ADAPTER_IFACE in removed and gone in self._adapters:
                del self._adapters[gone]
                self._callbacks.on_adapter_removed(gone)
        elif member == "PropertiesChanged" and msg.body and msg.body[0] == ADAPTER_IFACE:
            changed = _adapter_name(msg.path or "")
            if changed is not None:
                self._set_adapter(changed, msg.path or "", msg.body[1])
        return False
