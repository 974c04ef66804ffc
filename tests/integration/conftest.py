"""Real components, started by the tests: a private dbus-daemon with the BlueZ double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore, virtual_store

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
SMALL_STORE = SCENARIOS / "small-store.toml"
LABEL_SPEEDUP = 10  # the small store's labels, 10 times faster than real ones


def faster_labels(scenario: Path, out: Path, speedup: float = LABEL_SPEEDUP) -> Path:
    """The scenario with its labels running ``speedup`` times faster (tests keep their time)."""
    text = scenario.read_text()
    name = next(line for line in text.splitlines() if line.startswith("name ="))
    out.write_text(text.replace(name, f"{name}\nlabel_speedup = {speedup}", 1))
    return out


@pytest.fixture
async def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[RunningStore]:
    """The small store on a private bus; bleak in this test talks to it."""
    scenario = faster_labels(SMALL_STORE, tmp_path / "small-store.toml")
    async with virtual_store(scenario, device_timeout_s=3.0) as running:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", running.bus_address)
        yield running


@pytest.fixture
async def control(store: RunningStore) -> AsyncIterator[VirtualStoreClient]:
    client = await VirtualStoreClient.connect(store.bus_address)
    yield client
    await client.close()
