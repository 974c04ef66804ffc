"""Shelf labels in a store with two adapters: each label is written through the adapter
that hears it best, and a label that restarts gets its content again."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.signing import signed_command
from gateway.commands.model import TYPES
from gateway.daemon.app import Gateway
from gateway.labels import refusals
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore, virtual_store
from gateway.web.metrics import render
from tests.integration.test_bridge import PREFIX, settings

SCENARIO = """
name = "two-aisles"
seed = 3
label_speedup = 20

[[adapters]]
name = "hci0"
address = "00:1A:7D:DA:72:01"

[[adapters]]
name = "hci1"
address = "00:1A:7D:DA:72:02"

[[labels]]                  # 2.9" BWR as real ones advertise: raw planes (hass-gicisky)
count = 3
hardware = 0x4033
address_prefix = "FF:03:01"
interval = "0.5s"
heard_by = { hci0 = -60, hci1 = -86 }

[[labels]]                  # 2.1" BWR
count = 3
hardware = 0x410B
address_prefix = "FF:03:02"
interval = "0.5s"
heard_by = { hci0 = -87, hci1 = -61 }

[[labels]]                  # 7.5" BWR, software 0x01: QuickLZ only
count = 1
hardware = 0x012B
firmware = 0x0101
address_prefix = "FF:03:03"
interval = "0.5s"
heard_by = { hci0 = -62, hci1 = -90 }

[[labels]]                  # 3.7" BWR, software 0x81: the per-line container
count = 1
hardware = 0x022B
firmware = 0x8101
address_prefix = "FF:03:04"
interval = "0.5s"
heard_by = { hci0 = -88, hci1 = -63 }

[[labels]]                  # no MTU exchange on its link: 20-byte writes
count = 1
hardware = 0x4033
mtu = 23
address_prefix = "FF:03:05"
interval = "0.5s"
heard_by = { hci0 = -89, hci1 = -64 }

[[labels]]                  # old firmware without QuickLZ: takes it, never confirms; then raw
count = 1
hardware = 0x4033
firmware = 0x0101
takes_quicklz = false
finish = "done"
address_prefix = "FF:03:06"
interval = "0.5s"
heard_by = { hci0 = -61, hci1 = -85 }

[[labels]]                  # an id outside the panel table
count = 1
hardware = 0x40F0
address_prefix = "FF:03:07"
interval = "0.5s"
heard_by = { hci0 = -63, hci1 = -85 }

[[opendisplay]]             # another family: recognised, not written by campaigns yet
count = 1
address_prefix = "FF:03:08"
interval = "0.5s"
heard_by = { hci0 = -62, hci1 = -84 }
"""
NEAR_HCI0 = [f"ff03010000{n:02x}" for n in (1, 2, 3)] + ["ff0303000001", "ff0306000001"]
NEAR_HCI1 = [f"ff03020000{n:02x}" for n in (1, 2, 3)] + ["ff0304000001", "ff0305000001"]
LABELS = NEAR_HCI0 + NEAR_HCI1
UNKNOWN = "ff0307000001"
OPENDISPLAY = "ff0308000001"
CONTAINERS = {"quicklz": 1, "lines": 1, "raw": 8}  # completed transfers by container
NO_QUICKLZ = "ff0306000001"


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
    base = settings(tmp_path, broker.port)
    # Labels 20x faster: they settle and confirm sooner.
    labels = dataclasses.replace(base.labels, notify_settle_s=0.05, confirm_timeout_s=3.0)
    gw = Gateway(dataclasses.replace(base, adapters=("hci0", "hci1"), labels=labels))
    await gw.start()
    yield gw
    await gw.stop()


async def campaign(gateway: Gateway, cloud: Cloud) -> None:
    await cloud.until(
        lambda: all(
            (d := gateway.registry.get(i)) is not None
            and d.heard_by is not None
            and len(d.heard_by) == 2
            for i in LABELS
        ),
        20,
        "every label heard by both adapters",
    )
    targets = [*LABELS, UNKNOWN, OPENDISPLAY]
    bindings = [{"label_id": lid, "sku": f"sku-{n}"} for n, lid in enumerate(targets)]
    cloud.publish(f"{PREFIX}/commands", signed_command("label-bind", {"bindings": bindings}))
    items = [
        {"sku": f"sku-{n}", "version": 1, "price": f"{n}.50", "currency": "EUR", "name": "Tee"}
        for n in range(len(targets))
    ]
    cloud.publish(f"{PREFIX}/commands", signed_command("price-update", {"items": items}))

    def final() -> list[dict[str, Any]]:
        return [
            a
            for a in cloud.of("/acks")
            if a["command_type"] == "price-update" and a["status"] in ("completed", "partial")
        ]

    await cloud.until(lambda: bool(final()), 90, "campaign finished")
    results = {r["label_id"]: r for a in final() for r in a["results"]}
    assert {lid for lid, r in results.items() if r["status"] == "displayed"} == set(LABELS)
    failed = results[UNKNOWN]  # refused at once, with the reason
    assert failed["status"] == "failed"
    assert failed["error"].startswith("unsupported panel 0x00f0"), failed
    other = results[OPENDISPLAY]  # heard as a label of its family, and told so
    assert other["status"] == "failed" and other["error"].startswith("opendisplay label"), other
    device = gateway.registry.get(OPENDISPLAY)
    assert device is not None and device.model == "opendisplay" and device.battery_mv == 2950


async def test_each_label_is_written_through_the_adapter_that_hears_it_best(
    gateway: Gateway, cloud: Cloud, control: VirtualStoreClient
) -> None:
    await campaign(gateway, cloud)
    stats = await control.label_stats()
    for lid in NEAR_HCI0:  # once; the label without QuickLZ twice (QuickLZ, then raw)
        assert stats[address(lid)]["connects"] == {"hci0": 2 if lid == NO_QUICKLZ else 1}, lid
    for lid in NEAR_HCI1:
        assert stats[address(lid)]["connects"] == {"hci1": 1}, lid
    assert gateway.labels is not None
    await asyncio.sleep(1.0)  # the panels refresh (12 s on real labels, 0.6 s here)
    stats = await control.label_stats()
    for lid in LABELS:  # every panel shows exactly what was rendered for it
        twin = gateway.labels.planner.twins[lid]
        assert twin.displayed is not None
        assert (stats[address(lid)]["image_sha256"] or "")[:16] == twin.displayed.content_hash
        # One transfer, lasting at least the connect, the gateway's wait and three commands.
        (seconds,) = stats[address(lid)]["transfer_seconds"]
        assert 0.05 + 0.05 + 3 * 0.0085 <= seconds < 30
    # The gateway's own account of where its attempts spent their time (/metrics).
    metrics = {
        (s.name, s.labels.get("phase") or s.labels.get("container")): s.value
        for family in text_string_to_metric_families(render(gateway.view).decode())
        for s in family.samples
    }
    assert metrics[("storegw_label_attempts_total", None)] == len(LABELS) + 1  # + the QuickLZ
    transfer = metrics[("storegw_label_attempt_phase_seconds_total", "transfer")]
    assert transfer >= len(LABELS) * 0.05  # each waited for notifications to settle
    assert metrics[("storegw_label_attempt_phase_seconds_total", "connect")] > 0
    for container, n in CONTAINERS.items():
        assert metrics[("storegw_label_transfers_total", container)] == n, container
    parts = {c: metrics[("storegw_label_transfer_parts_total", c)] for c in CONTAINERS}
    assert parts["raw"] > 592  # the 20-byte label alone takes 592 parts
    # The label that did not read QuickLZ is remembered, also on disk, and shows raw planes.
    assert stats[address(NO_QUICKLZ)]["containers"] == {"raw": 1}
    assert [c.value for c in gateway.labels.refusals.of(NO_QUICKLZ)] == ["quicklz"]
    saved = await gateway.db.read(refusals.load)
    assert saved == [(NO_QUICKLZ, 0x0101, "quicklz")]


async def test_a_restarted_label_gets_its_content_again(
    gateway: Gateway, cloud: Cloud, control: VirtualStoreClient
) -> None:
    await campaign(gateway, cloud)
    assert gateway.labels is not None
    twins = gateway.labels.planner.twins
    restarted, untouched = LABELS[0], LABELS[-1]
    shown = twins[restarted].displayed
    assert shown is not None
    await control.update_label_firmware(address(restarted), 0x8102)
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
    from drivers.labels.containers import Container
    from drivers.labels.gicisky import GiciskyTransfer, Payload
    from gateway.labels.jobs import Outcome
    from gateway.labels.scheduler import ConnectGate
    from gateway.labels.session import run_machine

    assert (await control.status())["adapters"]["hci0"]["devices"] == 0
    started = asyncio.get_running_loop().time()
    machine = GiciskyTransfer([Payload(Container.RAW, bytes(480))])
    result = await run_machine(machine, LABELS[1], "hci0", ConnectGate())
    assert result.outcome is Outcome.NOT_SEEN, result
    assert asyncio.get_running_loop().time() - started < 2.0


async def test_a_command_accepted_before_a_stop_is_carried_out_after_the_restart(
    aisles: RunningStore, broker: Mosquitto, tmp_path: Path
) -> None:
    """Accepted means durable: a command stored and acknowledged, then a crash before it
    was carried out, is carried out when the gateway starts again (and only once)."""
    base = settings(tmp_path, broker.port)
    first = Gateway(base)
    await first.db.open()
    assert first.bridge is not None and first.inbox is not None
    await first.bridge.open()

    async def crashed(command: object) -> None:
        raise SystemExit  # stands for the process dying right after the commit

    first.inbox.route(dict.fromkeys(TYPES, crashed))
    bind = signed_command("label-bind", {"bindings": [{"label_id": LABELS[0], "sku": "A"}]})
    with pytest.raises(SystemExit):
        await first.inbox.receive(bind)
    await first.db.close()

    gw = Gateway(base)
    await gw.start()
    try:
        assert gw.labels is not None and gw.inbox is not None
        assert gw.labels.planner.bindings[LABELS[0]].sku == "A"
        assert await gw.inbox.pending() == []
    finally:
        await gw.stop()
    again = Gateway(base)  # a second restart finds nothing left to do
    await again.start()
    try:
        assert again.inbox is not None and await again.inbox.pending() == []
    finally:
        await again.stop()
