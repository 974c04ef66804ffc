"""Background tasks that are never lost silently, and their waits.

``spawn`` keeps a reference to the task (asyncio holds only weak ones: an
unreferenced task can vanish mid-flight) and logs its exception when it ends
with one, naming the task; without it a failed task's exception would surface,
if ever, only when the task object is collected.

``wait_set`` is how a loop waits for its wake-up event or its next tick: a loop
that ticks every second runs it all day, and ``asyncio.wait_for`` on Python 3.11
makes a task of its own per wait and takes five callbacks to time out; this one
takes a timer and the waiting task's own step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger("gateway")

T = TypeVar("T")

_KEPT: set[asyncio.Task[Any]] = set()


def spawn(
    work: Coroutine[Any, Any, T], *, name: str, keep: set[asyncio.Task[Any]] | None = None
) -> asyncio.Task[T]:
    """Run ``work`` as a task named ``name``, held in ``keep`` (or here) until it ends."""
    task = asyncio.get_running_loop().create_task(work, name=name)
    holder = _KEPT if keep is None else keep
    holder.add(task)
    task.add_done_callback(holder.discard)
    task.add_done_callback(_report)
    return task


def _report(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task failed", task=task.get_name(), exc_info=exc)


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait at most ``seconds`` for ``event``; whether it is set."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
