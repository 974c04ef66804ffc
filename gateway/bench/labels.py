"""Label campaigns: what compression saves on the air, and the makespan of a campaign.

First, offline: every label of the virtual supermarket with the price the
campaign gives it, rendered from the real templates, in the container it takes
(the vendor's QuickLZ chunks) and raw: bytes and parts (240-byte image writes)
per label. Parts are what real labels spend their radio time on.

Then, twice (compressed, then with ``labels.compress = false``): one signed
price update for every label, from the command leaving the cloud to the last
label's result at the cloud, beside the ideal lower bound: labels x mean
per-label transfer time / connection slots. Two bounds are printed: with the
mean transfer time the simulated labels measured (connect to confirmation, as
it went in this run: the ratio says how well the scheduler keeps the slots
busy), and with the scenario's nominal label timing (the ratio also counts the
time each part spends in the gateway, bleak and D-Bus). The labels run faster
than real ones by the scenario's ``label_speedup``; times are also given in
store time (x the speed-up), what a real store would take.

The store and the gateway run as separate processes (as on a store's box, where
the radio works on its own), the broker is a local mosquitto.

The price guard's cost (budget: 2 % of a campaign's CPU), three ways: its CPU per item
in this process on the bad feed, beside the same items with every rule off; the CPU
the gateway counted for judging in the compressed campaign, beside the gateway's
whole CPU in that campaign; and its CPU per item beside the gateway's CPU per label.
After each campaign, the shelf's status: compliance and the time to shelf.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from gateway.bench.harness import Run, Table, run_bench
from gateway.bench.ingest import SUPERMARKET

SLOTS = 5
PART = 240


def air_figures(scenario: Path) -> dict[str, float]:
    """Mean bytes and parts per label in the container each takes, and raw."""
    from drivers.labels import containers
    from drivers.labels.panels import ID_MASK, PANELS
    from gateway.labels.render import LabelContent, render
    from gateway.sim.scenario import read_scenario

    spec = read_scenario(scenario)
    sent: list[int] = []
    raw: list[int] = []
    n = 0
    for group in spec.labels:
        panel = PANELS[group.hardware & ID_MASK]
        best = containers.accepted(panel, group.firmware, group.hardware & ~ID_MASK)[0]
        for _ in range(group.count):
            sku = f"sku-{n:05d}"
            content = LabelContent(sku=sku, price=price(n), currency="CNY", name=f"商品 {sku}")
            packed = render(content, panel).packed
            sent.append(len(containers.encode(best, panel, packed)))
            raw.append(len(packed))
            n += 1
    return {
        "labels": n,
        "bytes": statistics.fmean(sent),
        "raw_bytes": statistics.fmean(raw),
        "parts": statistics.fmean(math.ceil(b / PART) for b in sent),
        "raw_parts": statistics.fmean(math.ceil(b / PART) for b in raw),
    }


def price(n: int) -> str:
    return f"{n % 97 + 1}.{n % 100:02d}"


def guard_figures(skus: int, rounds: int = 5) -> dict[str, float]:
    """CPU per price item of the price guard in this process, with the store's default
    rules and with every rule off, on the bad feed (``gateway/bench/rig/badfeed.py``):
    each item judged and then held or applied, as a gateway takes it."""
    from gateway.bench.rig.badfeed import bad_feed
    from gateway.prices.guard import PriceGuard
    from gateway.prices.model import PriceItem
    from gateway.prices.rules import RULES, PriceRules

    feed = bad_feed([f"sku-{n:05d}" for n in range(skus)])

    def item(body: dict[str, Any]) -> PriceItem:
        return PriceItem(
            body["sku"],
            body["version"],
            body["price"],
            body["currency"],
            body.get("original_price"),
            name=body["name"],
        )

    base = [item(i.body()) for i in feed.base]
    items = [item(i.body()) for i in feed.items()]

    def cpu_per_item(rules: PriceRules) -> float:
        best = float("inf")
        for _ in range(rounds):
            guard = PriceGuard(rules)
            for i in base:
                guard.apply(i, "base", 0.0)
            started = time.process_time()
            for n, i in enumerate(items):
                verdict = guard.judge(i, 60.0 + n)
                if verdict.held:
                    guard.hold(i, verdict, "feed", 60.0 + n)
                else:
                    guard.apply(i, "feed", 60.0 + n)
            best = min(best, (time.process_time() - started) / len(items))
        return best

    on = cpu_per_item(PriceRules.parse({}, "CNY"))
    off = cpu_per_item(PriceRules.parse({r.name: {"mode": "off"} for r in RULES}, "CNY"))
    return {"items": len(items), "on": on, "off": off}


async def _campaign(run: Run, scenario: Path, how: str, compress: bool) -> dict[str, Any]:
    from drivers.labels.containers import Container
    from gateway.bench.rig.broker import Mosquitto, free_port
    from gateway.bench.rig.campaigns import (
        STORE_ID,
        LabelCloud,
        gateway_config,
        ideal_makespan,
        label_ids,
    )
    from gateway.bench.rig.cloud import Cloud
    from gateway.bench.rig.processes import GatewayProcess, StoreProcess, cpu_seconds
    from gateway.sim.control import VirtualStoreClient
    from gateway.sim.scenario import read_scenario

    labels = label_ids(scenario)
    work = run.folder(how)
    broker = Mosquitto(run.folder(f"{how}-broker"))
    broker.start()
    cloud = Cloud(broker.port, prefix=f"retail/v1/{STORE_ID}/#")
    cloud.start()
    store = StoreProcess(scenario, run.log(f"{how}-store.log"))
    gateway: GatewayProcess | None = None
    control: VirtualStoreClient | None = None
    try:
        bus = store.start()
        control = await VirtualStoreClient.connect(bus)
        web_port = free_port()
        gateway = GatewayProcess(
            gateway_config(
                work,
                broker.port,
                slots=SLOTS,
                web_port=web_port,
                scenario=scenario,
                labels=f"compress = {'true' if compress else 'false'}",
            ),
            bus,
            run.log(f"{how}-gateway.log"),
        )
        gateway.start()
        campaigns = LabelCloud(cloud)
        run.at(f"{how}: waiting for the cloud to see {len(labels):,} labels")
        await cloud.until(lambda: len(campaigns.labels_known()) >= len(labels), 300, "labels seen")
        run.at(f"{how}: binding the labels")
        binds = campaigns.bind([(lid, f"sku-{n:05d}") for n, lid in enumerate(labels)])
        await cloud.until(lambda: campaigns.stored(binds), 120, "bindings stored")
        run.at(f"{how}: the campaign")
        started = time.monotonic()
        assert gateway.proc is not None
        cpu_before = cpu_seconds(gateway.proc.pid)
        prices = campaigns.price_update([(f"sku-{n:05d}", 1, price(n)) for n in range(len(labels))])
        await cloud.until(lambda: campaigns.finished(prices), 3600, "campaign finished")
        makespan = time.monotonic() - started
        campaign_cpu = cpu_seconds(gateway.proc.pid) - cpu_before
        results = campaigns.results(prices)
        container = None if compress else Container.RAW
        ideal, mean, slots = ideal_makespan(scenario, SLOTS, container)
        displayed = sum(r["status"] == "displayed" for r in results)
        durations = [
            t for s in (await control.label_stats()).values() for t in s["transfer_seconds"]
        ]
        measured = sum(durations) / len(durations)
        metrics = await asyncio.to_thread(_metrics, work / "data", web_port)
        await cloud.until(lambda: _shelf(cloud).get("current") == len(labels), 60, "shelf")
        return {
            "metrics": metrics,
            "campaign_cpu": campaign_cpu,
            "shelf": _shelf(cloud),
            "labels": len(labels),
            "displayed": displayed,
            "makespan": makespan,
            "ideal": ideal,
            "mean_transfer": mean,
            "measured_transfer": measured,
            "measured_ideal": len(labels) * measured / slots,
            "slots": slots,
            "speedup": read_scenario(scenario).label_speedup,
        }
    finally:
        if control is not None:
            await control.close()
        if gateway is not None:
            gateway.ensure_stopped()
        store.stop()
        cloud.stop()
        broker.stop()


def _shelf(cloud: Any) -> dict[str, Any]:
    """The shelf's status (contract 1.2) in the gateway's newest status message."""
    statuses = [s for s in cloud.of("/status") if s["state"] == "online" and "shelf" in s]
    return dict(statuses[-1]["shelf"]) if statuses else {}


def _metrics(data_dir: Path, web_port: int) -> dict[str, float]:
    """The gateway's own account of its label attempts, from its /metrics: the mean
    seconds per attempt in each phase, the number of attempts, and the parts of the
    completed transfers per container."""
    from prometheus_client.parser import text_string_to_metric_families

    from gateway.bench.rig.web import metrics_text

    text = metrics_text(data_dir, web_port)
    sums: dict[str, float] = {}
    attempts = transfers = parts = guard_cpu = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "storegw_label_attempt_phase_seconds_total":
                sums[sample.labels["phase"]] = sample.value
            elif sample.name == "storegw_label_attempts_total":
                attempts = sample.value
            elif sample.name == "storegw_label_transfers_total":
                transfers += sample.value
            elif sample.name == "storegw_label_transfer_parts_total":
                parts += sample.value
            elif sample.name == "storegw_price_guard_cpu_seconds_total":
                guard_cpu = sample.value
    out = {phase: seconds / attempts for phase, seconds in sums.items()} if attempts else {}
    out["attempts"] = attempts
    out["parts per transfer"] = parts / transfers if transfers else 0.0
    out["guard cpu"] = guard_cpu
    return out


def campaign_rows(m: dict[str, Any], how: str) -> list[dict[str, Any]]:
    speedup = m["speedup"]
    rows: list[dict[str, Any]] = [
        {"figure": f"{how}: labels displayed", "value": m["displayed"], "unit": "labels"},
        {
            "figure": f"{how}: mean transfer per label, measured by the labels",
            "value": m["measured_transfer"],
            "unit": "s",
            "baseline": "nominal (scenario timing)",
            "baseline_value": m["mean_transfer"],
            "ratio": m["measured_transfer"] / m["mean_transfer"],
        },
        {
            "figure": f"{how}: campaign makespan",
            "value": m["makespan"],
            "unit": "s",
            "baseline": "ideal bound, measured transfer time",
            "baseline_value": m["measured_ideal"],
            "ratio": m["makespan"] / m["measured_ideal"],
        },
        {
            "figure": f"{how}: campaign makespan",
            "value": m["makespan"],
            "unit": "s",
            "baseline": "ideal bound, nominal transfer time",
            "baseline_value": m["ideal"],
            "ratio": m["makespan"] / m["ideal"],
        },
        {
            "figure": f"{how}: campaign makespan in store time (x{speedup:g})",
            "value": m["makespan"] * speedup,
            "unit": "s",
        },
    ]
    metrics = dict(m["metrics"])
    guard_cpu = metrics.pop("guard cpu", 0.0)
    shelf = m["shelf"]
    tts = shelf.get("time_to_shelf_s") or {}
    rows += [
        {
            "figure": f"{how}: the gateway's CPU during the campaign",
            "value": m["campaign_cpu"],
            "unit": "s",
        },
        {
            "figure": f"{how}: price guard's CPU in the campaign (its own count)",
            "value": guard_cpu * 1000,
            "unit": "ms",
            "baseline": "the gateway's CPU in the campaign",
            "baseline_value": m["campaign_cpu"] * 1000,
            "ratio": guard_cpu / m["campaign_cpu"] if m["campaign_cpu"] else 0.0,
        },
        {
            "figure": f"{how}: price guard's share of the campaign's CPU",
            "value": 100 * guard_cpu / m["campaign_cpu"] if m["campaign_cpu"] else 0.0,
            "unit": "%",
            "baseline": "budget",
            "baseline_value": 2.0,
            "ratio": (50 * guard_cpu / m["campaign_cpu"]) if m["campaign_cpu"] else 0.0,
        },
        {
            "figure": f"{how}: shelf compliance after it",
            "value": shelf.get("compliance"),
            "unit": "",
        },
        *[
            {
                "figure": f"{how}: time to shelf, {q}",
                "value": tts.get(q),
                "unit": "s",
            }
            for q in ("p50", "p95", "max")
        ],
    ]
    rows.append(
        {"figure": f"{how}: label attempts", "value": metrics.pop("attempts", 0), "unit": ""}
    )
    rows.append(
        {
            "figure": f"{how}: image writes per transfer (gateway's count)",
            "value": metrics.pop("parts per transfer", 0),
            "unit": "parts",
        }
    )
    for phase, seconds in metrics.items():
        rows.append(
            {
                "figure": f"{how}: mean per attempt in the gateway: {phase}",
                "value": seconds,
                "unit": "s",
            }
        )
    return rows


def smoke_scenario(run: Run, base: Path) -> Path:
    """The supermarket with 20 labels a group, running 20 times faster than real ones."""
    text = base.read_text().replace("count = 1000", "count = 20")
    text = re.sub(r"^label_speedup = .*$", "label_speedup = 20", text, flags=re.MULTILINE)
    path = run.folder("smoke") / "supermarket-smoke.toml"
    path.write_text(text)
    return path


def body(run: Run) -> list[Table]:
    scenario = Path(run.args[0]) if run.args else SUPERMARKET
    if run.smoke:
        scenario = smoke_scenario(run, scenario)
    run.at("rendering and compressing every label's price")
    air = air_figures(scenario)
    rows: list[dict[str, Any]] = [
        {"figure": "labels in the campaign", "value": air["labels"], "unit": "labels"},
        {
            "figure": "bytes per label, compressed",
            "value": air["bytes"],
            "unit": "B",
            "baseline": "raw planes",
            "baseline_value": air["raw_bytes"],
            "ratio": air["bytes"] / air["raw_bytes"],
        },
        {
            "figure": "parts per label (240 B), compressed",
            "value": air["parts"],
            "unit": "parts",
            "baseline": "raw planes",
            "baseline_value": air["raw_parts"],
            "ratio": air["parts"] / air["raw_parts"],
        },
    ]
    run.at("the price guard on the bad feed, rules on and off")
    guard = guard_figures(int(air["labels"]))
    rows.append(
        {
            "figure": f"price guard: CPU per item ({guard['items']:.0f} items of the bad feed)",
            "value": guard["on"] * 1e6,
            "unit": "µs",
            "baseline": "every rule off",
            "baseline_value": guard["off"] * 1e6,
            "ratio": guard["on"] / guard["off"] if guard["off"] else 0.0,
        }
    )
    makespans, per_label = {}, {}
    for how, compress in (("compressed", True), ("raw", False)):
        m = asyncio.run(_campaign(run, scenario, how, compress))
        rows += campaign_rows(m, how)
        makespans[how] = m["makespan"]
        per_label[how] = m["campaign_cpu"] / m["labels"]
        if m["displayed"] != m["labels"]:
            raise RuntimeError(f"{how}: {m['displayed']} of {m['labels']} labels displayed")
    rows.append(
        {
            "figure": "campaign makespan, compressed",
            "value": makespans["compressed"],
            "unit": "s",
            "baseline": "raw",
            "baseline_value": makespans["raw"],
            "ratio": makespans["compressed"] / makespans["raw"],
        }
    )
    rows.append(
        {
            "figure": "price guard: CPU per item (rules on)",
            "value": guard["on"] * 1e6,
            "unit": "µs",
            "baseline": "the gateway's CPU per label in the compressed campaign",
            "baseline_value": per_label["compressed"] * 1e6,
            "ratio": guard["on"] / per_label["compressed"] if per_label["compressed"] else 0.0,
        }
    )
    share = 100 * guard["on"] / per_label["compressed"] if per_label["compressed"] else 0.0
    if share > 2.0 and not run.smoke:
        raise RuntimeError(f"the price guard costs {share:.2f} % of a campaign's CPU (budget 2 %)")
    return [("labels", rows)]


def main(argv: list[str]) -> int:
    return run_bench("labels", body, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
