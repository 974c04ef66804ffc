"""The daemon's technicians' access as a process: HTTPS by default with a certificate it
makes for itself (its fingerprint logged, shown by ``web-cert``, renewed and served after
SIGHUP), HSTS, plain HTTP refused on the TLS port; mutual TLS with a CA of the store's
management network; ``store-gateway users`` against the running daemon and a stopped
one, each change audited (told to the cloud, the stopped one's at the next start)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.access.passwords import hash_password
from gateway.bench.rig.broker import Mosquitto, free_port
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.contract import schema_errors
from gateway.sim.runner import RunningStore
from gateway.web.tls import fingerprint
from tests.helpers.certs import make_pki

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-admin-password"


def config(tmp_path: Path, web_port: int, mqtt_port: int | None = None, tls: str = "") -> Path:
    mqtt = (
        "[mqtt]\nenabled = false\n"
        if mqtt_port is None
        else f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\n'
    )
    path = tmp_path / "gw.toml"
    path.write_text(f"""
store_id = "s1"
gateway_id = "gw-1"
data_dir = "{tmp_path / "data"}"
[ble]
adapters = ["hci0"]
{mqtt}
[web]
bind = "127.0.0.1"
port = {web_port}
{tls}
[[web.users]]
name = "ada"
role = "admin"
password_hash = "{hash_password(PASSWORD, log2_n=10)}"
[logging]
level = "info"
format = "json"
""")
    return path


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def served_fingerprint(port: int) -> str:
    """The SHA-256 of the certificate the port serves (not verified: just read)."""
    from cryptography import x509

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return fingerprint(x509.load_der_x509_certificate(der))


async def wait_serving(port: int, ssl_context: ssl.SSLContext | bool) -> None:
    connector = aiohttp.TCPConnector(ssl=ssl_context)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(300):
            try:
                async with http.get(f"https://127.0.0.1:{port}/healthz"):
                    return
            except (aiohttp.ClientConnectionError, ssl.SSLError):
                await asyncio.sleep(0.1)
    raise AssertionError("the page never served")


def log_events(log: Path, event: str) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            out.append(entry)
    return out


@pytest.mark.timeout(180)
async def test_https_by_default_a_renewed_certificate_and_the_users_command(
    store: RunningStore, tmp_path: Path
) -> None:
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port)
    cloud.start()
    port = free_port()
    cfg = config(tmp_path, port, broker.port)
    gw = GatewayProcess(cfg, store.bus_address, tmp_path / "gw.log")
    gw.start()
    try:
        cert = tmp_path / "data" / "web-cert.pem"
        for _ in range(300):
            if cert.exists():
                break
            await asyncio.sleep(0.1)
        trust = ssl.create_default_context(cafile=str(cert))  # the gateway's own, only
        await wait_serving(port, trust)
        [started] = log_events(tmp_path / "gw.log", "web page")
        assert started["url"] == f"https://127.0.0.1:{port}/" and started["made"]
        shown = cli("web-cert", "--config", str(cfg))
        assert shown.returncode == 0, shown.stderr
        assert f"SHA-256      {started['sha256']}" in shown.stdout
        assert served_fingerprint(port) == started["sha256"]
        assert (tmp_path / "data" / "web-key.pem").stat().st_mode & 0o777 == 0o600

        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as http,
            http.get(f"https://127.0.0.1:{port}/") as resp,
        ):
            assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
        # Plain HTTP on the TLS port is not answered as a page.
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    await resp.read()

        # Users through the running daemon: added, a short password refused, listed.
        added = cli(
            "users", "add", "tom", "--role", "technician", "--stdin", "--config", str(cfg),
            stdin="tom-long-password\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        short = cli("users", "passwd", "tom", "--stdin", "--config", str(cfg), stdin="short\n")
        assert short.returncode == 1 and "at least 10 characters" in short.stderr
        last = cli("users", "role", "ada", "viewer", "--config", str(cfg))
        assert last.returncode == 1 and "last admin" in last.stderr
        listed = cli("users", "list", "--json", "--config", str(cfg))
        users = {u["name"]: u for u in json.loads(listed.stdout)["users"]}
        assert users["tom"]["role"] == "technician" and users["ada"]["role"] == "admin"

        # A burst of failed sign-ins (ten, of several names) fires the built-in alert.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as http:
            for n in range(10):
                body = {"user": ("ada", "tom", "root")[n % 3], "password": f"guess-{n}"}
                async with http.post(f"https://127.0.0.1:{port}/api/login", json=body) as resp:
                    assert resp.status in (401, 429)
        await cloud.until(
            lambda: any(
                e["type"] == "alert.firing" and e["alert"]["rule"] == "failed-sign-ins"
                for e in cloud.of("/events")
            ),
            20,
            "the failed sign-ins alert",
        )

        # Renewed, then served to new connections after SIGHUP (no restart).
        renewed = cli("web-cert", "--renew", "--config", str(cfg))
        assert renewed.returncode == 0 and "made now" in renewed.stdout, renewed.stderr
        new = next(
            line.split()[-1] for line in renewed.stdout.splitlines() if line.startswith("SHA-256")
        )
        assert new != started["sha256"]
        assert gw.proc is not None
        gw.proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            if served_fingerprint(port) == new:
                break
            await asyncio.sleep(0.1)
        assert served_fingerprint(port) == new

        # The users changes were told to the cloud as audit events (contract 1.2).
        await cloud.until(
            lambda: len([e for e in cloud.of("/events") if e["type"] == "audit.action"]) >= 3,
            20,
            "audit events",
        )
        audit = [e for e in cloud.of("/events") if e["type"] == "audit.action"]
        for e in audit:
            assert schema_errors("event", e) == [], e
        assert [(e["audit"]["action"], e["audit"]["target"], e["audit"]["ok"]) for e in audit][
            :3
        ] == [
            ("user.add", "tom", True),
            ("user.change", "tom", False),
            ("user.change", "ada", False),
        ]
        assert all(e["audit"]["via"] == "cli" for e in audit)

        # Stopped: the command changes the database; the next start tells the cloud.
        assert gw.stop() == 0
        removed = cli("users", "remove", "tom", "--config", str(cfg))
        assert removed.returncode == 0, removed.stderr
        gw.start()
        await cloud.until(
            lambda: any(
                e["type"] == "audit.action" and e["audit"]["action"] == "user.remove"
                for e in cloud.of("/events")
            ),
            30,
            "the stopped gateway's change told",
        )
    finally:
        gw.ensure_stopped()
        cloud.stop()
        broker.stop()


@pytest.mark.timeout(120)
async def test_mutual_tls_lets_in_only_the_management_networks_clients(
    store: RunningStore, tmp_path: Path
) -> None:
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    tls = (
        f'[web.tls]\ncert = "{pki["server"]}"\nkey = "{pki["server"].with_suffix(".key")}"\n'
        f'client_ca = "{pki["ca"]}"\n'
    )
    cfg = config(tmp_path, port, tls=tls)
    assert cli("check-config", "--config", str(cfg)).returncode == 0
    gw = GatewayProcess(cfg, store.bus_address, tmp_path / "gw.log")
    gw.start()
    try:
        with_cert = ssl.create_default_context(cafile=str(pki["ca"]))
        with_cert.load_cert_chain(str(pki["client"]), str(pki["client"].with_suffix(".key")))
        await wait_serving(port, with_cert)
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=with_cert)) as http,
            http.get(f"https://127.0.0.1:{port}/healthz") as resp,
        ):
            assert resp.status in (200, 503)
        without = ssl.create_default_context(cafile=str(pki["ca"]))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=without)) as http:
            with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
                async with http.get(f"https://127.0.0.1:{port}/healthz") as resp:
                    await resp.read()
        # web-cert shows the configured certificate and will not renew it.
        shown = cli("web-cert", "--config", str(cfg))
        assert "CN=server" in shown.stdout
        refused = cli("web-cert", "--renew", "--config", str(cfg))
        assert refused.returncode == 1 and "renew it where it was issued" in refused.stderr
    finally:
        gw.ensure_stopped()


async def test_bad_certificate_settings_are_named(tmp_path: Path) -> None:
    half = config(tmp_path, free_port(), tls='[web.tls]\ncert = "/nowhere/cert.pem"\n')
    checked = cli("check-config", "--config", str(half))
    assert checked.returncode == 78 and "give both cert and key" in checked.stdout + checked.stderr
    plain = config(tmp_path, free_port(), tls="[web.tls]\nenabled = false\n")
    told = cli("web-cert", "--config", str(plain))
    assert told.returncode == 1 and "plain HTTP" in told.stderr
