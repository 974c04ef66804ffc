"""A scanner backing off after a failed start: an adapter coming back cuts the wait short."""

from __future__ import annotations

import asyncio
import time

from gateway.ble.scanner import AdapterScanner, ScannerOptions, ScannerState


async def test_an_adapter_coming_back_cuts_a_backoff_short() -> None:
    scanner = AdapterScanner("hci0", lambda _: None, ScannerOptions(backoff_min_s=0.5))
    scanner.set_usable(True)
    wait = asyncio.create_task(scanner._backoff(30.0, "start failed"))
    await asyncio.sleep(0.05)
    assert scanner.state is ScannerState.BACKOFF
    started = time.monotonic()
    scanner.set_usable(False)  # powered off...
    scanner.set_usable(True)  # ...and on again
    next_backoff = await asyncio.wait_for(wait, 2.0)
    assert time.monotonic() - started < 1.0 and next_backoff == 0.5  # afresh from the minimum


async def test_without_news_a_backoff_runs_its_time_and_doubles() -> None:
    scanner = AdapterScanner("hci0", lambda _: None, ScannerOptions(backoff_max_s=60.0))
    scanner.set_usable(True)
    started = time.monotonic()
    assert await scanner._backoff(0.2, "start failed") == 0.4
    assert time.monotonic() - started >= 0.19
