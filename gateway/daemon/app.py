"""The gateway daemon: its components, wired and supervised.

``Gateway`` owns the database and every long-running component. Each component
runs as a supervised task (restarted with backoff if it fails; see
``supervisor``). The daemon stops on request within a bounded time, flushing
what must not be lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import structlog

from gateway.ble.ingest import AdvertIngest, IngestOptions
from gateway.ble.manager import BleManager
from gateway.ble.scanner import ScannerOptions
from gateway.daemon.supervisor import Supervisor
from gateway.registry import Registry, RegistryOptions
from gateway.registry.persistence import flush_dirty, load_devices
from gateway.store import Database
from gateway.store.database import Synchronous

log = structlog.get_logger("gateway.daemon")

REGISTRY_FLUSH_S = 5.0
SWEEP_S = 1.0


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the daemon needs, as the components' own option values."""

    store_id: str
    gateway_id: str
    data_dir: Path
    adapters: tuple[str, ...] | Literal["auto"] = "auto"
    scanner: ScannerOptions = field(default_factory=ScannerOptions)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    synchronous: Synchronous = "full"
    stop_budget_s: float = 10.0

    @property
    def database_path(self) -> Path:
        return self.data_dir / "gateway.db"


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.db = Database(settings.database_path, synchronous=settings.synchronous)
        self.registry = Registry(settings.registry)
        self.ingest = AdvertIngest(self.registry, settings.ingest)
        self.ble = BleManager(settings.adapters, self.ingest.handle, settings.scanner)
        self.supervisor = Supervisor()
        self._stopping = asyncio.Event()
        self._on_ready: list[Callable[[], None]] = []

    async def start(self) -> None:
        await self.db.open()
        self.registry.load(await load_devices(self.db), now_mono=time.monotonic())
        log.info(
            "starting",
            store_id=self.settings.store_id,
            gateway_id=self.settings.gateway_id,
            devices_known=len(self.registry),
            schema=self.db.schema_version,
        )
        self.supervisor.add("ble", self.ble.run)
        self.supervisor.add("registry-sweep", self._sweep_loop)
        self.supervisor.add("registry-flush", self._flush_loop)
        self.supervisor.start()

    async def stop(self) -> None:
        log.info("stopping")
        await self.supervisor.stop(budget_s=self.settings.stop_budget_s / 2)
        try:
            await flush_dirty(self.db, self.registry)
        finally:
            await self.db.close()
        log.info("stopped")

    def reconfigure(self, settings: GatewaySettings) -> None:
        """Apply what can change at run time (SIGHUP): tags, dead-bands, filters."""
        self.settings = settings
        self.registry.reconfigure(settings.registry)
        self.ingest.reconfigure(settings.ingest)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.registry.sweep(time.monotonic())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_FLUSH_S)
            await flush_dirty(self.db, self.registry)
