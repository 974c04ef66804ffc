"""The virtual store and the gateway as real processes (drills, acceptance runs, benchmarks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _env(**extra: str) -> dict[str, str]:
    # From a source tree, the children import the same tree; installed, the package.
    source = {"PYTHONPATH": str(ROOT)} if (ROOT / "gateway" / "__init__.py").is_file() else {}
    return {**os.environ, **source, **extra}


class StoreProcess:
    """``store-gateway simulate`` in its own process (its own core, like a real radio)."""

    def __init__(
        self, scenario: Path, log: Path, *, device_timeout_s: float = 30.0, rate: float = 1.0
    ) -> None:
        self.scenario, self.log, self.device_timeout_s = scenario, log, device_timeout_s
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        self.bus_address = ""

    def start(self, timeout_s: float = 60.0) -> str:
        """A store of one box: its bus address."""
        line = self._launch("DBUS_SYSTEM_BUS_ADDRESS=")
        self.bus_address = line.split("=", 1)[1]
        return self.bus_address

    def _launch(self, expect: str) -> str:
        """Start the process; its first line (printed once the store is ready)."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway",
                    "simulate",
                    "--scenario",
                    str(self.scenario),
                    "--device-timeout",
                    str(self.device_timeout_s),
                    "--rate",
                    str(self.rate),
                ],
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith(expect):
            self.stop()
            raise RuntimeError(f"virtual store did not start: {line!r}; see {self.log}")
        return line

    def start_floor(self, boxes: int) -> dict[str, str]:
        """A floor of several boxes: the bus address of each (``box id -> address``), from
        the ``DBUS_SYSTEM_BUS_ADDRESS_<ID>=`` lines it prints once ready."""
        first = self._launch("DBUS_SYSTEM_BUS_ADDRESS_")
        assert self.proc is not None and self.proc.stdout is not None
        lines = [first] + [self.proc.stdout.readline().decode().strip() for _ in range(boxes - 1)]
        out = {}
        for line in lines:
            name, _, address = line.partition("=")
            out[name.removeprefix("DBUS_SYSTEM_BUS_ADDRESS_").lower().replace("_", "-")] = address
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class GatewayProcess:
    """``store-gateway run`` against a bus; SIGTERM for a stop, SIGKILL for a crash."""

    def __init__(self, cfg: Path, bus: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.cfg, self.bus, self.log = cfg, bus, log
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(self.cfg)],
                env=_env(DBUS_SYSTEM_BUS_ADDRESS=self.bus, **self.env),
                stdout=log,
                stderr=log,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout_s: float = 40.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


class NotifySocket:
    """An sd_notify socket, as systemd gives a service (``NOTIFY_SOCKET``): what the
    daemon says about itself (``READY=1``, ``STATUS=...``) without asking it anything."""

    def __init__(self, path: Path) -> None:
        import socket

        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self.ready = False
        self.status = ""

    def read(self, timeout_s: float) -> None:
        """Read what arrives within ``timeout_s`` (at least one message if any comes)."""
        self._sock.settimeout(timeout_s)
        try:
            while True:
                for line in self._sock.recv(4096).decode(errors="replace").splitlines():
                    if line == "READY=1":
                        self.ready = True
                    elif line.startswith("STATUS="):
                        self.status = line[len("STATUS=") :]
                self._sock.settimeout(0.0)
        except (TimeoutError, BlockingIOError):
            return

    def devices(self) -> int:
        """Devices known, from the last ``STATUS=`` line (``12/40 devices online, ...``)."""
        head = self.status.split(" devices", 1)[0]
        return int(head.split("/")[1]) if "/" in head else 0

    def close(self) -> None:
        self._sock.close()
        self.path.unlink(missing_ok=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
