"""A Gicisky / PICKSMART shelf label: its advert and the label side of its GATT protocol.

As real labels do (vendor protocol note and public captures of the vendor app,
see ``drivers.labels.gicisky``; the advert as captured in
github.com/eigger/hass-gicisky issue #44):

- it advertises flags, the 16-bit service 0xFEF0, manufacturer data 0x5053
  (type low byte, battery in tenths of a volt, software and hardware version,
  type high byte with bit 14 as the firmware sets it) and the name ``NEMR``
  followed by the last four bytes of its address;
- ``01`` is answered with the write size this link allows: ATT MTU - 3, at
  most 244 (``f4 00``); a label whose link has the default MTU of 23 asks for
  20-byte writes;
- ``02`` is accepted in every form real labels take: 5 bytes (fpoli/gicisky-tag),
  6 (``… 00``: OpenEPaperLink; ``… 01``: the vendor app and hass-gicisky for
  QuickLZ) or 8 (``… 00 00 00``: hass-gicisky). The byte after the length, the
  "image type", is deprecated by the vendor's note: the label reads what
  arrives by its content, whatever that byte says;
- ``03`` and every image part are answered ``05 00 <next part>``; a part that
  arrives damaged (an injected fault) is answered ``05 01 <same part>``; the
  last part is answered with a request for the part past the end (or ``05 08``
  on firmware that says so); ``04`` cancels;
- it reads what it received as each container its firmware knows: raw
  planes (every label: the integrations send them to each panel they drive);
  the per-line container and QuickLZ on black/white and black/white/red panels
  (unless its firmware is one without QuickLZ, ``takes_quicklz = false``);
  four-colour and TFT panels read raw planes only. It decompresses into its
  frame buffer (planes, then pixels) and shows it after the panel's refresh;
  a transfer it cannot read is never confirmed;
- commands written before its notifications have settled are lost.

Timing follows real labels: every command and part costs one BLE round trip
(``part_rtt_s``), connecting takes ``connect_latency_s``, the panel refreshes
for ``refresh_s`` after the transfer (the link is free by then) and shows
the new picture once refreshed. A scenario may run labels faster by a
stated factor (``label_speedup``) so that tests keep their time.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from drivers.labels.containers import Container, ContainerError, decode
from drivers.labels.panels import PANELS, Panel
from drivers.types import uuid16
from gateway.sim.devices import encoders, frame
from gateway.sim.devices.base import RadioDevice
from gateway.sim.model import (
    AdvertFrame,
    CharacteristicSpec,
    GattSession,
    Notifier,
    ServiceSpec,
    SimError,
)

SERVICE = uuid16(0xFEF0)
COMMAND = uuid16(0xFEF1)
IMAGE = uuid16(0xFEF2)
MAX_BLOCK = 244  # 4-byte part index + 240 bytes
MAX_IMAGE_BYTES = 1 << 21


@dataclass(frozen=True)
class LabelBehaviour:
    part_rtt_s: float = 0.17
    refresh_s: float = 12.0
    connect_latency_s: float = 0.5
    notify_settle_s: float = 0.3
    att_mtu: int = 247
    finish: Literal["past-end", "done"] = "past-end"
    takes_quicklz: bool = True
    failure_probability: float = 0.0  # per transfer: drops, aborts or damages a part
    connect_failure_probability: float = 0.0


class GiciskySession(GattSession):
    def __init__(self, label: LabelDevice, connect_started: float, via: str = "") -> None:
        self._label = label
        self._via = via
        self._b = label.behaviour
        self._connect_started = connect_started
        self._notify: Notifier | None = None
        self._notifying_since: float | None = None
        self._size = 0
        self._part_bytes = MAX_BLOCK - 4
        self._next_part = 0
        self._buffer = bytearray()
        self._fail_at: int | None = None
        self._fail_mode = "drop"
        self._closed = False
        self._pending: set[asyncio.TimerHandle] = set()

    def set_notifier(self, notifier: Notifier) -> None:
        self._notify = notifier

    def start_notify(self, char_uuid: str) -> None:
        if char_uuid == COMMAND:
            self._notifying_since = time.monotonic()

    def stop_notify(self, char_uuid: str) -> None:
        if char_uuid == COMMAND:
            self._notifying_since = None

    def close(self) -> None:
        self._closed = True
        for handle in self._pending:
            handle.cancel()

    async def read(self, char_uuid: str) -> bytes:
        raise SimError("org.bluez.Error.NotPermitted", "Read not permitted")

    async def write(self, char_uuid: str, data: bytes, with_response: bool) -> None:
        if char_uuid == COMMAND:
            self.command(bytes(data))
        elif char_uuid == IMAGE:
            self.part(bytes(data))
        else:
            raise SimError("org.bluez.Error.NotPermitted", "Write not permitted")

    def _reply(self, data: bytes) -> None:
        """Notify ``data`` one round trip from now (if the link and notifications last)."""

        def send() -> None:
            self._pending.discard(handle)
            if not self._closed and self._notifying_since is not None and self._notify:
                self._notify(COMMAND, data)

        handle = asyncio.get_running_loop().call_later(self._b.part_rtt_s, send)
        self._pending.add(handle)

    def _settled(self) -> bool:
        since = self._notifying_since
        return since is not None and time.monotonic() - since >= self._b.notify_settle_s

    def command(self, data: bytes) -> None:
        """A write to 0xFEF1."""
        if not self._settled():
            return  # the label is not listening yet: the command is lost
        if data == b"\x01":
            block = min(MAX_BLOCK, self._b.att_mtu - 3)
            self._part_bytes = block - 4
            self._reply(b"\x01" + struct.pack("<H", block))
        elif data[:1] == b"\x02":
            if len(data) not in (5, 6, 8):
                self._reply(b"\x02\x01")  # not a form it knows: refused
                return
            size = struct.unpack_from("<I", data, 1)[0]  # the image type after it: deprecated
            if not 0 < size <= MAX_IMAGE_BYTES:
                self._reply(b"\x02\x01")
                return
            self._size = size
            self._reply(b"\x02\x00")
        elif data == b"\x03" and self._size:
            self._buffer.clear()
            self._next_part = 0
            parts = -(-self._size // self._part_bytes)
            rng = self._label.rng
            self._fail_at = None
            if rng.random() < self._b.failure_probability:
                self._fail_at = rng.randrange(parts)
                self._fail_mode = rng.choice(("drop", "abort", "damage"))
            self._reply(b"\x05\x00" + struct.pack("<I", 0))
        elif data == b"\x04":
            self._size = 0
            self._buffer.clear()
            self._reply(b"\x04\x00")
        else:
            self._reply(b"\xff" + data[:1])  # unknown command

    def part(self, data: bytes) -> None:
        """A write to 0xFEF2: ``<u32 part><data>``."""
        if len(data) < 5 or not self._size:
            return
        part = struct.unpack_from("<I", data, 0)[0]
        if part != self._next_part:
            self._reply(b"\x05\x00" + struct.pack("<I", self._next_part))
            return
        if self._fail_at is not None and part == self._fail_at:
            self._fail_at = None
            if self._fail_mode == "abort":
                self.drop()
            elif self._fail_mode == "damage":
                self._reply(b"\x05\x01" + struct.pack("<I", part))  # previous block failed
            return  # "drop": the label never answers this part
        self._buffer += data[4:]
        self._next_part += 1
        if len(self._buffer) < self._size:
            self._reply(b"\x05\x00" + struct.pack("<I", self._next_part))
            return
        if not self._label.receive(bytes(self._buffer[: self._size]), self._via):
            return  # an image this label cannot read: it never confirms
        if self._b.finish == "done":
            self._reply(b"\x05\x08")
        else:
            self._reply(b"\x05\x00" + struct.pack("<I", self._next_part))
        # Connect to confirmation: the time this transfer held a connection slot.
        elapsed = time.monotonic() - self._connect_started + self._b.part_rtt_s
        self._label.transfer_seconds.append(elapsed)


class LabelDevice(RadioDevice):
    connectable = True
    services = (
        ServiceSpec(
            SERVICE,
            (
                CharacteristicSpec(COMMAND, ("write", "write-without-response", "notify")),
                CharacteristicSpec(IMAGE, ("write", "write-without-response")),
            ),
        ),
    )

    def __init__(
        self,
        *,
        hardware: int,
        firmware: int,
        battery_mv: int,
        behaviour: LabelBehaviour,
        **radio: Any,
    ) -> None:
        super().__init__(**radio)
        self.hardware = hardware  # the 16-bit type it advertises (bytes 4 and 0)
        self.firmware = firmware  # software version << 8 | hardware version
        self.battery_mv = battery_mv
        self.behaviour = behaviour
        self.att_mtu = behaviour.att_mtu
        self.panel: Panel | None = PANELS.get(hardware & 0x3FFF)
        self._planes: bytes | None = None
        self.transfers = 0
        self.transfer_seconds: list[float] = []  # per completed transfer: connect to confirmation
        # Per link (adapter, or box/adapter on a floor): images received, panel refreshes.
        self.writes: Counter[str] = Counter()
        self.refreshes: Counter[str] = Counter()
        self.received: Counter[Container] = Counter()  # transfers read, by container
        self._frame = self._make_frame()

    def _make_frame(self) -> AdvertFrame:
        advert = encoders.gicisky_advert(self.hardware, self.battery_mv, self.firmware)
        suffix = self.address.replace(":", "")[-8:]
        return AdvertFrame(
            manufacturer_data={0x5053: advert},
            service_uuids=(SERVICE,),
            name=f"NEMR{suffix}",
            tx_power=3,
        )

    def update_firmware(self, firmware: int) -> None:
        """A firmware update: the label restarts and forgets what it showed."""
        self.firmware = firmware
        self._planes = None
        self._frame = self._make_frame()

    def advert(self, now: float) -> AdvertFrame:
        return self._frame

    def reads(self) -> tuple[Container, ...]:
        """The containers this label's firmware reads, in the order it tries them."""
        if self.panel is None or self.panel.two_bit or self.panel.tft:
            return (Container.RAW,)
        compressed = (Container.QUICKLZ,) if self.behaviour.takes_quicklz else ()
        return (*compressed, Container.LINES, Container.RAW)

    async def connect(self, via: str = "") -> GattSession:
        b = self.behaviour
        started = time.monotonic()
        await asyncio.sleep(b.connect_latency_s)
        if self.rng.random() < b.connect_failure_probability:
            raise SimError("org.bluez.Error.Failed", "le-connection-abort-by-local")
        return GiciskySession(self, started, via)

    def receive(self, data: bytes, via: str = "") -> bool:
        """A complete transfer: read it into the frame buffer; False if it cannot."""
        if self.panel is None or self.panel.layout is None:
            return False
        planes = None
        for container in self.reads():
            try:
                planes = decode(container, self.panel, data)
                break
            except ContainerError:
                continue
        if planes is None:
            return False
        self.received[container] += 1
        self.writes[via] += 1
        asyncio.get_running_loop().call_later(self.behaviour.refresh_s, self.show, planes, via)
        return True

    def show(self, planes: bytes, via: str = "") -> None:
        """The panel has refreshed: it shows these planes."""
        self._planes = planes
        self.transfers += 1
        self.refreshes[via] += 1

    def label_image(self) -> bytes | None:
        """The planes the panel shows (decoded from what it received)."""
        return self._planes

    def label_pixels(self) -> bytes | None:
        """One byte per pixel of the upright picture shown (0 black, 1 white, 2 red, 3 yellow)."""
        if self._planes is None or self.panel is None:
            return None
        return frame.pixels(self.panel, self._planes)

    def label_stats(self) -> dict[str, Any]:
        planes = self._planes
        stats: dict[str, Any] = {
            "transfers": self.transfers,
            "image_sha256": None if planes is None else hashlib.sha256(planes).hexdigest(),
            "connects": dict(self.connects),
            "transfer_seconds": list(self.transfer_seconds),
            "writes": dict(self.writes),
            "refreshes": dict(self.refreshes),
            "containers": {c.value: n for c, n in self.received.items()},
        }
        links = set(self.connects) | set(self.writes) | set(self.refreshes)
        if any("/" in link for link in links):  # on a floor: the same, summed per box
            boxes: dict[str, dict[str, int]] = {}
            for name, counts in (
                ("connects", self.connects),
                ("writes", self.writes),
                ("refreshes", self.refreshes),
            ):
                for link, n in counts.items():
                    box = boxes.setdefault(
                        link.split("/", 1)[0], {"connects": 0, "writes": 0, "refreshes": 0}
                    )
                    box[name] += n
            stats["boxes"] = boxes
        return stats
