"""A label campaign in a store with two gateways on one floor (contract 1.1): each label
written by its owner only and answered once across the gateways; then a gateway is
SIGKILLed mid-campaign and away for longer than the others' offline grace: the other
takes over its labels that it hears and finishes them.

Real processes on real buses: the virtual floor (``two-box-floor.toml``: box-a and
box-b 30 m apart, labels beside each box and two in between), a broker, the cloud
checker and one ``store-gateway run`` per box."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.campaigns import label_ids
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.bench.rig.signing import command, public_x, signed
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import virtual_floor

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FLOOR = ROOT / "config" / "scenarios" / "two-box-floor.toml"
STORE = "two-box"
PREFIX = f"retail/v1/{STORE}"
LABELS = label_ids(FLOOR)
NEAR_A = [i for i in LABELS if i.startswith("ff0a01")]
NEAR_B = [i for i in LABELS if i.startswith("ff0a02")]
BETWEEN = [i for i in LABELS if i.startswith("ff0a03")]
ADAPTERS = {"box-a": ["hci0", "hci1"], "box-b": ["hci0"]}


def config(tmp_path: Path, box: str, port: int) -> Path:
    path = tmp_path / f"{box}.toml"
    path.write_text(f"""
store_id = "{STORE}"
gateway_id = "{box}"
data_dir = "{tmp_path / box}"
[ble]
adapters = {ADAPTERS[box]!r}
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
hold = "5s"
[security]
[[security.trusted_keys]]
kid = "cloud-1"
x = "{public_x()}"
[labels]
budget = "90s"
notify_settle = "0.1s"
[web]
enabled = false
[logging]
level = "info"
""")
    return path


def address(label_id: str) -> str:
    return ":".join(label_id[i : i + 2] for i in range(0, 12, 2)).upper()


def finals(cloud: Cloud, command_id: str) -> list[dict[str, Any]]:
    """The command's final acks, each once (delivery is at least once: the cloud dedupes
    on msg_id)."""
    unique = {
        a["msg_id"]: a
        for a in cloud.of("/acks")
        if a["command_id"] == command_id and a["status"] in ("completed", "partial")
    }
    return list(unique.values())


def answers(cloud: Cloud, command_id: str) -> dict[str, list[tuple[str, str]]]:
    """Per label: (gateway, status) of every result the cloud received for the command."""
    out: dict[str, list[tuple[str, str]]] = {}
    for ack in finals(cloud, command_id):
        for r in ack["results"]:
            out.setdefault(r["label_id"], []).append((ack["gateway_id"], r["status"]))
    return out


@pytest.mark.timeout(300)
async def test_labels_are_written_by_their_owner_and_answered_once(tmp_path: Path) -> None:
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port)
    cloud.start()
    async with virtual_floor(FLOOR, device_timeout_s=60) as floor:
        control = await VirtualStoreClient.connect(floor.bus_address("box-a"))
        gws = {
            box: GatewayProcess(
                config(tmp_path, box, broker.port),
                floor.bus_address(box),
                tmp_path / f"{box}.log",
            )
            for box in ("box-a", "box-b")
        }
        try:
            for g in gws.values():
                g.start()
            owners = cloud.owners
            await cloud.until(
                lambda: all(owners().owner_of(i) is not None for i in LABELS), 60, "labels owned"
            )
            assert {owners().owner_of(i) for i in NEAR_A} == {"box-a"}
            assert {owners().owner_of(i) for i in NEAR_B} == {"box-b"}

            bind = command(
                "label-bind",
                {"bindings": [{"label_id": i, "sku": "sku-1"} for i in LABELS]},
                store_id=STORE,
            )
            price = command(
                "price-update",
                {"items": [{"sku": "sku-1", "version": 1, "price": "3.90", "currency": "CNY"}]},
                store_id=STORE,
            )
            cloud.publish(f"{PREFIX}/commands", signed(bind))
            cloud.publish(f"{PREFIX}/commands", signed(price))
            await cloud.until(
                lambda: {a["gateway_id"] for a in finals(cloud, price["id"])} == set(gws),
                90,
                "both gateways' final acks",
            )
            got = answers(cloud, price["id"])
            assert sorted(got) == sorted(LABELS), got
            assert all(len(v) == 1 and v[0][1] == "displayed" for v in got.values()), got
            assert {got[i][0][0] for i in NEAR_A} == {"box-a"}
            assert {got[i][0][0] for i in NEAR_B} == {"box-b"}
            await asyncio.sleep(2)  # the panels refresh after confirming
            stats = await control.label_stats()
            refreshes = {i: stats[address(i)]["transfers"] for i in LABELS}
            assert set(refreshes.values()) == {1}, refreshes  # each written once...
            for i in LABELS:  # ...by the box whose gateway answered it
                assert list(stats[address(i)]["boxes"]) == [got[i][0][0]], stats[address(i)]

            # A second price; box-a's gateway dies as the campaign starts.
            price2 = command(
                "price-update",
                {"items": [{"sku": "sku-1", "version": 2, "price": "4.20", "currency": "CNY"}]},
                store_id=STORE,
            )
            # A gateway owning a label between the boxes (the other hears it too, and which
            # of the two owns it is radio's choice) dies.
            victim = owners().owner_of(BETWEEN[0])
            assert victim is not None
            survivor = next(box for box in gws if box != victim)
            near = {"box-a": NEAR_A, "box-b": NEAR_B}
            cloud.publish(f"{PREFIX}/commands", signed(price2))
            await asyncio.sleep(0.3)
            gws[victim].kill()
            # Away longer than the survivor's offline grace (15 s): the survivor takes over
            # what it hears of the victim's. Started again, the victim lets go of the link
            # its dead run left up, sees the higher epochs and withdraws its claims there.
            await asyncio.sleep(25)
            gws[victim].start()
            await cloud.until(
                lambda: (
                    survivor in {a["gateway_id"] for a in finals(cloud, price2["id"])}
                    and all(i in answers(cloud, price2["id"]) for i in LABELS)
                ),
                120,
                "every label of the second campaign answered",
            )
            await asyncio.sleep(2)
            got = answers(cloud, price2["id"])
            assert all(len(v) == 1 for v in got.values()), got  # once across the gateways
            # What the survivor hears is finished by it: the victim's labels among them
            # taken over (the victim died 0.3 s into the campaign, before it wrote any) ...
            for i in near[survivor] + BETWEEN:
                assert got[i] == [(survivor, "displayed")], (victim, i, got[i])
            # ... what only the victim hears is finished by it once it is back (had it not
            # come back within the labels' budget, the survivor would answer them failed:
            # nobody owns them).
            for i in near[victim]:
                assert got[i][0] in ((victim, "displayed"), (survivor, "failed")), (i, got[i])
            print("second campaign: answers", sorted(got.items()))
            stats = await control.label_stats()
            again = Counter(stats[address(i)]["transfers"] - refreshes[i] for i in LABELS)
            print("second campaign: labels by refreshes", dict(again))
            assert max(again) <= 2 and sum(n for k, n in again.items() if k == 2) <= 2
            check = cloud.owners()
            assert check.shared_epochs() == {}, check.shared_epochs()
            assert cloud.violations == [], cloud.violations[:5]
        finally:
            for g in gws.values():
                g.ensure_stopped()
            await control.close()
            cloud.stop()
            broker.stop()
