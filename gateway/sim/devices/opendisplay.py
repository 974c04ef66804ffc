"""An OpenDisplay BLE e-paper label: its advert, its configuration and its side of the protocol.

As OpenDisplay's firmware answers (the protocol as its maintained client,
py-opendisplay, speaks it: ``opendisplay/protocol/``, ``opendisplay/device.py``):

- one GATT service 0x2446 with one characteristic, written with or without
  response and notifying every answer; commands and answers start with a
  2-byte big-endian command code;
- ``00 40`` (read the configuration) is answered in chunks: the first
  ``00 40 <chunk u16> <total u16 LE> <data>``, the rest ``00 40 <chunk u16>
  <data>``; the configuration is the firmware's container ``<length u16>
  <version> <packets> <CRC-16/CCITT-FALSE LE>`` with the system (0x01),
  manufacturer (0x02), power (0x04) and display (0x20) packets, and an LED
  packet (0x21) for each LED;
- ``00 43`` (firmware version): ``00 43 <major> <minor> <sha length> <sha>
  <patch>``;
- direct write: ``00 70`` alone starts an uncompressed image, ``00 70 <u32
  size LE> <data>`` a zlib-compressed one (a window of at most 9 bits, as the
  firmware's decompressor takes); every ``00 71 <data>`` chunk is answered
  ``00 71``; ``00 72 <refresh> [<etag u32 BE>]`` ends it: answered ``00 72``,
  then, once the panel has refreshed, ``00 73`` (or ``00 74``: the refresh
  timed out); an image of the wrong size, or compressed data that does not
  inflate to the size announced, is answered ``ff 72``... and never shown;
- ``00 73 <led> <12-byte flash pattern>`` flashes an LED and is answered
  ``00 73`` once the pattern has run (``ff 73 <code>``: no such LED);
- a device with an encryption key (AES-128) answers every command but the
  firmware version ``<cmd> fe`` until the client has authenticated: ``00 50
  00`` is answered with a nonce (``00 50 00 <nonce 16> <device id 4>``),
  ``00 50 <client nonce 16> <CMAC proof 16>`` with ``00 50 00 <server proof
  16>`` or ``00 50 01`` (wrong key). Then commands arrive in AES-CCM
  envelopes ``<cmd> <nonce 16> <ciphertext> <tag 12>`` (the command code as
  associated data, the plaintext ``<length> <payload>``); one that does not
  decrypt, or replays an earlier nonce, is answered ``<cmd> ff`` and not
  carried out. Answers longer than an acknowledgement go back in the same
  envelope.

It keeps its configuration, the etag of what it shows and its frame buffer:
one palette index a pixel (0 black, 1 white, 2 red or yellow; on four-colour
panels 0 black, 1 white, 2 yellow, 3 red), decoded from the planes it
received. Timing: one BLE round trip per command or chunk (``chunk_rtt_s``),
the panel's refresh (``refresh_s``, ``fast_refresh_s``) after ``00 72``.
Faults: a chunk lost (never answered), a refresh that times out, the link
dropped mid-transfer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import struct
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.cmac import CMAC

from drivers.types import uuid16
from gateway.sim.devices.base import RadioDevice
from gateway.sim.model import (
    AdvertFrame,
    CharacteristicSpec,
    GattSession,
    Notifier,
    ServiceSpec,
    SimError,
)

SERVICE = uuid16(0x2446)
CHARACTERISTIC = uuid16(0x2446)
MANUFACTURER_ID = 0x2446
MAX_RESPONSE = 100  # bytes of one answer before its envelope (the firmware's buffer)
MAX_IMAGE_BYTES = 1 << 20


class Scheme(IntEnum):
    """The display packet's colour scheme (its values on the wire)."""

    MONO = 0
    BWR = 1
    BWY = 2
    BWRY = 3


class Cmd(IntEnum):
    READ_CONFIG = 0x0040
    READ_FW_VERSION = 0x0043
    AUTHENTICATE = 0x0050
    WRITE_START = 0x0070
    WRITE_DATA = 0x0071
    WRITE_END = 0x0072
    LED = 0x0073  # host to device; device to host it is "refresh complete"
    REFRESH_TIMEOUT = 0x0074


# transmission_modes bits of the display packet
ZIP = 0x02
DIRECT_WRITE = 0x08


@dataclass(frozen=True)
class OpenDisplayBehaviour:
    width: int = 296
    height: int = 128
    scheme: Scheme = Scheme.BWR
    rotation: int = 0  # degrees, as the display packet says
    firmware: tuple[int, int, int] = (2, 25, 0)
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    transmission_modes: int = ZIP | DIRECT_WRITE
    leds: int = 1
    panel_ic: int = 0x0010
    chunk_rtt_s: float = 0.03
    refresh_s: float = 3.0
    fast_refresh_s: float = 0.6
    connect_latency_s: float = 0.3
    lost_chunk_probability: float = 0.0  # per chunk: never answered
    refresh_timeout_probability: float = 0.0  # per refresh: answered 00 74
    drop_probability: float = 0.0  # per chunk: the link goes down
    key: bytes | None = None  # AES-128 master key: the device is encrypted
    device_id: bytes = b"\x00\x00\x00\x01"


def _u16be(code: int) -> bytes:
    return code.to_bytes(2, "big")


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: init 0xFFFF, polynomial 0x1021, no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


TAG = 12
SESSION_LABEL = b"OpenDisplay session"


def _cmac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def session_key(master: bytes, client_nonce: bytes, server_nonce: bytes, device_id: bytes) -> bytes:
    """The firmware's key derivation: a CMAC of the nonces, then one AES block."""
    mixed = _cmac(
        master, SESSION_LABEL + b"\x00" + device_id + client_nonce + server_nonce + b"\x00\x80"
    )
    block = Cipher(algorithms.AES(master), modes.ECB()).encryptor()
    return block.update((1).to_bytes(8, "big") + mixed[:8]) + block.finalize()


@dataclass
class Session:
    key: bytes
    ident: bytes  # 8 bytes: the nonces' first half
    last_counter: int = -1  # the client's
    counter: int = 0  # the device's own

    def open(self, frame: bytes) -> bytes | None:
        """The plaintext command of an encrypted frame; None if it is not authentic."""
        if len(frame) < 2 + 16 + 1 + TAG:
            return None
        code, nonce, sealed = frame[:2], frame[2:18], frame[18:]
        counter = int.from_bytes(nonce[8:], "big")
        if nonce[:8] != self.ident or counter <= self.last_counter:
            return None  # another session's, or a replay
        try:
            plain = AESCCM(self.key, tag_length=TAG).decrypt(nonce[3:], sealed, code)
        except InvalidTag:
            return None
        if not plain or plain[0] != len(plain) - 1:
            return None
        self.last_counter = counter
        return code + plain[1:]

    def seal(self, answer: bytes) -> bytes:
        code, payload = answer[:2], answer[2:]
        nonce = self.ident + self.counter.to_bytes(8, "big")
        self.counter += 1
        sealed = AESCCM(self.key, tag_length=TAG).encrypt(
            nonce[3:], bytes([len(payload)]) + payload, code
        )
        return code + nonce + sealed


def config_container(b: OpenDisplayBehaviour, version: int = 1) -> bytes:
    """The configuration the device keeps, as its firmware stores and sends it."""
    system = struct.pack("<HBBB", 0x0001, 0x01, 0x00, 0xFF) + bytes(15) + b"\xff\xff"
    manufacturer = struct.pack("<HBB", 0x0001, 0x01, 0x00) + bytes(18)
    power = (
        bytes([1])  # battery
        + (230).to_bytes(3, "little")  # mAh
        + struct.pack("<HBBBBBBHIH", 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0)
        + struct.pack("<BBBHB", 0xFF, 0xFF, 0, 0, 0)
        + bytes(4)
    )
    width_mm, height_mm = round(b.width * 0.254), round(b.height * 0.254)  # ~100 dpi
    display = struct.pack(
        "<BBHHHHHHBBBBBBBBBB",
        0,  # instance
        0,  # e-paper
        b.panel_ic,
        b.width,
        b.height,
        width_mm,
        height_mm,
        0,  # tag type
        b.rotation // 90,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0,  # partial update: not supported
        int(b.scheme),
        b.transmission_modes,
        0xFF,
    )
    display += b"\xff" * 7 + bytes(46 - len(display) - 7)
    packets = bytes([0, 0x01]) + system + bytes([0, 0x02]) + manufacturer
    packets += bytes([0, 0x04]) + power + bytes([0, 0x20]) + display
    for n in range(b.leds):
        packets += bytes([n, 0x21]) + bytes([0, 0xFF, 0xFF, 0xFF]) + bytes(18)
    body = bytes(2) + bytes([version]) + packets
    crc = crc16_ccitt_false(body)
    return len(body).to_bytes(2, "little") + body[2:] + crc.to_bytes(2, "little")


def plane_bytes(b: OpenDisplayBehaviour) -> int:
    """Bytes of the image the panel takes (rows padded to whole bytes)."""
    row = (b.width + 7) // 8
    if b.scheme is Scheme.MONO:
        return row * b.height
    if b.scheme in (Scheme.BWR, Scheme.BWY):
        return 2 * row * b.height
    return ((b.width + 3) // 4) * b.height


def decode_image(b: OpenDisplayBehaviour, data: bytes) -> bytes:
    """One palette index a pixel, row by row, from the bytes the panel received."""
    w, h = b.width, b.height
    row = (w + 7) // 8
    out = bytearray(w * h)
    if b.scheme is Scheme.BWRY:
        row4 = (w + 3) // 4
        for y in range(h):
            line = data[y * row4 : (y + 1) * row4]
            for x in range(w):
                out[y * w + x] = (line[x // 4] >> (6 - 2 * (x % 4))) & 0x03
        return bytes(out)
    first = data[: row * h]
    second = data[row * h : 2 * row * h] if b.scheme is not Scheme.MONO else b""
    for y in range(h):
        for x in range(w):
            i = y * row + x // 8
            bit = 7 - x % 8
            if second and (second[i] >> bit) & 1:
                out[y * w + x] = 2
            else:
                out[y * w + x] = (first[i] >> bit) & 1
    return bytes(out)


class OpenDisplaySession(GattSession):
    def __init__(self, label: OpenDisplayLabel, via: str) -> None:
        self._label = label
        self._b = label.behaviour
        self._via = via
        self._notify: Notifier | None = None
        self._notifying = False
        self._closed = False
        self._pending: set[asyncio.TimerHandle] = set()
        self._compressed: bool | None = None  # None: no transfer started
        self._size = 0
        self._buffer = bytearray()
        self._server_nonce: bytes | None = None
        self._session: Session | None = None

    def set_notifier(self, notifier: Notifier) -> None:
        self._notify = notifier

    def start_notify(self, char_uuid: str) -> None:
        if char_uuid == CHARACTERISTIC:
            self._notifying = True

    def stop_notify(self, char_uuid: str) -> None:
        if char_uuid == CHARACTERISTIC:
            self._notifying = False

    def close(self) -> None:
        self._closed = True
        for handle in self._pending:
            handle.cancel()

    async def read(self, char_uuid: str) -> bytes:
        raise SimError("org.bluez.Error.NotPermitted", "Read not permitted")

    async def write(self, char_uuid: str, data: bytes, with_response: bool) -> None:
        if char_uuid != CHARACTERISTIC:
            raise SimError("org.bluez.Error.NotPermitted", "Write not permitted")
        self.command(bytes(data))

    def _reply(self, data: bytes, after_s: float | None = None) -> None:
        in_clear = data[:2] in (b"\x00\x50", b"\x00\x43") or data[2:3] in (b"\xfe", b"\xff")
        if self._session is not None and not in_clear:
            data = self._session.seal(data)

        def send() -> None:
            self._pending.discard(handle)
            if not self._closed and self._notifying and self._notify is not None:
                self._notify(CHARACTERISTIC, data)

        delay = self._b.chunk_rtt_s if after_s is None else after_s
        handle = asyncio.get_running_loop().call_later(delay, send)
        self._pending.add(handle)

    def command(self, data: bytes) -> None:
        if len(data) < 2:
            return
        code, payload = int.from_bytes(data[:2], "big"), data[2:]
        key = self._b.key
        if key is not None and code not in (Cmd.AUTHENTICATE, Cmd.READ_FW_VERSION):
            if self._session is None or len(data) < 30:
                self._reply(b"\x00" + data[1:2] + b"\xfe")  # authenticate first
                return
            opened = self._session.open(data)
            if opened is None:
                self._reply(b"\x00" + data[1:2] + b"\xff")  # not authentic: not carried out
                return
            payload = opened[2:]
        label = self._label
        label.commands[code] += 1
        if code == Cmd.AUTHENTICATE:
            self._authenticate(payload)
        elif code == Cmd.READ_CONFIG:
            self._send_config()
        elif code == Cmd.READ_FW_VERSION:
            major, minor, patch = self._b.firmware
            sha = self._b.sha.encode()
            self._reply(_u16be(code) + bytes([major, minor, len(sha)]) + sha + bytes([patch]))
        elif code == Cmd.WRITE_START:
            self._start(payload)
        elif code == Cmd.WRITE_DATA:
            self._chunk(payload)
        elif code == Cmd.WRITE_END:
            self._end(payload)
        elif code == Cmd.LED:
            self._led(payload)
        else:
            self._reply(b"\xff" + data[1:2] + b"\x00\x00")  # not a command it knows

    def _authenticate(self, payload: bytes) -> None:
        code = _u16be(Cmd.AUTHENTICATE)
        master = self._b.key
        if master is None:
            self._reply(code + b"\x03")  # encryption not configured
            return
        if payload == b"\x00":
            self._session = None
            self._server_nonce = os.urandom(16)
            self._reply(code + b"\x00" + self._server_nonce + self._b.device_id)
            return
        server_nonce, self._server_nonce = self._server_nonce, None
        if server_nonce is None or len(payload) != 32:
            self._reply(code + b"\xff")
            return
        client_nonce, proof = payload[:16], payload[16:]
        device_id = self._b.device_id
        expected = _cmac(master, server_nonce + client_nonce + device_id)
        if not hmac.compare_digest(proof, expected):
            self._label.auth_failures += 1
            self._reply(code + b"\x01")  # wrong key
            return
        key = session_key(master, client_nonce, server_nonce, device_id)
        ident = _cmac(key, client_nonce + server_nonce)[:8]
        server_proof = _cmac(key, server_nonce + client_nonce + device_id)
        self._reply(code + b"\x00" + server_proof)  # sent before the session seals answers
        self._session = Session(key, ident)

    def _send_config(self) -> None:
        config = self._label.config
        code = _u16be(Cmd.READ_CONFIG)
        sent, n = 0, 0
        while sent < len(config) or n == 0:
            head = code + n.to_bytes(2, "little")
            if n == 0:
                head += len(config).to_bytes(2, "little")
            chunk = config[sent : sent + MAX_RESPONSE - len(head)]
            self._reply(head + chunk, after_s=self._b.chunk_rtt_s * (n + 1))
            sent, n = sent + len(chunk), n + 1

    def _start(self, payload: bytes) -> None:
        self._buffer.clear()
        if not payload:
            self._compressed, self._size = False, plane_bytes(self._b)
        else:
            if not self._b.transmission_modes & ZIP or len(payload) < 4:
                self._compressed = None
                self._reply(b"\xff\x70")  # compressed writes not taken: the client sends raw
                return
            size = int.from_bytes(payload[:4], "little")
            if size != plane_bytes(self._b):
                self._compressed = None
                self._reply(b"\xff\x70")  # not this panel's size
                return
            self._compressed, self._size = True, size
            self._buffer += payload[4:]
        self._reply(_u16be(Cmd.WRITE_START))

    def _chunk(self, payload: bytes) -> None:
        if self._compressed is None:
            self._reply(b"\xff\x71")
            return
        rng = self._label.rng
        if rng.random() < self._b.drop_probability:
            self.drop()
            return
        if rng.random() < self._b.lost_chunk_probability:
            return  # never answered: the client times out
        self._buffer += payload
        if len(self._buffer) > MAX_IMAGE_BYTES:
            self._compressed = None
            self._reply(b"\xff\x71")
            return
        if not self._compressed and len(self._buffer) >= self._size:
            self._end(b"")  # the whole image: the firmware ends the transfer itself
            return
        self._reply(_u16be(Cmd.WRITE_DATA))

    def _end(self, payload: bytes) -> None:
        if self._compressed is None:
            self._reply(b"\xff\x72")
            return
        data = bytes(self._buffer[: self._size])
        how = "zlib" if self._compressed else "raw"
        if self._compressed:
            try:
                inflater = zlib.decompressobj(wbits=9)
                data = inflater.decompress(data, self._size + 1) + inflater.flush()
            except zlib.error:
                data = b""
        self._compressed = None
        if len(data) != plane_bytes(self._b):
            self._reply(b"\xff\x72")  # not a whole image of this panel: not shown
            return
        refresh = payload[0] if payload else 0
        etag = int.from_bytes(payload[1:5], "big") if len(payload) >= 5 else 0
        self._reply(_u16be(Cmd.WRITE_END))
        seconds = self._b.fast_refresh_s if refresh == 1 else self._b.refresh_s
        if self._label.rng.random() < self._b.refresh_timeout_probability:
            self._label.etag = 0
            self._reply(_u16be(Cmd.REFRESH_TIMEOUT), after_s=self._b.chunk_rtt_s + seconds)
            return
        loop = asyncio.get_running_loop()
        self._label.received[how] += 1
        loop.call_later(seconds, self._label.show, data, etag, refresh, self._via)
        self._reply(_u16be(Cmd.LED), after_s=self._b.chunk_rtt_s + seconds)  # refresh complete

    def _led(self, payload: bytes) -> None:
        if len(payload) != 13:
            self._reply(b"\xff\x73\x01\x00")
            return
        instance, pattern = payload[0], payload[1:]
        if instance >= self._b.leds:
            self._reply(b"\xff\x73\x02\x00")  # no such LED
            return
        self._label.flashes.append((instance, pattern))
        self._reply(_u16be(Cmd.LED) + b"\x00\x00")  # at once; the pattern runs on


class OpenDisplayLabel(RadioDevice):
    connectable = True
    services = (
        ServiceSpec(
            SERVICE,
            (CharacteristicSpec(CHARACTERISTIC, ("write", "write-without-response", "notify")),),
        ),
    )

    def __init__(self, *, behaviour: OpenDisplayBehaviour, battery_mv: int, **radio: Any) -> None:
        super().__init__(**radio)
        self.behaviour = behaviour
        self.battery_mv = battery_mv
        self.config = config_container(behaviour)
        self.etag = 0  # of what it shows, as the last write said (0: none)
        self.auth_failures = 0
        self.rebooted = True  # until a client connects
        self._pixels: bytes | None = None
        self._image: bytes | None = None
        self.refreshes: list[tuple[str, int]] = []  # (link, refresh mode) per refresh shown
        self.flashes: list[tuple[int, bytes]] = []  # (LED, pattern) per flash
        self.commands: Counter[int] = Counter()  # command code -> times received
        self.received: Counter[str] = Counter()  # images taken: "zlib" or "raw"
        self._frame = self._make_frame()

    def _make_frame(self) -> AdvertFrame:
        return AdvertFrame(
            manufacturer_data={MANUFACTURER_ID: self._advert()},
            name=f"OD{self.address.replace(':', '')[-6:]}",
        )

    def _advert(self) -> bytes:
        """14 bytes after the company id: 11 of sensor slots, the chip's temperature
        ((t + 40) x 2), the battery in 10 mV (bit 8 in the status byte), the status
        (bit 1: rebooted since the last connection)."""
        volts = min(511, self.battery_mv // 10)
        temperature = round((22.0 + 40.0) * 2)
        status = (volts >> 8) & 1 | (0x02 if self.rebooted else 0)
        return bytes(11) + bytes([temperature, volts & 0xFF, status])

    def advert(self, now: float) -> AdvertFrame:
        return self._frame

    async def connect(self, via: str = "") -> GattSession:
        await asyncio.sleep(self.behaviour.connect_latency_s)
        if self.rebooted:
            self.rebooted = False  # the status bit says so until a client has connected
            self._frame = self._make_frame()
        return OpenDisplaySession(self, via)

    def show(self, image: bytes, etag: int, refresh: int, via: str) -> None:
        """The panel has refreshed: it shows ``image`` (its etag committed, if one came)."""
        self._image = image
        self._pixels = decode_image(self.behaviour, image)
        self.etag = etag
        self.refreshes.append((via, refresh))

    def label_image(self) -> bytes | None:
        return self._image

    def label_pixels(self) -> bytes | None:
        """One palette index a pixel of what the panel shows, row by row."""
        return self._pixels

    def label_stats(self) -> dict[str, Any]:
        image = self._image
        return {
            "family": "opendisplay",
            "image_sha256": None if image is None else hashlib.sha256(image).hexdigest(),
            "etag": self.etag,
            "refreshes": len(self.refreshes),
            "flashes": len(self.flashes),
            "received": dict(self.received),
            "connects": dict(self.connects),
            "at": time.monotonic(),
        }
