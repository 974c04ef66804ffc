"""The store's broker as the ownership coordinator sees it: the bridge behind the
coordinator's narrow port (:class:`gateway.ownership.link.ClaimsLink`).

Here, where the daemon puts the gateway together, is the only place that knows both:
the bridge declares what it asks of ownership (``PublishGate``), the coordinator what
it needs of the broker, and neither package imports the other.
"""

from __future__ import annotations

import asyncio

from gateway.bridge.bridge import Bridge
from gateway.bridge.mqtt import NotConnected
from gateway.contract.topics import Topics
from gateway.ownership.link import LinkWatcher


class BridgeLink:
    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge

    @property
    def topics(self) -> Topics:
        return self._bridge.topics

    def publish(
        self, topic: str, payload: bytes, *, qos: int, retain: bool
    ) -> asyncio.Future[None] | None:
        try:
            return self._bridge.connection.publish(topic, payload, qos=qos, retain=retain)
        except NotConnected:
            return None

    def watch_connection(self, watcher: LinkWatcher) -> None:
        self._bridge.watch_connection(watcher)

    def gained(self, device_id: str) -> None:
        self._bridge.gained(device_id)

    async def lost(self, device_id: str) -> None:
        await self._bridge.lost(device_id)
