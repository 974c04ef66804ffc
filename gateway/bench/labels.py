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
    from tests.helpers.broker import Mosquitto
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
        gateway = GatewayProcess(
            gateway_config(work, broker.port, slots=SLOTS), bus, work / "gw.log"
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
        return {
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
    report("labels", rows)
    return 0 if m["displayed"] == m["labels"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
