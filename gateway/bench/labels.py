"""Label campaign makespan: one signed price update for every label of the virtual
supermarket, from the command leaving the cloud to the last label's result at
the cloud, beside the ideal lower bound: labels x mean per-label transfer time
/ connection slots. Two bounds are printed: with the mean transfer time the
simulated labels measured (connect to confirmation, as it went in this run:
the ratio says how well the scheduler keeps the slots busy), and with the
scenario's nominal label timing (the ratio also counts the time each part
spends in the gateway, bleak and D-Bus).

The store and the gateway run as separate processes (as on a store's box, where
the radio works on its own), the broker is a local mosquitto.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.bench.report import report

SLOTS = 5


async def _measure(scenario: Path, work: Path) -> dict[str, Any]:
    from gateway.sim.control import VirtualStoreClient
    from tests.helpers.broker import Mosquitto, free_port
    from tests.helpers.cloud import Cloud
    from tests.helpers.processes import GatewayProcess, StoreProcess
    from tests.helpers.supermarket import (
        STORE_ID,
        LabelCloud,
        gateway_config,
        ideal_makespan,
        label_ids,
    )

    labels = label_ids(scenario)
    (work / "broker").mkdir()
    broker = Mosquitto(work / "broker")
    broker.start()
    cloud = Cloud(broker.port, prefix=f"retail/v1/{STORE_ID}/#")
    cloud.start()
    store = StoreProcess(scenario, work / "store.log")
    gateway: GatewayProcess | None = None
    control: VirtualStoreClient | None = None
    try:
        bus = store.start()
        control = await VirtualStoreClient.connect(bus)
        web_port = free_port()
        gateway = GatewayProcess(
            gateway_config(work, broker.port, slots=SLOTS, web_port=web_port),
            bus,
            work / "gw.log",
        )
        gateway.start()
        campaigns = LabelCloud(cloud)
        await cloud.until(lambda: len(campaigns.labels_known()) >= len(labels), 180, "labels seen")
        binds = campaigns.bind([(lid, f"sku-{n:05d}") for n, lid in enumerate(labels)])
        await cloud.until(lambda: campaigns.finished(binds), 120, "bindings stored")
        started = time.monotonic()
        prices = campaigns.price_update(
            [(f"sku-{n:05d}", 1, f"{n % 97 + 1}.{n % 100:02d}") for n in range(len(labels))]
        )
        await cloud.until(lambda: campaigns.finished(prices), 3600, "campaign finished")
        makespan = time.monotonic() - started
        results = campaigns.results(prices)
        ideal, mean, slots = ideal_makespan(scenario, SLOTS)
        displayed = sum(r["status"] == "displayed" for r in results)
        durations = [
            t for s in (await control.label_stats()).values() for t in s["transfer_seconds"]
        ]
        measured = sum(durations) / len(durations)
        phases = await asyncio.to_thread(_attempt_phases, web_port)
        return {
            "phases": phases,
            "labels": len(labels),
            "displayed": displayed,
            "makespan": makespan,
            "ideal": ideal,
            "mean_transfer": mean,
            "measured_transfer": measured,
            "measured_ideal": len(labels) * measured / slots,
            "slots": slots,
        }
    finally:
        if control is not None:
            await control.close()
        if gateway is not None:
            gateway.ensure_stopped()
        store.stop()
        cloud.stop()
        broker.stop()


def _attempt_phases(web_port: int) -> dict[str, float]:
    """The gateway's own account of its label attempts, from its /metrics: the mean
    seconds per attempt in each phase, and the number of attempts."""
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    with urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    sums: dict[str, float] = {}
    attempts = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "storegw_label_attempt_phase_seconds_total":
                sums[sample.labels["phase"]] = sample.value
            elif sample.name == "storegw_label_attempts_total":
                attempts = sample.value
    out = {phase: seconds / attempts for phase, seconds in sums.items()} if attempts else {}
    out["attempts"] = attempts
    return out


def main() -> int:
    from gateway.bench.ingest import ROOT

    scenario = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "config/scenarios/supermarket.toml"
    )
    work = Path(tempfile.mkdtemp(prefix="storegw-bench-"))
    try:
        m = asyncio.run(_measure(scenario, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        {"figure": "labels in the campaign", "value": m["labels"], "unit": "labels"},
        {"figure": "labels displayed", "value": m["displayed"], "unit": "labels"},
        {
            "figure": "mean transfer time per label, measured by the labels",
            "value": m["measured_transfer"],
            "unit": "s",
            "baseline": "nominal (scenario timing)",
            "baseline_value": m["mean_transfer"],
            "ratio": m["measured_transfer"] / m["mean_transfer"],
        },
        {"figure": "connection slots (both adapters)", "value": m["slots"], "unit": "slots"},
        {
            "figure": "campaign makespan",
            "value": m["makespan"],
            "unit": "s",
            "baseline": "ideal bound, measured transfer time",
            "baseline_value": m["measured_ideal"],
            "ratio": m["makespan"] / m["measured_ideal"],
        },
        {
            "figure": "campaign makespan",
            "value": m["makespan"],
            "unit": "s",
            "baseline": "ideal bound, nominal transfer time",
            "baseline_value": m["ideal"],
            "ratio": m["makespan"] / m["ideal"],
        },
    ]
    phases = dict(m["phases"])
    rows.append(
        {"figure": "label attempts by the gateway", "value": phases.pop("attempts", 0), "unit": ""}
    )
    per_slot = m["makespan"] * m["slots"] / m["labels"]
    rows.append(
        {
            "figure": "slot time per label (makespan x slots / labels)",
            "value": per_slot,
            "unit": "s",
            "baseline": "mean transfer, measured by the labels",
            "baseline_value": m["measured_transfer"],
            "ratio": per_slot / m["measured_transfer"],
        }
    )
    for phase, seconds in phases.items():
        rows.append(
            {"figure": f"mean per attempt in the gateway: {phase}", "value": seconds, "unit": "s"}
        )
    report("labels", rows)
    return 0 if m["displayed"] == m["labels"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
