"""What the BlueZ double keeps per adapter and per device object, and its names."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from dbus_fast import Variant

from gateway.sim.model import AdapterSpec, AdvertFrame, GattSession, SimDevice, SimError

BLUEZ = "org.bluez"
ADAPTER = "org.bluez.Adapter1"
MONITOR_MANAGER = "org.bluez.AdvertisementMonitorManager1"
MONITOR = "org.bluez.AdvertisementMonitor1"
DEVICE = "org.bluez.Device1"
GATT_SERVICE = "org.bluez.GattService1"
GATT_CHAR = "org.bluez.GattCharacteristic1"
GATT_DESC = "org.bluez.GattDescriptor1"
CCCD = "00002902-0000-1000-8000-00805f9b34fb"

DEVICE_TIMEOUT_S = 180.0  # bluetoothd removes temporary devices after this
CONNECT_TIMEOUT_S = 5.0  # an unreachable device fails after this
MTU = 247
JITTER = 0.1


def bluez_error(name: str, message: str) -> SimError:
    return SimError(f"org.bluez.Error.{name}", message)


@dataclass
class DeviceObject:
    """A device as one adapter knows it (bluetoothd has one object per adapter)."""

    device: SimDevice
    path: str
    last_seen: float
    frame: AdvertFrame | None = None
    rssi: int | None = None
    session: GattSession | None = None
    gatt_paths: list[str] = field(default_factory=list)
    char_uuid_by_path: dict[str, str] = field(default_factory=dict)
    notifying: set[str] = field(default_factory=set)
    connecting: bool = False
    link: str | None = None  # the link name its session came through
    abort: asyncio.Event | None = None  # on a floor: set to end a connection attempt


@dataclass
class AdapterState:
    spec: AdapterSpec
    path: str
    slots: int
    powered: bool = True
    sessions: set[str] = field(default_factory=set)  # senders discovering
    filters: dict[str, dict[str, Variant]] = field(default_factory=dict)
    monitors: set[tuple[str, str]] = field(default_factory=set)  # (sender, path)
    fail_next_discovery: int = 0
    silent: bool = False
    blocked: bool = False  # rfkill: powered off, and Powered cannot be set until unblocked
    connect_in_progress: bool = False
    devices: dict[str, DeviceObject] = field(default_factory=dict)  # address -> object
    adverts_sent: int = 0

    @property
    def scanning(self) -> bool:
        return self.powered and bool(self.sessions or self.monitors)

    def connected(self) -> int:
        return sum(1 for d in self.devices.values() if d.session is not None or d.connecting)


@dataclass
class ConnectFault:
    mode: str  # "fail" or "hang"
    error: str = "org.bluez.Error.Failed"
    message: str = "le-connection-abort-by-local"
