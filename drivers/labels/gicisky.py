"""The Gicisky / PICKSMART image transfer as a pure state machine.

As implemented by the public projects that reverse-engineered the labels
(github.com/eigger/hass-gicisky, gicisky_ble/writer.py; github.com/fpoli/gicisky-tag):
service 0xFEF0, command characteristic 0xFEF1 (write, notify), image
characteristic 0xFEF2 (write without response).

    write 01                          -> notify 01 F4 00      (ready)
    write 02 <size u32 LE> 00 00 00   -> notify 02 ...        (size accepted)
    write 03                          -> notify 05 00 <0>     (send part 0)
    write (FEF2) <part u32 LE><<=240> -> notify 05 00 <next>  (per part)
                                      -> notify 05 08         (done, refreshed)

The labels have no LED: ``label-flash`` is not supported by this model.
"""

from __future__ import annotations

import struct

from drivers.labels.base import Action, SetTimeout, Write

SERVICE = "0000fef0-0000-1000-8000-00805f9b34fb"
COMMAND = "0000fef1-0000-1000-8000-00805f9b34fb"
IMAGE = "0000fef2-0000-1000-8000-00805f9b34fb"
PART_BYTES = 240
STEP_TIMEOUT_S = 5.0
REFRESH_TIMEOUT_S = 30.0  # after the last part the panel refreshes before it answers


class GiciskyTransfer:
    notify_characteristics = (COMMAND,)

    def __init__(self, content: bytes) -> None:
        if not content:
            raise ValueError("nothing to send")
        self._content = content
        self._parts = (len(content) + PART_BYTES - 1) // PART_BYTES
        self._step = "start"
        self._sent_parts = 0
        self.finished = False
        self.failure: tuple[str, str] | None = None

    @property
    def progress(self) -> tuple[int, int]:
        return self._sent_parts, self._parts

    def start(self) -> list[Action]:
        self._step = "ready"
        return [Write(COMMAND, b"\x01", False), SetTimeout(STEP_TIMEOUT_S)]

    def _fail(self, kind: str, text: str) -> list[Action]:
        self.finished = True
        self.failure = (kind, text)
        return []

    def receive_notification(self, char_uuid: str, data: bytes) -> list[Action]:
        if self.finished:
            return []
        if char_uuid != COMMAND:
            return []  # not part of this protocol: ignore
        step = self._step
        if step == "ready":
            if data[:3] != b"\x01\xf4\x00":
                return self._fail("protocol", f"unexpected reply {data.hex(' ')} to 01")
            self._step = "size"
            size = struct.pack("<I", len(self._content))
            return [
                Write(COMMAND, b"\x02" + size + b"\x00\x00\x00", False),
                SetTimeout(STEP_TIMEOUT_S),
            ]
        if step == "size":
            if data[:1] != b"\x02":
                return self._fail("protocol", f"unexpected reply {data.hex(' ')} to 02")
            if len(data) >= 2 and data[1] != 0:
                return self._fail("rejected", f"the label refused the size ({data.hex(' ')})")
            self._step = "parts"
            return [Write(COMMAND, b"\x03", False), SetTimeout(STEP_TIMEOUT_S)]
        if step == "parts":
            if data[:2] == b"\x05\x08":
                if self._sent_parts < self._parts:
                    return self._fail(
                        "protocol", f"done after {self._sent_parts} of {self._parts} parts"
                    )
                self.finished = True
                return []
            if len(data) < 6 or data[:2] != b"\x05\x00":
                return self._fail("protocol", f"unexpected reply {data.hex(' ')} during parts")
            part = struct.unpack_from("<I", data, 2)[0]
            if part >= self._parts:
                return self._fail("protocol", f"label asked for part {part} of {self._parts}")
            chunk = self._content[part * PART_BYTES : (part + 1) * PART_BYTES]
            self._sent_parts = max(self._sent_parts, part + 1)
            last = part == self._parts - 1
            return [
                Write(IMAGE, struct.pack("<I", part) + chunk, False),
                SetTimeout(REFRESH_TIMEOUT_S if last else STEP_TIMEOUT_S),
            ]
        return self._fail("protocol", f"notification in step {step}")

    def timeout(self) -> list[Action]:
        if self.finished:
            return []
        return self._fail(
            "timeout",
            f"no reply from the label (step {self._step}, part "
            f"{self._sent_parts} of {self._parts})",
        )


# ---- the image container of panels that take compressed transfers (7.5") -----------------
#
# As described by github.com/eigger/hass-gicisky (gicisky_ble/compression.py): the
# planes are split in two halves; the transfer is the second half's length
# (u32 LE), then each half as chunks of at most 64 bytes, each chunk
# ``74 <3 + n> <n> <n raw bytes>`` or ``75 <3 + m> <n> <QuickLZ level 1 data>``.
# This writer sends raw chunks only: valid for the label, 3 bytes per 64 larger
# than the planes, and nothing to get wrong in a compressor.

CHUNK_BYTES = 64
RAW_CHUNK = 0x74
QUICKLZ_CHUNK = 0x75


def container(planes: bytes) -> bytes:
    """The planes in the container format, as raw chunks."""
    half = len(planes) // 2
    out = bytearray(struct.pack("<I", len(planes) - half))
    for part in (planes[:half], planes[half:]):
        for i in range(0, len(part), CHUNK_BYTES):
            chunk = part[i : i + CHUNK_BYTES]
            out += bytes((RAW_CHUNK, 3 + len(chunk), len(chunk))) + chunk
    return bytes(out)


def read_container(data: bytes) -> bytes:
    """The planes back from a container (raw chunks only); ValueError if malformed."""
    if len(data) < 4:
        raise ValueError("container shorter than its header")
    second = struct.unpack_from("<I", data)[0]
    out = bytearray()
    pos = 4
    while pos < len(data):
        if pos + 3 > len(data):
            raise ValueError(f"truncated chunk header at byte {pos}")
        kind, total, size = data[pos], data[pos + 1], data[pos + 2]
        if kind == QUICKLZ_CHUNK:
            raise ValueError("QuickLZ chunks are not supported by this reader")
        if kind != RAW_CHUNK or total != 3 + size or size == 0 or size > CHUNK_BYTES:
            raise ValueError(f"bad chunk at byte {pos}: {data[pos : pos + 3].hex()}")
        if pos + total > len(data):
            raise ValueError(f"chunk at byte {pos} runs past the end")
        out += data[pos + 3 : pos + total]
        pos += total
    if second > len(out):
        raise ValueError(f"second half of {second} bytes, but only {len(out)} bytes in all")
    return bytes(out)
