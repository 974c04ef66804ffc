"""The demo's retail cloud (``store-gateway simulate-cloud``) against the gateway and the
virtual store: it binds the labels and prices them, its campaigns change prices, and
now and then a wrong price is held for review, as the demo shows within minutes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.signing import KEY, KID
from gateway.daemon.app import Gateway
from tests.integration.test_bridge import broker, cloud, gateway, until

__all__ = ["broker", "cloud", "gateway"]


async def test_the_demo_cloud_binds_prices_and_gets_a_price_held(
    gateway: Gateway, cloud: Cloud, tmp_path: Path
) -> None:
    key = tmp_path / "cloud.private.pem"
    key.write_bytes(KEY.as_pem(private=True))
    assert gateway.bridge is not None and gateway.labels is not None
    port = gateway.bridge.options.mqtt.port
    await until(lambda: len(gateway.registry) > 20, 20, "the store's devices")

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "gateway", "simulate-cloud", "--port", str(port)],
            *["--store", "demo-store", "--key", str(key), "--kid", KID, "--period", "4"],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def stop(proc: asyncio.subprocess.Process) -> str:
        proc.terminate()
        raw, _ = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, raw.decode()
        return raw.decode()

    proc = await start()
    labels = gateway.labels
    try:

        def shown() -> int:
            return sum(1 for t in labels.planner.twins.values() if t.displayed is not None)

        await until(lambda: shown() >= 20, 90, "the labels show their prices")
        await until(lambda: bool(labels.planner.guard.held), 60, "a wrong price held")
        held = next(iter(labels.planner.guard.held.values()))
        assert held.verdict.broken[0].rule == "max-drop"
        await until(
            lambda: any(e["type"] == "price.held" for e in cloud.of("/events")), 10, "the event"
        )
        assert len(labels.planner.bindings) >= 20
        assert any(
            i.name and any("\u4e00" <= ch <= "\u9fff" for ch in i.name)
            for i in labels.planner.items.values()
        )
    finally:
        out = await stop(proc)
    assert "cloud: sent label-bind" in out and "cloud: sent price-update: campaign 1" in out

    # The demo started again: its first prices, for every SKU, are newer than the ones
    # the gateway keeps (not ignored as stale).
    before = {sku: i.version for sku, i in labels.planner.items.items()}
    await asyncio.sleep(1.0)
    proc = await start()
    try:
        await until(
            lambda: all(labels.planner.items[sku].version > v for sku, v in before.items()),
            15,
            "the second run's first prices taken",
        )
    finally:
        await stop(proc)
