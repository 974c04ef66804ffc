"""Running the virtual store: private bus (unless given), the double, its control server.

A floor plan (``[floor]`` and ``[[gateways]]``) runs with :func:`virtual_floor`:
one private bus, double and control server per gateway box, one set of devices.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from gateway.sim.bluez.dbus_daemon import PrivateBus
from gateway.sim.bluez.double import BlueZDouble
from gateway.sim.bluez.state import CONNECT_TIMEOUT_S, DEVICE_TIMEOUT_S
from gateway.sim.control import ControlServer
from gateway.sim.floor import Box, Floor
from gateway.sim.model import Scenario
from gateway.sim.scenario import load_scenario


@dataclass
class RunningStore:
    bus_address: str
    double: BlueZDouble


@dataclass
class RunningFloor:
    floor: Floor

    @property
    def boxes(self) -> dict[str, Box]:
        """Per box id: ``bus_address``, and ``double`` while the box lives."""
        return self.floor.boxes

    def bus_address(self, box: str) -> str:
        return self.floor.boxes[box].bus_address

    def double(self, box: str) -> BlueZDouble:
        double = self.floor.boxes[box].double
        if double is None:
            raise LookupError(f"box {box} was killed")
        return double

    def store(self, box: str) -> RunningStore:
        """One box seen as a store of its own (what a gateway process on that box sees)."""
        return RunningStore(self.bus_address(box), self.double(box))


@contextlib.asynccontextmanager
async def virtual_store(
    scenario: Path | Scenario,
    *,
    bus_address: str | None = None,
    device_timeout_s: float = DEVICE_TIMEOUT_S,
    rate: float = 1.0,
) -> AsyncIterator[RunningStore]:
    loaded = load_scenario(scenario) if isinstance(scenario, Path) else scenario
    if loaded.floor is not None:
        raise ValueError(
            f"scenario {loaded.name} is a floor of several boxes: run it with virtual_floor"
        )
    async with contextlib.AsyncExitStack() as stack:
        if bus_address is None:
            bus = await stack.enter_async_context(PrivateBus())
            bus_address = bus.address
        double = BlueZDouble(loaded, bus_address, device_timeout_s=device_timeout_s, rate=rate)
        await double.start()
        stack.push_async_callback(double.stop)
        control = ControlServer(double)
        await control.start()
        stack.push_async_callback(control.stop)
        yield RunningStore(bus_address, double)


@contextlib.asynccontextmanager
async def virtual_floor(
    scenario: Path | Scenario,
    *,
    device_timeout_s: float = DEVICE_TIMEOUT_S,
    rate: float = 1.0,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
) -> AsyncIterator[RunningFloor]:
    """The floor's boxes, each on its own private bus; ``connect_timeout_s`` is how long a
    box's connection attempt waits for a label held by another box (BlueZ: seconds)."""
    loaded = load_scenario(scenario) if isinstance(scenario, Path) else scenario
    floor = Floor(
        loaded, device_timeout_s=device_timeout_s, rate=rate, connect_timeout_s=connect_timeout_s
    )
    await floor.start()
    try:
        yield RunningFloor(floor)
    finally:
        await floor.stop()
