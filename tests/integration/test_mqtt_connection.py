"""The MQTT connection against a real mosquitto: manual acks, 3.1.1, backoff."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as paho
import pytest

from gateway.bench.rig.broker import Mosquitto
from gateway.bench.rig.cloud import Cloud
from gateway.bridge.mqtt import (
    ConnectionState,
    Inbound,
    MqttConnection,
    MqttOptions,
    NotConnected,
    ReconnectPolicy,
    Will,
    full_jitter,
)
from tests.helpers.proxy import TcpProxy


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path)
    m.start()
    yield m
    m.stop()


def options(port: int, **kw: object) -> MqttOptions:
    settings: dict[str, Any] = {"reconnect_min_s": 0.1, "reconnect_max_s": 0.3, **kw}
    return MqttOptions(host="127.0.0.1", port=port, client_id="gw-test", **settings)


async def subscribed(
    port: int, on_message: Callable[[Inbound], Awaitable[None]], **kw: Any
) -> tuple[MqttConnection, asyncio.Event, asyncio.Task[None], Cloud]:
    """A connection taking commands on ``t/commands`` (``kw``: its signals), up, and a cloud
    to publish with; ``connected`` is set on every connect."""
    connected = asyncio.Event()

    async def on_connected() -> None:
        connected.set()

    conn = MqttConnection(
        options(port),
        lambda: Will("t/s", b"{}"),
        ["t/commands"],
        on_message,
        on_connected,
        lambda _: None,
        **kw,
    )
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(connected.wait(), 5)
    cloud = Cloud(port)
    cloud.start()
    await asyncio.sleep(0.3)
    return conn, connected, task, cloud


async def test_unhandled_command_is_redelivered_after_reconnect(broker: Mosquitto) -> None:
    got: list[Inbound] = []

    async def on_message(msg: Inbound) -> None:
        got.append(msg)
        if len(got) == 1:
            raise RuntimeError("storage failed")  # not acknowledged to the broker

    conn, connected, task, cloud = await subscribed(broker.port, on_message)
    cloud.publish("t/commands", b"command-1")
    for _ in range(50):
        if got:
            break
        await asyncio.sleep(0.05)
    assert [m.payload for m in got] == [b"command-1"]
    connected.clear()
    conn.drop("test: connection dropped")  # as if the link died
    await asyncio.wait_for(connected.wait(), 5)
    for _ in range(100):
        if len(got) >= 2:
            break
        await asyncio.sleep(0.05)
    assert [m.payload for m in got] == [b"command-1", b"command-1"]  # the broker sent it again
    connected.clear()
    conn.drop("test: again")
    await asyncio.wait_for(connected.wait(), 5)
    await asyncio.sleep(0.5)
    assert len(got) == 2  # acknowledged the second time: not redelivered any more
    task.cancel()
    cloud.stop()


async def test_signals_are_handled_at_once_while_commands_wait_their_turn(
    broker: Mosquitto,
) -> None:
    """A claim must not wait behind a campaign's commands: signals (QoS 0, their own lane)
    are handled while a command is still being handled; commands stay one at a time, in
    order, and a retained signal comes again on every connect."""
    release = asyncio.Event()
    commands: list[bytes] = []
    signals: list[Inbound] = []

    async def on_message(msg: Inbound) -> None:
        commands.append(msg.payload)
        await release.wait()  # a long command: a campaign's 400 labels

    conn, connected, task, cloud = await subscribed(
        broker.port, on_message, signals=["t/gw/+/owns/+"], on_signal=signals.append
    )
    cloud.publish("t/commands", b"command-1")
    cloud.publish("t/commands", b"command-2")
    cloud.publish("t/gw/b/owns/label-1", b"claim", retain=True)
    for _ in range(100):
        if signals:
            break
        await asyncio.sleep(0.05)
    assert commands == [b"command-1"]  # the first still being handled, the second waits
    assert [(s.topic, s.payload, s.qos) for s in signals] == [("t/gw/b/owns/label-1", b"claim", 0)]
    release.set()
    for _ in range(100):
        if len(commands) == 2:
            break
        await asyncio.sleep(0.05)
    assert commands == [b"command-1", b"command-2"]
    connected.clear()
    conn.drop("test: connection dropped")
    await asyncio.wait_for(connected.wait(), 5)
    for _ in range(100):
        if len(signals) == 2:
            break
        await asyncio.sleep(0.05)
    assert [s.payload for s in signals] == [b"claim", b"claim"]  # retained: sent again
    await asyncio.sleep(0.3)
    assert commands == [b"command-1", b"command-2"]  # both acknowledged: not redelivered
    task.cancel()
    cloud.stop()


def test_signals_need_a_handler() -> None:
    async def nothing(*_: object) -> None:
        return None

    with pytest.raises(ValueError, match="on_signal"):
        MqttConnection(
            options(1883),
            lambda: Will("t/s", b"{}"),
            [],
            nothing,
            nothing,
            lambda _: None,
            signals=["t/gw/+/status"],
        )


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
        assert conn.unacknowledged == 0  # every PUBACK settled its publish
    finally:
        task.cancel()


class ThreadNoting(paho.Client):
    """A real paho client that notes on which thread its blocking calls run."""

    calls: ClassVar[list[tuple[str, bool]]] = []  # (call, on the event loop's thread)

    def _note(self, call: str) -> None:
        self.calls.append((call, threading.current_thread() is threading.main_thread()))

    def connect(self, *args: Any, **kw: Any) -> Any:
        self._note("connect")
        return super().connect(*args, **kw)

    def loop_stop(self) -> Any:
        self._note("loop_stop")
        return super().loop_stop()


async def test_the_connection_owns_reconnecting_and_never_blocks_the_loop(
    broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens at first: the error names the address and the attempts follow the
    configured backoff. Connections reset later are replaced by exactly one new
    connection each (paho's own reconnecting would bring the old client back too), and
    the TCP connect and the join of paho's thread never run on the event loop."""
    monkeypatch.setattr(paho, "Client", ThreadNoting)
    ThreadNoting.calls = []
    proxy = TcpProxy(broker.port)
    await proxy.start()
    port = proxy.port
    await proxy.stop()  # the port is closed: connection refused
    p = Publishing(port)
    task = asyncio.create_task(p.conn.run())
    try:
        await asyncio.sleep(1.0)
        assert p.conn.connects == 0
        assert (p.conn.last_error or "").startswith(f"cannot connect to 127.0.0.1:{port}: ")
        attempts = [c for c, _ in ThreadNoting.calls if c == "connect"]
        assert len(attempts) >= 4  # every 0.3 s at most, not paho's 1, 2, 4, ... s

        proxy = TcpProxy(broker.port)
        await proxy.start(port)
        await asyncio.wait_for(p.connected.wait(), 5)
        for n in range(1, 4):
            p.connected.clear()
            accepted = proxy.accepted
            assert proxy.reset() == 1
            await asyncio.wait_for(p.connected.wait(), 5)
            await asyncio.sleep(1.5)  # paho's own retry would come after 1 s
            assert proxy.accepted == accepted + 1, f"reset {n}: one new connection"
            assert proxy.open_connections == 1
        assert p.conn.connects == 4
        assert ("loop_stop", False) in ThreadNoting.calls
        assert all(not on_loop for _, on_loop in ThreadNoting.calls), ThreadNoting.calls
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await proxy.stop()


def test_reconnect_policy_backs_off_and_starts_again_after_a_connection() -> None:
    policy = ReconnectPolicy(1.0, 300.0, random.Random(3))
    early = [policy.next_delay() for _ in range(3)]
    assert all(d <= 4.0 for d in early)
    late = [policy.next_delay() for _ in range(20)][-10:]
    assert max(late) > 60.0 and all(d <= 300.0 for d in late)
    policy.connected()
    assert policy.next_delay() <= 1.0
    refused = [policy.next_delay(auth_refused=True) for _ in range(20)]
    assert all(150.0 <= d <= 300.0 for d in refused)  # wrong credentials: no hammering


async def test_wrong_credentials_are_told_apart_and_retried_slowly(tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    passwords.write_text("")
    await asyncio.to_thread(
        subprocess.run, ["mosquitto_passwd", "-b", str(passwords), "gw", "right"], check=True
    )
    passwords.chmod(0o600)
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(
        tmp_path / "broker", extra=f"allow_anonymous false\npassword_file {passwords}\n"
    )
    broker.start()
    secret = tmp_path / "secret"
    secret.write_text("wrong\n")
    lost: list[str] = []
    conn = MqttConnection(
        options(broker.port, username="gw", password_file=secret, reconnect_max_s=30.0),
        lambda: Will("t/s", b"{}"),
        [],
        lambda _m: asyncio.sleep(0),
        lambda: asyncio.sleep(0),
        lost.append,
    )
    task = asyncio.create_task(conn.run())
    try:
        for _ in range(100):
            if conn.last_error:
                break
            await asyncio.sleep(0.05)
        assert conn.auth_refused, conn.last_error
        assert "refused the credentials" in str(conn.last_error), conn.last_error
        assert conn.connects == 0 and lost == []
        assert conn.policy.next_delay(auth_refused=True) >= 15.0
        # The same with the right password connects.
        secret.write_text("right\n")
        right = Publishing(broker.port, username="gw", password_file=secret)
        running = asyncio.create_task(right.conn.run())
        await asyncio.wait_for(right.connected.wait(), 10)
        running.cancel()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        broker.stop()
