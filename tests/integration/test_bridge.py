"""The gateway against a real mosquitto (and the virtual store): contract conformance,
lifecycle, outages, commands."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from drivers.types import address_to_device_id
from gateway.alerts import Rule, Selector
from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.signing import command, signed, signed_command, trusted_keys
from gateway.ble.ingest import IngestOptions
from gateway.ble.scanner import ScannerOptions
from gateway.bridge.bridge import BridgeOptions
from gateway.bridge.mqtt import MqttOptions
from gateway.bridge.telemetry import TelemetryOptions
from gateway.commands.inbox import InboxOptions
from gateway.daemon.app import Gateway, GatewaySettings
from gateway.labels.pipeline import LabelOptions
from gateway.registry import RegistryOptions
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore
from gateway.sim.scenario import bthome_key, expected_devices
from tests.integration.conftest import LABEL_SPEEDUP, SMALL_STORE

PREFIX = "retail/v1/demo-store"


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


def settings(tmp_path: Path, port: int) -> GatewaySettings:
    keys = {
        address_to_device_id(e.address): bthome_key(42, e.address)
        for e in expected_devices(SMALL_STORE)
        if e.group == "bthome-encrypted"
    }
    return GatewaySettings(
        store_id="demo-store",
        gateway_id="gw-1",
        data_dir=tmp_path / "data",
        adapters=("hci0",),
        scanner=ScannerOptions(silence_timeout_s=10),
        ingest=IngestOptions(bthome_keys=keys),
        registry=RegistryOptions(offline_floor_s=5, tags={"c40101000001": ("fridge",)}),
        alert_rules=(
            Rule(
                name="fridge-too-warm",
                metric="temperature_c",
                op="above",
                threshold=5.0,
                clear=4.5,
                for_s=1.0,
                severity="critical",
                selector=Selector(tags=frozenset({"fridge"})),
            ),
        ),
        bridge=BridgeOptions(
            mqtt=MqttOptions(
                host="127.0.0.1",
                port=port,
                client_id="storegw-demo-store-gw-1",
                keepalive_s=5,
                reconnect_min_s=0.2,
                reconnect_max_s=1.0,
            ),
            status_heartbeat_s=2.0,
            state_min_interval_s=1.0,
            telemetry=TelemetryOptions(sample_interval_s=1.0, max_delay_s=1.0),
        ),
        inbox=InboxOptions("demo-store", "gw-1", trusted_keys()),
        labels=LabelOptions(notify_settle_s=1.0 / LABEL_SPEEDUP),
    )


@pytest.fixture
async def gateway(
    store: RunningStore, broker: Mosquitto, cloud: Cloud, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """Started after the cloud subscribed, so the cloud sees the birth."""
    gw = Gateway(settings(tmp_path, broker.port))
    await gw.start()
    yield gw
    await gw.stop()


async def until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


async def test_birth_states_telemetry_and_events_conform(gateway: Gateway, cloud: Cloud) -> None:
    n = len(expected_devices(SMALL_STORE))
    await until(lambda: len({m["device_id"] for m in cloud.of("/state")}) >= n, 20, "all states")
    await until(lambda: len(cloud.of("/telemetry")) >= 2, 20, "telemetry")
    births = [s for s in cloud.of("/status") if s["reason"] == "connected"]
    assert births and births[0]["session"] == 1 and births[0]["state"] == "online"
    await until(
        lambda: any(s["reason"] == "heartbeat" for s in cloud.of("/status")), 10, "heartbeat"
    )
    events = cloud.of("/events")
    assert {e["type"] for e in events} >= {"gateway.started", "device.new"}
    assert len([e for e in events if e["type"] == "device.new"]) == n
    for stream in ("telemetry", "events"):
        assert cloud.gaps(stream) == [], stream
    fridge = [s for s in cloud.of("/state") if s["device_id"] == "c40101000001"][-1]
    assert fridge["kind"] == "sensor" and "temperature_c" in fridge["readings"]
    label = [s for s in cloud.of("/state") if s["device_id"] == "ff0101000001"][-1]
    assert label["label"]["status"] == "unbound"
    assert {s["owner_epoch"] for s in cloud.of("/state")} == {1}  # one gateway: epoch 1
    assert all(not t["historical"] for t in cloud.of("/telemetry"))


async def test_broker_outage_loses_nothing(
    gateway: Gateway, broker: Mosquitto, cloud: Cloud
) -> None:
    await until(lambda: len(cloud.of("/telemetry")) >= 2, 20, "telemetry before")
    broker.stop()  # graceful: the broker keeps what it queued for the cloud
    await until(
        lambda: gateway.bridge is not None and not gateway.bridge.view()["connected"],
        15,
        "gateway notices",
    )
    await asyncio.sleep(4)  # sensors keep producing while the broker is away
    assert gateway.bridge is not None and gateway.bridge.outbox.status.pending > 0
    broker.start()
    await until(
        lambda: gateway.bridge is not None and gateway.bridge.outbox.status.pending == 0,
        30,
        "drained",
    )
    await asyncio.sleep(1)
    for stream in ("telemetry", "events"):
        assert cloud.gaps(stream) == [], stream
    assert any(t["historical"] for t in cloud.of("/telemetry"))
    sessions = sorted({s["session"] for s in cloud.of("/status")})
    assert sessions[-1] == 2


async def test_signed_commands_over_mqtt(gateway: Gateway, cloud: Cloud) -> None:
    await until(lambda: bool(cloud.of("/status")), 20, "online")
    cmd = command("resync", {})
    cmd["gateway_id"] = "gw-1"
    token = signed(cmd)
    cloud.publish(f"{PREFIX}/gw/gw-1/commands", token)
    cloud.publish(f"{PREFIX}/commands", b"{not even json")
    await until(lambda: len(cloud.of("/acks")) >= 3, 15, "acks")
    acks = cloud.of("/acks")
    mine = [a["status"] for a in acks if a["command_id"] == cmd["id"]]
    assert mine == ["accepted", "completed"]
    rejected = [a for a in acks if a["status"] == "rejected"]
    assert rejected[0]["error"]["code"] == "bad-signature" and rejected[0]["command_id"] is None
    cloud.publish(f"{PREFIX}/gw/gw-1/commands", token)  # the same message again
    await asyncio.sleep(1.5)
    assert [a["status"] for a in cloud.of("/acks") if a["command_id"] == cmd["id"]] == mine
    assert cloud.gaps("acks") == []


async def test_session_counter_survives_restart(
    store: RunningStore, broker: Mosquitto, cloud: Cloud, tmp_path: Path
) -> None:
    for expected in (1, 2):
        gw = Gateway(settings(tmp_path, broker.port))
        await gw.start()
        await until(
            lambda e=expected: any(s["session"] == e for s in cloud.of("/status")),
            15,
            f"session {expected}",
        )
        await gw.stop()
    shutdowns = [s for s in cloud.of("/status") if s["reason"] == "shutdown"]
    assert [s["session"] for s in shutdowns] == [1, 2]


async def test_alert_during_outage_is_delivered_later_with_original_times(
    gateway: Gateway, broker: Mosquitto, cloud: Cloud, control: VirtualStoreClient
) -> None:
    await until(lambda: len(cloud.of("/telemetry")) >= 1, 20, "online")
    broker.stop()
    await until(
        lambda: gateway.bridge is not None and not gateway.bridge.view()["connected"], 15, "offline"
    )
    await control.set_reading("C4:01:01:00:00:01", "temperature_c", 7.5)
    await until(lambda: bool(gateway.alerts.engine.firing()), 15, "alert fires")
    await control.set_reading("C4:01:01:00:00:01", "temperature_c", 3.0)
    await until(lambda: not gateway.alerts.engine.firing(), 15, "alert resolves")
    broker.start()
    await until(
        lambda: len([e for e in cloud.of("/events") if e["type"].startswith("alert.")]) >= 2,
        30,
        "alert events",
    )
    alerts = [e for e in cloud.of("/events") if e["type"].startswith("alert.")]
    assert [e["type"] for e in alerts] == ["alert.firing", "alert.resolved"]
    assert alerts[0]["alert"]["id"] == alerts[1]["alert"]["id"]
    assert all(e["historical"] for e in alerts)
    assert alerts[0]["ts"] == alerts[0]["alert"]["started_at"]
    assert alerts[1]["ts"] == alerts[1]["alert"]["resolved_at"]
    assert alerts[0]["seq"] < alerts[1]["seq"]


async def test_price_update_campaign_reaches_every_label(
    gateway: Gateway, cloud: Cloud, control: VirtualStoreClient
) -> None:
    import hashlib

    labels = [f"ff01010000{n:02x}" for n in range(1, 21)]
    await until(lambda: all(gateway.registry.get(i) is not None for i in labels), 20, "labels seen")
    bindings = [{"label_id": lid, "sku": f"sku-{n % 10}"} for n, lid in enumerate(labels)]
    cloud.publish(f"{PREFIX}/commands", signed_command("label-bind", {"bindings": bindings}))
    items = [
        {
            "sku": f"sku-{n}",
            "version": 1,
            "price": f"{n + 1}.90",
            "currency": "CNY",
            "name": f"商品 {n}",
        }
        for n in range(10)
    ]
    cloud.publish(f"{PREFIX}/commands", signed_command("price-update", {"items": items}))

    def finals() -> list[dict[str, object]]:
        return [
            a
            for a in cloud.of("/acks")
            if a["command_type"] == "price-update" and a["status"] in ("completed", "partial")
        ]

    await until(lambda: bool(finals()), 90, "campaign finished")
    results = [r for a in finals() for r in a["results"]]  # type: ignore[attr-defined]
    assert sorted(r["label_id"] for r in results) == sorted(labels)
    assert {r["status"] for r in results} == {"displayed"}, [
        r for r in results if r["status"] != "displayed"
    ]
    assert finals()[0]["status"] == "completed"
    assert gateway.labels is not None
    await asyncio.sleep(12.0 / LABEL_SPEEDUP + 0.5)  # the panels refresh
    for lid in labels:
        twin = gateway.labels.planner.twins[lid]
        assert twin.displayed is not None
        image = await control.label_image(":".join(lid[i : i + 2] for i in range(0, 12, 2)).upper())
        assert hashlib.sha256(image).hexdigest()[:16] == twin.displayed.content_hash

    def in_sync() -> set[str]:
        """Labels whose latest retained state says they show what they should."""
        latest = {s["device_id"]: s for s in cloud.of("/state")}
        return {
            lid
            for lid, s in latest.items()
            if (s.get("label") or {}).get("status") == "in-sync"  # type: ignore[union-attr]
            and s["label"]["displayed"]["content_hash"]  # type: ignore[index]
            == gateway.labels.planner.twins[str(lid)].displayed.content_hash  # type: ignore[union-attr]
        }

    # The pipeline's label changes reach the cloud as device states (through the registry).
    await until(lambda: in_sync() == set(labels), 15, "every label's state in sync")
    assert cloud.gaps("acks") == []
