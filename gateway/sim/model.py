"""The seam between the BlueZ double (the bus side) and the simulated devices.

The bus side (``gateway.sim.bluez``) presents adapters and devices on D-Bus the
way bluetoothd does. It knows nothing about formats: it asks each
:class:`SimDevice` what it advertises now and forwards GATT operations to the
device's :class:`GattSession`. The device side (``gateway.sim.devices``,
``gateway.sim.scenario``) knows the formats, values over time and label
protocols, and nothing about D-Bus.

Times are seconds on the simulator's monotonic clock (``time.monotonic()``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from gateway.sim.floorplan import FloorSpec, Placement


class SimError(Exception):
    """An error the double answers with, as BlueZ names it.

    ``name`` is the D-Bus error name, e.g. ``org.bluez.Error.Failed``;
    ``message`` is BlueZ's text, e.g. ``le-connection-abort-by-local``.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True, slots=True)
class AdvertFrame:
    """What a device advertises at one moment (the AD fields BlueZ exposes)."""

    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)  # 128-bit UUID -> bytes
    service_uuids: tuple[str, ...] = ()
    tx_power: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    uuid: str  # 128-bit, lowercase
    flags: tuple[str, ...]  # BlueZ flags: "read", "write", "write-without-response", "notify", ...


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    uuid: str
    characteristics: tuple[CharacteristicSpec, ...]


Notifier = Callable[[str, bytes], None]  # (characteristic uuid, value)


class GattSession:
    """One GATT connection to a simulated device. Created by :meth:`SimDevice.connect`."""

    _on_drop: Callable[[], None] | None = None

    def set_drop_handler(self, handler: Callable[[], None]) -> None:
        """The bus side calls this once; the device calls :meth:`drop` to end the link."""
        self._on_drop = handler

    def drop(self) -> None:
        """The device ends the connection (it rebooted, aborted, walked away)."""
        if self._on_drop is not None:
            self._on_drop()

    def set_notifier(self, notifier: Notifier) -> None:
        """The bus side calls this once; the device calls it to send notifications."""
        raise NotImplementedError

    async def read(self, char_uuid: str) -> bytes:
        raise SimError("org.bluez.Error.NotPermitted", "Read not permitted")

    async def write(self, char_uuid: str, data: bytes, with_response: bool) -> None:
        raise SimError("org.bluez.Error.NotPermitted", "Write not permitted")

    def start_notify(self, char_uuid: str) -> None:
        """Notifications for this characteristic are wanted from now on."""

    def stop_notify(self, char_uuid: str) -> None:
        pass

    def close(self) -> None:
        """The connection is gone (disconnect, adapter down, out of range)."""


class SimDevice:
    """A simulated BLE device. Subclasses implement the formats and behaviours."""

    address: str  # "AA:BB:CC:DD:EE:FF"
    address_type: Literal["public", "random"] = "public"
    connectable: bool = False
    advert_interval_s: float = 1.0
    services: tuple[ServiceSpec, ...] = ()
    att_mtu: int = 247  # the ATT MTU its connections reach (23 = the default, no exchange)

    def advert(self, now: float) -> AdvertFrame:
        raise NotImplementedError

    def in_range(self, now: float) -> bool:
        """False while the device is away (it sends nothing and refuses connections)."""
        return True

    def rssi(self, adapter: str, now: float) -> int | None:
        """RSSI as heard by ``adapter`` now, or None if that adapter does not hear it."""
        raise NotImplementedError

    async def connect(self, via: str = "") -> GattSession:
        """Open a GATT connection (may sleep for the connect latency, may raise SimError).

        ``via`` names the link it comes through (the adapter, or ``box/adapter`` on a
        floor), so that a device can tell which box wrote to it."""
        raise SimError("org.bluez.Error.NotSupported", "Operation is not supported")

    def connected(self, adapter: str) -> None:
        """A connection through ``adapter`` was established (statistics)."""

    # ---- run-time control (tests and benchmarks) ---------------------------------------

    def set_reading(self, name: str, value: float) -> None:
        """Force a sensor reading (e.g. ``temperature_c``) from now on."""
        raise SimError("org.bluez.Error.NotSupported", f"{self.address} has no reading {name}")

    def set_in_range(self, in_range: bool) -> None:
        """Move the device out of range (False) or back (True)."""
        raise NotImplementedError

    def label_image(self) -> bytes | None:
        """For shelf labels: the content bytes the label holds now (None if none/not a label)."""
        return None


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    name: str  # "hci0"
    address: str  # "00:1A:7D:DA:71:13"
    connection_slots: int = 5


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    """One gateway box on a floor: its own BlueZ, on its own bus, at (x, y)."""

    id: str
    x: float
    y: float
    adapters: tuple[AdapterSpec, ...]


@dataclass
class Scenario:
    name: str
    adapters: list[AdapterSpec]  # the one box's adapters; empty on a floor
    devices: list[SimDevice]
    seed: int = 0
    floor: FloorSpec | None = None
    gateways: list[GatewaySpec] = field(default_factory=list)
    placements: dict[str, Placement] = field(default_factory=dict)  # address -> where
