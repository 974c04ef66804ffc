"""``store-gateway simulate-cloud``: a small retail cloud for the demo.

It does what a chain's cloud does with a store, through the store's broker and with
its own signing key (which the demo gateway trusts): once it sees the store's shelf
labels (their retained device states), it binds them to products, sends their
prices (some with Chinese names, some promotions with a struck-through price), and
then every ``--period`` seconds a campaign: a few prices change, a promotion starts
or ends, now and then a price whose decimal point was lost in an export (the
gateway's price guard holds it for a person to review), a resync, and once the
store's opening hours (``energy-settings``). It prints a line per command and per
final answer.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from joserfc.jwk import OKPKey
from paho.mqtt.enums import CallbackAPIVersion

from gateway.commands.jws import sign
from gateway.timeutil import format_epoch

# The demo shop's products: (sku, name, price).
PRODUCTS: list[tuple[str, str, str]] = [
    ("6901234567892", "有机纯牛奶 1L", "12.90"),
    ("6901234567908", "酸奶 原味 4×100g", "9.90"),
    ("6901234567915", "Butter 250 g", "15.50"),
    ("6901234567922", "鸡蛋 10枚", "13.80"),
    ("6901234567939", "Sourdough bread", "8.40"),
    ("6901234567946", "苹果 富士 1kg", "11.60"),
    ("6901234567953", "Bananas 1 kg", "6.90"),
    ("6901234567960", "速冻水饺 猪肉白菜 500g", "18.80"),
    ("6901234567977", "Vanilla ice cream 500 ml", "21.00"),
    ("6901234567984", "矿泉水 550ml×12", "19.90"),
    ("6901234567991", "Orange juice 1 l", "10.50"),
    ("6901234568004", "五常大米 5kg", "59.00"),
    ("6901234568011", "Olive oil 750 ml", "45.00"),
    ("6901234568028", "老抽酱油 500ml", "14.20"),
    ("6901234568035", "Dark chocolate 100 g", "12.00"),
    ("6901234568042", "绿茶 龙井 100g", "88.00"),
    ("6901234568059", "Coffee beans 500 g", "68.00"),
    ("6901234568066", "挂面 1kg", "7.80"),
    ("6901234568073", "Cheddar 200 g", "23.50"),
    ("6901234568080", "纸巾 10包", "16.90"),
]
PROMO_TEXT = ["会员价", "限时特价", "Weekend offer", "第二件半价"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the store's broker")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--store", required=True, help="the store id")
    parser.add_argument("--prefix", default="retail/v1", help="the contract's topic prefix")
    parser.add_argument("--key", required=True, type=Path, help="Ed25519 private key (PEM)")
    parser.add_argument("--kid", required=True, help="its key id, as the gateway trusts it")
    parser.add_argument("--period", type=float, default=120.0, help="seconds between campaigns")
    parser.add_argument("--seed", type=int, default=7)


def run(args: argparse.Namespace) -> int:
    try:
        key = OKPKey.import_key(args.key.read_bytes())
    except (OSError, ValueError) as exc:
        print(f"simulate-cloud: cannot read the key {args.key}: {exc}", file=sys.stderr)
        return 1
    cloud = DemoCloud(args, key)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        cloud.start()
    except OSError as exc:
        print(
            f"simulate-cloud: cannot reach the broker {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    try:
        cloud.run(stop)
    finally:
        cloud.close()
    return 0


class DemoCloud:
    def __init__(self, args: argparse.Namespace, key: OKPKey) -> None:
        self._args = args
        self._key = key
        self._root = f"{args.prefix}/{args.store}"
        self._rng = random.Random(args.seed)
        self._labels: set[str] = set()
        self._lock = threading.Lock()
        self._prices = {sku: Decimal(price) for sku, _, price in PRODUCTS}
        # Versions go on from the clock, so that a demo started again (its gateway keeps
        # the newest version of each SKU) is sent newer ones, not ignored stale ones.
        first = int(time.time())
        self._versions = {sku: first for sku, _, _ in PRODUCTS}
        self._sent: dict[str, str] = {}  # command id -> what it was
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"demo-cloud-{uuid.uuid4().hex[:8]}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    def start(self) -> None:
        self._client.connect(self._args.host, self._args.port, keepalive=30)
        self._client.loop_start()

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        client.subscribe(f"{self._root}/devices/+/state", qos=1)
        client.subscribe(f"{self._root}/gw/+/acks", qos=1)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        if msg.topic.endswith("/state") and body.get("kind") == "label":
            with self._lock:
                self._labels.add(str(body.get("device_id")))
        elif msg.topic.endswith("/acks") and body.get("status") in ("completed", "partial"):
            what = self._sent.get(str(body.get("command_id")), "?")
            counts = ", ".join(f"{k} {v}" for k, v in sorted((body.get("counts") or {}).items()))
            print(f"cloud: {what}: {body['status']} ({counts or 'nothing to do'})", flush=True)

    # ---- what the cloud does -----------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                labels = sorted(self._labels)
            if labels:
                break
            stop.wait(1.0)
        else:
            return
        stop.wait(3.0)  # the rest of the store's labels
        with self._lock:
            labels = sorted(self._labels)
        self._bind(labels)
        self._send(
            "price-update",
            {"items": [self._item(sku, first=True) for sku, _, _ in PRODUCTS]},
            "first prices",
        )
        self._opening_hours()
        round_ = 0
        while not stop.wait(self._args.period):
            round_ += 1
            self._campaign(round_)

    def _bind(self, labels: list[str]) -> None:
        bindings = []
        for n, label_id in enumerate(labels):
            sku = PRODUCTS[n % len(PRODUCTS)][0]
            template = "promo" if n % 5 == 3 else "price"
            bindings.append({"label_id": label_id, "sku": sku, "template": template})
        self._send("label-bind", {"bindings": bindings}, f"bind {len(bindings)} labels")

    def _item(
        self, sku: str, *, first: bool = False, promo: bool = False, price: Decimal | None = None
    ) -> dict[str, Any]:
        self._versions[sku] += 1
        name = next(n for s, n, _ in PRODUCTS if s == sku)
        item: dict[str, Any] = {
            "sku": sku,
            "version": self._versions[sku],
            "price": str(price if price is not None else self._prices[sku]),
            "currency": "CNY",
            "name": name,
        }
        if promo and not first:
            original = self._prices[sku]
            item["original_price"] = str(original)
            item["price"] = str((original * Decimal("0.85")).quantize(Decimal("0.01")))
            item["promo_text"] = self._rng.choice(PROMO_TEXT)
        return item

    def _campaign(self, round_: int) -> None:
        skus = self._rng.sample([s for s, _, _ in PRODUCTS], 6)
        items = []
        for n, sku in enumerate(skus):
            if n == 0:
                items.append(self._item(sku, promo=True))  # a promotion: price down, "was" shown
                continue
            step = Decimal(self._rng.choice(["-0.50", "-0.20", "0.30", "0.50", "1.00"]))
            self._prices[sku] = max(Decimal("1.00"), self._prices[sku] + step)
            items.append(self._item(sku))
        if round_ % 3 == 1:
            # A price whose decimal point an export lost: the guard holds it.
            sku = self._rng.choice([s for s in self._prices if s not in skus])
            wrong = (self._prices[sku] / 10).quantize(Decimal("0.01"))
            items.append(self._item(sku, price=wrong))
        self._send("price-update", {"items": items}, f"campaign {round_}: {len(items)} prices")
        if round_ % 5 == 0:
            self._send("resync", {}, "resync")

    def _opening_hours(self) -> None:
        hours = {d: "07:00-22:00" for d in ("mon", "tue", "wed", "thu", "fri")}
        hours.update({"sat": "08:00-22:00", "sun": "09:00-20:00"})
        self._send("energy-settings", {"version": 1, "hours": hours}, "opening hours")

    def _send(self, type_: str, body: dict[str, Any], what: str) -> None:
        now = time.time()
        command = {
            "schema": "command/1",
            "id": str(uuid.uuid4()),
            "store_id": self._args.store,
            "gateway_id": None,
            "type": type_,
            "issued_at": format_epoch(now - 1),
            "expires_at": format_epoch(now + 3600),
            "body": body,
        }
        self._sent[command["id"]] = what
        payload = sign(json.dumps(command, ensure_ascii=False).encode(), self._key, self._args.kid)
        self._client.publish(f"{self._root}/commands", payload, qos=1)
        print(f"cloud: sent {type_}: {what}", flush=True)
