from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from gateway.daemon.sdnotify import Notifier
from gateway.daemon.watchdog import Watchdog


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify")
        sock.bind(address)
    else:
        address = f"@storegw-test-{os.getpid()}-{id(sock)}"
        sock.bind("\0" + address[1:])
    sock.settimeout(2)
    yield sock, address
    sock.close()


def test_messages_reach_the_socket(notify_socket) -> None:  # type: ignore[no-untyped-def]
    sock, address = notify_socket
    n = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "20000000"})
    assert n.enabled and n.watchdog_s == 20.0
    assert n.ready("3/5 devices online")
    assert sock.recv(4096) == b"READY=1\nSTATUS=3/5 devices online"
    n.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    n.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    n.extend_timeout(15)
    assert sock.recv(4096) == b"EXTEND_TIMEOUT_USEC=15000000"
    n.reloading()
    assert sock.recv(4096).startswith(b"RELOADING=1\nMONOTONIC_USEC=")


def test_without_systemd_nothing_happens_and_nothing_raises(tmp_path: Path) -> None:
    assert Notifier({}).ready() is False
    broken = Notifier({"NOTIFY_SOCKET": str(tmp_path / "missing")})
    assert broken.watchdog() is False and broken.watchdog() is False
    assert Notifier({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_s is None


def test_watchdog_pings_only_while_all_components_progress(notify_socket) -> None:  # type: ignore[no-untyped-def]
    sock, address = notify_socket
    now = [100.0]
    progress = {"ble": 100.0, "database": 100.0}
    dog = Watchdog(Notifier({"NOTIFY_SOCKET": address}), clock=lambda: now[0])
    dog.watch("ble", lambda: progress["ble"], 60)
    dog.watch("database", lambda: progress["database"], 30)
    dog.status_line(lambda: "48/48 devices online")
    assert dog.tick() is True
    got = {sock.recv(4096), sock.recv(4096)}
    assert got == {b"WATCHDOG=1", b"STATUS=48/48 devices online"}
    now[0] = 140.0  # the database has not moved for 40 s: over its 30 s limit
    progress["ble"] = 139.0
    assert dog.tick() is False and dog.stale == ["database"]
    assert sock.recv(4096) == b"STATUS=48/48 devices online; stuck: database"
    progress["database"] = 139.5
    assert dog.tick() is True
    assert {sock.recv(4096), sock.recv(4096)} == {b"WATCHDOG=1", b"STATUS=48/48 devices online"}
    assert dog.pings == 2
