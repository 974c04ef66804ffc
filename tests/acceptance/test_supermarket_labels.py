"""Acceptance: price campaigns on the virtual supermarket's 2,000 shelf labels.

The store and the gateway run as processes, the cloud talks to a real mosquitto.
What each simulated label shows is compared with an independent rendering of
the newest price of its SKU, and the acks are checked label by label.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.labels.panels import ID_MASK, PANELS
from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.campaigns import (
    PREFIX,
    SUPERMARKET,
    LabelCloud,
    gateway_config,
    label_ids,
    scenario_variant,
)
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess, StoreProcess
from gateway.labels.render import LabelContent, render
from gateway.sim.control import VirtualStoreClient
from gateway.sim.scenario import read_scenario

# A campaign on 2,000 labels takes minutes; the absent labels fail after the budget.
pytestmark = pytest.mark.timeout(1200)

LABEL_SETTINGS = """
max_attempts = 12
budget = "4m"
backoff_min = "1s"
backoff_max = "8s"
"""


def sku(n: int) -> str:
    return f"sku-{n:05d}"


def price(n: int, version: int) -> str:
    return f"{n % 90 + 1 + version}.{n % 100:02d}"


def address(label_id: str) -> str:
    return ":".join(label_id[i : i + 2] for i in range(0, 12, 2)).upper()


def expected_hashes(scenario: Path, newest: dict[str, tuple[int, str]]) -> dict[str, str]:
    """label id -> content hash of the newest price of its SKU, rendered here."""
    spec = read_scenario(scenario)
    panels = [PANELS[g.hardware & ID_MASK] for g in spec.labels for _ in range(g.count)]
    out = {}
    for n, (lid, panel) in enumerate(zip(label_ids(scenario), panels, strict=True)):
        _, amount = newest[sku(n)]
        content = LabelContent(sku=sku(n), price=amount, currency="CNY", name=f"商品 {sku(n)}")
        out[lid] = render(content, panel).content_hash
    return out


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    m = Mosquitto(tmp_path / "broker")
    m.start()
    yield m
    m.stop()


class Run:
    """One acceptance run: store, gateway, cloud; stopped in the end whatever happens."""

    def __init__(
        self,
        tmp_path: Path,
        broker: Mosquitto,
        scenario: Path,
        extra: str = "",
        web_port: int | None = None,
    ) -> None:
        self.scenario = scenario
        self.labels = label_ids(scenario)
        self.cloud = Cloud(broker.port, prefix=f"{PREFIX}/#")
        self.store = StoreProcess(scenario, tmp_path / "store.log")
        self.cfg = gateway_config(
            tmp_path,
            broker.port,
            labels=LABEL_SETTINGS,
            scenario=scenario,
            extra=extra,
            web_port=web_port,
        )
        self.log = tmp_path / "gw.log"
        self.gateway: GatewayProcess | None = None
        self.campaigns = LabelCloud(self.cloud)
        self.control: VirtualStoreClient | None = None

    async def start(self) -> None:
        self.cloud.start()
        bus = self.store.start()
        self.control = await VirtualStoreClient.connect(bus)
        self.gateway = GatewayProcess(self.cfg, bus, self.log)
        self.gateway.start()

    async def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.ensure_stopped()
        if self.control is not None:
            await self.control.close()
        self.store.stop()
        self.cloud.stop()

    async def label_stats(self) -> dict[str, dict[str, object]]:
        assert self.control is not None
        return await self.control.label_stats()

    async def shown(self) -> int:
        """Labels that completed at least one transfer."""
        return sum(1 for s in (await self.label_stats()).values() if s["transfers"])

    async def refreshed(
        self, expected: dict[str, str], labels: set[str], timeout_s: float = 30
    ) -> dict[str, dict[str, object]]:
        """The labels' stats once every label of ``labels`` shows its expected content
        (panels show a transfer after their refresh), or when the time is up."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            stats = await self.label_stats()
            showing = sum(
                str(stats[address(lid)]["image_sha256"] or "")[:16] == expected[lid]
                for lid in labels
            )
            if showing == len(labels) or asyncio.get_running_loop().time() > deadline:
                return stats
            await asyncio.sleep(0.5)

    async def until_shown(self, count: int, timeout_s: float = 240) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while await self.shown() < count:
            assert asyncio.get_running_loop().time() < deadline, f"{count} labels not written"
            await asyncio.sleep(1)


def check_results(results: list[dict[str, object]], targets: set[str]) -> Counter[str]:
    """Exactly one result per target label; returns the statuses counted."""
    got = Counter(str(r["label_id"]) for r in results)
    assert set(got) == targets, (len(set(got)), len(targets))
    assert max(got.values()) == 1, [lid for lid, n in got.items() if n > 1][:5]
    return Counter(str(r["status"]) for r in results)


async def test_flaky_and_absent_labels_and_a_second_update_mid_campaign(
    tmp_path: Path, broker: Mosquitto
) -> None:
    # 10 % flaky (every 10th label loses 30 % of its transfers), 2 % never in range.
    scenario = scenario_variant(
        tmp_path / "supermarket-faults.toml",
        "flaky_share = 0.1\nfailure_probability = 0.3\naway_share = 0.02",
    )
    run = Run(tmp_path, broker, scenario)
    await run.start()
    try:
        absent = {lid for lid in run.labels if int(lid[-4:], 16) % 50 == 0}
        assert len(absent) == 40
        present = set(run.labels) - absent
        campaigns, cloud = run.campaigns, run.cloud
        await cloud.until(lambda: campaigns.labels_known() >= present, 120, "labels seen")
        assert not campaigns.labels_known() & absent
        binds = campaigns.bind([(lid, sku(n)) for n, lid in enumerate(run.labels)])
        await cloud.until(lambda: campaigns.stored(binds), 60, "bindings stored")
        first = campaigns.price_update([(sku(n), 1, price(n, 1)) for n in range(2000)])
        await run.until_shown(600)
        # A second price for 30 % of the SKUs while the first campaign is under way.
        second_skus = [n for n in range(2000) if n % 10 < 3]
        second = campaigns.price_update([(sku(n), 2, price(n, 2)) for n in second_skus])
        await cloud.until(lambda: campaigns.finished(first + second), 900, "campaigns finished")

        first_status = check_results(campaigns.results(first), set(run.labels))
        second_targets = {run.labels[n] for n in second_skus}
        second_status = check_results(campaigns.results(second), second_targets)
        print("first update:", dict(first_status), "second update:", dict(second_status))
        assert first_status["superseded"] > 0
        assert (
            first_status["displayed"] + first_status["superseded"] + first_status["failed"] == 2000
        )
        failed = {
            str(r["label_id"]) for r in campaigns.results(first + second) if r["status"] == "failed"
        }
        assert failed == absent  # the flaky labels recovered; only the absent ones failed
        assert all(r["error"] for r in campaigns.results(first + second) if r["status"] == "failed")

        newest = {sku(n): (1, price(n, 1)) for n in range(2000)}
        newest.update({sku(n): (2, price(n, 2)) for n in second_skus})
        expected = await asyncio.to_thread(expected_hashes, scenario, newest)
        stats = await run.refreshed(expected, present)
        wrong = [
            lid
            for lid in present
            if (stats[address(lid)]["image_sha256"] or "")[:16] != expected[lid]
        ]
        assert wrong == [], f"{len(wrong)} labels do not show the newest price, e.g. {wrong[:3]}"
        assert all(stats[address(lid)]["transfers"] == 0 for lid in absent)
        flaky = [lid for lid in present if int(lid[-4:], 16) % 10 == 0]
        assert len(flaky) == 160
    finally:
        await run.stop()
    assert run.cloud.violations == [], run.cloud.violations[:5]
    assert run.cloud.gaps("acks") == []


async def test_gateway_restarted_mid_campaign_resumes_without_writing_twice(
    tmp_path: Path, broker: Mosquitto
) -> None:
    run = Run(tmp_path, broker, SUPERMARKET)
    await run.start()
    try:
        campaigns, cloud = run.campaigns, run.cloud
        labels = set(run.labels)
        await cloud.until(lambda: campaigns.labels_known() >= labels, 180, "labels seen")
        binds = campaigns.bind([(lid, sku(n)) for n, lid in enumerate(run.labels)])
        await cloud.until(lambda: campaigns.stored(binds), 60, "bindings stored")
        prices = campaigns.price_update([(sku(n), 1, price(n, 1)) for n in range(2000)])
        await run.until_shown(600)
        assert run.gateway is not None
        assert await asyncio.to_thread(run.gateway.stop) == 0
        stopped_at = await run.shown()
        assert stopped_at < 2000, "the campaign ended before the restart"
        run.gateway.start()
        await cloud.until(lambda: campaigns.finished(prices), 600, "campaign finished")

        statuses = check_results(campaigns.results(prices), labels)
        assert statuses == Counter({"displayed": 2000})
        # The type is stored with the command: acks after the restart carry it too.
        types = {a["command_type"] for acks in campaigns.acks(prices).values() for a in acks}
        assert types == {"price-update"}
        newest = {sku(n): (1, price(n, 1)) for n in range(2000)}
        expected = await asyncio.to_thread(expected_hashes, SUPERMARKET, newest)
        stats = await run.refreshed(expected, labels)
        twice = [a for a, s in stats.items() if s["transfers"] != 1]
        assert twice == [], f"{len(twice)} labels written other than once, e.g. {twice[:3]}"
        wrong = [
            lid
            for lid in labels
            if (stats[address(lid)]["image_sha256"] or "")[:16] != expected[lid]
        ]
        assert wrong == [], wrong[:3]
        sessions = {s["session"] for s in cloud.of("/status") if s["state"] == "online"}
        assert len(sessions) == 2  # it really restarted
    finally:
        await run.stop()
    assert run.cloud.violations == [], run.cloud.violations[:5]
    assert run.cloud.gaps("acks") == []
