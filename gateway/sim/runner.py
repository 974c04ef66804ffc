"""Running the virtual store: private bus (unless given), the double, its control server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from gateway.sim.bluez.dbus_daemon import PrivateBus
from gateway.sim.bluez.double import BlueZDouble
from gateway.sim.bluez.state import DEVICE_TIMEOUT_S
from gateway.sim.control import ControlServer
from gateway.sim.model import Scenario
from gateway.sim.scenario import load_scenario


@dataclass
class RunningStore:
    bus_address: str
    double: BlueZDouble


@contextlib.asynccontextmanager
async def virtual_store(
    scenario: Path | Scenario,
    *,
    bus_address: str | None = None,
    device_timeout_s: float = DEVICE_TIMEOUT_S,
    rate: float = 1.0,
) -> AsyncIterator[RunningStore]:
    loaded = load_scenario(scenario) if isinstance(scenario, Path) else scenario
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
