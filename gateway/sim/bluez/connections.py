"""The BlueZ double's connections and GATT: Device1.Connect and friends, the GATT
objects of a connected device, reads, writes and notifications.

A device's GATT session is the simulated device's own (``SimDevice.connect``);
this module exports it on the bus as bluetoothd would, and takes it down again
when the connection drops.

On a floor several boxes (each its own double) share the devices, and a label
takes one central at a time: :class:`Links` says who holds each device's link.
While one box holds it, the label does not advertise connectably, so another
box's controller waits for a connectable advert until its connection attempt
times out, and bluetoothd answers ``org.bluez.Error.Failed``
``le-connection-abort-by-local`` (bleak retries that one until its own timeout).
If the holder lets go in the meantime, the waiting attempt connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from functools import partial
from typing import Protocol

from dbus_fast import Message, Variant

from gateway.sim.bluez.dispatch import ObjectServer
from gateway.sim.bluez.state import (
    CCCD,
    DEVICE,
    GATT_CHAR,
    GATT_DESC,
    GATT_SERVICE,
    MTU,
    AdapterState,
    ConnectFault,
    DeviceObject,
    bluez_error,
)
from gateway.sim.model import SimDevice, SimError


class Links:
    """Which link (``box/adapter``) holds each device's one connection, across boxes."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}
        self._freed: dict[str, asyncio.Event] = {}

    def holder(self, address: str) -> str | None:
        return self._holders.get(address)

    def held(self) -> int:
        return len(self._holders)

    def try_claim(self, address: str, link: str) -> bool:
        holder = self._holders.setdefault(address, link)
        return holder == link

    async def claim(self, address: str, link: str, within_s: float, abort: asyncio.Event) -> bool:
        """Wait until the device is free (then hold it), for ``within_s`` or until ``abort``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not self.try_claim(address, link):
            remaining = deadline - loop.time()
            if remaining <= 0 or abort.is_set():
                return False
            freed = self._freed.setdefault(address, asyncio.Event())
            waits = [asyncio.ensure_future(freed.wait()), asyncio.ensure_future(abort.wait())]
            try:
                await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        return True

    def release(self, address: str, link: str) -> None:
        if self._holders.get(address) != link:
            return
        del self._holders[address]
        freed = self._freed.pop(address, None)
        if freed is not None:
            freed.set()


class Host(Protocol):
    """What connections need of the double."""

    server: ObjectServer | None
    connect_faults: dict[str, ConnectFault]
    rate: float
    connect_timeout_s: float
    links: Links | None
    reaches: Callable[[SimDevice], bool]

    def adapter_at(self, path: str) -> AdapterState: ...

    def link_name(self, a: AdapterState) -> str: ...


class Connections:
    def __init__(self, host: Host) -> None:
        self._host = host

    def _device_object(self, path: str) -> tuple[AdapterState, DeviceObject]:
        adapter_path, _, name = path.rpartition("/")
        a = self._host.adapter_at(adapter_path)
        obj = a.devices.get(name.removeprefix("dev_").replace("_", ":"))
        if obj is not None and obj.path == path:
            return a, obj
        raise SimError("org.freedesktop.DBus.Error.UnknownObject", f"no device at {path}")

    async def Connect(self, msg: Message) -> None:
        a, obj = self._device_object(msg.path or "")
        server = self._host.server
        assert server is not None
        if not a.powered:
            raise bluez_error("NotReady", "Resource Not Ready")
        if obj.session is not None:
            raise bluez_error("AlreadyConnected", "Already Connected")
        if a.connect_in_progress or obj.connecting:
            raise bluez_error("InProgress", "In Progress")
        if a.connected() >= a.slots:
            raise bluez_error("Failed", "Connection rejected due to limited resources (0x0d)")
        links = self._host.links
        link = self._host.link_name(a)
        address = obj.device.address
        claimed = False
        a.connect_in_progress = True
        obj.connecting = True
        obj.abort = asyncio.Event() if links is not None else None
        timeout = self._host.connect_timeout_s / max(self._host.rate, 1.0)
        try:
            fault = self._host.connect_faults.get(address)
            if fault is not None and fault.mode == "hang":
                # until the client gives up (on a floor its Disconnect ends the attempt)
                await (obj.abort or asyncio.Event()).wait()
                raise bluez_error("Failed", "le-connection-abort-by-local")
            if fault is not None and fault.mode == "fail":
                await asyncio.sleep(0.05)
                raise SimError(fault.error, fault.message)
            if not obj.device.connectable:
                raise bluez_error("NotSupported", "Operation is not supported")
            if not obj.device.in_range(time.monotonic()) or not self._host.reaches(obj.device):
                if obj.abort is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(obj.abort.wait(), timeout)
                else:
                    await asyncio.sleep(timeout)
                raise bluez_error("Failed", "le-connection-abort-by-local")
            if links is not None and obj.abort is not None:
                claimed = await links.claim(address, link, timeout, obj.abort)
                if not claimed or obj.abort.is_set():
                    raise bluez_error("Failed", "le-connection-abort-by-local")
            session = await obj.device.connect(via=link)
            if obj.abort is not None and obj.abort.is_set():
                session.close()
                raise bluez_error("Failed", "le-connection-abort-by-local")
        except SimError as exc:
            if claimed and links is not None:
                links.release(address, link)
            if exc.message == "le-connection-abort-by-local":
                # bluetoothd reports the aborted connection; bleak waits for it.
                server.changed(obj.path, DEVICE, {"Connected": Variant("b", False)})
            raise
        finally:
            a.connect_in_progress = False
            obj.connecting = False
            obj.abort = None
        if not a.powered or self._host.server is not server:
            session.close()
            if links is not None:
                links.release(address, link)
            raise bluez_error("Failed", "Software caused connection abort")
        obj.session = session
        obj.link = link
        obj.device.connected(link)
        session.set_notifier(partial(self._notify, obj))
        session.set_drop_handler(partial(self.drop, a, obj))
        server.changed(obj.path, DEVICE, {"Connected": Variant("b", True)})
        self._export_gatt(server, obj)
        server.changed(obj.path, DEVICE, {"ServicesResolved": Variant("b", True)})

    def _export_gatt(self, server: ObjectServer, obj: DeviceObject) -> None:
        handle = 1
        for spec in obj.device.services:
            spath = f"{obj.path}/service{handle:04x}"
            server.add(
                spath,
                {
                    GATT_SERVICE: {
                        "UUID": Variant("s", spec.uuid),
                        "Device": Variant("o", obj.path),
                        "Primary": Variant("b", True),
                        "Includes": Variant("ao", []),
                        "Handle": Variant("q", handle),
                    }
                },
            )
            obj.gatt_paths.append(spath)
            handle += 1
            for char in spec.characteristics:
                cpath = f"{spath}/char{handle:04x}"
                server.add(
                    cpath,
                    {
                        GATT_CHAR: {
                            "UUID": Variant("s", char.uuid),
                            "Service": Variant("o", spath),
                            "Value": Variant("ay", b""),
                            "Notifying": Variant("b", False),
                            "Flags": Variant("as", list(char.flags)),
                            "MTU": Variant("q", min(MTU, obj.device.att_mtu)),
                            "Handle": Variant("q", handle + 1),
                        }
                    },
                )
                obj.gatt_paths.append(cpath)
                obj.char_uuid_by_path[cpath] = char.uuid
                handle += 2
                if "notify" in char.flags or "indicate" in char.flags:
                    dpath = f"{cpath}/desc{handle:04x}"
                    server.add(
                        dpath,
                        {
                            GATT_DESC: {
                                "UUID": Variant("s", CCCD),
                                "Characteristic": Variant("o", cpath),
                                "Value": Variant("ay", b""),
                                "Handle": Variant("q", handle),
                            }
                        },
                    )
                    obj.gatt_paths.append(dpath)
                    handle += 1

    def drop(self, a: AdapterState, obj: DeviceObject) -> None:
        if obj.abort is not None:
            obj.abort.set()  # a connection attempt in progress ends too (on a floor)
        session, obj.session = obj.session, None
        if session is None:
            return
        session.close()
        self.release(obj)
        obj.notifying.clear()
        server = self._host.server
        if server is None:
            return
        for path in reversed(obj.gatt_paths):
            server.remove(path)
        obj.gatt_paths.clear()
        obj.char_uuid_by_path.clear()
        server.changed(
            obj.path,
            DEVICE,
            {
                "Connected": Variant("b", False),
                "ServicesResolved": Variant("b", False),
            },
        )

    def release(self, obj: DeviceObject) -> None:
        """The device's link is free for another box (after its session closed)."""
        links, link = self._host.links, obj.link
        obj.link = None
        if links is not None and link is not None:
            links.release(obj.device.address, link)

    async def Disconnect(self, msg: Message) -> None:
        a, obj = self._device_object(msg.path or "")
        self.drop(a, obj)

    async def Pair(self, msg: Message) -> None:
        raise bluez_error("NotSupported", "Operation is not supported")

    async def CancelPairing(self, msg: Message) -> None:
        raise bluez_error("DoesNotExist", "Does Not Exist")

    async def ConnectProfile(self, msg: Message) -> None:
        raise bluez_error("NotSupported", "Operation is not supported")

    # ---- GATT --------------------------------------------------------------------------

    def _char(self, path: str) -> tuple[DeviceObject, str, list[str]]:
        device_path = path.rsplit("/", 2)[0]
        _, obj = self._device_object(device_path)
        uuid = obj.char_uuid_by_path.get(path)
        if obj.session is None or uuid is None:
            raise bluez_error("NotConnected", "Not Connected")
        props = self._host.server.objects[path][GATT_CHAR] if self._host.server else {}
        return obj, uuid, list(props["Flags"].value)

    async def ReadValue(self, msg: Message) -> Message:
        obj, uuid, flags = self._char(msg.path or "")
        if "read" not in flags:
            raise bluez_error("NotPermitted", "Read not permitted")
        assert obj.session is not None
        value = await obj.session.read(uuid)
        return Message.new_method_return(msg, "ay", [value])

    async def WriteValue(self, msg: Message) -> None:
        obj, uuid, flags = self._char(msg.path or "")
        value: bytes = bytes(msg.body[0])
        options: dict[str, Variant] = msg.body[1]
        kind = options["type"].value if "type" in options else "request"
        with_response = kind != "command"
        if with_response and "write" not in flags:
            raise bluez_error("NotPermitted", "Write not permitted")
        if not with_response and "write-without-response" not in flags and "write" not in flags:
            raise bluez_error("NotPermitted", "Write not permitted")
        if len(value) > min(MTU, obj.device.att_mtu) - 3 and not with_response:
            raise bluez_error("InvalidArguments", "Invalid Length")
        assert obj.session is not None
        await obj.session.write(uuid, value, with_response)

    async def StartNotify(self, msg: Message) -> None:
        obj, uuid, flags = self._char(msg.path or "")
        if "notify" not in flags and "indicate" not in flags:
            raise bluez_error("NotSupported", "Operation is not supported")
        path = msg.path or ""
        if path in obj.notifying:
            return
        obj.notifying.add(path)
        assert obj.session is not None and self._host.server is not None
        obj.session.start_notify(uuid)
        self._host.server.changed(path, GATT_CHAR, {"Notifying": Variant("b", True)})

    async def StopNotify(self, msg: Message) -> None:
        obj, uuid, _ = self._char(msg.path or "")
        path = msg.path or ""
        if path not in obj.notifying:
            raise bluez_error("Failed", "No notify session started")
        obj.notifying.discard(path)
        assert obj.session is not None and self._host.server is not None
        obj.session.stop_notify(uuid)
        self._host.server.changed(path, GATT_CHAR, {"Notifying": Variant("b", False)})

    async def DescReadValue(self, msg: Message) -> Message:
        return Message.new_method_return(msg, "ay", [b"\x00\x00"])

    def _notify(self, obj: DeviceObject, uuid: str, value: bytes) -> None:
        if self._host.server is None or obj.session is None:
            return
        for path, char_uuid in obj.char_uuid_by_path.items():
            if char_uuid == uuid and path in obj.notifying:
                self._host.server.changed(path, GATT_CHAR, {"Value": Variant("ay", value)})
