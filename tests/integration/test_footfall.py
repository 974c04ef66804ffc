"""A door counter reporting to the running daemon's local API: its periods reach the
cloud as telemetry through the real broker (each once, schema-checked), a re-sent
report adds nothing, and a wrong token stores nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.bench.rig import web
from gateway.bench.rig.broker import Mosquitto, free_port
from gateway.bench.rig.campaigns import gateway_config
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.energy.counters import token_hash
from gateway.sim.runner import virtual_store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a-long-random-counter-token-0b9f"
DOOR = "aabbcc001122"
HOUR_AGO = int(time.time() // 900 * 900) - 3600


def iso(t: float, ms: bool = False) -> str:
    text = dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds" if ms else "auto")
    return text.replace("+00:00", "Z")


REPORT = {
    "periods": [
        {"start": iso(HOUR_AGO), "end": iso(HOUR_AGO + 900), "in": 12, "out": 3},
        {"start": iso(HOUR_AGO + 900), "end": iso(HOUR_AGO + 1800), "in": 20, "out": 9},
    ]
}


def readings(cloud: Cloud) -> list[tuple[str, str, float]]:
    return [
        (r["ts"], r["name"], r["value"])
        for t in cloud.of("/telemetry")
        for r in t["readings"]
        if r["device_id"] == DOOR
    ]


@pytest.mark.timeout(120)
async def test_a_counter_report_reaches_the_cloud_once(tmp_path: Path) -> None:
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port)
    cloud.start()
    web_port = free_port()
    counters = f"""
[[energy.counters]]
id = "door-north"
token_sha256 = "{token_hash(TOKEN)}"
device_id = "{DOOR}"
"""
    cfg = gateway_config(tmp_path, broker.port, web_port=web_port, extra=counters)
    url = f"https://127.0.0.1:{web_port}/api/footfall/door-north"
    async with virtual_store(ROOT / "config" / "scenarios" / "small-store.toml") as store:
        gw = GatewayProcess(cfg, store.bus_address, tmp_path / "gateway.log")
        gw.start()
        try:
            # A counter posts over HTTPS, trusting the certificate the gateway made.
            trust = await asyncio.to_thread(web.trust, tmp_path / "data")
            connector = aiohttp.TCPConnector(ssl=trust)
            async with aiohttp.ClientSession(connector=connector) as http:
                for _ in range(200):  # the web port opens once the daemon is up
                    try:
                        async with http.get(f"https://127.0.0.1:{web_port}/healthz"):
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
                async with http.post(url, json=REPORT, headers={"Authorization": "Bearer x"}) as r:
                    assert r.status == 401
                async with http.post(url, json=REPORT, params={"token": TOKEN}) as r:
                    assert r.status == 200 and await r.json() == {
                        "stored": 2,
                        "repeated": 0,
                        "too_old": 0,
                    }
                await cloud.until(lambda: len(readings(cloud)) == 4, 30, "the counts' telemetry")
                async with http.post(url, json=REPORT, params={"token": TOKEN}) as r:
                    assert await r.json() == {"stored": 0, "repeated": 2, "too_old": 0}
            await asyncio.sleep(2)
            first, second = iso(HOUR_AGO + 900, ms=True), iso(HOUR_AGO + 1800, ms=True)
            assert sorted(readings(cloud)) == [
                (first, "people_in", 12.0),
                (first, "people_out", 3.0),
                (second, "people_in", 20.0),
                (second, "people_out", 9.0),
            ]
            assert cloud.violations == []
        finally:
            gw.ensure_stopped()
            cloud.stop()
            broker.stop()
