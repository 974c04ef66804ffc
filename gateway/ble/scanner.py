"""One continuous scanner per adapter, with the recoveries BlueZ needs.

A scanner runs discovery continuously (no on/off cycles). Each start attempt
(:meth:`AdapterScanner._attempt_start`) ends in one :class:`Decision`, read from
BlueZ's error by the table in :mod:`gateway.ble.bluez_errors`:

- ``InProgress`` (the adapter busy): stop whatever discovery bleak holds, wait a
  moment, start again without backoff, at most ``IN_PROGRESS_TRIES`` times in a
  row (then it counts as a failure);
- ``NotReady`` / adapter powered off or absent: wait until the adapter is back
  (the BlueZ watcher tells us), then start at once;
- other failures: exponential backoff up to ``backoff_max_s``, cut short when
  the adapter comes back;
- silence: no advert for ``silence_timeout_s`` although this adapter delivered
  adverts before (the "silent scanner" failure) — restart discovery;
- ``request_restart()`` (org.bluez restarted) — restart at once.

Adverts are handed on in batches, every ``coalesce_s`` (0.1 s): bleak calls back
once per advert, and a daemon that sleeps between adverts runs each callback's
code cold (several times slower than the same code run back to back). The
callback only queues what bleak delivered; one timer turns the batch into
:class:`Advertisement` objects for the ingest. The registry's times are those of
the batch (at most ``coalesce_s`` late; advert intervals are ten times that).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import structlog
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from drivers.types import Advertisement
from gateway.ble.bleak_state import forget_last_adverts
from gateway.ble.bluez_errors import Meaning, describe, meaning
from gateway.ble.patterns import PASSIVE_OR_PATTERNS
from gateway.tasks import wait_set

log = structlog.get_logger("gateway.ble")

ScanMode = Literal["active", "passive", "auto"]

IN_PROGRESS_RETRY_S = 0.5
IN_PROGRESS_TRIES = 5


class Decision(StrEnum):
    SCANNING = "scanning"
    RETRY_SOON = "retry-soon"  # the adapter was busy
    WAIT_ADAPTER = "wait-adapter"  # not ready: until it is back
    BACK_OFF = "back-off"


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
    coalesce_s: float = 0.1  # adverts are handed on in batches this often


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
        self._adapter_back = asyncio.Event()
        self._passive_unsupported = False
        self._scanner: BleakScanner | None = None
        self._batch: list[tuple[str, AdvertisementData]] = []
        self._flush_at: asyncio.TimerHandle | None = None
        self.last_progress = time.monotonic()  # for the service watchdog

    # ---- control from the BLE manager ----------------------------------------------------

    def set_usable(self, usable: bool) -> None:
        """The adapter is present and powered (True) or not (False); an adapter coming
        back cuts a backoff short."""
        if usable:
            was = self._usable.is_set()
            self._usable.set()
            if not was or self.state is ScannerState.BACKOFF:
                self._adapter_back.set()
        else:
            self._usable.clear()
            self._restart.set()

    def request_restart(self, reason: str) -> None:
        log.info("scanner restart requested", adapter=self.adapter, reason=reason)
        self._restart.set()

    # ---- the task ---------------------------------------------------------------------

    async def run(self) -> None:
        backoff = self._options.backoff_min_s
        busy = 0  # InProgress answers in a row
        try:
            while True:
                self.last_progress = time.monotonic()
                if not self._usable.is_set():
                    self.state = ScannerState.WAITING
                    while not self._usable.is_set():  # waiting is progress, not a hang
                        self.last_progress = time.monotonic()
                        await wait_set(self._usable, 5.0)
                self._restart.clear()
                self.state = ScannerState.STARTING
                decision = await self._attempt_start()
                busy = busy + 1 if decision is Decision.RETRY_SOON else 0
                if decision is Decision.RETRY_SOON and busy > IN_PROGRESS_TRIES:
                    decision = Decision.BACK_OFF  # busy for too long: a failure after all
                    busy = 0
                if decision is Decision.RETRY_SOON:
                    log.info("discovery in progress; retrying", adapter=self.adapter)
                    await asyncio.sleep(IN_PROGRESS_RETRY_S)
                    continue
                if decision is Decision.WAIT_ADAPTER:
                    log.warning("adapter not ready; waiting for it", adapter=self.adapter)
                    self._usable.clear()
                    continue
                if decision is Decision.BACK_OFF:
                    backoff = await self._backoff(backoff, self.last_error or "start failed")
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

    async def _attempt_start(self) -> Decision:
        """One start of discovery; what to do next (``last_error`` says why if not scanning)."""
        try:
            await self._start()
        except (BleakError, OSError, EOFError) as exc:
            self.last_error = describe(exc)
            await self._stop()
            what = meaning(exc)
            if what is Meaning.BUSY:
                return Decision.RETRY_SOON
            if what is Meaning.ADAPTER_DOWN:
                return Decision.WAIT_ADAPTER
            return Decision.BACK_OFF
        return Decision.SCANNING

    async def _backoff(self, current: float, error: str) -> float:
        """Wait ``current`` seconds, or less if a restart is asked for or the adapter comes
        back; the next backoff doubles (a wait cut short by the adapter starts afresh)."""
        self.state = ScannerState.BACKOFF
        log.warning("scanner start failed", adapter=self.adapter, error=error, retry_in_s=current)
        self._adapter_back.clear()
        restart = asyncio.ensure_future(self._restart.wait())
        back = asyncio.ensure_future(self._adapter_back.wait())
        try:
            await asyncio.wait({restart, back}, timeout=current, return_when="FIRST_COMPLETED")
        finally:
            restart.cancel()
            back.cancel()
        if back.done() and not back.cancelled():
            return self._options.backoff_min_s
        return min(current * 2, self._options.backoff_max_s)

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
        self._flush()
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
            await wait_set(self._restart, min(silence / 4, 5.0))
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
        self._batch.append((device.address, data))
        if self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_later(
                self._options.coalesce_s, self._flush
            )

    def _flush(self) -> None:
        """Hand the queued adverts on, in the order they came."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        batch, self._batch = self._batch, []
        if self._scanner is not None:
            forget_last_adverts(self._scanner)  # bleak's copy of them: never read here
        on_advert, adapter = self._on_advert, self.adapter
        for address, data in batch:
            try:
                on_advert(
                    Advertisement(
                        address=address,
                        rssi=data.rssi,
                        name=data.local_name,
                        tx_power=data.tx_power,
                        manufacturer_data=data.manufacturer_data,
                        service_data=data.service_data,
                        service_uuids=tuple(data.service_uuids),
                        adapter=adapter,
                    )
                )
            except Exception:  # one advert's failure must not drop the rest of the batch
                log.exception("advert not handled", adapter=adapter, address=address)


def _is_passive_unsupported(exc: BleakError) -> bool:
    text = str(exc).lower()
    return "advertisementmonitor" in text or "passive" in text or "not supported" in text
