"""A soak run: the virtual supermarket for a given time, with price campaigns and
alerts, while the daemon's footprint is sampled.

Every ``--sample`` seconds: RSS, open file descriptors, CPU share, outbox depth,
adverts/s and label jobs queued, into ``soak.csv``; at the end ``soak.png``
(one panel per series, drawn with Pillow) and a summary with the memory growth
after warm-up. The run starts as a store's first day does: every label bound
and given its price (so that every label has its state and content); warm-up
ends one campaign period after that first campaign has finished. Then a tenth
of the prices change every 5 minutes and a fridge warms up and cools down
every 4 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from gateway.bench.rig.web import metrics_text
from gateway.config.durations import parse_duration

CAMPAIGN_EVERY_S = 300.0

SERIES = (
    ("rss_mib", "RSS (MiB)"),
    ("fds", "open file descriptors"),
    ("cpu_pct", "CPU (% of a core)"),
    ("outbox", "outbox depth (messages)"),
    ("adverts_per_s", "adverts/s"),
    ("label_jobs", "label jobs queued"),
)


def _proc(pid: int) -> tuple[float, int, float]:
    """(RSS MiB, open fds, CPU seconds) of a process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, fds, cpu


def _metrics(data_dir: Path, port: int) -> dict[str, float]:
    text = metrics_text(data_dir, port)
    out: dict[str, float] = {}
    for name, labels, value in re.findall(r"^(storegw_\w+)(\{[^}]*\})? ([0-9.e+-]+)$", text, re.M):
        key = name + (labels or "")
        out[key] = float(value)
    return out


async def soak(duration_s: float, sample_s: float, out_dir: Path) -> dict[str, float]:
    from gateway.bench.rig.broker import Mosquitto, free_port
    from gateway.bench.rig.campaigns import (
        PREFIX,
        SUPERMARKET,
        LabelCloud,
        gateway_config,
        label_ids,
    )
    from gateway.bench.rig.cloud import Cloud
    from gateway.bench.rig.processes import GatewayProcess, StoreProcess
    from gateway.sim.control import VirtualStoreClient

    work = Path(tempfile.mkdtemp(prefix="storegw-soak-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    web_port = free_port()
    (work / "broker").mkdir()
    broker = Mosquitto(work / "broker")
    broker.start()
    cloud = Cloud(broker.port, prefix=f"{PREFIX}/#")
    cloud.start()
    store = StoreProcess(SUPERMARKET, work / "store.log")
    bus = store.start()
    control = await VirtualStoreClient.connect(bus)
    extra = f"""
[web]
enabled = true
port = {web_port}
[registry.tags]
"c40201000001" = ["fridge"]
"c40201000002" = ["fridge"]
[[alerts.rules]]
name = "fridge-too-warm"
metric = "temperature_c"
above = 6.0
clear = 5.0
for = "30s"
severity = "critical"
devices = {{ tags = ["fridge"] }}
"""
    cfg = gateway_config(work, broker.port, extra=extra)
    cfg.write_text(cfg.read_text().replace("[web]\nenabled = false\n", ""))
    gateway = GatewayProcess(cfg, bus, work / "gw.log")
    gateway.start()
    assert gateway.proc is not None
    pid = gateway.proc.pid
    labels = label_ids(SUPERMARKET)
    campaigns = LabelCloud(cloud)
    rows: list[dict[str, float]] = []
    started = time.monotonic()
    try:
        await cloud.until(lambda: len(campaigns.labels_known()) >= len(labels), 180, "labels")
        binds = campaigns.bind([(lid, f"sku-{n:05d}") for n, lid in enumerate(labels)])
        await cloud.until(lambda: campaigns.stored(binds), 120, "bindings")
        first = campaigns.price_update(
            [(f"sku-{n:05d}", 1, f"1.{n % 100:02d}") for n in range(len(labels))]
        )
        version = 1
        next_campaign = next_warm = time.monotonic()
        warm = False
        warmup_s: float | None = None
        last_cpu = _proc(pid)[2]
        last_adverts = None
        last_t = time.monotonic()
        while time.monotonic() - started < duration_s:
            now = time.monotonic()
            if warmup_s is None and campaigns.finished(first):
                warmup_s = now - started + CAMPAIGN_EVERY_S
                next_campaign = now
            if warmup_s is not None and now >= next_campaign:
                # a tenth of the prices change every 5 minutes
                version += 1
                share = [n for n in range(len(labels)) if n % 10 == version % 10]
                campaigns.price_update([(f"sku-{n:05d}", version, f"{version}.{n % 100:02d}")
                                        for n in share])  # fmt: skip
                next_campaign = now + CAMPAIGN_EVERY_S
            if now >= next_warm:  # a fridge door left open, then closed, every 4 minutes
                warm = not warm
                await control.set_reading("C4:02:01:00:00:01", "temperature_c",
                                          9.0 if warm else 3.5)  # fmt: skip
                next_warm = now + 120
            await asyncio.sleep(sample_s)
            rss, fds, cpu = _proc(pid)
            m = await asyncio.to_thread(_metrics, work / "data", web_port)
            adverts = sum(v for k, v in m.items() if k.startswith("storegw_adverts_total{"))
            t = time.monotonic()
            rows.append(
                {
                    "t_s": round(t - started, 1),
                    "rss_mib": round(rss, 2),
                    "fds": fds,
                    "cpu_pct": round((cpu - last_cpu) / (t - last_t) * 100, 1),
                    "outbox": m.get("storegw_outbox_messages", 0.0),
                    "adverts_per_s": 0.0
                    if last_adverts is None
                    else round((adverts - last_adverts) / (t - last_t), 1),
                    "label_jobs": m.get("storegw_label_jobs_queued", 0.0),
                }
            )
            last_cpu, last_adverts, last_t = cpu, adverts, t
    finally:
        gateway.ensure_stopped()
        await control.close()
        store.stop()
        cloud.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    with (out_dir / "soak.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    warmup = warmup_s if warmup_s is not None else duration_s
    after = [r for r in rows if r["t_s"] >= warmup]
    base = after[0]["rss_mib"] if after else rows[0]["rss_mib"]
    growth = (rows[-1]["rss_mib"] - base) / base * 100
    plot(rows, out_dir / "soak.png", warmup, f"memory growth after warm-up: {growth:+.1f} %")
    return {"samples": len(rows), "rss_after_warmup": base, "rss_end": rows[-1]["rss_mib"],
            "growth_pct": growth, "warmup_s": warmup}  # fmt: skip


def plot(rows: list[dict[str, float]], path: Path, warmup_s: float, title: str) -> None:
    width, panel, margin = 1000, 150, 70
    img = Image.new("RGB", (width, 40 + panel * len(SERIES)), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    d.text(
        (margin, 12), f"store-gateway soak, supermarket scenario. {title}", fill="black", font=font
    )
    t_max = max(r["t_s"] for r in rows) or 1.0
    for i, (key, label) in enumerate(SERIES):
        top = 40 + i * panel
        box = (margin, top + 10, width - 20, top + panel - 25)
        d.rectangle(box, outline="#888")
        values = [r[key] for r in rows]
        lo, hi = min(0.0, min(values)), max(values)  # from zero: growth looks its true size
        hi = hi if hi > lo else lo + 1
        d.text((5, box[1]), f"{hi:g}", fill="#444", font=font)
        d.text((5, box[3] - 10), f"{lo:g}", fill="#444", font=font)
        d.text((margin + 5, box[1] + 3), label, fill="black", font=font)
        wx = box[0] + (box[2] - box[0]) * warmup_s / t_max
        if wx < box[2]:
            d.line((wx, box[1], wx, box[3]), fill="#f0a000")
        points = [
            (box[0] + (box[2] - box[0]) * r["t_s"] / t_max,
             box[3] - (box[3] - box[1]) * (r[key] - lo) / (hi - lo))
            for r in rows
        ]  # fmt: skip
        if len(points) > 1:
            d.line(points, fill="#1060c0", width=2)
    d.text((margin, img.height - 14), f"time: 0 .. {t_max:.0f} s", fill="#444", font=font)
    img.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    parser.add_argument("--duration", default="30m", help="how long, e.g. 30m or 2h")
    parser.add_argument("--sample", default="10s", help="sampling interval")
    parser.add_argument("--out", type=Path, default=Path("soak-results"), help="output folder")
    args = parser.parse_args()
    try:
        duration, sample = parse_duration(args.duration), parse_duration(args.sample)
    except ValueError as exc:
        parser.error(str(exc))
    if duration < 900 or sample <= 0:
        parser.error("--duration must be at least 15m (warm-up takes ~10) and --sample above 0")
    result = asyncio.run(soak(duration, sample, args.out))
    print(
        f"{result['samples']:.0f} samples; RSS {result['rss_after_warmup']:.1f} MiB after "
        f"warm-up ({result['warmup_s']:.0f} s), {result['rss_end']:.1f} MiB at the end: "
        f"{result['growth_pct']:+.1f} % "
        f"(written to {args.out}/soak.csv and soak.png)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
