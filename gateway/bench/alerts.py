"""Alert latency: from the moment the gateway sees a reading cross a threshold
("condition met") to the alert event arriving at a cloud subscriber on a local
mosquitto, beside the time the reading took to get from the sensor to the
registry (one advertising interval at most) as the baseline of the run.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from drivers.types import address_to_device_id
from gateway.alerts import Rule, Selector
from gateway.bench.harness import Run, Table, run_bench
from gateway.bridge.bridge import BridgeOptions
from gateway.bridge.mqtt import MqttOptions
from gateway.commands.inbox import InboxOptions
from gateway.daemon.app import Gateway, GatewaySettings
from gateway.registry import RegistryOptions
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import virtual_store

ROOT = Path(__file__).resolve().parents[2]
FRIDGE = "C4:01:01:00:00:01"


async def _measure(run: Run, rounds: int) -> list[dict[str, Any]]:
    work = run.folder("alerts")
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
                run.at("waiting for the fridge to be seen")
                await _until(lambda: gw.registry.get(device_id) is not None, "the fridge seen")
                run.at(f"{rounds} alerts fired and resolved")
                for i in range(rounds):
                    value = 15.0 if i % 2 == 0 else 3.0
                    kind = "alert.firing" if i % 2 == 0 else "alert.resolved"
                    t_set = time.monotonic()
                    await control.set_reading(FRIDGE, "temperature_c", value)

                    def seen(value: float = value) -> bool:
                        device = gw.registry.get(device_id)
                        return device is not None and device.readings.get("temperature_c") == value

                    await _until(seen, f"the reading {value} in the registry")
                    t_seen = time.monotonic()

                    def arrived(kind: str = kind, t_seen: float = t_seen) -> list[float]:
                        with lock:
                            return [
                                t for k, t in arrivals.items() if k.startswith(kind) and t > t_seen
                            ]

                    await _until(lambda: bool(arrived()), f"{kind} on the broker")
                    hits = arrived()
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


async def _until(predicate: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.002)


def body(run: Run) -> list[Table]:
    rounds = 4 if run.smoke else int(run.args[0]) if run.args else 40
    return [("alerts-latency", asyncio.run(_measure(run, rounds)))]


def main(argv: list[str]) -> int:
    return run_bench("alerts", body, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
