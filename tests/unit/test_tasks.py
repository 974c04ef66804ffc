"""Background tasks: kept until they end, and a failure is logged with the task's name."""

from __future__ import annotations

import asyncio

import structlog

from gateway.tasks import spawn


async def test_a_failing_task_is_logged_and_a_finished_one_forgotten() -> None:
    async def fails() -> None:
        raise RuntimeError("broken on purpose")

    async def works() -> int:
        return 7

    keep: set[asyncio.Task[object]] = set()
    with structlog.testing.capture_logs() as logs:
        failing = spawn(fails(), name="the-failing-one", keep=keep)
        ok = spawn(works(), name="the-working-one", keep=keep)
        await asyncio.gather(failing, ok, return_exceptions=True)
        await asyncio.sleep(0)
    assert keep == set()
    failed = [e for e in logs if e["event"] == "background task failed"]
    assert [e["task"] for e in failed] == ["the-failing-one"]
    assert isinstance(failed[0]["exc_info"], RuntimeError)
