"""OpenDisplay BLE e-paper labels: configuration, image planes and the direct write, pure.

The open protocol of OpenDisplay's firmware (nRF52/nRF54, Silabs, ESP32 and
re-flashed retail tags), as its maintained client py-opendisplay speaks it.
One GATT characteristic, 0x2446 in service 0x2446, takes every command and
notifies every answer; each starts with a 2-byte big-endian command code.

Configuration (``00 40``). The label answers in chunks: ``00 40 <n u16 LE>``,
the first with ``<total u16 LE>``, then data; the data is the firmware's
container ``<length u16> <version> <packets> <CRC-16/CCITT-FALSE LE>``, each
packet ``<number> <type> <fixed-size payload>``. :func:`parse_config` reads
the display packet (0x20: size, colour scheme, rotation, transmission modes)
and counts the LED packets (0x21); the gateway keeps it per label.

Image (:func:`pack`). Rows padded to whole bytes, most significant bit first:
black/white one plane (1 = white); black/white/red two planes, the first
1 for white or red, the second 1 for red (black/white/yellow: the first 1 for
white, the second for yellow); four colours two bits a pixel, the palette's
index (0 black, 1 white, 2 yellow, 3 red).

Direct write (:class:`OpenDisplayTransfer`), stop and wait:

    00 70 [<u32 size LE> <zlib data>]  -> 00 70   (ff 70: not compressed, send raw)
    00 71 <data>                       -> 00 71   (00 72: the raw image is whole,
                                                   the label ends the transfer)
    00 72 <refresh> <etag u32 BE>      -> 00 72
                                       -> 00 73   the panel has refreshed: displayed
                                       -> 00 74   the refresh timed out

Only a finished refresh (``00 73``) counts as displayed. The etag is
committed by the END; a raw image the label ended itself leaves it 0.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from drivers.labels.base import Action, SetTimeout, Write

SERVICE = "00002446-0000-1000-8000-00805f9b34fb"
CHARACTERISTIC = "00002446-0000-1000-8000-00805f9b34fb"
CHUNK = 230  # data bytes per 00 71 write
START_MAX = 200  # bytes of the 00 70 write, command included
ZLIB_WINDOW_BITS = 9  # the firmware's decompressor takes no larger window
STEP_TIMEOUT_S = 5.0
REFRESH_TIMEOUT_S = 90.0  # the firmware allows a refresh up to 60 s, then answers 00 74

PACKET_SIZES = {0x01: 22, 0x02: 22, 0x04: 30, 0x20: 46, 0x21: 22, 0x23: 30, 0x24: 30, 0x25: 30}
PACKET_SIZES |= {0x26: 160, 0x27: 64, 0x28: 32, 0x29: 32, 0x2A: 32, 0x2B: 32}
ZIP = 0x02
STREAMING_ZIP = 0x01


class Scheme(IntEnum):
    MONO = 0
    BWR = 1
    BWY = 2
    BWRY = 3


COLOURS = {
    Scheme.MONO: ("black", "white"),
    Scheme.BWR: ("black", "white", "red"),
    Scheme.BWY: ("black", "white", "yellow"),
    Scheme.BWRY: ("black", "white", "yellow", "red"),
}


class ConfigError(ValueError):
    """A configuration this gateway cannot use (the text says what and why)."""


@dataclass(frozen=True, slots=True)
class Display:
    """What the gateway needs of a label's configuration to write it."""

    width: int
    height: int
    scheme: Scheme
    rotation: int  # degrees
    transmission_modes: int
    leds: int

    @property
    def compressed(self) -> bool:
        return bool(self.transmission_modes & (ZIP | STREAMING_ZIP))

    @property
    def colours(self) -> tuple[str, ...]:
        return COLOURS[self.scheme]

    @property
    def image_bytes(self) -> int:
        if self.scheme is Scheme.BWRY:
            return (self.width + 3) // 4 * self.height
        planes = 1 if self.scheme is Scheme.MONO else 2
        return planes * ((self.width + 7) // 8) * self.height


def parse_config(container: bytes) -> Display:
    """The first display and the LED count of a label's configuration container."""
    if len(container) < 5:
        raise ConfigError(f"configuration of {len(container)} bytes; a container has 5 at least")
    packets = container[3:-2]
    display: bytes | None = None
    leds = 0
    pos = 0
    while pos + 2 <= len(packets):
        kind = packets[pos + 1]
        size = PACKET_SIZES.get(kind)
        if size is None:
            break  # the firmware stops at a packet it does not know; so do we
        body = packets[pos + 2 : pos + 2 + size]
        if len(body) < size:
            raise ConfigError(f"packet 0x{kind:02x} cut short: {len(body)} of {size} bytes")
        if kind == 0x20 and display is None:
            display = body
        elif kind == 0x21:
            leds += 1
        pos += 2 + size
    if display is None:
        raise ConfigError("no display packet (0x20) in the configuration")
    width, height = struct.unpack_from("<HH", display, 4)
    rotation, scheme, modes = display[14], display[21], display[22]
    if not width or not height:
        raise ConfigError(f"the display packet says {width}x{height} pixels")
    try:
        colour_scheme = Scheme(scheme)
    except ValueError:
        raise ConfigError(
            f"colour scheme {scheme} (of OpenDisplay's 0-8, this gateway writes 0-3: "
            "black/white, with red, with yellow, four colours)"
        ) from None
    degrees = rotation * 90 if rotation < 4 else rotation
    return Display(width, height, colour_scheme, degrees % 360, modes, leds)


def config_answer(chunks: list[bytes]) -> bytes | None:
    """The container from the ``00 40`` notifications so far; None until it is whole."""
    if not chunks:
        return None
    first = chunks[0]
    total = int.from_bytes(first[4:6], "little")
    data = first[6:] + b"".join(c[4:] for c in chunks[1:])
    return data[:total] if len(data) >= total else None


def pack(indices: bytes, display: Display) -> bytes:
    """The image bytes of a picture given as one colour index a pixel, row by row
    (0 black, 1 white, 2 red or yellow; four colours: 2 yellow, 3 red)."""
    w, h = display.width, display.height
    if len(indices) != w * h:
        raise ValueError(f"{len(indices)} pixels; the panel has {w}x{h}")
    if display.scheme is Scheme.BWRY:
        row = (w + 3) // 4
        out = bytearray(row * h)
        for y in range(h):
            for x in range(w):
                out[y * row + x // 4] |= (indices[y * w + x] & 3) << (6 - 2 * (x % 4))
        return bytes(out)
    row = (w + 7) // 8
    first = bytearray(row * h)
    second = bytearray(row * h)
    white = (1, 2) if display.scheme is Scheme.BWR else (1,)
    for y in range(h):
        for x in range(w):
            value = indices[y * w + x]
            bit = 0x80 >> (x % 8)
            if value in white:
                first[y * row + x // 8] |= bit
            if value == 2:
                second[y * row + x // 8] |= bit
    return bytes(first) if display.scheme is Scheme.MONO else bytes(first + second)


def compress(image: bytes) -> bytes:
    """zlib with the window the firmware's decompressor takes."""
    packer = zlib.compressobj(level=6, wbits=ZLIB_WINDOW_BITS)
    return packer.compress(image) + packer.flush()


def etag_of(content_hash: str) -> int:
    """A label's etag for content: 32 bits of its hash, never 0 (0 means none)."""
    return int(content_hash[:8], 16) or 1


def _code(data: bytes) -> int:
    return int.from_bytes(data[:2], "big") if len(data) >= 2 else -1


class ReadConfig:
    """Read a label's configuration (``00 40``): :attr:`display` once finished."""

    notify_characteristics = (CHARACTERISTIC,)
    data_characteristic = CHARACTERISTIC

    def __init__(self, *, step_timeout_s: float = STEP_TIMEOUT_S) -> None:
        self._step_s = step_timeout_s
        self._chunks: list[bytes] = []
        self.finished = False
        self.failure: tuple[str, str] | None = None
        self.container: bytes | None = None
        self.display: Display | None = None

    def start(self, max_write: int | None) -> list[Action]:
        return [Write(CHARACTERISTIC, b"\x00\x40", True), SetTimeout(self._step_s)]

    def receive_notification(self, char_uuid: str, data: bytes) -> list[Action]:
        if self.finished or char_uuid != CHARACTERISTIC:
            return []
        if len(data) == 3 and data[2] == 0xFE:
            return self._fail("rejected", "the label needs its key to be read")
        if data[:2] == b"\xff\x40":
            return self._fail("rejected", "the label has no configuration stored")
        if _code(data) != 0x0040 or len(data) < (6 if not self._chunks else 5):
            return self._fail("protocol", f"unexpected answer {data.hex(' ')} to 00 40")
        if int.from_bytes(data[2:4], "little") != len(self._chunks):
            return self._fail("protocol", f"configuration chunk {data[2:4].hex()} out of order")
        self._chunks.append(data)
        container = config_answer(self._chunks)
        if container is None:
            return [SetTimeout(self._step_s)]
        try:
            self.display = parse_config(container)
        except ConfigError as exc:
            return self._fail("rejected", f"its configuration: {exc}")
        self.container = container
        self.finished = True
        return []

    def _fail(self, kind: str, text: str) -> list[Action]:
        self.finished = True
        self.failure = (kind, text)
        return []

    def timeout(self) -> list[Action]:
        if self.finished:
            return []
        got = sum(len(c) for c in self._chunks)
        return self._fail(
            "timeout", f"no answer from the label reading its configuration ({got} B)"
        )


class OpenDisplayTransfer:
    """One image to one label, driven by its answers (the :class:`~gateway.labels.session.
    Machine` shape). ``compressed`` None sends the raw image."""

    notify_characteristics = (CHARACTERISTIC,)
    data_characteristic = CHARACTERISTIC

    def __init__(
        self,
        image: bytes,
        *,
        compressed: bytes | None,
        etag: int,
        fast: bool = False,
        step_timeout_s: float = STEP_TIMEOUT_S,
        refresh_timeout_s: float = REFRESH_TIMEOUT_S,
    ) -> None:
        if not image:
            raise ValueError("nothing to send")
        self._image = image
        self._zipped = compressed
        self._etag = etag
        self._fast = fast
        self._step_s = step_timeout_s
        self._refresh_s = refresh_timeout_s
        self._data = b""
        self._sent = 0
        self._step = "new"
        self.finished = False
        self.failure: tuple[str, str] | None = None
        self.sent_compressed = False
        self.chunks = 0

    def _fail(self, kind: str, text: str) -> list[Action]:
        self.finished = True
        self.failure = (kind, text)
        return []

    def start(self, max_write: int | None) -> list[Action]:
        if max_write is not None and max_write < 2 + CHUNK:
            return self._fail(
                "link", f"this link carries {max_write}-byte writes; the label's chunks need 232"
            )
        return self._begin(self._zipped is not None)

    def _begin(self, zipped: bool) -> list[Action]:
        self._step = "start"
        self.sent_compressed = zipped
        if zipped:
            assert self._zipped is not None
            head = b"\x00\x70" + struct.pack("<I", len(self._image))
            first = self._zipped[: START_MAX - len(head)]
            self._data, self._sent = self._zipped, len(first)
            return [Write(CHARACTERISTIC, head + first, True), SetTimeout(self._step_s)]
        self._data, self._sent = self._image, 0
        return [Write(CHARACTERISTIC, b"\x00\x70", True), SetTimeout(self._step_s)]

    def _next(self) -> list[Action]:
        if self._sent >= len(self._data):
            return self._end()
        chunk = self._data[self._sent : self._sent + CHUNK]
        self._sent += len(chunk)
        self.chunks += 1
        self._step = "data"
        return [Write(CHARACTERISTIC, b"\x00\x71" + chunk, False), SetTimeout(self._step_s)]

    def _end(self) -> list[Action]:
        self._step = "end"
        end = b"\x00\x72" + bytes([1 if self._fast else 0]) + self._etag.to_bytes(4, "big")
        return [Write(CHARACTERISTIC, end, True), SetTimeout(self._refresh_s)]

    def receive_notification(self, char_uuid: str, data: bytes) -> list[Action]:
        if self.finished or char_uuid != CHARACTERISTIC:
            return []
        code = _code(data)
        if len(data) == 3 and data[2] in (0xFE, 0xFF):
            what = "it needs its key" if data[2] == 0xFE else "it could not read the command"
            return self._fail("rejected", f"the label refused {data[:2].hex()}: {what}")
        if self._step == "start":
            if code == 0x0070:
                return self._next()
            if data[:1] == b"\xff" and self.sent_compressed:
                return self._begin(False)  # it does not take this compressed image: raw
            return self._fail("protocol", f"unexpected answer {data.hex(' ')} to 00 70")
        if self._step == "data":
            if code == 0x0071:
                return self._next()
            if code == 0x0072 and not self.sent_compressed and self._sent >= len(self._data):
                self._step = "refresh"  # the label ended the raw transfer itself
                return [SetTimeout(self._refresh_s)]
            return self._fail("protocol", f"unexpected answer {data.hex(' ')} to a chunk")
        if self._step == "end":
            if code == 0x0072:
                self._step = "refresh"
                return [SetTimeout(self._refresh_s)]
            return self._fail("protocol", f"the label refused the image ({data.hex(' ')})")
        if self._step == "refresh":
            if code == 0x0073:
                self.finished = True  # refreshed: displayed
                return []
            if code == 0x0074:
                return self._fail("timeout", "the panel's refresh timed out (00 74)")
            return self._fail("protocol", f"unexpected answer {data.hex(' ')} while refreshing")
        return self._fail("protocol", f"answer {data.hex(' ')} before the transfer started")

    def timeout(self) -> list[Action]:
        if self.finished:
            return []
        where = {"start": "00 70", "data": "a chunk", "end": "00 72", "refresh": "the refresh"}
        return self._fail("timeout", f"no answer from the label (after {where[self._step]})")


def led_command(instance: int, colour: int, flashes: int) -> bytes:
    """``00 73``: flash LED ``instance`` ``flashes`` times in ``colour`` (mode 1, mid
    brightness, once), the firmware's 12-byte pattern."""
    if not 0 <= instance <= 0xFF or not 1 <= flashes <= 15 or not 0 <= colour <= 0xFF:
        raise ValueError("LED instance 0-255, colour 0-255, 1-15 flashes")
    pattern = bytes([(7 << 4) | 1, colour, flashes, 0]) + bytes(6) + bytes([0, 0])
    return b"\x00\x73" + bytes([instance]) + pattern
