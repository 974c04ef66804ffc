"""Real components, started by the tests: a private dbus-daemon with the BlueZ double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore, virtual_store

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
SMALL_STORE = SCENARIOS / "small-store.toml"


@pytest.fixture
async def store(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningStore]:
    """The small store on a private bus; bleak in this test talks to it."""
    async with virtual_store(SMALL_STORE, device_timeout_s=3.0) as running:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", running.bus_address)
        yield running


@pytest.fixture
async def control(store: RunningStore) -> AsyncIterator[VirtualStoreClient]:
    client = await VirtualStoreClient.connect(store.bus_address)
    yield client
    await client.close()
