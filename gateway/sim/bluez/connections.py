"""The BlueZ double's connections and GATT: Device1.Connect and friends, the GATT
objects of a connected device, reads, writes and notifications.

A device's GATT session is the simulated device's own (``SimDevice.connect``);
this module exports it on the bus as bluetoothd would, and takes it down again
when the connection drops.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Protocol

from dbus_fast import Message, Variant

from gateway.sim.bluez.dispatch import ObjectServer
from gateway.sim.bluez.state import (
    CCCD,
    CONNECT_TIMEOUT_S,
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
from gateway.sim.model import SimError


class Host(Protocol):
    """What connections need of the double."""

    server: ObjectServer | None
    connect_faults: dict[str, ConnectFault]
    rate: float

    def adapter_at(self, path: str) -> AdapterState: ...


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
        a.connect_in_progress = True
        obj.connecting = True
        try:
            fault = self._host.connect_faults.get(obj.device.address)
            if fault is not None and fault.mode == "hang":
                await asyncio.Event().wait()  # until the client gives up (cancelled with us)
            if fault is not None and fault.mode == "fail":
                await asyncio.sleep(0.05)
                raise SimError(fault.error, fault.message)
            if not obj.device.connectable:
                raise bluez_error("NotSupported", "Operation is not supported")
            if not obj.device.in_range(time.monotonic()):
                await asyncio.sleep(CONNECT_TIMEOUT_S / max(self._host.rate, 1.0))
                raise bluez_error("Failed", "le-connection-abort-by-local")
            session = await obj.device.connect()
        except SimError as exc:
            if exc.message == "le-connection-abort-by-local":
                # bluetoothd reports the aborted connection; bleak waits for it.
                server.changed(obj.path, DEVICE, {"Connected": Variant("b", False)})
            raise
        finally:
            a.connect_in_progress = False
            obj.connecting = False
        if not a.powered or self._host.server is not server:
            session.close()
            raise bluez_error("Failed", "Software caused connection abort")
        obj.session = session
        obj.device.connected(a.spec.name)
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
        session, obj.session = obj.session, None
        if session is None:
            return
        session.close()
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
