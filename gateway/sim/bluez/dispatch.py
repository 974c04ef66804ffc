"""A small D-Bus object server on dbus-fast's low-level API.

The double serves thousands of objects whose properties change many times a
second, so it keeps plain dictionaries of properties per object and interface,
answers ``Properties`` and ``ObjectManager`` calls from them, and builds its
signals as raw messages (no per-object ``ServiceInterface`` classes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from gateway.sim.model import SimError

log = structlog.get_logger("gateway.sim")

PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"

Props = dict[str, Variant]
Method = Callable[[Message], Awaitable[Message | None]]


class _PatientSocket:
    """The bus socket as dbus-fast's writer sees it: a full socket takes nothing yet (0
    bytes, try again when writable) instead of raising. dbus-fast ends the connection
    when a send finds the socket full (python-dbus-next's issue #153), which a flood of
    signals, or one large reply, followed by any other message can cause."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def send(self, data: Any) -> int:
        try:
            sent: int = self._sock.send(data)
        except BlockingIOError:
            return 0
        return sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def patient(bus: MessageBus) -> None:
    """Make a connected bus wait for a full socket instead of dying of it."""
    writer = getattr(bus, "_writer", None)
    if writer is not None and hasattr(writer, "sock"):
        writer.sock = _PatientSocket(writer.sock)


class ObjectServer:
    """Objects (path -> interface -> properties) and their methods, on one connection."""

    def __init__(self, bus: MessageBus, root: str = "/") -> None:
        self.bus = bus
        self.root = root
        self.objects: dict[str, dict[str, Props]] = {}
        self._methods: dict[tuple[str, str], Method] = {}  # (interface, member)
        self._setters: dict[tuple[str, str], Callable[[str, Variant], None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        bus.add_message_handler(self._handle)

    def method(self, interface: str, member: str, fn: Method) -> None:
        self._methods[(interface, member)] = fn

    def setter(self, interface: str, name: str, fn: Callable[[str, Variant], None]) -> None:
        self._setters[(interface, name)] = fn

    # ---- objects and signals ------------------------------------------------------------

    def add(self, path: str, interfaces: dict[str, Props], announce: bool = True) -> None:
        self.objects[path] = interfaces
        if announce:
            self.signal(
                self.root, OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}", [path, interfaces]
            )

    def remove(self, path: str, announce: bool = True) -> None:
        interfaces = self.objects.pop(path, None)
        if interfaces is not None and announce:
            self.signal(
                self.root, OBJECT_MANAGER, "InterfacesRemoved", "oas", [path, list(interfaces)]
            )

    def changed(self, path: str, interface: str, changes: Props) -> None:
        """Update properties and emit PropertiesChanged."""
        props = self.objects.get(path, {}).get(interface)
        if props is not None:
            props.update(changes)
        self.signal(path, PROPERTIES, "PropertiesChanged", "sa{sv}as", [interface, changes, []])

    def invalidated(self, path: str, interface: str, names: list[str]) -> None:
        """Drop properties that have no value now and say so (PropertiesChanged's
        third argument, as bluetoothd does for a device's RSSI after discovery)."""
        props = self.objects.get(path, {}).get(interface)
        if props is not None:
            for name in names:
                props.pop(name, None)
        self.signal(path, PROPERTIES, "PropertiesChanged", "sa{sv}as", [interface, {}, names])

    def signal(
        self, path: str, interface: str, member: str, signature: str, body: list[Any]
    ) -> None:
        if not self.bus.connected:
            return
        self.bus.send(
            Message(
                message_type=MessageType.SIGNAL,
                path=path,
                interface=interface,
                member=member,
                signature=signature,
                body=body,
            )
        )

    # ---- incoming calls --------------------------------------------------------------------

    def _handle(self, msg: Message) -> Message | bool | None:
        if msg.message_type != MessageType.METHOD_CALL:
            return None
        iface, member, path = msg.interface, msg.member, msg.path or ""
        if iface == PROPERTIES:
            return self._properties(msg)
        if iface == OBJECT_MANAGER and member == "GetManagedObjects":
            if path != self.root:
                return None
            prefix = "" if self.root == "/" else self.root
            managed = {p: i for p, i in self.objects.items() if p.startswith(prefix)}
            return Message.new_method_return(msg, "a{oa{sa{sv}}}", [managed])
        if iface == INTROSPECTABLE and member == "Introspect":
            return Message.new_method_return(msg, "s", [self._introspect(path)])
        fn = self._methods.get((iface or "", member or ""))
        if fn is None or (path not in self.objects and path != self.root):
            return None
        if iface not in self.objects.get(path, {}) and path != self.root:
            return None
        task = asyncio.get_running_loop().create_task(self._run(fn, msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, fn: Method, msg: Message) -> None:
        try:
            reply = await fn(msg)
            if reply is None:
                reply = Message.new_method_return(msg)
        except SimError as exc:
            reply = Message.new_error(msg, exc.name, exc.message)
        except Exception as exc:
            log.exception("method failed", member=msg.member, path=msg.path)
            reply = Message.new_error(msg, "org.bluez.Error.Failed", str(exc))
        if self.bus.connected:
            self.bus.send(reply)

    def _properties(self, msg: Message) -> Message:
        interfaces = self.objects.get(msg.path or "")
        if interfaces is None:
            return Message.new_error(
                msg, "org.freedesktop.DBus.Error.UnknownObject", f"no object {msg.path}"
            )
        if msg.member == "GetAll":
            return Message.new_method_return(msg, "a{sv}", [interfaces.get(msg.body[0], {})])
        iface, name = msg.body[0], msg.body[1]
        props = interfaces.get(iface)
        if props is None or name not in props:
            return Message.new_error(
                msg, "org.freedesktop.DBus.Error.InvalidArgs", f"no property {iface}.{name}"
            )
        if msg.member == "Get":
            return Message.new_method_return(msg, "v", [props[name]])
        if msg.member == "Set":
            setter = self._setters.get((iface, name))
            if setter is None:
                return Message.new_error(
                    msg,
                    "org.freedesktop.DBus.Error.PropertyReadOnly",
                    f"{iface}.{name} is read-only",
                )
            try:
                setter(msg.path or "", msg.body[2])
            except SimError as exc:
                return Message.new_error(msg, exc.name, exc.message)
            return Message.new_method_return(msg)
        return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", msg.member or "")

    def _introspect(self, path: str) -> str:
        children = sorted(
            {
                p[len(path.rstrip("/")) + 1 :].split("/")[0]
                for p in self.objects
                if p.startswith(path.rstrip("/") + "/") and p != path
            }
        )
        ifaces = "".join(f'<interface name="{i}"/>' for i in self.objects.get(path, {}))
        nodes = "".join(f'<node name="{c}"/>' for c in children if c)
        return f"<node>{ifaces}{nodes}</node>"
