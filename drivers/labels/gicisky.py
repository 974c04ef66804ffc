"""The Gicisky / PICKSMART image transfer as a pure state machine, driven by the label.

Service 0xFEF0; commands are written to 0xFEF1, which answers by notification;
image parts go to 0xFEF2 as writes without response (the vendor's protocol
note, github.com/fpoli/gicisky-tag docs/ble-tag-protocol.html, and the public
captures of the vendor app):

    (enable notifications, wait ~1 s: the integrations that drive real labels do)
    01                              -> 01 <u16 block>     write size incl. the 4-byte index
    02 <u32 length> <type...>       -> 02 00              accepted (other: refused)
    03                              -> 05 00 <u32 part>   send this part
    <u32 part><block - 4 bytes>     -> 05 ss <u32 part>   ss 0: next part; ss != 0: the
                                                          previous part failed, resend
                                    -> 05 00 <parts>      the part past the end: all there
                                    -> 05 08              done (older firmware)

The label decides the write size: its answer to ``01`` follows the link's MTU
(``f4 00`` = 244-byte writes at an ATT MTU of 247 or more, ``14 00`` = 20 at
the default 23); a label asking for more than the link carries is refused
before anything is written. A label that asks for the same part three times
in a row has stalled. Every step has a deadline.

The machine is given the content in every container the label takes, best
first: when the label refuses a size command (``02`` answered with a non-zero
status), the next container is announced in the same connection. A label that
took every part of a compressed image and never confirmed did not read it:
:attr:`GiciskyTransfer.refused` names both kinds, for the next write to skip.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.labels.base import Action, Pause, SetTimeout, Write
from drivers.labels.containers import Container, size_command

SERVICE = "0000fef0-0000-1000-8000-00805f9b34fb"
COMMAND = "0000fef1-0000-1000-8000-00805f9b34fb"
IMAGE = "0000fef2-0000-1000-8000-00805f9b34fb"
PART_INDEX_BYTES = 4
MAX_PART_DATA = 240  # the vendor note's maximum per image write
NOTIFY_SETTLE_S = 1.0  # after enabling notifications, before the first command
STEP_TIMEOUT_S = 5.0
FINAL_TIMEOUT_S = 30.0  # after the last part: some labels answer once refreshed
STALL_REPEATS = 3


@dataclass(frozen=True, slots=True)
class Payload:
    container: Container
    data: bytes


class GiciskyTransfer:
    notify_characteristics = (COMMAND,)
    data_characteristic = IMAGE

    def __init__(
        self,
        payloads: Sequence[Payload],
        *,
        settle_s: float = NOTIFY_SETTLE_S,
        step_timeout_s: float = STEP_TIMEOUT_S,
        final_timeout_s: float = FINAL_TIMEOUT_S,
    ) -> None:
        if not payloads or any(not p.data for p in payloads):
            raise ValueError("nothing to send")
        self._payloads = tuple(payloads)
        self._choice = 0
        self._settle_s = settle_s
        self._step_s = step_timeout_s
        self._final_s = final_timeout_s
        self._step = "new"
        self._max_write: int | None = None
        self._part_bytes = 0
        self._parts = 0
        self._sent = 0  # parts 0 .. sent-1 have been written at least once
        self._last_asked = -1
        self._repeats = 0
        self._refused: list[Container] = []
        self.finished = False
        self.failure: tuple[str, str] | None = None

    @property
    def container(self) -> Container:
        """The container in use (or to be announced next)."""
        return self._payloads[self._choice].container

    @property
    def refused(self) -> tuple[Container, ...]:
        """Compressed containers this label did not read: refused at the size command,
        or every part written and no confirmation before the deadline."""
        unread = (
            self.failure is not None
            and self.failure[0] == "timeout"
            and self._step == "parts"
            and self._parts > 0
            and self._sent == self._parts
            and self.container is not Container.RAW
        )
        return (*self._refused, self.container) if unread else tuple(self._refused)

    @property
    def progress(self) -> tuple[int, int]:
        return self._sent, self._parts

    @property
    def part_bytes(self) -> int:
        """Data bytes per image write, as the label asked (0 before it answered)."""
        return self._part_bytes

    def start(self, max_write: int | None) -> list[Action]:
        """``max_write``: bytes one write carries on this link; None if the link does not say."""
        self._max_write = max_write
        self._step = "block"
        actions: list[Action] = [Pause(self._settle_s)] if self._settle_s > 0 else []
        return [*actions, Write(COMMAND, b"\x01", False), SetTimeout(self._step_s)]

    def _fail(self, kind: str, text: str) -> list[Action]:
        self.finished = True
        self.failure = (kind, text)
        return []

    def _announce(self) -> list[Action]:
        payload = self._payloads[self._choice]
        self._parts = -(-len(payload.data) // self._part_bytes)
        self._step = "size"
        return [
            Write(COMMAND, size_command(payload.container, len(payload.data)), False),
            SetTimeout(self._step_s),
        ]

    def receive_notification(self, char_uuid: str, data: bytes) -> list[Action]:
        if self.finished or char_uuid != COMMAND:
            return []  # not part of this protocol: ignore
        if data[:1] == b"\x04":
            return self._fail("protocol", f"the label cancelled the transfer ({data.hex(' ')})")
        if self._step == "block":
            return self._block(data)
        if self._step == "size":
            return self._size(data)
        if self._step == "parts":
            return self._part(data)
        return self._fail("protocol", f"notification {data.hex(' ')} before the transfer started")

    def _block(self, data: bytes) -> list[Action]:
        if len(data) < 3 or data[0] != 0x01:
            return self._fail("protocol", f"unexpected reply {data.hex(' ')} to 01")
        block = struct.unpack_from("<H", data, 1)[0]
        if block <= PART_INDEX_BYTES:
            return self._fail("protocol", f"the label asks for {block}-byte writes")
        if self._max_write is not None and block > self._max_write:
            return self._fail(
                "link",
                f"the label asks for {block}-byte writes; this link carries "
                f"{self._max_write} (ATT MTU {self._max_write + 3})",
            )
        self._part_bytes = min(block - PART_INDEX_BYTES, MAX_PART_DATA)
        return self._announce()

    def _size(self, data: bytes) -> list[Action]:
        if len(data) < 2 or data[0] != 0x02:
            return self._fail("protocol", f"unexpected reply {data.hex(' ')} to 02")
        if data[1] != 0:
            if self.container is not Container.RAW:
                self._refused.append(self.container)
            if self._choice + 1 < len(self._payloads):
                self._choice += 1  # refused: offer the next container this label takes
                return self._announce()
            return self._fail(
                "rejected", f"the label refused the {self.container} image ({data.hex(' ')})"
            )
        self._step = "parts"
        return [Write(COMMAND, b"\x03", False), SetTimeout(self._step_s)]

    def _part(self, data: bytes) -> list[Action]:
        if len(data) < 2 or data[0] != 0x05:
            return self._fail("protocol", f"unexpected reply {data.hex(' ')} during parts")
        if data[1] == 0x08:
            if self._sent < self._parts:
                return self._fail("protocol", f"done after {self._sent} of {self._parts} parts")
            self.finished = True
            return []
        if len(data) < 6:
            return self._fail("protocol", f"unexpected reply {data.hex(' ')} during parts")
        part = struct.unpack_from("<I", data, 2)[0]
        if part >= self._parts:
            if part == self._parts and self._sent == self._parts and data[1] == 0:
                self.finished = True  # the part past the end: the label has everything
                return []
            return self._fail("protocol", f"the label asked for part {part} of {self._parts}")
        self._repeats = self._repeats + 1 if part == self._last_asked else 1
        self._last_asked = part
        if self._repeats >= STALL_REPEATS:
            return self._fail(
                "protocol", f"stalled: the label asked for part {part} {self._repeats} times"
            )
        self._sent = max(self._sent, part + 1)
        payload = self._payloads[self._choice].data
        start = part * self._part_bytes
        chunk = payload[start : start + self._part_bytes]
        last = part == self._parts - 1
        return [
            Write(IMAGE, struct.pack("<I", part) + chunk, False),
            SetTimeout(self._final_s if last else self._step_s),
        ]

    def timeout(self) -> list[Action]:
        if self.finished:
            return []
        where = {"block": "01", "size": "02", "parts": "a part"}.get(self._step, self._step)
        return self._fail(
            "timeout",
            f"no reply from the label (after {where}; part {self._sent} of {self._parts})",
        )
