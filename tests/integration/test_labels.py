"""Shelf labels in a store with two adapters: each label is written through the adapter
that hears it best, and a label that restarts gets its content again."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.daemon.app import Gateway
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore, virtual_store
from gateway.web.metrics import GatewayCollector
from tests.helpers.broker import Mosquitto
from tests.helpers.cloud import Cloud
from tests.helpers.commands import signed_command
from tests.integration.test_bridge import PREFIX, settings

SCENARIO = """
name = "two-aisles"
seed = 3

[[adapters]]
name = "hci0"
address = "00:1A:7D:DA:72:01"

[[adapters]]
name = "hci1"
address = "00:1A:7D:DA:72:02"

[[labels]]
count = 3
panel = "gicisky-bwr-2.9"
address_prefix = "FF:03:01"
interval = "0.5s"
heard_by = { hci0 = -60, hci1 = -86 }

[[labels]]
count = 3
panel = "gicisky-bwr-2.1"
address_prefix = "FF:03:02"
interval = "0.5s"
heard_by = { hci0 = -87, hci1 = -61 }

[[labels]]                  # a 7.5" panel: its image goes in the compressed-transfer container
count = 1
panel = "gicisky-bwr-7.5"
address_prefix = "FF:03:03"
interval = "0.5s"
heard_by = { hci0 = -62, hci1 = -90 }
"""
NEAR_HCI0 = [f"ff03010000{n:02x}" for n in (1, 2, 3)] + ["ff0303000001"]
NEAR_HCI1 = [f"ff03020000{n:02x}" for n in (1, 2, 3)]
LABELS = NEAR_HCI0 + NEAR_HCI1


def address(label_id: str) -> str:
    return ":".join(label_id[i : i + 2] for i in range(0, 12, 2)).upper()


@pytest.fixture
async def aisles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningStore]:
    path = tmp_path / "two-aisles.toml"
    path.write_text(SCENARIO)
    async with virtual_store(path, device_timeout_s=5.0) as running:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", running.bus_address)
        yield running


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    m = Mosquitto(tmp_path / "broker")
    m.start()
    yield m
    m.stop()


@pytest.fixture
def cloud(broker: Mosquitto) -> Iterator[Cloud]:
    c = Cloud(broker.port)
    c.start()
    yield c
    c.stop()
    assert c.violations == [], c.violations[:5]


@pytest.fixture
async def control(aisles: RunningStore) -> AsyncIterator[VirtualStoreClient]:
    client = await VirtualStoreClient.connect(aisles.bus_address)
    yield client
    await client.close()


@pytest.fixture
async def gateway(
    aisles: RunningStore, broker: Mosquitto, cloud: Cloud, tmp_path: Path
) -> AsyncIterator[Gateway]:
    gw = Gateway(dataclasses.replace(settings(tmp_path, broker.port), adapters=("hci0", "hci1")))
    await gw.start()
    yield gw
    await gw.stop()


async def campaign(gateway: Gateway, cloud: Cloud) -> None:
    await cloud.until(
        lambda: all(
            (d := gateway.registry.get(i)) is not None and len(d.heard_by) == 2 for i in LABELS
        ),
        20,
        "every label heard by both adapters",
    )
    bindings = [{"label_id": lid, "sku": f"sku-{n}"} for n, lid in enumerate(LABELS)]
    cloud.publish(f"{PREFIX}/commands", signed_command("label-bind", {"bindings": bindings}))
    items = [
        {"sku": f"sku-{n}", "version": 1, "price": f"{n}.50", "currency": "EUR", "name": "Tee"}
        for n in range(len(LABELS))
    ]
    cloud.publish(f"{PREFIX}/commands", signed_command("price-update", {"items": items}))
    await cloud.until(
        lambda: any(
            a["command_type"] == "price-update" and a["status"] == "completed"
            for a in cloud.of("/acks")
        ),
        60,
        "campaign completed",
    )


async def test_each_label_is_written_through_the_adapter_that_hears_it_best(
    gateway: Gateway, cloud: Cloud, control: VirtualStoreClient
) -> None:
    await campaign(gateway, cloud)
    stats = await control.label_stats()
    for lid in NEAR_HCI0:
        assert stats[address(lid)]["connects"] == {"hci0": 1}, lid
    for lid in NEAR_HCI1:
        assert stats[address(lid)]["connects"] == {"hci1": 1}, lid
    assert gateway.labels is not None
    for lid in LABELS:  # every panel shows exactly what was rendered for it, 7.5" included
        twin = gateway.labels.planner.twins[lid]
        assert twin.displayed is not None
        assert (stats[address(lid)]["image_sha256"] or "")[:16] == twin.displayed.content_hash
        # One transfer, lasting at least the scenario's connect latency plus refresh.
        (seconds,) = stats[address(lid)]["transfer_seconds"]
        assert 0.55 <= seconds < 30
    # The gateway's own account of where its attempts spent their time (/metrics).
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gateway))
    metrics = {
        (s.name, s.labels.get("phase")): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert metrics[("storegw_label_attempts_total", None)] == len(LABELS)
    transfer = metrics[("storegw_label_attempt_phase_seconds_total", "transfer")]
    assert transfer >= 0.5 * len(LABELS)  # each waited for its display refresh
    assert metrics[("storegw_label_attempt_phase_seconds_total", "connect")] > 0


async def test_a_restarted_label_gets_its_content_again(
    gateway: Gateway, cloud: Cloud, control: VirtualStoreClient
) -> None:
    await campaign(gateway, cloud)
    assert gateway.labels is not None
    twins = gateway.labels.planner.twins
    restarted, untouched = LABELS[0], LABELS[-1]
    shown = twins[restarted].displayed
    assert shown is not None
    await control.update_label_firmware(address(restarted), 8)
    assert await control.label_image(address(restarted)) == b""  # start screen

    async def written_again() -> bool:
        stats = (await control.label_stats())[address(restarted)]
        return stats["transfers"] == 2 and stats["image_sha256"] is not None

    deadline = asyncio.get_running_loop().time() + 30
    while not await written_again():
        assert asyncio.get_running_loop().time() < deadline, "restarted label not rewritten"
        await asyncio.sleep(0.2)
    image = await control.label_image(address(restarted))
    assert hashlib.sha256(image).hexdigest()[:16] == shown.content_hash
    await cloud.until(lambda: twins[restarted].displayed == shown, 10, "twin in sync again")
    assert (await control.label_stats())[address(untouched)]["transfers"] == 1


async def test_a_label_bluez_has_no_object_for_waits_until_seen(
    aisles: RunningStore, control: VirtualStoreClient
) -> None:
    """Nothing scans here, so BlueZ holds no device objects: the connect must say
    "not seen" at once instead of scanning for the label while holding the adapter."""
    from drivers.labels.gicisky import GiciskyTransfer
    from gateway.labels.jobs import Outcome
    from gateway.labels.scheduler import ConnectGate
    from gateway.labels.session import run_machine

    assert (await control.status())["adapters"]["hci0"]["devices"] == 0
    started = asyncio.get_running_loop().time()
    result = await run_machine(GiciskyTransfer(bytes(480)), LABELS[1], "hci0", ConnectGate())
    assert result.outcome is Outcome.NOT_SEEN, result
    assert asyncio.get_running_loop().time() - started < 2.0
