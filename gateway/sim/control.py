"""Run-time control of the virtual store, over D-Bus, for tests, benchmarks and demos.

The double exports ``org.storegw.VirtualStore1`` at ``/org/storegw/VirtualStore``
under the bus name ``org.storegw.VirtualStore`` on its own connection, so it
stays reachable while ``org.bluez`` restarts. :class:`VirtualStoreClient` is
the Python side.

On a floor every box's bus serves it: what names an adapter (SetPowered,
SetSilent, Status, ...) acts on the adapters of the box whose bus is called,
what names a device acts on the one shared device, and the floor's own
operations (MoveDevice, SetBoxRadio, KillBox, ReviveBox, FloorStatus,
Hearing) take the box id, so that any surviving box's bus can drill another.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from gateway.sim.bluez.dispatch import ObjectServer, patient
from gateway.sim.bluez.double import BlueZDouble
from gateway.sim.bluez.state import ConnectFault
from gateway.sim.devices.labels import LabelDevice
from gateway.sim.model import AdapterSpec, SimError

NAME = "org.storegw.VirtualStore"
PATH = "/org/storegw/VirtualStore"
IFACE = "org.storegw.VirtualStore1"


class FloorOps(Protocol):
    """What the control interface may do to a floor (``gateway.sim.floor.Floor``)."""

    def move(self, address: str, x: float, y: float) -> None: ...

    def set_radio(self, box: str, on: bool) -> None: ...

    def check_box(self, box: str, *, alive: bool) -> None: ...

    async def kill_box(self, box: str) -> None: ...

    async def revive_box(self, box: str) -> None: ...

    def set_rate(self, rate: float) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def hearing(self, address: str) -> dict[str, Any]: ...


class ControlServer:
    def __init__(
        self, double: BlueZDouble, floor: FloorOps | None = None, box: str | None = None
    ) -> None:
        self._double = double
        self._floor = floor
        self._box = box
        self._bus: MessageBus | None = None
        self._later: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        bus = await MessageBus(bus_address=self._double.bus_address).connect()
        patient(bus)  # many large LabelImage replies at once fill the socket: wait, not die
        server = ObjectServer(bus, root=PATH)
        server.add(PATH, {IFACE: {}}, announce=False)
        d = self._double

        def device(address: str) -> Any:
            dev = d.devices.get(address.upper())
            if dev is None:
                raise SimError("org.storegw.Error.UnknownDevice", f"no device {address}")
            return dev

        async def set_reading(msg: Message) -> None:
            address, name, value = msg.body
            device(address).set_reading(name, value)

        async def set_in_range(msg: Message) -> None:
            address, in_range = msg.body
            device(address).set_in_range(in_range)

        async def set_powered(msg: Message) -> None:
            d.set_powered(msg.body[0], msg.body[1])

        async def remove_adapter(msg: Message) -> None:
            d.remove_adapter(msg.body[0])

        async def add_adapter(msg: Message) -> None:
            name, address, slots = msg.body
            d.add_adapter(AdapterSpec(name, address, slots))

        async def fail_discovery(msg: Message) -> None:
            name, count = msg.body
            d.adapters[name].fail_next_discovery = count

        async def set_silent(msg: Message) -> None:
            name, silent = msg.body
            d.adapters[name].silent = silent

        async def restart_bluez(msg: Message) -> None:
            await d.restart_bluez()

        async def set_connect_fault(msg: Message) -> None:
            address, mode, error, text = msg.body
            device(address)
            if mode == "none":
                d.connect_faults.pop(address.upper(), None)
            elif mode in ("fail", "hang"):
                d.connect_faults[address.upper()] = ConnectFault(mode, error, text)
            else:
                raise SimError("org.storegw.Error.InvalidArgs", "mode: none, fail or hang")

        async def set_slots(msg: Message) -> None:
            name, slots = msg.body
            d.adapters[name].slots = slots

        async def label_image(msg: Message) -> Message:
            image = device(msg.body[0]).label_image()
            return Message.new_method_return(msg, "ay", [image or b""])

        async def update_label_firmware(msg: Message) -> None:
            address, firmware = msg.body
            label = device(address)
            if not isinstance(label, LabelDevice):
                raise SimError("org.storegw.Error.InvalidArgs", f"{address} is not a label")
            label.update_firmware(firmware)

        async def label_stats(msg: Message) -> Message:
            stats = {
                dev.address: dev.label_stats()
                for dev in d.devices.values()
                if isinstance(dev, LabelDevice)
            }
            return Message.new_method_return(msg, "s", [json.dumps(stats)])

        async def set_rate(msg: Message) -> None:
            if not 0 < msg.body[0] <= 10000:
                raise SimError("org.storegw.Error.InvalidArgs", "rate must be in (0, 10000]")
            if self._floor is not None:
                self._floor.set_rate(msg.body[0])
            else:
                d.rate = msg.body[0]

        def floor() -> FloorOps:
            if self._floor is None:
                raise SimError(
                    "org.storegw.Error.NotAFloor",
                    "this store has no floor plan: describe [floor] and [[gateways]]",
                )
            return self._floor

        async def move_device(msg: Message) -> None:
            address, x, y = msg.body
            device(address)
            floor().move(address.upper(), x, y)

        async def set_box_radio(msg: Message) -> None:
            floor().set_radio(msg.body[0], msg.body[1])

        async def kill_box(msg: Message) -> None:
            box = msg.body[0]
            f = floor()
            if box != self._box:
                await f.kill_box(box)
                return
            # This bus dies with its box: answer first, then go.
            f.check_box(box, alive=True)

            async def later() -> None:
                await asyncio.sleep(0.1)
                await f.kill_box(box)

            task = asyncio.get_running_loop().create_task(later())
            self._later.add(task)
            task.add_done_callback(self._later.discard)

        async def revive_box(msg: Message) -> None:
            await floor().revive_box(msg.body[0])

        async def floor_status(msg: Message) -> Message:
            return Message.new_method_return(msg, "s", [json.dumps(floor().status())])

        async def hearing(msg: Message) -> Message:
            device(msg.body[0])
            body = floor().hearing(msg.body[0].upper())
            return Message.new_method_return(msg, "s", [json.dumps(body)])

        async def status(msg: Message) -> Message:
            body = {
                "box": self._box,
                "rate": d.rate,
                "bluez_restarts": d.restarts,
                "adapters": {
                    n: {
                        "powered": a.powered,
                        "blocked": a.blocked,
                        "discovering": bool(a.sessions),
                        "monitors": len(a.monitors),
                        "silent": a.silent,
                        "adverts_sent": a.adverts_sent,
                        "devices": len(a.devices),
                        "slots": a.slots,
                    }
                    for n, a in d.adapters.items()
                },
                "devices": d.device_table(),
            }
            return Message.new_method_return(msg, "s", [json.dumps(body)])

        for member, fn in {
            "SetReading": set_reading,
            "SetInRange": set_in_range,
            "SetPowered": set_powered,
            "RemoveAdapter": remove_adapter,
            "AddAdapter": add_adapter,
            "FailNextDiscovery": fail_discovery,
            "SetSilent": set_silent,
            "RestartBluez": restart_bluez,
            "SetConnectFault": set_connect_fault,
            "SetSlots": set_slots,
            "LabelImage": label_image,
            "UpdateLabelFirmware": update_label_firmware,
            "LabelStats": label_stats,
            "SetRate": set_rate,
            "Status": status,
            "MoveDevice": move_device,
            "SetBoxRadio": set_box_radio,
            "KillBox": kill_box,
            "ReviveBox": revive_box,
            "FloorStatus": floor_status,
            "Hearing": hearing,
        }.items():
            server.method(IFACE, member, fn)
        await bus.request_name(NAME)
        self._bus = bus

    async def stop(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None


class VirtualStoreError(RuntimeError):
    pass


class VirtualStoreClient:
    """``client = await VirtualStoreClient.connect(address)``; one method per operation."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus

    @classmethod
    async def connect(cls, bus_address: str) -> VirtualStoreClient:
        bus = await MessageBus(bus_address=bus_address).connect()
        patient(bus)  # many calls at once fill the socket too
        return cls(bus)

    async def close(self) -> None:
        self._bus.disconnect()

    async def _call(self, member: str, signature: str = "", *body: Any) -> Message:
        reply = await self._bus.call(
            Message(
                destination=NAME,
                path=PATH,
                interface=IFACE,
                member=member,
                signature=signature,
                body=list(body),
            )
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            detail = reply.body[0] if reply is not None and reply.body else ""
            raise VirtualStoreError(
                f"{member}: {reply.error_name if reply else 'no reply'}: {detail}"
            )
        return reply

    async def set_reading(self, address: str, name: str, value: float) -> None:
        await self._call("SetReading", "ssd", address, name, float(value))

    async def set_in_range(self, address: str, in_range: bool) -> None:
        await self._call("SetInRange", "sb", address, in_range)

    async def set_powered(self, adapter: str, powered: bool) -> None:
        await self._call("SetPowered", "sb", adapter, powered)

    async def remove_adapter(self, adapter: str) -> None:
        await self._call("RemoveAdapter", "s", adapter)

    async def add_adapter(self, adapter: str, address: str, slots: int = 5) -> None:
        await self._call("AddAdapter", "ssu", adapter, address, slots)

    async def fail_next_discovery(self, adapter: str, count: int = 1) -> None:
        await self._call("FailNextDiscovery", "su", adapter, count)

    async def set_silent(self, adapter: str, silent: bool) -> None:
        await self._call("SetSilent", "sb", adapter, silent)

    async def restart_bluez(self) -> None:
        await self._call("RestartBluez")

    async def set_connect_fault(
        self,
        address: str,
        mode: str,
        error: str = "org.bluez.Error.Failed",
        message: str = "le-connection-abort-by-local",
    ) -> None:
        await self._call("SetConnectFault", "ssss", address, mode, error, message)

    async def set_slots(self, adapter: str, slots: int) -> None:
        await self._call("SetSlots", "su", adapter, slots)

    async def label_image(self, address: str) -> bytes:
        return bytes((await self._call("LabelImage", "s", address)).body[0])

    async def update_label_firmware(self, address: str, firmware: int) -> None:
        """Restart a label as after a firmware update: it forgets its image."""
        await self._call("UpdateLabelFirmware", "sq", address, firmware)

    async def label_stats(self) -> dict[str, dict[str, Any]]:
        """Per label address: transfers completed (panel refreshes), SHA-256 of the image
        shown, and per link (the adapter, or ``box/adapter`` on a floor) connects, images
        written and refreshes; on a floor also ``boxes``: the same summed per box."""
        data: dict[str, dict[str, Any]] = json.loads((await self._call("LabelStats")).body[0])
        return data

    async def set_rate(self, rate: float) -> None:
        await self._call("SetRate", "d", float(rate))

    async def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((await self._call("Status")).body[0])
        return data

    # ---- a floor of several boxes (any live box's bus) -----------------------------------

    async def move_device(self, address: str, x: float, y: float) -> None:
        """The device stands at (x, y) metres from now on; every box hears it from there."""
        await self._call("MoveDevice", "sdd", address, float(x), float(y))

    async def set_box_radio(self, box: str, on: bool) -> None:
        """Off: every adapter of the box is rfkill-blocked (powered off, and the gateway
        cannot power it on), its connections drop; on: unblocked and powered."""
        await self._call("SetBoxRadio", "sb", box, on)

    async def kill_box(self, box: str) -> None:
        """The box's machine dies: its BlueZ and its bus go at once, its links are free.
        Killed through its own bus, the call answers before the bus goes."""
        await self._call("KillBox", "s", box)

    async def revive_box(self, box: str) -> None:
        """The box's machine is back: its bus at the same address, a BlueZ that knows no
        device yet."""
        await self._call("ReviveBox", "s", box)

    async def floor_status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((await self._call("FloorStatus")).body[0])
        return data

    async def hearing(self, address: str) -> dict[str, Any]:
        """Where the device stands, the mean RSSI each box hears it with, who holds it."""
        data: dict[str, Any] = json.loads((await self._call("Hearing", "s", address)).body[0])
        return data
