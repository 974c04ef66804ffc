"""Zones behind a building controller on Modbus TCP (pymodbus' asyncio client).

Each zone is one unit id on a controller, with a register map (holding registers;
addresses from the configuration, the defaults below): on/off, setpoint and
measured temperature in tenths of a degree (signed), light level in %, and an
energy meter in tenths of a kWh over two registers (high word first). A register
a zone does not have is None. One :class:`ModbusLink` per controller is shared by
its zones; a failed request closes it, the next one connects again. Every failure
(no connection, a timeout, an exception response) is a
:class:`~gateway.energy.control.ControllerError` naming the controller and what
failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from gateway.energy.control import ControllerError, ZoneController, ZoneReading
from gateway.energy.plan import ZoneSetting


@dataclass(frozen=True, slots=True)
class RegisterMap:
    unit: int = 1
    on: int = 0
    setpoint: int | None = 1
    level: int | None = 2
    temperature: int | None = 3
    energy: int | None = 4  # and the next one
    scale: int = 10  # setpoint, temperature and energy in tenths

    def span(self) -> tuple[int, int]:
        """(first address, count) covering every register of the zone."""
        used = [a for a in (self.on, self.setpoint, self.level, self.temperature) if a is not None]
        if self.energy is not None:
            used += [self.energy, self.energy + 1]
        return min(used), max(used) - min(used) + 1


class ModbusLink:
    """One controller's connection, shared by its zones; requests one at a time."""

    def __init__(self, host: str, port: int = 502, timeout_s: float = 2.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def call(self, what: str, request: Callable[[Any], Awaitable[Any]]) -> Any:
        """``request(client)``, its response checked (pymodbus' responses are untyped)."""
        from pymodbus.client import AsyncModbusTcpClient  # only stores with a building
        from pymodbus.exceptions import ModbusException

        async with self._lock:
            try:
                if self._client is None or not self._client.connected:
                    self._client = AsyncModbusTcpClient(
                        self.host, port=self.port, timeout=self.timeout_s, retries=0
                    )
                    if not await self._client.connect():
                        raise ControllerError(f"{self.host}:{self.port}: no connection")
                response = await asyncio.wait_for(request(self._client), 2 * self.timeout_s)
            except (ModbusException, OSError, TimeoutError) as exc:
                self.close()
                raise ControllerError(f"{self.host}:{self.port}: {what}: {exc}") from exc
            except ControllerError:
                self.close()
                raise
            if response.isError():
                raise ControllerError(f"{self.host}:{self.port}: {what}: {response}")
            return response

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class ModbusZone(ZoneController):
    def __init__(self, name: str, link: ModbusLink, registers: RegisterMap) -> None:
        self.name = name
        self._link = link
        self._r = registers

    async def read(self) -> ZoneReading:
        r = self._r
        first, count = r.span()
        response = await self._link.call(
            f"zone {self.name}: reading registers {first}..{first + count - 1}",
            lambda c: c.read_holding_registers(first, count=count, device_id=r.unit),
        )
        regs: list[int] = list(response.registers)

        def at(address: int | None) -> int | None:
            return None if address is None else regs[address - first]

        def signed(value: int | None) -> float | None:
            return None if value is None else (value - 65536 if value >= 32768 else value) / r.scale

        energy = None
        if r.energy is not None:
            energy = ((regs[r.energy - first] << 16) | regs[r.energy + 1 - first]) / r.scale
        level = at(r.level)
        return ZoneReading(
            on=bool(at(r.on)),
            setpoint=signed(at(r.setpoint)),
            level=level,
            temperature=signed(at(r.temperature)),
            energy_kwh=energy,
        )

    async def write(self, setting: ZoneSetting) -> None:
        r = self._r
        writes: list[tuple[int, int]] = [(r.on, int(setting.on))]
        if setting.setpoint is not None and r.setpoint is not None:
            writes.append((r.setpoint, round(setting.setpoint * r.scale) & 0xFFFF))
        if setting.level is not None and r.level is not None:
            writes.append((r.level, setting.level))
        for address, value in writes:
            await self._link.call(
                f"zone {self.name}: writing {value} to register {address}",
                partial(_write, address=address, value=value, unit=r.unit),
            )


def _write(client: Any, *, address: int, value: int, unit: int) -> Awaitable[Any]:
    return client.write_register(address, value, device_id=unit)  # type: ignore[no-any-return]
