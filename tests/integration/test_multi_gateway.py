"""Two gateways share a store: one owner per device, failover after a Will, an alert
that goes on across the hand-over (contract 1.1). Real processes, a real broker and the
BlueZ double: gw-a scans hci0 and gw-b scans hci1 of the same virtual store, whose
devices are placed so that each adapter hears some of them clearly better."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import virtual_store

pytestmark = pytest.mark.integration

SCENARIO = """
name = "two-boxes"
seed = 7
[[adapters]]
name = "hci0"
address = "00:1A:7D:DA:71:01"
[[adapters]]
name = "hci1"
address = "00:1A:7D:DA:71:02"
[[sensors]]                 # near gw-a: fridges
count = 3
format = "ruuvi"
name = "Fridge"
address_prefix = "C4:0A:01"
interval = "0.5s"
temperature_c = 3.5
temperature_noise = 0.0
wave_amplitude = 0.0
heard_by = { hci0 = -58, hci1 = -84 }
[[sensors]]                 # near gw-b
count = 3
format = "ruuvi"
address_prefix = "C4:0B:01"
interval = "0.5s"
heard_by = { hci0 = -84, hci1 = -58 }
[[beacons]]                 # between them
count = 3
kind = "ibeacon"
address_prefix = "C0:0C:01"
interval = "0.5s"
heard_by = { hci0 = -70, hci1 = -70 }
rssi_noise = 0.5
"""

NEAR_A = [f"c40a010000{n:02x}" for n in range(1, 4)]
NEAR_B = [f"c40b010000{n:02x}" for n in range(1, 4)]
BETWEEN = [f"c00c010000{n:02x}" for n in range(1, 4)]
FRIDGE = NEAR_A[0]
FRIDGE_ADDRESS = ":".join(FRIDGE[i : i + 2] for i in range(0, 12, 2)).upper()


def config(tmp_path: Path, gw: str, adapter: str, port: int) -> Path:
    path = tmp_path / f"{gw}.toml"
    path.write_text(f"""
store_id = "hyper-1"
gateway_id = "{gw}"
data_dir = "{tmp_path / gw}"
[ble]
adapters = ["{adapter}"]
[registry]
offline_floor = "5s"
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = "5s"
reconnect_min = "0.2s"
reconnect_max = "1s"
[device_state]
min_interval = "0.5s"
status_heartbeat = "5s"
[multi_gateway]
enabled = true
margin_db = 8
hold = "5s"
[[alerts.rules]]
name = "fridge-too-warm"
metric = "temperature_c"
above = 8.0
clear = 6.0
severity = "critical"
devices = {{ ids = ["{FRIDGE}"] }}
[web]
enabled = false
[logging]
level = "info"
""")
    return path


async def test_one_owner_per_device_failover_and_the_alert_goes_on(tmp_path: Path) -> None:
    scenario = tmp_path / "two-boxes.toml"
    scenario.write_text(SCENARIO)
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port)
    cloud.start()
    async with virtual_store(scenario, device_timeout_s=60) as store:
        control = await VirtualStoreClient.connect(store.bus_address)
        gws = {
            gw: GatewayProcess(
                config(tmp_path, gw, adapter, broker.port),
                store.bus_address,
                tmp_path / f"{gw}.log",
            )
            for gw, adapter in (("gw-a", "hci0"), ("gw-b", "hci1"))
        }
        try:
            for g in gws.values():
                g.start()

            def owner(device: str) -> str | None:
                return cloud.owners().owner_of(device)

            everything = NEAR_A + NEAR_B + BETWEEN
            await cloud.until(
                lambda: all(owner(d) is not None for d in everything), 60, "every device owned"
            )
            await asyncio.sleep(8)  # longer than the hold time: nothing must move
            check = cloud.owners()
            assert [owner(d) for d in NEAR_A] == ["gw-a"] * 3, check.kept
            assert [owner(d) for d in NEAR_B] == ["gw-b"] * 3, check.kept
            between = {d: owner(d) for d in BETWEEN}
            # A device heard first by the gateway that started first may move once, to
            # the one that hears it clearly better: epoch 1 or 2, never more.
            epochs = {d: check.kept[d][0] for d in everything}
            assert set(epochs.values()) <= {1, 2}, epochs
            assert check.shared_epochs() == {}, check.shared_epochs()

            # The fridge near gw-a warms up: gw-a, its owner, fires (and only gw-a).
            await control.set_reading(FRIDGE_ADDRESS, "temperature_c", 11.0)

            def alert_events(kind: str) -> list[dict[str, object]]:
                return [
                    e
                    for e in cloud.of("/events")
                    if e["type"] == f"alert.{kind}" and e["device_id"] == FRIDGE
                ]

            await cloud.until(lambda: alert_events("firing"), 30, "the fridge alert fired")
            fired = alert_events("firing")[0]
            assert fired["gateway_id"] == "gw-a"
            await asyncio.sleep(1.5)  # the claim carries the alert now

            # gw-a dies: after its Will, gw-b takes over everything it hears.
            gws["gw-a"].kill()
            await cloud.until(
                lambda: all(owner(d) == "gw-b" for d in everything), 45, "gw-b owns all"
            )
            check = cloud.owners()
            assert all(check.kept[d][0] == epochs[d] + 1 for d in NEAR_A), check.kept
            assert all(check.kept[d][0] == epochs[d] + (between[d] == "gw-a") for d in BETWEEN), (
                between,
                check.kept,
            )
            assert all(check.kept[d][0] == epochs[d] for d in NEAR_B), check.kept
            assert check.shared_epochs() == {}, check.shared_epochs()

            # The fridge cools down: gw-b resolves the alert gw-a fired, same id, once.
            await control.set_reading(FRIDGE_ADDRESS, "temperature_c", 3.0)
            await cloud.until(lambda: alert_events("resolved"), 30, "the fridge alert resolved")
            await asyncio.sleep(2)
            resolved = alert_events("resolved")
            assert len(alert_events("firing")) == 1 and len(resolved) == 1, cloud.of("/events")
            assert resolved[0]["gateway_id"] == "gw-b"
            assert resolved[0]["alert"]["id"] == fired["alert"]["id"]  # type: ignore[index]
            assert cloud.violations == [], cloud.violations[:5]
            assert cloud.claims_seen > 0
        finally:
            for g in gws.values():
                g.ensure_stopped()
            await control.close()
            cloud.stop()
            broker.stop()


async def test_a_gateway_added_to_a_running_store_takes_over_what_it_hears_better(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "two-boxes.toml"
    scenario.write_text(SCENARIO)
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port)
    cloud.start()
    async with virtual_store(scenario, device_timeout_s=60) as store:
        gws = {
            gw: GatewayProcess(
                config(tmp_path, gw, adapter, broker.port),
                store.bus_address,
                tmp_path / f"{gw}.log",
            )
            for gw, adapter in (("gw-a", "hci0"), ("gw-b", "hci1"))
        }
        try:
            everything = NEAR_A + NEAR_B + BETWEEN
            gws["gw-a"].start()  # alone at first: it owns everything it hears
            await cloud.until(
                lambda: all(cloud.owners().owner_of(d) == "gw-a" for d in everything),
                60,
                "gw-a owns everything",
            )
            gws["gw-b"].start()
            await cloud.until(
                lambda: all(cloud.owners().owner_of(d) == "gw-b" for d in NEAR_B),
                60,
                "gw-b took over what it hears better",
            )
            await asyncio.sleep(10)  # twice the hold time: nothing else moves
            check = cloud.owners()
            assert [check.owner_of(d) for d in NEAR_A + BETWEEN] == ["gw-a"] * 6, check.kept
            assert all(check.kept[d][0] == 2 for d in NEAR_B), check.kept
            assert all(check.kept[d][0] == 1 for d in NEAR_A + BETWEEN), check.kept
            assert check.shared_epochs() == {}, check.shared_epochs()
            assert cloud.violations == [], cloud.violations[:5]
        finally:
            for g in gws.values():
                g.ensure_stopped()
            cloud.stop()
            broker.stop()
