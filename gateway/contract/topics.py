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

    # ---- between the gateways of one store (v1.1) --------------------------------------

    def claim(self, device_id: str) -> str:
        """This gateway's retained claim on a device (empty payload: no claim)."""
        return f"{self._gw}/owns/{device_id}"

    @property
    def claims(self) -> str:
        """Every gateway's claims in this store."""
        return f"{self.prefix}/{self.store_id}/gw/+/owns/+"

    def hearing(self, shard: str) -> str:
        """This gateway's retained report of the devices it hears (one of 16 shards, by
        the last hex digit of the device id), for the others' status pages."""
        return f"{self._gw}/hears/{shard}"

    @property
    def hearings(self) -> str:
        return f"{self.prefix}/{self.store_id}/gw/+/hears/+"

    @property
    def statuses(self) -> str:
        """Every gateway's status in this store (their Wills say when one is gone)."""
        return f"{self.prefix}/{self.store_id}/gw/+/status"

    @property
    def reviews(self) -> str:
        """This gateway's retained list of the price decisions taken on its page (v1.2),
        for the others (``gateway/prices/relay.py``)."""
        return f"{self._gw}/reviews"

    @property
    def all_reviews(self) -> str:
        return f"{self.prefix}/{self.store_id}/gw/+/reviews"

    def parse_gateway_topic(self, topic: str) -> tuple[str, str, str | None] | None:
        """``(gateway id, "owns", "hears", "status" or "reviews", device id / shard or
        None)`` of a topic under ``gw/``, or None if it is not one of those."""
        head = f"{self.prefix}/{self.store_id}/gw/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) == 2 and parts[1] in ("status", "reviews"):
            return parts[0], parts[1], None
        if len(parts) == 3 and parts[1] in ("owns", "hears"):
            return parts[0], parts[1], parts[2]
        return None
