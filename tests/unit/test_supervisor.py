import asyncio

from gateway.daemon.supervisor import ComponentState, Supervisor


async def test_failing_component_is_restarted_and_reported() -> None:
    sup = Supervisor(backoff_min_s=0.01, backoff_max_s=0.02)
    runs = 0
    healthy = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"boom {runs}")
        healthy.set()
        await asyncio.Event().wait()

    sup.add("flaky", flaky)
    sup.start()
    await asyncio.wait_for(healthy.wait(), timeout=5)
    status = sup.status("flaky")
    assert status.restarts == 2
    assert status.last_error == "RuntimeError: boom 2"
    assert status.state is ComponentState.RUNNING
    await sup.stop(budget_s=1)
    assert status.state is ComponentState.STOPPED


async def test_other_components_keep_running_and_stop_is_bounded() -> None:
    sup = Supervisor(backoff_min_s=0.01)
    ticks = 0

    async def steady() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    async def broken() -> None:
        raise ValueError("always")

    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(3)  # slow to stop: stop() must not wait for it

    sup.add("steady", steady)
    sup.add("broken", broken)
    sup.add("stubborn", stubborn)
    sup.start()
    await asyncio.sleep(0.1)
    assert ticks > 10
    assert sup.status("broken").restarts >= 2
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await sup.stop(budget_s=0.5)
    assert loop.time() - t0 < 2
