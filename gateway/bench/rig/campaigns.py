"""Label campaigns in the virtual supermarket, driven from the cloud side.

Used by the campaign benchmark (``scripts/bench labels``) and the acceptance
runs (tests/acceptance): the store and the gateway run as processes, the
cloud binds labels and sends signed price updates in chunks that stay under the
contract's 128 KiB, and reads the results label by label from the acks.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.labels import containers
from drivers.labels.gicisky import MAX_PART_DATA, PART_INDEX_BYTES
from drivers.labels.panels import ID_MASK, PANELS
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.signing import command, public_x, signed
from gateway.labels.render import LabelContent, render
from gateway.sim.devices.labels import MAX_BLOCK
from gateway.sim.scenario import LabelGroup, device_address, read_scenario

ROOT = Path(__file__).resolve().parents[3]
SUPERMARKET = ROOT / "config" / "scenarios" / "supermarket.toml"
STORE_ID = "supermarket"
PREFIX = f"retail/v1/{STORE_ID}"
CHUNK = 400  # bindings or items per command: ~60 KiB signed, far below 128 KiB


def scenario_variant(out: Path, label_keys: str, base: Path = SUPERMARKET) -> Path:
    """The scenario with extra keys for every label group (e.g. flaky or absent shares)."""
    header = re.compile(r"^\[\[labels\]\].*$", re.MULTILINE)
    text = header.sub(lambda m: f"{m.group(0)}\n{label_keys}", base.read_text())
    out.write_text(text)
    return out


def label_ids(scenario: Path) -> list[str]:
    spec = read_scenario(scenario)
    return [
        device_address(g.address_prefix, n).replace(":", "").lower()
        for g in spec.labels
        for n in range(1, g.count + 1)
    ]


def notify_settle(scenario: Path) -> float:
    """The gateway's wait after enabling notifications, at the scenario's label speed-up."""
    return 1.0 / read_scenario(scenario).label_speedup


def gateway_config(
    work: Path,
    port: int,
    *,
    slots: int = 5,
    labels: str = "",
    extra: str = "",
    web_port: int | None = None,
    scenario: Path = SUPERMARKET,
    gateway_id: str = "gw-1",
    store_id: str = STORE_ID,
    adapters: tuple[str, ...] = ("hci0", "hci1"),
    log_level: str = "warning",
) -> Path:
    """The gateway's configuration; ``web_port``: serve the web app (and /metrics) there."""
    web = "enabled = false" if web_port is None else f'bind = "127.0.0.1"\nport = {web_port}'
    labels = f'notify_settle = "{notify_settle(scenario)}s"\n{labels}'
    path = work / "gateway.toml"
    path.write_text(f"""
store_id = "{store_id}"
gateway_id = "{gateway_id}"
data_dir = "{work / "data"}"
[ble]
adapters = {list(adapters)!r}
[registry]
offline_floor = "30s"
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = "5s"
reconnect_min = "0.2s"
reconnect_max = "1s"
[telemetry]
sample_interval = "30s"
[device_state]
min_interval = "5s"
[security]
[[security.trusted_keys]]
kid = "cloud-1"
x = "{public_x()}"
[labels]
slots_per_adapter = {slots}
{labels}
[web]
{web}
[logging]
level = "{log_level}"
{extra}
""")
    return path


SAMPLE = LabelContent(sku="sku-00042", price="43.42", currency="CNY", name="商品 sku-00042")


def transfer_parts(group: LabelGroup, container: containers.Container | None = None) -> int:
    """Image writes for one label of the group: a typical price in the container the label
    takes first (or in ``container``), cut into parts of the size its link allows."""
    panel = PANELS[group.hardware & ID_MASK]
    packed = render(SAMPLE, panel).packed
    if container is None:
        container = containers.accepted(panel, group.firmware, group.hardware & ~ID_MASK)[0]
    block = min(MAX_BLOCK, group.mtu - 3)
    part = min(MAX_PART_DATA, block - PART_INDEX_BYTES)
    return math.ceil(len(containers.encode(container, panel, packed)) / part)


def transfer_seconds(
    group: LabelGroup, speedup: float, container: containers.Container | None = None
) -> float:
    """One label's transfer in the scenario, in wall-clock seconds: connect, the gateway's
    wait for notifications, three commands and every part (one round trip each). The
    panel's refresh comes after the label confirmed, with the link already free."""
    parts = transfer_parts(group, container)
    store = group.connect_latency + 1.0 + (3 + parts) * group.part_rtt
    return store / speedup


def ideal_makespan(
    scenario: Path, slots_per_adapter: int, container: containers.Container | None = None
) -> tuple[float, float, int]:
    """(ideal makespan, mean transfer time, total slots): labels x mean / slots."""
    spec = read_scenario(scenario)
    times = [
        transfer_seconds(g, spec.label_speedup, container)
        for g in spec.labels
        for _ in range(g.count)
    ]
    adapters = spec.adapters or [a for g in spec.gateways for a in g.adapters]
    slots = sum(min(a.connection_slots, slots_per_adapter) for a in adapters)
    mean = sum(times) / len(times)
    return len(times) * mean / slots, mean, slots


@dataclass
class LabelCloud:
    """The retail cloud's side of label campaigns (one store; its gateways answer)."""

    cloud: Cloud
    store_id: str = STORE_ID

    def labels_known(self) -> set[str]:
        return {s["device_id"] for s in self.cloud.of("/state") if s["kind"] == "label"}

    def bind(self, bindings: list[tuple[str, str]]) -> list[str]:
        return self._send(
            "label-bind", "bindings", [{"label_id": lid, "sku": sku} for lid, sku in bindings]
        )

    def price_update(self, prices: list[tuple[str, int, str]]) -> list[str]:
        items = [
            {"sku": sku, "version": v, "price": price, "currency": "CNY", "name": f"商品 {sku}"}
            for sku, v, price in prices
        ]
        return self._send("price-update", "items", items)

    def price_items(self, items: list[dict[str, Any]]) -> list[str]:
        """Price items as given (currency, original price: a feed with mistakes in it)."""
        return self._send("price-update", "items", items)

    def review(self, decisions: list[tuple[str, int, str, str]]) -> list[str]:
        """(sku, version, release | discard, note) of held prices, as price-review commands."""
        reviews = [
            {"sku": sku, "version": v, "decision": d, "note": note} for sku, v, d, note in decisions
        ]
        return self._send("price-review", "reviews", reviews)

    def _send(self, type_: str, key: str, entries: list[dict[str, Any]]) -> list[str]:
        ids = []
        for i in range(0, len(entries), CHUNK):
            cmd = command(type_, {key: entries[i : i + CHUNK]}, store_id=self.store_id)
            payload = signed(cmd)
            assert len(payload) < 128 * 1024, len(payload)
            self.cloud.publish(f"retail/v1/{self.store_id}/commands", payload)
            ids.append(cmd["id"])
        return ids

    def acks(self, command_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        wanted = set(command_ids)
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for a in self.cloud.of("/acks"):
            if a["command_id"] in wanted:
                out[a["command_id"]].append(a)
        return out

    def stored(self, command_ids: list[str], gateways: set[str] | None = None) -> bool:
        """Every command was accepted (by every gateway of ``gateways``): stored, so what
        follows it is judged with it (a label-bind is answered once its SKU's price has
        reached the label)."""
        acks = self.acks(command_ids)
        for cid in command_ids:
            accepted = {a["gateway_id"] for a in acks.get(cid, []) if a["status"] == "accepted"}
            if not accepted or (gateways is not None and not gateways <= accepted):
                return False
        return True

    def finished(self, command_ids: list[str]) -> bool:
        """Every command has its final ack(s), all its results included."""
        acks = self.acks(command_ids)
        for cid in command_ids:
            finals = [a for a in acks.get(cid, []) if a["status"] in ("completed", "partial")]
            if not finals:
                return False
            if sum(len(a["results"]) for a in finals) < sum(finals[-1]["counts"].values()):
                return False
        return True

    def finished_by(self, command_ids: list[str], gateways: set[str]) -> bool:
        """Several gateways (contract 1.1): every gateway that accepted each command has
        sent its final ack, with every result its counts announce."""
        return not self.unfinished(command_ids, gateways)

    def unfinished(self, command_ids: list[str], gateways: set[str]) -> list[str]:
        """Why :meth:`finished_by` is not true yet, one line per command and gateway
        (what a run that stops prints)."""
        acks = self.acks(command_ids)
        out = []
        for cid in command_ids:
            accepted = {a["gateway_id"] for a in acks.get(cid, []) if a["status"] == "accepted"}
            if not accepted:
                out.append(f"{cid}: not accepted by any gateway")
            if not accepted <= gateways:
                out.append(f"{cid}: accepted by unknown gateways {sorted(accepted - gateways)}")
            for gw in sorted(accepted & gateways):
                finals = {
                    a["msg_id"]: a
                    for a in acks[cid]
                    if a["gateway_id"] == gw and a["status"] in ("completed", "partial")
                }
                if not finals:
                    out.append(f"{cid}: no final ack from {gw}")
                    continue
                last = max(finals.values(), key=lambda a: a["seq"])
                told = sum(len(a["results"]) for a in finals.values())
                if told < sum(last["counts"].values()):
                    out.append(
                        f"{cid}: {gw}'s final acks carry {told} results, "
                        f"its last counts {last['counts']}"
                    )
        return out

    def answers(self, command_ids: list[str]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """Per target label: every (gateway, result) the final acks carry (each ack once)."""
        wanted = set(command_ids)
        unique = {
            a["msg_id"]: a
            for a in self.cloud.of("/acks")
            if a["command_id"] in wanted and a["status"] in ("completed", "partial")
        }
        out: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for a in unique.values():
            for r in a["results"]:
                if r["label_id"] is not None:
                    out[r["label_id"]].append((a["gateway_id"], r))
        return out

    def results(self, command_ids: list[str]) -> list[dict[str, Any]]:
        acks = self.acks(command_ids)
        return [
            r
            for cid in command_ids
            for a in acks.get(cid, [])
            if a["status"] in ("completed", "partial")
            for r in a["results"]
        ]
