"""One continuous scanner per adapter, with the recoveries BlueZ needs.

A scanner runs discovery continuously (no on/off cycles) and recovers:

- ``org.bluez.Error.InProgress`` on start: stop whatever discovery bleak holds,
  wait a moment, start again (no backoff penalty);
- ``NotReady`` / adapter powered off or absent: wait until the adapter is back
  (the BlueZ watcher tells us), then start at once;
- other start failures: exponential backoff up to ``backoff_max_s``;
- silence: no advert for ``silence_timeout_s`` although this adapter delivered
  adverts before (the "silent scanner" failure) — restart discovery;
- ``request_restart()`` (org.bluez restarted) — restart at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import structlog
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakError

from drivers.types import Advertisement
from gateway.ble.patterns import PASSIVE_OR_PATTERNS

log = structlog.get_logger("gateway.ble")

ScanMode = Literal["active", "passive", "auto"]

IN_PROGRESS_RETRY_S = 0.5


class ScannerState(StrEnum):
    WAITING = "waiting"  # adapter absent or powered off
    STARTING = "starting"
    SCANNING = "scanning"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ScannerOptions:
    mode: ScanMode = "auto"
    silence_timeout_s: float = 60.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0


class AdapterScanner:
    def __init__(
        self, adapter: str, on_advert: Callable[[Advertisement], None], options: ScannerOptions
    ) -> None:
        self.adapter = adapter
        self._on_advert = on_advert
        self._options = options
        self.state = ScannerState.WAITING
        self.mode_in_use: Literal["active", "passive"] | None = None
        self.adverts = 0
        self.restarts = 0
        self.last_error: str | None = None
        self.last_advert_mono: float | None = None
        self._usable = asyncio.Event()
        self._restart = asyncio.Event()
        self._passive_unsupported = False
        self._scanner: BleakScanner | None = None
        self.last_progress = time.monotonic()  # for the service watchdog

    # ---- control from the BLE manager ----------------------------------------------------

    def set_usable(self, usable: bool) -> None:
        """The adapter is present and powered (True) or not (False)."""
        if usable:
            self._usable.set()
        else:
            self._usable.clear()
            self._restart.set()

    def request_restart(self, reason: str) -> None:
        log.info("scanner restart requested", adapter=self.adapter, reason=reason)
        self._restart.set()

    # ---- the task ---------------------------------------------------------------------

    async def run(self) -> None:
        backoff = self._options.backoff_min_s
        try:
            while True:
                self.last_progress = time.monotonic()
                if not self._usable.is_set():
                    self.state = ScannerState.WAITING
                    while not self._usable.is_set():  # waiting is progress, not a hang
                        self.last_progress = time.monotonic()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._usable.wait(), timeout=5.0)
                self._restart.clear()
                self.state = ScannerState.STARTING
                try:
                    await self._start()
                except BleakDBusError as exc:
                    self.last_error = f"{exc.dbus_error}: {exc.dbus_error_details or ''}".strip()
                    await self._stop()
                    if exc.dbus_error == "org.bluez.Error.InProgress":
                        log.info("discovery in progress; retrying", adapter=self.adapter)
                        await asyncio.sleep(IN_PROGRESS_RETRY_S)
                        continue
                    if exc.dbus_error == "org.bluez.Error.NotReady":
                        log.warning("adapter not ready; waiting for it", adapter=self.adapter)
                        self._usable.clear()
                        continue
                    backoff = await self._backoff(backoff, self.last_error)
                    continue
                except (BleakError, OSError, EOFError) as exc:
                    self.last_error = str(exc) or type(exc).__name__
                    await self._stop()
                    backoff = await self._backoff(backoff, self.last_error)
                    continue
                backoff = self._options.backoff_min_s
                self.state = ScannerState.SCANNING
                self.last_error = None
                log.info("scanning", adapter=self.adapter, mode=self.mode_in_use)
                reason = await self._watch()
                self.restarts += 1
                log.warning("restarting scanner", adapter=self.adapter, reason=reason)
                await self._stop()
        finally:
            self.state = ScannerState.STOPPED
            await self._stop()

    async def _backoff(self, current: float, error: str) -> float:
        self.state = ScannerState.BACKOFF
        log.warning("scanner start failed", adapter=self.adapter, error=error, retry_in_s=current)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._usable_changed(), timeout=current)
        return min(current * 2, self._options.backoff_max_s)

    async def _usable_changed(self) -> None:
        await self._restart.wait()

    async def _start(self) -> None:
        mode: Literal["active", "passive"]
        if self._options.mode == "auto":
            mode = "active" if self._passive_unsupported else "passive"
        else:
            mode = self._options.mode
        try:
            await self._start_mode(mode)
        except BleakError as exc:
            # BlueZ without AdvertisementMonitor support (older than 5.56 or no
            # experimental features): fall back to active scanning for good.
            if mode == "passive" and self._options.mode == "auto" and _is_passive_unsupported(exc):
                log.warning("passive scanning unsupported; using active", adapter=self.adapter)
                self._passive_unsupported = True
                await self._stop()
                await self._start_mode("active")
            else:
                raise

    async def _start_mode(self, mode: Literal["active", "passive"]) -> None:
        if mode == "passive":
            scanner = BleakScanner(
                self._callback,
                scanning_mode="passive",
                bluez={"adapter": self.adapter, "or_patterns": PASSIVE_OR_PATTERNS},
            )
        else:
            scanner = BleakScanner(
                self._callback,
                scanning_mode="active",
                bluez={
                    "adapter": self.adapter,
                    "filters": {"Transport": "le", "DuplicateData": True},
                },
            )
        self._scanner = scanner
        await scanner.start()
        self.mode_in_use = mode

    async def _stop(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is None:
            return
        try:
            await asyncio.wait_for(scanner.stop(), timeout=5)
        except Exception as exc:  # stopping a dead scanner fails in many ways; none matter
            log.debug("scanner stop failed", adapter=self.adapter, error=repr(exc))

    async def _watch(self) -> str:
        """Wait while scanning; return why scanning must restart."""
        started = time.monotonic()
        silence = self._options.silence_timeout_s
        while True:
            self.last_progress = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._restart.wait(), timeout=min(silence / 4, 5.0))
            if self._restart.is_set():
                return "requested" if self._usable.is_set() else "adapter unavailable"
            last = self.last_advert_mono
            now = time.monotonic()
            # Only a scanner that delivered adverts before can be called silent.
            if last is not None and now - max(last, started) > silence:
                self.last_error = f"no advertisement for {silence:.0f} s"
                return "silent"

    def _callback(self, device: BLEDevice, data: AdvertisementData) -> None:
        self.adverts += 1
        self.last_advert_mono = time.monotonic()
        self._on_advert(
            Advertisement(
                address=device.address,
                rssi=data.rssi,
                name=data.local_name,
                tx_power=data.tx_power,
                manufacturer_data=data.manufacturer_data,
                service_data=data.service_data,
                service_uuids=tuple(data.service_uuids),
                adapter=self.adapter,
            )
        )


def _is_passive_unsupported(exc: BleakError) -> bool:
    text = str(exc).lower()
    return "advertisementmonitor" in text or "passive" in text or "not supported" in text
