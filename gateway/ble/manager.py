"""The BLE side of the gateway: BlueZ watcher, one scanner per adapter, their status.

Adapters are either a configured list of names or ``auto`` (every adapter BlueZ
has, as they come and go). When ``org.bluez`` restarts, bleak's cached view of
BlueZ is stale and its discovery sessions are gone: the manager drops bleak's
D-Bus connection (bleak rebuilds it, with a fresh object tree, on the next
start) and restarts every scanner at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from drivers.types import Advertisement
from gateway.ble.bleak_state import share_property_names
from gateway.ble.bluez_watch import AdapterInfo, BlueZWatcher, BlueZWatcherCallbacks
from gateway.ble.scanner import AdapterScanner, ScannerOptions, ScannerState
from gateway.tasks import spawn

log = structlog.get_logger("gateway.ble")

AdapterState = Literal["up", "down", "recovering"]


@dataclass(frozen=True, slots=True)
class AdapterStatus:
    name: str
    address: str | None
    state: AdapterState
    scanner: str
    mode: str | None
    adverts: int
    restarts: int
    last_error: str | None


class BleManager(BlueZWatcherCallbacks):
    def __init__(
        self,
        adapters: Sequence[str] | Literal["auto"],
        on_advert: Callable[[Advertisement], None],
        options: ScannerOptions,
    ) -> None:
        self._wanted = adapters
        self._on_advert = on_advert
        self._options = options
        self._watcher = BlueZWatcher(self)
        self._scanners: dict[str, AdapterScanner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.bluez_restarts = 0
        self._recovering: set[str] = set()
        self._stale_checked = False
        self._scanning = False  # the scanners run (not before the stale links are down)

    # ---- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        """Supervised task: watch BlueZ and keep the scanners running until cancelled."""
        share_property_names()  # before bleak reads BlueZ's objects
        if self._wanted != "auto":
            for name in self._wanted:
                self._ensure_scanner(name)
        try:
            await self._watcher.start()
            if not self._stale_checked:  # once per process: later, the links are ours
                self._stale_checked = True
                stale = await self._watcher.disconnect_stale(self._wants)
                if stale:
                    log.warning("links left up by an earlier run disconnected", devices=stale)
            # Only now may bleak read BlueZ's objects (a scanner's first start does): a view
            # read while those links went down can keep one connected, with its removed GATT
            # objects, for good (bleak applies the signals that arrive with its
            # GetManagedObjects reply first, then the reply over them), and a connect to
            # that label then skips Connect and fails on objects BlueZ no longer has.
            self._scanning = True
            for name in list(self._scanners):
                self._ensure_scanner(name)
            await self._watcher.wait_closed()
            raise ConnectionError("lost the system D-Bus connection")
        finally:
            self._scanning = False
            await self._watcher.stop()
            for task in self._tasks.values():
                task.cancel()
            for task in self._tasks.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()
            self._scanners.clear()

    def _ensure_scanner(self, name: str) -> AdapterScanner:
        """The adapter's scanner; it runs once the links left up by an earlier run are
        down (until then it only records what the watcher reports of its adapter)."""
        scanner = self._scanners.get(name)
        if scanner is None:
            scanner = AdapterScanner(name, self._on_advert, self._options)
            self._scanners[name] = scanner
        if self._scanning and name not in self._tasks:
            self._tasks[name] = asyncio.create_task(scanner.run(), name=f"scanner-{name}")
        return scanner

    def _wants(self, name: str) -> bool:
        return self._wanted == "auto" or name in self._wanted

    # ---- BlueZ events ----------------------------------------------------------------------

    def on_adapter(self, info: AdapterInfo) -> None:
        if not self._wants(info.name):
            return
        scanner = self._ensure_scanner(info.name)
        scanner.set_usable(info.powered)
        if info.powered:
            self._recovering.discard(info.name)

    def on_adapter_removed(self, name: str) -> None:
        scanner = self._scanners.get(name)
        if scanner is not None:
            scanner.set_usable(False)

    def on_bluez_gone(self) -> None:
        for name, scanner in self._scanners.items():
            self._recovering.add(name)
            scanner.set_usable(False)

    def on_bluez_restarted(self) -> None:
        self.bluez_restarts += 1
        self._recovering.update(self._scanners)
        spawn(self._recover_from_restart(), name="bluez-restart-recovery")

    async def _recover_from_restart(self) -> None:
        await _reset_bleak_connection()
        for scanner in self._scanners.values():
            scanner.request_restart("org.bluez restarted")
        await self._watcher.refresh_adapters()

    # ---- status ---------------------------------------------------------------------------

    def statuses(self) -> list[AdapterStatus]:
        known = self._watcher.adapters
        out = []
        for name, scanner in sorted(self._scanners.items()):
            info = known.get(name)
            state: AdapterState
            if scanner.state is ScannerState.SCANNING:
                state = "up"
            elif name in self._recovering or scanner.state in (
                ScannerState.STARTING,
                ScannerState.BACKOFF,
            ):
                state = "recovering"
            else:
                state = "down"
            out.append(
                AdapterStatus(
                    name=name,
                    address=info.address if info else None,
                    state=state,
                    scanner=scanner.state.value,
                    mode=scanner.mode_in_use,
                    adverts=scanner.adverts,
                    restarts=scanner.restarts,
                    last_error=scanner.last_error,
                )
            )
        return out

    def scanners(self) -> dict[str, AdapterScanner]:
        return dict(self._scanners)


async def _reset_bleak_connection() -> None:
    """Make bleak forget its view of the previous bluetoothd.

    bleak keeps one D-Bus connection per event loop with a cache of BlueZ's
    objects; it handles that connection dying by clearing the cache and
    reconnecting (re-reading every object) on next use. Disconnecting it is the
    supported way to get a fresh view.
    """
    from bleak.backends.bluezdbus.manager import get_global_bluez_manager

    try:
        manager = await get_global_bluez_manager()
    except Exception as exc:
        log.warning("could not reach bleak's BlueZ manager", error=repr(exc))
        return
    bus = getattr(manager, "_bus", None)
    if bus is not None and bus.connected:
        bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), timeout=2)
        # Let bleak's watcher task run its reset before the next scanner start.
        await asyncio.sleep(0)
