"""Alert latency: from the moment the gateway sees a reading cross a threshold
("condition met") to the alert event arriving at a cloud subscriber on a local
mosquitto, beside the time the reading took to get from the sensor to the
registry (one advertising interval at most) as the baseline of the run.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from drivers.types import address_to_device_id
from gateway.alerts import Rule, Selector
from gateway.bench.report import report
from gateway.bridge.bridge import BridgeOptions
from gateway.bridge.mqtt import MqttOptions
from gateway.commands.inbox import InboxOptions
from gateway.daemon.app import Gateway, GatewaySettings
from gateway.registry import RegistryOptions
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import virtual_store

ROOT = Path(__file__).resolve().parents[2]
FRIDGE = "C4:01:01:00:00:01"


async def _measure(rounds: int) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="storegw-bench-"))
    from gateway.bench.rig.broker import Mosquitto

    broker = Mosquitto(work)
    broker.start()
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        if body.get("type", "").startswith("alert."):
            with lock:
                arrivals[f"{body['type']}:{body['alert']['id']}"] = time.monotonic()

    cloud = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-cloud", protocol=paho.MQTTv5)
    cloud.on_message = on_message
    cloud.on_connect = lambda c, *_: c.subscribe("retail/v1/+/gw/+/events", qos=1)
    cloud.connect("127.0.0.1", broker.port)
    cloud.loop_start()
    device_id = address_to_device_id(FRIDGE)
    rule = Rule(
        name="bench-fridge",
        metric="temperature_c",
        op="above",
        threshold=10.0,
        clear=9.0,
        severity="critical",
        selector=Selector(device_ids=frozenset({device_id})),
    )
    try:
        async with virtual_store(ROOT / "config" / "scenarios" / "small-store.toml") as store:
            import os

            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = store.bus_address
            gw = Gateway(
                GatewaySettings(
                    store_id="bench",
                    gateway_id="gw-1",
                    data_dir=work / "data",
                    adapters=("hci0",),
                    registry=RegistryOptions(),
                    alert_rules=(rule,),
                    bridge=BridgeOptions(
                        mqtt=MqttOptions(host="127.0.0.1", port=broker.port, client_id="bench-gw")
                    ),
                    inbox=InboxOptions("bench", "gw-1", {}),
                )
            )
            await gw.start()
            control = await VirtualStoreClient.connect(store.bus_address)
            observed, delivered = [], []
            try:
                while gw.registry.get(device_id) is None:
                    await asyncio.sleep(0.05)
                for i in range(rounds):
                    value = 15.0 if i % 2 == 0 else 3.0
                    kind = "alert.firing" if i % 2 == 0 else "alert.resolved"
                    t_set = time.monotonic()
                    await control.set_reading(FRIDGE, "temperature_c", value)
                    device = gw.registry.get(device_id)
                    while device is None or device.readings.get("temperature_c") != value:
                        await asyncio.sleep(0.002)
                        device = gw.registry.get(device_id)
                    t_seen = time.monotonic()
                    while True:
                        with lock:
                            hits = [
                                t for k, t in arrivals.items() if k.startswith(kind) and t > t_seen
                            ]
                        if hits:
                            break
                        await asyncio.sleep(0.002)
                    observed.append(t_seen - t_set)
                    delivered.append(min(hits) - t_seen)
                    with lock:
                        arrivals.clear()
            finally:
                await control.close()
                await gw.stop()
    finally:
        cloud.loop_stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    delivered = [d * 1000 for d in delivered]
    observed = [o * 1000 for o in observed]
    q = statistics.quantiles(delivered, n=100)
    base = statistics.median(observed)
    return [
        {
            "figure": f"condition met -> event on the broker, p50 ({rounds} alerts)",
            "value": statistics.median(delivered),
            "unit": "ms",
            "baseline": "sensor change -> registry, median",
            "baseline_value": base,
            "ratio": statistics.median(delivered) / base,
        },
        {"figure": "condition met -> event on the broker, p99", "value": q[98], "unit": "ms"},
    ]


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 40
    report("alerts-latency", asyncio.run(_measure(rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
