"""The MQTT connection against a real mosquitto: manual acks, 3.1.1, backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bridge.mqtt import (
    ConnectionState,
    Inbound,
    MqttConnection,
    MqttOptions,
    NotConnected,
    Will,
    full_jitter,
)
from tests.helpers.broker import Mosquitto
from tests.helpers.cloud import Cloud


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path)
    m.start()
    yield m
    m.stop()


def options(port: int, **kw: object) -> MqttOptions:
    return MqttOptions(
        host="127.0.0.1",
        port=port,
        client_id="gw-test",
        reconnect_min_s=0.1,
        reconnect_max_s=0.3,
        **kw,
    )  # type: ignore[arg-type]


async def test_unhandled_command_is_redelivered_after_reconnect(broker: Mosquitto) -> None:
    got: list[Inbound] = []
    connected = asyncio.Event()

    async def on_message(msg: Inbound) -> None:
        got.append(msg)
        if len(got) == 1:
            raise RuntimeError("storage failed")  # not acknowledged to the broker

    async def on_connected() -> None:
        connected.set()

    conn = MqttConnection(
        options(broker.port),
        lambda: Will("t/s", b"{}"),
        ["t/commands"],
        on_message,
        on_connected,
        lambda _: None,
    )
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(connected.wait(), 5)
    cloud = Cloud(broker.port)
    cloud.start()
    await asyncio.sleep(0.3)
    cloud.publish("t/commands", b"command-1")
    for _ in range(50):
        if got:
            break
        await asyncio.sleep(0.05)
    assert [m.payload for m in got] == [b"command-1"]
    connected.clear()
    conn._drop("test: connection dropped")  # as if the link died
    await asyncio.wait_for(connected.wait(), 5)
    for _ in range(100):
        if len(got) >= 2:
            break
        await asyncio.sleep(0.05)
    assert [m.payload for m in got] == [b"command-1", b"command-1"]  # the broker sent it again
    connected.clear()
    conn._drop("test: again")
    await asyncio.wait_for(connected.wait(), 5)
    await asyncio.sleep(0.5)
    assert len(got) == 2  # acknowledged the second time: not redelivered any more
    task.cancel()
    cloud.stop()


class Publishing:
    """A connection that only publishes; ``connected`` is set once it is up."""

    def __init__(self, port: int, **kw: object) -> None:
        self.connected = asyncio.Event()
        self.conn = MqttConnection(
            options(port, **kw),
            lambda: Will("t/s", b"{}"),
            [],
            self._ignore,
            self._on_connected,
            lambda _: None,
        )

    async def _on_connected(self) -> None:
        self.connected.set()

    async def _ignore(self, _: Inbound) -> None:
        return None


async def test_mqtt_311_publishes_with_puback(broker: Mosquitto) -> None:
    p = Publishing(broker.port, protocol="3.1.1")
    conn = p.conn
    with pytest.raises(NotConnected):
        conn.publish("t/x", b"1", 1, False)
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(p.connected.wait(), 5)
    assert conn.state is ConnectionState.CONNECTED
    await asyncio.wait_for(conn.publish("t/x", b"1", 1, False), 5)
    task.cancel()


def test_full_jitter_is_bounded_and_spread() -> None:
    rng = random.Random(1)
    delays = [full_jitter(10, 1.0, 300.0, rng) for _ in range(1000)]
    assert all(0 <= d <= 300 for d in delays)
    assert min(delays) < 30 and max(delays) > 270  # spread over the whole range
    assert all(full_jitter(0, 1.0, 300.0, rng) <= 1.0 for _ in range(100))


async def test_every_puback_is_handed_over_one_at_a_time_and_in_bursts(
    broker: Mosquitto,
) -> None:
    """PUBACKs reach the loop in bursts (one wake-up for all that arrived meanwhile);
    a lone PUBACK after a burst, and one every few milliseconds, must not wait for
    the next one to be handed over."""
    p = Publishing(broker.port, inflight=1000)
    conn = p.conn
    task = asyncio.create_task(conn.run())
    try:
        await asyncio.wait_for(p.connected.wait(), 5)
        for _ in range(3):
            burst = [conn.publish("t/x", b"%d" % n, 1, False) for n in range(1000)]
            await asyncio.wait_for(asyncio.gather(*burst), 30)
            for _ in range(20):  # low rate: each alone
                await asyncio.wait_for(conn.publish("t/x", b"lone", 1, False), 2)
                await asyncio.sleep(random.uniform(0, 0.02))
        assert conn._pending == {}  # every PUBACK settled its publish
    finally:
        task.cancel()
