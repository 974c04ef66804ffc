"""The service watchdog: ``WATCHDOG=1`` only while every critical component makes progress.

Components report progress (a monotonic timestamp) through a probe; each has
its own limit. The watchdog pings at half of systemd's interval when all are
fresh and stays silent otherwise, so a hung component (a stuck scanner, a
wedged writer thread, a publisher that no longer moves) gets the service
restarted by systemd. It also sends a one-line ``STATUS=`` when it changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from gateway.daemon.sdnotify import Notifier

log = structlog.get_logger("gateway.daemon")

Probe = Callable[[], float]  # monotonic time of the component's last progress


@dataclass
class _Watched:
    probe: Probe
    limit_s: float


class Watchdog:
    def __init__(self, notifier: Notifier, clock: Callable[[], float] = time.monotonic) -> None:
        self._notifier = notifier
        self._clock = clock
        self._watched: dict[str, _Watched] = {}
        self._status: Callable[[], str] | None = None
        self._last_status = ""
        self.stale: list[str] = []
        self.pings = 0

    def watch(self, name: str, probe: Probe, limit_s: float) -> None:
        self._watched[name] = _Watched(probe, limit_s)

    def status_line(self, fn: Callable[[], str]) -> None:
        self._status = fn

    def check(self) -> list[str]:
        now = self._clock()
        self.stale = [n for n, w in self._watched.items() if now - w.probe() > w.limit_s]
        return self.stale

    def tick(self) -> bool:
        """One round: ping if all components are fresh; update STATUS= when it changed."""
        was = list(self.stale)
        stale = self.check()
        if stale and stale != was:
            log.error("watchdog withheld: components without progress", components=stale)
        pinged = False
        if not stale:
            pinged = self._notifier.watchdog()
            self.pings += int(pinged)
        if self._status is not None:
            line = self._status()
            if stale:
                line = f"{line}; stuck: {', '.join(stale)}"
            if line != self._last_status:
                self._last_status = line
                self._notifier.status(line)
        return pinged

    async def run(self) -> None:
        interval = (self._notifier.watchdog_s or 20.0) / 2
        while True:
            self.tick()
            await asyncio.sleep(min(interval, 5.0))
