"""A private dbus-daemon in a temporary directory (never the machine's system bus)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">33554432</limit>
  <limit name="max_replies_per_connection">50000</limit>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """``async with PrivateBus() as bus: bus.address`` — a dbus-daemon of our own."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self.address = ""

    async def __aenter__(self) -> PrivateBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> str:
        binary = shutil.which("dbus-daemon")
        if binary is None:
            raise RuntimeError("dbus-daemon is not installed (Debian package: dbus)")
        self._dir = Path(tempfile.mkdtemp(prefix="storegw-bus-"))
        socket = self._dir / "bus"
        config = self._dir / "bus.conf"
        config.write_text(CONFIG.format(socket=socket))
        return await self._launch(binary, config)

    async def _launch(self, binary: str, config: Path) -> str:
        self._proc = await asyncio.create_subprocess_exec(
            binary,
            f"--config-file={config}",
            "--nofork",
            "--nopidfile",
            "--print-address",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), timeout=10)
        except TimeoutError:
            await self.stop()
            raise RuntimeError("dbus-daemon did not start within 10 s") from None
        if not line:
            err = b""
            if self._proc.stderr is not None:
                err = await self._proc.stderr.read()
            await self.stop()
            raise RuntimeError(f"dbus-daemon failed: {err.decode(errors='replace').strip()}")
        self.address = line.decode().strip()
        return self.address

    @property
    def stable_address(self) -> str:
        """The address without the daemon's guid: the same after :meth:`restart`."""
        return ",".join(p for p in self.address.split(",") if not p.startswith("guid="))

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def kill(self) -> None:
        """The bus dies at once, as with its machine (SIGKILL); it can be restarted."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    async def restart(self) -> str:
        """A killed bus comes back at the same address (the machine rebooted)."""
        binary = shutil.which("dbus-daemon")
        if binary is None or self._dir is None:
            raise RuntimeError("this bus was never started")
        await self.kill()
        return await self._launch(binary, self._dir / "bus.conf")

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=5)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
