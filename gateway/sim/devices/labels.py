"""A Gicisky / PICKSMART shelf label: its advert and the label side of its GATT protocol.

Protocol as implemented by the public projects that reverse-engineered these
labels (github.com/eigger/hass-gicisky gicisky_ble/writer.py, and
github.com/fpoli/gicisky-tag): service 0xFEF0; command characteristic 0xFEF1
(write, notify) and image characteristic 0xFEF2 (write without response).

    01                         -> 01 F4 00        (ready; block size)
    02 <size u32 LE> 00 00 00  -> 02 00           (size accepted)
    03                         -> 05 00 <part 0>  (send part 0)
    <part u32 LE><<=240 bytes> -> 05 00 <next>    (on 0xFEF2, per part)
                               -> 05 08           (all received, display refreshed)

The label keeps the bytes it received once a transfer completes
(``label_image``), so a test can compare them with what the gateway rendered.
A firmware update (``update_firmware``) restarts the label: it then shows its
start screen (no image) and advertises the new firmware number.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
from dataclasses import dataclass
from typing import Any

from drivers.labels.gicisky import read_container
from drivers.labels.models import PANELS
from drivers.types import uuid16
from gateway.sim.devices import encoders
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
PART_BYTES = 240
MAX_IMAGE_BYTES = 1 << 20


@dataclass(frozen=True)
class LabelBehaviour:
    chunk_latency_s: float = 0.004
    refresh_s: float = 0.5
    connect_latency_s: float = 0.05
    failure_probability: float = 0.0  # per transfer: drops a request or aborts
    connect_failure_probability: float = 0.0


class GiciskySession(GattSession):
    def __init__(self, label: LabelDevice, connect_started: float) -> None:
        self._label = label
        self._connect_started = connect_started
        self._notify: Notifier | None = None
        self._notifying = False
        self._size = 0
        self._next_part = 0
        self._buffer = bytearray()
        self._fail_at: int | None = None
        self._fail_mode = "drop"
        self._closed = False
        self._pending: set[asyncio.Task[None]] = set()

    def set_notifier(self, notifier: Notifier) -> None:
        self._notify = notifier

    def start_notify(self, char_uuid: str) -> None:
        if char_uuid == COMMAND:
            self._notifying = True

    def stop_notify(self, char_uuid: str) -> None:
        if char_uuid == COMMAND:
            self._notifying = False

    def close(self) -> None:
        self._closed = True
        for task in self._pending:
            task.cancel()

    async def read(self, char_uuid: str) -> bytes:
        raise SimError("org.bluez.Error.NotPermitted", "Read not permitted")

    async def write(self, char_uuid: str, data: bytes, with_response: bool) -> None:
        if char_uuid == COMMAND:
            self._command(bytes(data))
        elif char_uuid == IMAGE:
            self._part(bytes(data))
        else:
            raise SimError("org.bluez.Error.NotPermitted", "Write not permitted")

    def _reply(self, data: bytes, delay: float) -> None:
        async def later() -> None:
            await asyncio.sleep(delay)
            if not self._closed and self._notifying and self._notify is not None:
                self._notify(COMMAND, data)

        task = asyncio.get_running_loop().create_task(later())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _command(self, data: bytes) -> None:
        b = self._label.behaviour
        if data == b"\x01":
            self._reply(b"\x01\xf4\x00", b.chunk_latency_s)
        elif len(data) == 8 and data[0] == 0x02:
            size = struct.unpack_from("<I", data, 1)[0]
            if not 0 < size <= MAX_IMAGE_BYTES:
                self._reply(b"\x02\x01", b.chunk_latency_s)
                return
            self._size = size
            self._reply(b"\x02\x00", b.chunk_latency_s)
        elif data == b"\x03" and self._size:
            self._buffer.clear()
            self._next_part = 0
            parts = (self._size + PART_BYTES - 1) // PART_BYTES
            rng = self._label.rng
            self._fail_at = None
            if rng.random() < b.failure_probability:
                self._fail_at = rng.randrange(parts)
                self._fail_mode = rng.choice(("drop", "abort"))
            self._reply(b"\x05\x00" + struct.pack("<I", 0), b.chunk_latency_s)
        else:
            self._reply(b"\xff" + data[:1], b.chunk_latency_s)  # unknown command

    def _part(self, data: bytes) -> None:
        b = self._label.behaviour
        if len(data) < 5 or not self._size:
            return
        part = struct.unpack_from("<I", data, 0)[0]
        if part != self._next_part:
            self._reply(b"\x05\x00" + struct.pack("<I", self._next_part), b.chunk_latency_s)
            return
        if self._fail_at is not None and part == self._fail_at:
            self._fail_at = None
            if self._fail_mode == "abort":
                self.drop()
            return  # "drop": the label never answers this part
        self._buffer += data[4:]
        self._next_part += 1
        if len(self._buffer) >= self._size:
            if self._label.receive(bytes(self._buffer[: self._size])):
                self._reply(b"\x05\x08", b.refresh_s)
                # Connect to confirmation: the time this transfer held a connection slot.
                elapsed = time.monotonic() - self._connect_started + b.refresh_s
                self._label.transfer_seconds.append(elapsed)
            # else: an image this label cannot read; it never confirms (the writer times out)
        else:
            self._reply(b"\x05\x00" + struct.pack("<I", self._next_part), b.chunk_latency_s)


class LabelDevice(RadioDevice):
    connectable = True
    services = (
        ServiceSpec(
            SERVICE,
            (
                CharacteristicSpec(COMMAND, ("write", "notify")),
                CharacteristicSpec(IMAGE, ("write-without-response",)),
            ),
        ),
    )

    def __init__(
        self,
        *,
        panel_type: int,
        firmware: int,
        battery_mv: int,
        behaviour: LabelBehaviour,
        **radio: Any,
    ) -> None:
        super().__init__(**radio)
        self.panel_type = panel_type
        self.firmware = firmware
        self.battery_mv = battery_mv
        self.behaviour = behaviour
        self._image: bytes | None = None
        self.transfers = 0
        self.transfer_seconds: list[float] = []  # per completed transfer: connect to confirmation
        self._frame = self._make_frame()

    def _make_frame(self) -> AdvertFrame:
        advert = encoders.gicisky_advert(self.panel_type, self.battery_mv, self.firmware)
        return AdvertFrame(manufacturer_data={0x5053: advert}, name="PICKSMART")

    def update_firmware(self, firmware: int) -> None:
        """A firmware update: the label restarts and forgets what it showed."""
        self.firmware = firmware
        self._image = None
        self._frame = self._make_frame()

    def advert(self, now: float) -> AdvertFrame:
        return self._frame

    async def connect(self) -> GattSession:
        b = self.behaviour
        started = time.monotonic()
        await asyncio.sleep(b.connect_latency_s)
        if self.rng.random() < b.connect_failure_probability:
            raise SimError("org.bluez.Error.Failed", "le-connection-abort-by-local")
        return GiciskySession(self, started)

    def receive(self, data: bytes) -> bool:
        """A complete transfer: show it (unpacking the container on panels that take
        compressed transfers). False if the label cannot read it."""
        panel = PANELS.get(self.panel_type)
        if panel is not None and panel.compression:
            try:
                data = read_container(data)
            except ValueError:
                return False
        self.show(data)
        return True

    def show(self, image: bytes) -> None:
        self._image = image
        self.transfers += 1

    def label_image(self) -> bytes | None:
        return self._image

    def label_stats(self) -> dict[str, Any]:
        image = self._image
        return {
            "transfers": self.transfers,
            "image_sha256": None if image is None else hashlib.sha256(image).hexdigest(),
            "connects": dict(self.connects),
            "transfer_seconds": list(self.transfer_seconds),
        }
