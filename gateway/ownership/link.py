"""The narrow port through which the coordinator talks to the store's broker.

The coordinator publishes claims and hearing reports and is told of connects and
disconnects; it knows nothing of the bridge. The daemon hands it the bridge
through :class:`ClaimsLink` (``gateway.daemon.app.BridgeLink``).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from gateway.contract.topics import Topics


class LinkWatcher(Protocol):
    async def connected(self) -> None: ...

    def disconnected(self) -> None: ...


class Message(Protocol):
    """A message from the broker, as the coordinator reads it."""

    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> bytes: ...


class ClaimsLink(Protocol):
    @property
    def topics(self) -> Topics: ...

    def publish(
        self, topic: str, payload: bytes, *, qos: int, retain: bool
    ) -> asyncio.Future[None] | None:
        """Send now: a future resolved when the broker has it; None when not connected
        (the coordinator sends again on the next connect)."""
        ...

    def watch_connection(self, watcher: LinkWatcher) -> None: ...

    def gained(self, device_id: str) -> None:
        """A device became this gateway's: its state is announced in the new epoch."""
        ...

    async def lost(self, device_id: str) -> None:
        """A device went to another gateway: this one stops speaking for it."""
        ...
