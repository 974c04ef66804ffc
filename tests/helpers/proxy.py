"""A TCP proxy on loopback that can black-hole or reset the connections through it.

``blackhole()`` stops forwarding on every open connection and on those accepted
while it lasts, without closing anything: both ends see a healthy socket that
carries nothing (a half-open path, as when a store's uplink dies silently).
``restore()`` forwards again on new connections; the black-holed ones stay dead,
so a client notices only through its keepalive. ``reset()`` aborts every open
connection with a TCP RST.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    dead: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TcpProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target_port, self.host = target_port, host
        self.port = 0
        self.accepted = 0
        self._holing = False
        self._conns: set[_Conn] = set()
        self._server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> None:
        """Listen on ``port`` (0: any free one; see :attr:`port`)."""
        self._server = await asyncio.start_server(self._handle, self.host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            self._close(conn)
        if self._server is not None:
            await self._server.wait_closed()

    def blackhole(self) -> None:
        self._holing = True
        for conn in self._conns:
            conn.dead = True

    def restore(self) -> None:
        self._holing = False

    def reset(self) -> int:
        """Abort every open connection with RST; returns how many."""
        conns = list(self._conns)
        for conn in conns:
            for writer in (conn.client, conn.upstream):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
            self._close(conn)
        return len(conns)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.close()
            return
        conn = _Conn(writer, up_writer, dead=self._holing)
        self._conns.add(conn)
        conn.tasks = [
            asyncio.create_task(self._pipe(conn, reader, up_writer)),
            asyncio.create_task(self._pipe(conn, up_reader, writer)),
        ]

    async def _pipe(
        self, conn: _Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await reader.read(65536):
                if not conn.dead:  # a black hole swallows what it gets
                    writer.write(data)
                    await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if not conn.dead:
                self._close(conn)

    def _close(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        for writer in (conn.client, conn.upstream):
            with contextlib.suppress(Exception):
                writer.close()
        current = asyncio.current_task()
        for task in conn.tasks:
            if task is not current:
                task.cancel()
