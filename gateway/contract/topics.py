"""Topic names of the contract (README "Topics")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    store_id: str
    gateway_id: str

    @property
    def _gw(self) -> str:
        return f"{self.prefix}/{self.store_id}/gw/{self.gateway_id}"

    @property
    def status(self) -> str:
        return f"{self._gw}/status"

    @property
    def telemetry(self) -> str:
        return f"{self._gw}/telemetry"

    @property
    def events(self) -> str:
        return f"{self._gw}/events"

    @property
    def acks(self) -> str:
        return f"{self._gw}/acks"

    def device_state(self, device_id: str) -> str:
        return f"{self.prefix}/{self.store_id}/devices/{device_id}/state"

    @property
    def store_commands(self) -> str:
        return f"{self.prefix}/{self.store_id}/commands"

    @property
    def gateway_commands(self) -> str:
        return f"{self._gw}/commands"
