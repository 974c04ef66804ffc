"""Mutual TLS with a real mosquitto that requires client certificates."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.rig.broker import Mosquitto
from gateway.bridge.mqtt import ConnectionState, MqttConnection, MqttOptions, Will
from tests.helpers.certs import make_pki


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    m = Mosquitto(tmp_path)
    m.extra = (
        f"cafile {pki}/ca.pem\ncertfile {pki}/server.pem\nkeyfile {pki}/server.key\n"
        "require_certificate true\nuse_identity_as_username true\ntls_version tlsv1.2\n"
    )
    m.start()
    yield m, pki
    m.stop()


async def connect(options: MqttOptions) -> MqttConnection:
    connected = asyncio.Event()

    async def on_connected() -> None:
        connected.set()

    async def ignore(_: Any) -> None:
        return None

    conn = MqttConnection(
        options,
        lambda: Will("t/status", b"{}"),
        ["t/commands"],
        ignore,
        on_connected,
        lambda _: None,
    )
    task = asyncio.create_task(conn.run())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(connected.wait(), timeout=5)
    task.cancel()
    return conn


async def test_client_certificate_accepted_and_required(tls_broker: tuple[Mosquitto, Path]) -> None:
    broker, pki = tls_broker
    base = dict(
        host="127.0.0.1",
        port=broker.port,
        client_id="gw-tls",
        tls=True,
        ca_file=pki / "ca.pem",
        reconnect_min_s=0.1,
        reconnect_max_s=0.2,
    )
    with_cert = await connect(
        MqttOptions(
            **base,
            cert_file=pki / "client.pem",  # type: ignore[arg-type]
            key_file=pki / "client.key",
        )
    )
    assert with_cert.connects == 1
    without = await connect(MqttOptions(**base))  # type: ignore[arg-type]
    assert without.connects == 0 and without.last_error
    assert without.state is not ConnectionState.CONNECTED


async def test_server_certificate_is_verified(
    tls_broker: tuple[Mosquitto, Path], tmp_path: Path
) -> None:
    broker, pki = tls_broker
    other = tmp_path / "other"
    other.mkdir()
    make_pki(other)  # a CA the broker's certificate does not chain to
    conn = await connect(
        MqttOptions(
            host="127.0.0.1",
            port=broker.port,
            client_id="gw-tls2",
            tls=True,
            ca_file=other / "ca.pem",
            cert_file=pki / "client.pem",
            key_file=pki / "client.key",
            reconnect_min_s=0.1,
            reconnect_max_s=0.2,
        )
    )
    assert conn.connects == 0
