"""Drills of the price guard: the daemon killed while prices are held, and stopped in the
middle of their release. Nothing is written twice, no verdict changes, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.campaigns import LabelCloud
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.signing import public_x
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore
from tests.helpers.drills import config, running, tally
from tests.integration.conftest import LABEL_SPEEDUP

LABELS = [f"ff01010000{n:02x}" for n in range(1, 11)]
HELD = LABELS[:5]  # their SKUs' second price lost its decimal point


def price_config(tmp_path: Path, port: int) -> Path:
    path = config(tmp_path, port)
    path.write_text(
        path.read_text().replace('store_id = "drill-store"', 'store_id = "supermarket"')
        + f"""
[security]
[[security.trusted_keys]]
kid = "cloud-1"
x = "{public_x()}"
[labels]
notify_settle = "{1.0 / LABEL_SPEEDUP}s"
"""
    )
    return path


def sku(label_id: str) -> str:
    return f"sku-{label_id[-2:]}"


def held_now(cfg: Path) -> list[dict[str, Any]]:
    """``store-gateway prices --held --json``, as a technician would ask the running daemon."""
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "prices", "--config", str(cfg), "--held", "--json"],
        capture_output=True,
        check=True,
        text=True,
    )
    body = json.loads(out.stdout)
    assert body["source"] == "daemon"
    return list(body["prices"])


def answers(campaigns: LabelCloud, ids: list[str]) -> dict[str, list[str]]:
    """Per label: every status it was answered with (each final ack once)."""
    return {lid: [r["status"] for _, r in got] for lid, got in campaigns.answers(ids).items()}


async def test_a_kill_while_held_and_a_stop_in_a_release_change_nothing(
    store: RunningStore, broker: Mosquitto, control: VirtualStoreClient, tmp_path: Path
) -> None:
    cfg = price_config(tmp_path, broker.port)
    async with running(tmp_path, store.bus_address, broker.port, cfg=cfg) as (gateway, cloud):
        campaigns = LabelCloud(cloud)
        await cloud.until(lambda: campaigns.labels_known() >= set(LABELS), 30, "labels seen")
        binds = campaigns.bind([(lid, sku(lid)) for lid in LABELS])
        first = campaigns.price_update([(sku(lid), 1, "12.90") for lid in LABELS])
        await cloud.until(lambda: campaigns.finished(binds + first), 90, "first prices")
        second = campaigns.price_update(
            [(sku(lid), 2, "1.29" if lid in HELD else "13.50") for lid in LABELS]
        )
        await cloud.until(lambda: campaigns.finished(second), 90, "second prices")
        assert answers(campaigns, second) == {
            lid: ["held" if lid in HELD else "displayed"] for lid in LABELS
        }
        before = held_now(cfg)
        assert [p["sku"] for p in before] == sorted(sku(lid) for lid in HELD)

        # Killed while the prices are held: back, they are held still, with the same rules,
        # and nothing is answered again.
        gateway.kill()
        gateway.start()
        await cloud.until(lambda: _sessions(cloud) == {1, 2}, 30, "back online")
        await asyncio.sleep(2)
        assert held_now(cfg) == before
        assert answers(campaigns, second) == {
            lid: ["held" if lid in HELD else "displayed"] for lid in LABELS
        }

        # Released by the cloud, and stopped the moment the release is taken in: back, every
        # label of the release is written once and answered once.
        review = campaigns.review([(sku(lid), 2, "release", "clearance") for lid in HELD])
        await cloud.until(lambda: bool(campaigns.acks(review)), 30, "review accepted")
        assert await asyncio.to_thread(gateway.stop) == 0
        gateway.start()
        await cloud.until(lambda: campaigns.finished(review), 90, "review answered")
        assert answers(campaigns, review) == {lid: ["displayed"] for lid in HELD}
        assert held_now(cfg) == []
        await asyncio.sleep(12.0 / LABEL_SPEEDUP + 0.5)  # the panels refresh
        stats = await control.label_stats()
        transfers = {lid: stats[_address(lid)]["transfers"] for lid in LABELS}
        assert transfers == {lid: 2 for lid in LABELS}, transfers  # each price written once
    tally(cloud, "price drill", tmp_path)


def _sessions(cloud: Cloud) -> set[int]:
    return {s["session"] for s in cloud.of("/status") if s["state"] == "online"}


def _address(label_id: str) -> str:
    return ":".join(label_id[i : i + 2] for i in range(0, 12, 2)).upper()
