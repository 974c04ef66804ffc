"""The BlueZ double: adapters, discovery, device objects (connections and GATT in
``connections.py``).

It serves a :class:`~gateway.sim.model.Scenario` on ``org.bluez`` exactly as
bluetoothd would: device objects appear with ``InterfacesAdded`` when an adapter
that is discovering (actively, or passively through an advertisement monitor)
first hears them, then change with ``PropertiesChanged`` (RSSI,
ManufacturerData, ServiceData) as they advertise, lose their RSSI and TxPower
(invalidated) when the adapter stops discovering, so that the next discovery
reports them again with their first advert, and disappear with
``InterfacesRemoved`` after ``device_timeout_s`` without adverts. One
scheduler (a heap of due times) drives every device's advertising.

On a floor (``gateway.sim.floor``) there is one double per gateway box, each on
its own bus, sharing the devices: the floor's scheduler drives the adverts of
all of them (``drive_adverts=False``; it hands each box what it hears through
:meth:`BlueZDouble.hear`), and the boxes share one :class:`Links` table, since a
label takes one connection at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import random
import time
from collections.abc import Callable

import structlog
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from gateway.sim.bluez.connections import Connections, Links
from gateway.sim.bluez.dispatch import ObjectServer, Props, patient
from gateway.sim.bluez.state import (
    ADAPTER,
    BLUEZ,
    CONNECT_TIMEOUT_S,
    DEVICE,
    DEVICE_TIMEOUT_S,
    GATT_CHAR,
    GATT_DESC,
    JITTER,
    MONITOR,
    MONITOR_MANAGER,
    AdapterState,
    ConnectFault,
    DeviceObject,
    bluez_error,
)
from gateway.sim.model import AdapterSpec, AdvertFrame, Scenario, SimDevice, SimError

log = structlog.get_logger("gateway.sim")


class BlueZDouble:
    def __init__(
        self,
        scenario: Scenario,
        bus_address: str,
        *,
        device_timeout_s: float = DEVICE_TIMEOUT_S,
        rate: float = 1.0,
        box: str | None = None,
        links: Links | None = None,
        drive_adverts: bool = True,
        reaches: Callable[[SimDevice], bool] | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.scenario = scenario
        self.bus_address = bus_address
        self.device_timeout_s = device_timeout_s
        self.rate = rate
        self.box = box
        self.links = links
        self.drive_adverts = drive_adverts
        self.connect_timeout_s = connect_timeout_s  # an unreachable device fails after this
        # Whether this box's radio reaches a device at all (a floor knows; one box: always).
        self.reaches: Callable[[SimDevice], bool] = reaches or (lambda _device: True)
        self.devices = {d.address: d for d in scenario.devices}
        self.adapters: dict[str, AdapterState] = {}
        for spec in scenario.adapters:
            self.adapters[spec.name] = AdapterState(
                spec, f"/org/bluez/{spec.name}", spec.connection_slots
            )
        self.connect_faults: dict[str, ConnectFault] = {}
        self.server: ObjectServer | None = None
        self._bus: MessageBus | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._rng = random.Random(scenario.seed)
        self._wake = asyncio.Event()
        self.restarts = 0
        self.connections = Connections(self)

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self._serve()
        self._tasks = [asyncio.create_task(self._expire_devices(), name="sim-expire")]
        if self.drive_adverts:
            self._tasks.append(asyncio.create_task(self._advertise(), name="sim-advertise"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.server = None
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    def drop_all(self) -> None:
        """Every connection of this box ends (it is going away): other boxes may take them."""
        for a in self.adapters.values():
            for obj in list(a.devices.values()):
                self.connections.drop(a, obj)

    def link_name(self, a: AdapterState) -> str:
        """How a device names the link it is connected through: ``box/hci0`` on a floor."""
        return f"{self.box}/{a.spec.name}" if self.box else a.spec.name

    async def _serve(self) -> None:
        bus = await MessageBus(bus_address=self.bus_address).connect()
        patient(bus)
        server = ObjectServer(bus)
        for member in (
            "StartDiscovery",
            "StopDiscovery",
            "SetDiscoveryFilter",
            "GetDiscoveryFilters",
            "RemoveDevice",
        ):
            server.method(ADAPTER, member, getattr(self, f"_m_{member}"))
        server.method(MONITOR_MANAGER, "RegisterMonitor", self._m_RegisterMonitor)
        server.method(MONITOR_MANAGER, "UnregisterMonitor", self._m_UnregisterMonitor)
        for member in ("Connect", "Disconnect", "Pair", "CancelPairing", "ConnectProfile"):
            server.method(DEVICE, member, getattr(self.connections, member))
        for member in ("ReadValue", "WriteValue", "StartNotify", "StopNotify"):
            server.method(GATT_CHAR, member, getattr(self.connections, member))
        server.method(GATT_DESC, "ReadValue", self.connections.DescReadValue)
        server.setter(ADAPTER, "Powered", self._set_powered_property)
        server.setter(ADAPTER, "Alias", self._set_alias)
        for adapter in self.adapters.values():
            server.add(adapter.path, self._adapter_interfaces(adapter), announce=False)
        bus.add_message_handler(self._on_name_owner_changed)
        self.server = server
        self._bus = bus
        await bus.request_name(BLUEZ)

    async def restart_bluez(self) -> None:
        """bluetoothd leaves the bus and comes back: new owner, every object recreated."""
        self.restarts += 1
        old = self._bus
        for adapter in self.adapters.values():
            for obj in adapter.devices.values():
                if obj.session is not None:
                    obj.session.close()
                    self.connections.release(obj)
            adapter.devices.clear()
            adapter.sessions.clear()
            adapter.filters.clear()
            adapter.monitors.clear()
            adapter.silent = False
            adapter.connect_in_progress = False
        self.server = None
        self._bus = None
        if old is not None:
            old.disconnect()
        await asyncio.sleep(0.2)
        await self._serve()

    # ---- adapters (also driven by the control interface) --------------------------------

    def _adapter_interfaces(self, a: AdapterState) -> dict[str, Props]:
        return {
            ADAPTER: {
                "Address": Variant("s", a.spec.address),
                "AddressType": Variant("s", "public"),
                "Name": Variant("s", f"store-gateway-{a.spec.name}"),
                "Alias": Variant("s", f"store-gateway-{a.spec.name}"),
                "Class": Variant("u", 0),
                "Powered": Variant("b", a.powered),
                "PowerState": Variant("s", _power_state(a)),
                "Discoverable": Variant("b", False),
                "DiscoverableTimeout": Variant("u", 180),
                "Pairable": Variant("b", False),
                "PairableTimeout": Variant("u", 0),
                "Discovering": Variant("b", bool(a.sessions) and a.powered),
                "UUIDs": Variant("as", []),
                "Modalias": Variant("s", "usb:v1D6Bp0246d0554"),
                "Roles": Variant("as", ["central", "peripheral"]),
                "ExperimentalFeatures": Variant("as", []),
            },
            MONITOR_MANAGER: {
                "SupportedMonitorTypes": Variant("as", ["or_patterns"]),
                "SupportedFeatures": Variant("as", []),
            },
        }

    def adapter_at(self, path: str) -> AdapterState:
        for a in self.adapters.values():
            if a.path == path:
                return a
        raise SimError("org.freedesktop.DBus.Error.UnknownObject", f"no adapter at {path}")

    def _set_alias(self, path: str, value: Variant) -> None:
        if self.server is not None:
            self.server.changed(path, ADAPTER, {"Alias": Variant("s", str(value.value))})

    def _set_powered_property(self, path: str, value: Variant) -> None:
        a = self.adapter_at(path)
        if a.blocked:
            raise bluez_error("Blocked", "Blocked through rfkill")
        self.set_powered(a.spec.name, bool(value.value))

    def set_blocked(self, blocked: bool) -> None:
        """Every adapter of this box rfkill-blocked (radio off: powered off and kept off),
        or unblocked and powered again."""
        for name, a in self.adapters.items():
            a.blocked = blocked
            self.set_powered(name, not blocked)

    def set_powered(self, name: str, powered: bool) -> None:
        a = self.adapters.get(name)
        if a is None:
            raise bluez_error("DoesNotExist", f"no adapter {name}")
        if a.powered == powered:
            return
        a.powered = powered
        server = self.server
        if not powered:
            for obj in list(a.devices.values()):
                self.connections.drop(a, obj)
            a.sessions.clear()
            a.filters.clear()
        if server is not None:
            server.changed(
                a.path,
                ADAPTER,
                {
                    "Powered": Variant("b", powered),
                    "PowerState": Variant("s", _power_state(a)),
                    "Discovering": Variant("b", False),
                },
            )
        self._wake.set()

    def remove_adapter(self, name: str) -> None:
        a = self.adapters.pop(name, None)
        if a is None:
            raise bluez_error("DoesNotExist", f"no adapter {name}")
        for obj in list(a.devices.values()):
            self.connections.drop(a, obj)
            if self.server is not None:
                self.server.remove(obj.path)
        if self.server is not None:
            self.server.remove(a.path)

    def add_adapter(self, spec: AdapterSpec) -> None:
        if spec.name in self.adapters:
            raise bluez_error("AlreadyExists", f"adapter {spec.name} exists")
        a = AdapterState(spec, f"/org/bluez/{spec.name}", spec.connection_slots)
        self.adapters[spec.name] = a
        if self.server is not None:
            self.server.add(a.path, self._adapter_interfaces(a))

    # ---- discovery ------------------------------------------------------------------------

    async def _m_StartDiscovery(self, msg: Message) -> None:
        a = self.adapter_at(msg.path or "")
        if not a.powered:
            raise bluez_error("NotReady", "Resource Not Ready")
        if a.fail_next_discovery > 0:
            a.fail_next_discovery -= 1
            raise bluez_error("InProgress", "Operation already in progress")
        sender = msg.sender or ""
        if sender in a.sessions:
            raise bluez_error("InProgress", "Operation already in progress")
        was = bool(a.sessions)
        a.sessions.add(sender)
        if not was and self.server is not None:
            self.server.changed(a.path, ADAPTER, {"Discovering": Variant("b", True)})
        self._wake.set()

    async def _m_StopDiscovery(self, msg: Message) -> None:
        a = self.adapter_at(msg.path or "")
        if not a.powered:
            raise bluez_error("NotReady", "Resource Not Ready")
        sender = msg.sender or ""
        if sender not in a.sessions:
            raise bluez_error("Failed", "No discovery started")
        a.sessions.discard(sender)
        a.filters.pop(sender, None)
        if not a.sessions:
            a.silent = False  # the controller's scan is really restarted next time
            if self.server is not None:
                self.server.changed(a.path, ADAPTER, {"Discovering": Variant("b", False)})
            self._discovery_ended(a)

    def _discovery_ended(self, a: AdapterState) -> None:
        """As bluetoothd does when an adapter stops discovering: the devices it found lose
        their RSSI and TxPower (invalidated), so that the next discovery reports each
        device again with its first advert (bleak's scanners rely on it)."""
        if self.server is None:
            return
        for obj in a.devices.values():
            if obj.rssi is None and (obj.frame is None or obj.frame.tx_power is None):
                continue
            obj.rssi = None
            names = ["RSSI"]
            if obj.frame is not None and obj.frame.tx_power is not None:
                names.append("TxPower")
                obj.frame = dataclasses.replace(obj.frame, tx_power=None)
            self.server.invalidated(obj.path, DEVICE, names)

    async def _m_SetDiscoveryFilter(self, msg: Message) -> None:
        a = self.adapter_at(msg.path or "")
        filters: dict[str, Variant] = msg.body[0]
        allowed = {
            "UUIDs",
            "RSSI",
            "Pathloss",
            "Transport",
            "DuplicateData",
            "Discoverable",
            "Pattern",
        }
        unknown = set(filters) - allowed
        transport = filters.get("Transport")
        if unknown or (transport is not None and transport.value not in ("auto", "bredr", "le")):
            raise bluez_error("InvalidArguments", "Invalid arguments in method call")
        if filters:
            a.filters[msg.sender or ""] = filters
        else:
            a.filters.pop(msg.sender or "", None)

    async def _m_GetDiscoveryFilters(self, msg: Message) -> Message:
        return Message.new_method_return(
            msg,
            "as",
            [
                [
                    "UUIDs",
                    "RSSI",
                    "Pathloss",
                    "Transport",
                    "DuplicateData",
                    "Discoverable",
                    "Pattern",
                ]
            ],
        )

    async def _m_RemoveDevice(self, msg: Message) -> None:
        a = self.adapter_at(msg.path or "")
        path = msg.body[0]
        obj = next((o for o in a.devices.values() if o.path == path), None)
        if obj is None:
            raise bluez_error("DoesNotExist", "Does Not Exist")
        self.connections.drop(a, obj)
        del a.devices[obj.device.address]
        if self.server is not None:
            self.server.remove(obj.path)

    async def _m_RegisterMonitor(self, msg: Message) -> None:
        a = self.adapter_at(msg.path or "")
        key = (msg.sender or "", msg.body[0])
        if key in a.monitors:
            raise bluez_error("AlreadyExists", "Already Exists")
        a.monitors.add(key)
        asyncio.get_running_loop().create_task(self._activate_monitor(key))
        self._wake.set()

    async def _activate_monitor(self, key: tuple[str, str]) -> None:
        await asyncio.sleep(0.05)  # the client exports its monitor after our reply
        if self._bus is not None and self._bus.connected:
            with contextlib.suppress(Exception):
                await self._bus.call(
                    Message(destination=key[0], path=key[1], interface=MONITOR, member="Activate")
                )

    async def _m_UnregisterMonitor(self, msg: Message) -> None:
        a = self.adapter_at(msg.path or "")
        key = (msg.sender or "", msg.body[0])
        if key not in a.monitors:
            raise bluez_error("DoesNotExist", "Does Not Exist")
        a.monitors.discard(key)
        if not a.monitors and not a.sessions:
            a.silent = False  # the controller's scan is really restarted next time

    def _on_name_owner_changed(self, msg: Message) -> None:
        # A client that leaves the bus ends its discovery sessions and monitors.
        if msg.message_type != MessageType.SIGNAL or msg.member != "NameOwnerChanged":
            return
        name, _old, new = msg.body
        if new or not name.startswith(":"):
            return
        for a in self.adapters.values():
            if name in a.sessions:
                a.sessions.discard(name)
                a.filters.pop(name, None)
                if not a.sessions and self.server is not None:
                    self.server.changed(a.path, ADAPTER, {"Discovering": Variant("b", False)})
                    self._discovery_ended(a)
            a.monitors = {m for m in a.monitors if m[0] != name}

    # ---- advertising ------------------------------------------------------------------------

    async def _advertise(self) -> None:
        now = time.monotonic()
        heap = [
            (now + self._rng.random() * d.advert_interval_s, i)
            for i, d in enumerate(self.scenario.devices)
        ]
        heapq.heapify(heap)
        devices = self.scenario.devices
        while True:
            if not heap:
                await asyncio.sleep(1)
                continue
            due, i = heap[0]
            now = time.monotonic()
            if due > now:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(due - now, 1.0))
                continue
            if self._backlogged():
                # The bus does not take more yet: wait, as a controller whose host is
                # slow loses the reports it cannot hand over (the rate falls).
                await asyncio.sleep(0.001)
                continue
            sent = 0
            while heap and heap[0][0] <= now and sent < 500:
                due, i = heapq.heappop(heap)
                device = devices[i]
                self._emit(device, now)
                interval = device.advert_interval_s / max(self.rate, 1e-6)
                nxt = due + interval * (1 + JITTER * (2 * self._rng.random() - 1))
                heapq.heappush(heap, (max(nxt, now), i))
                sent += 1
            await asyncio.sleep(0)  # let D-Bus calls in between

    def _backlogged(self) -> bool:
        """Messages still wait in our connection's write buffer. Writing more then would
        end the connection: dbus-fast treats a full socket as fatal when it writes a new
        message at once (as python-dbus-next does, its issue #153), so a flood must pace
        itself by what the bus has taken."""
        writer = getattr(self._bus, "_writer", None)
        return writer is not None and (
            getattr(writer, "buf", None) is not None or bool(getattr(writer, "messages", ()))
        )

    def _emit(self, device: SimDevice, now: float) -> None:
        server = self.server
        if server is None or not device.in_range(now):
            return
        frame: AdvertFrame | None = None
        for a in self.adapters.values():
            if not a.scanning or a.silent:
                continue
            rssi = device.rssi(a.spec.name, now)
            if rssi is None:
                continue
            if frame is None:
                frame = device.advert(now)
            self._deliver(server, a, device, frame, rssi, now)

    def hear(
        self, a: AdapterState, device: SimDevice, frame: AdvertFrame, rssi: int, now: float
    ) -> None:
        """``a`` hears one advert of ``device`` (the floor's scheduler, for this box)."""
        if self.server is not None:
            self._deliver(self.server, a, device, frame, rssi, now)

    def backlogged(self) -> bool:
        return self._backlogged()

    def _deliver(
        self,
        server: ObjectServer,
        a: AdapterState,
        device: SimDevice,
        frame: AdvertFrame,
        rssi: int,
        now: float,
    ) -> None:
        a.adverts_sent += 1
        obj = a.devices.get(device.address)
        if obj is None:
            path = f"{a.path}/dev_{device.address.replace(':', '_')}"
            obj = DeviceObject(device, path, now, frame, rssi)
            a.devices[device.address] = obj
            server.add(path, {DEVICE: self._device_props(a, obj)})
            return
        obj.last_seen = now
        changes: Props = {}
        if rssi != obj.rssi:
            changes["RSSI"] = Variant("n", rssi)
            obj.rssi = rssi
        old = obj.frame
        if old is None or frame.manufacturer_data != old.manufacturer_data:
            changes["ManufacturerData"] = _manufacturer(frame)
        if old is None or frame.service_data != old.service_data:
            changes["ServiceData"] = _service_data(frame)
        if old is None or frame.service_uuids != old.service_uuids:
            changes["UUIDs"] = Variant("as", list(frame.service_uuids))
        if frame.name and (old is None or frame.name != old.name):
            changes["Name"] = Variant("s", frame.name)
            changes["Alias"] = Variant("s", frame.name)
        if frame.tx_power is not None and (old is None or frame.tx_power != old.tx_power):
            changes["TxPower"] = Variant("n", frame.tx_power)
        obj.frame = frame
        if changes:
            server.changed(obj.path, DEVICE, changes)

    def _device_props(self, a: AdapterState, obj: DeviceObject) -> Props:
        d, frame = obj.device, obj.frame
        assert frame is not None
        props: Props = {
            "Address": Variant("s", d.address),
            "AddressType": Variant("s", d.address_type),
            "Alias": Variant("s", frame.name or d.address.replace(":", "-")),
            "Paired": Variant("b", False),
            "Bonded": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "LegacyPairing": Variant("b", False),
            "Connected": Variant("b", False),
            "ServicesResolved": Variant("b", False),
            "Adapter": Variant("o", a.path),
            "UUIDs": Variant("as", list(frame.service_uuids)),
            "ManufacturerData": _manufacturer(frame),
            "ServiceData": _service_data(frame),
        }
        if frame.name:
            props["Name"] = Variant("s", frame.name)
        if obj.rssi is not None:
            props["RSSI"] = Variant("n", obj.rssi)
        if frame.tx_power is not None:
            props["TxPower"] = Variant("n", frame.tx_power)
        return props

    async def _expire_devices(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.device_timeout_s / 4))
            now = time.monotonic()
            server = self.server
            if server is None:
                continue
            for a in self.adapters.values():
                for address, obj in list(a.devices.items()):
                    if (
                        obj.session is None
                        and not obj.connecting
                        and (now - obj.last_seen > self.device_timeout_s)
                    ):
                        del a.devices[address]
                        server.remove(obj.path)

    # ---- views for the control interface ------------------------------------------------------

    def device_table(self) -> list[dict[str, object]]:
        now = time.monotonic()
        rows = []
        for d in self.scenario.devices:
            rows.append(
                {
                    "address": d.address,
                    "type": type(d).__name__,
                    "in_range": d.in_range(now),
                    "adapters": {
                        name: {
                            "known": d.address in a.devices,
                            "connected": (o := a.devices.get(d.address)) is not None
                            and o.session is not None,
                        }
                        for name, a in self.adapters.items()
                    },
                }
            )
        return rows


def _power_state(a: AdapterState) -> str:
    if a.powered:
        return "on"
    return "off-blocked" if a.blocked else "off"


def _manufacturer(frame: AdvertFrame) -> Variant:
    return Variant("a{qv}", {k: Variant("ay", v) for k, v in frame.manufacturer_data.items()})


def _service_data(frame: AdvertFrame) -> Variant:
    return Variant("a{sv}", {k: Variant("ay", v) for k, v in frame.service_data.items()})
