"""sd_notify in a few lines of the standard library: one datagram to ``$NOTIFY_SOCKET``.

No libsystemd. Abstract socket names (``@...``) included. Outside systemd
(no ``NOTIFY_SOCKET``) every call is a no-op. A failure to send is logged once
and never raised into the caller.
"""

from __future__ import annotations

import os
import socket
import time

import structlog

log = structlog.get_logger("gateway.daemon")


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = env.get("NOTIFY_SOCKET") or None
        self._complained = False
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        self.watchdog_s: float | None = None
        if usec and usec.isdigit() and (not pid or pid == str(os.getpid())):
            self.watchdog_s = int(usec) / 1_000_000

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> bool:
        if self._address is None:
            return False
        address = self._address
        if address.startswith("@"):
            address = "\0" + address[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Never block the event loop: if the receiver's queue is full, drop it.
                sock.setblocking(False)
                sock.connect(address)
                sock.sendall("\n".join(fields).encode())
            return True
        except OSError as exc:
            if not self._complained:
                self._complained = True
                log.warning("cannot notify systemd", socket=self._address, error=str(exc))
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd >= 253 match READY=1 to this reload; 252 ignores it.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def extend_timeout(self, seconds: float) -> bool:
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")
