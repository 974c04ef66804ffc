"""The whole daemon under measurement, and its baseline, as processes.

``store-gateway run`` with every component a store runs (scanning, registry,
alerts, the MQTT bridge to a local mosquitto, the web page, labels idle),
started with an sd_notify socket so the benchmark learns what it needs (ready,
devices known) from what the daemon tells systemd, without asking it anything
that costs it work. Its CPU and RSS come from ``/proc``; the adverts it
received from its ``/metrics``, read once before and once after a window.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gateway.bench.harness import Run
from gateway.bench.rig.broker import Mosquitto, free_port
from gateway.bench.rig.processes import (
    GatewayProcess,
    NotifySocket,
    StoreProcess,
    cpu_seconds,
    rss_mib,
)
from gateway.bench.rig.web import metrics_text


def config(folder: Path, broker_port: int, web_port: int) -> Path:
    path = folder / "gateway.toml"
    path.write_text(f"""
store_id = "bench-store"
gateway_id = "gw-1"
data_dir = "{folder / "data"}"
[ble]
adapters = ["hci0"]
[mqtt]
host = "127.0.0.1"
port = {broker_port}
[web]
bind = "127.0.0.1"
port = {web_port}
[logging]
level = "warning"
""")
    return path


T = TypeVar("T")


class Daemon:
    """One ``store-gateway run`` against a store's bus, with its own notify socket."""

    def __init__(self, run: Run, name: str, bus: str, broker_port: int) -> None:
        folder = run.folder(name)
        self.web_port = free_port()
        self._data_dir = folder / "data"
        self.notify = NotifySocket(folder / "notify.sock")
        self.process = GatewayProcess(
            config(folder, broker_port, self.web_port),
            bus,
            run.log(f"{name}.log"),
            env={"NOTIFY_SOCKET": str(self.notify.path)},
        )
        self.started = 0.0

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    def start(self) -> None:
        self.started = time.monotonic()
        self.process.start()

    def until_ready(self, timeout_s: float = 60.0) -> float:
        """Seconds from start to ``READY=1``."""
        deadline = time.monotonic() + timeout_s
        while not self.notify.ready:
            self._alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no READY=1 within {timeout_s:.0f} s")
            self.notify.read(0.5)
        return time.monotonic() - self.started

    def until_devices(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.notify.devices() < count:
            self._alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.notify.devices()} of {count} devices known after {timeout_s:.0f} s"
                )
            self.notify.read(1.0)

    def _alive(self) -> None:
        proc = self.process.proc
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode}")

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def adverts(self) -> float:
        """Adverts received so far, from the daemon's ``/metrics``."""
        text = metrics_text(self._data_dir, self.web_port)
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("storegw_adverts_total{")
        )

    def stop(self) -> None:
        if self.process.proc is not None and self.process.proc.poll() is None:
            try:
                self.process.stop(30)
            except subprocess.TimeoutExpired:
                self.process.ensure_stopped()
        self.notify.close()


class Bare:
    """The bare bleak scanner (``gateway.bench.bare``) as a process on the store's bus.
    Its window starts when it says ``measuring``: a daemon measured from then on, for
    as long, is measured on the same adverts in the same seconds (what else the machine
    does then weighs on both alike)."""

    def __init__(self, bus: str, seconds: float, warmup: float = 2.0) -> None:
        self.seconds, self.warmup = seconds, warmup
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.bench.bare", str(seconds), "--warmup", str(warmup)],
            env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def until_measuring(self, timeout_s: float = 60.0) -> None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s + self.warmup)
        line = self.proc.stdout.readline().strip() if ready else ""
        if line != "measuring":
            self.stop()
            raise RuntimeError(f"the bare scanner did not start measuring: {self._stderr()}")

    def result(self) -> dict[str, Any]:
        try:
            out, err = self.proc.communicate(timeout=self.seconds + self.warmup + 60)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError("the bare scanner did not finish its window") from None
        if self.proc.returncode != 0:
            raise RuntimeError(f"the bare scanner failed: {err[-1500:]}")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def _stderr(self) -> str:
        self.stop()
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-1500:]


def beside_bare(
    bus: str, seconds: float, read: Callable[[], T]
) -> tuple[dict[str, Any], T, T, float]:
    """A window of ``seconds`` measured twice: the bare scanner's figures, and ``read()``
    (the daemon's counters) at its start and end, with the seconds between those reads."""
    scanner = Bare(bus, seconds)
    try:
        scanner.until_measuring()
        started, before = time.monotonic(), read()
        time.sleep(seconds)
        after = read()
        elapsed = time.monotonic() - started
        return scanner.result(), before, after, elapsed
    finally:
        scanner.stop()


def bare(bus: str, seconds: float, warmup: float = 2.0) -> dict[str, Any]:
    """The bare bleak scanner's figures for a window of its own."""
    return Bare(bus, seconds, warmup).result()


class Stand:
    """A virtual store and a broker as processes, for one part of a benchmark."""

    def __init__(self, run: Run, name: str, scenario_text: str, *, rate: float = 1.0) -> None:
        folder = run.folder(name)
        self.scenario = folder / "scenario.toml"
        self.scenario.write_text(scenario_text)
        self.broker = Mosquitto(run.folder(f"{name}-broker"))
        self.store = StoreProcess(self.scenario, run.log(f"{name}-store.log"), rate=rate)
        self.bus = ""

    def __enter__(self) -> Stand:
        self.broker.start()
        self.bus = self.store.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.stop()
        self.broker.stop()
