"""Supervised tasks: a failing component is logged, restarted with backoff, and shown.

A component is an ``async def`` that runs until cancelled. If it raises (or
returns, which a component never should), the supervisor logs it with the
traceback, marks it ``restarting`` in the status, waits an exponential backoff
and starts it again. The backoff resets once the component has run for
``STABLE_AFTER_S``. Nothing a component does takes the daemon down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

log = structlog.get_logger("gateway.daemon")

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0
STABLE_AFTER_S = 60.0


class ComponentState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPED = "stopped"


@dataclass
class ComponentStatus:
    name: str
    critical: bool
    state: ComponentState = ComponentState.STARTING
    restarts: int = 0
    last_error: str | None = None
    since: float = field(default_factory=time.time)


class Supervisor:
    def __init__(
        self, *, backoff_min_s: float = BACKOFF_MIN_S, backoff_max_s: float = BACKOFF_MAX_S
    ) -> None:
        self._factories: dict[str, Callable[[], Awaitable[None]]] = {}
        self._status: dict[str, ComponentStatus] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._backoff_min = backoff_min_s
        self._backoff_max = backoff_max_s

    def add(self, name: str, run: Callable[[], Awaitable[None]], *, critical: bool = True) -> None:
        if name in self._factories:
            raise ValueError(f"component {name!r} is already supervised")
        self._factories[name] = run
        self._status[name] = ComponentStatus(name=name, critical=critical)
        if self._tasks or _loop_running():
            self._tasks[name] = asyncio.create_task(self._keep(name), name=f"supervise-{name}")

    def start(self) -> None:
        for name in self._factories:
            if name not in self._tasks:
                self._tasks[name] = asyncio.create_task(self._keep(name), name=f"supervise-{name}")

    def statuses(self) -> list[ComponentStatus]:
        return list(self._status.values())

    def status(self, name: str) -> ComponentStatus:
        return self._status[name]

    async def stop(self, budget_s: float) -> None:
        """Cancel every component in reverse order of addition, within ``budget_s`` overall."""
        deadline = time.monotonic() + budget_s
        for name in reversed(list(self._tasks)):
            task = self._tasks[name]
            task.cancel()
            remaining = max(0.1, deadline - time.monotonic())
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=remaining)
            if not task.done():
                log.error("component did not stop in time", component=name)
            self._status[name].state = ComponentState.STOPPED
        self._tasks.clear()

    async def _keep(self, name: str) -> None:
        status = self._status[name]
        backoff = self._backoff_min
        while True:
            status.state = ComponentState.RUNNING
            status.since = time.time()
            started = time.monotonic()
            try:
                await self._factories[name]()
                error = "exited unexpectedly"
                log.error("component exited", component=name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.exception("component failed", component=name)
            if time.monotonic() - started >= STABLE_AFTER_S:
                backoff = self._backoff_min
            status.restarts += 1
            status.last_error = error
            status.state = ComponentState.RESTARTING
            status.since = time.time()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._backoff_max)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
