"""Running a label protocol's state machine over a real BLE GATT connection.

The protocol (in ``drivers.labels``) is pure: it says which bytes to write to
which characteristic and consumes notifications. This module does the I/O with
bleak: connect (holding the adapter's connect gate only while connecting),
enable notifications, perform the machine's writes, feed it the notifications,
enforce its timeouts, disconnect — and classify what went wrong for the
scheduler (requeue, wait until seen, retry with backoff, defer).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Protocol

import structlog
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError

from drivers.labels.base import Action, Pause, Write
from drivers.labels.containers import Container
from drivers.types import device_id_to_address
from gateway.ble.bluez_errors import Meaning, describe, meaning
from gateway.labels.jobs import AttemptResult, Outcome
from gateway.labels.scheduler import ConnectGate

log = structlog.get_logger("gateway.labels")

CONNECT_TIMEOUT_S = 20.0
DEFAULT_STEP_TIMEOUT_S = 10.0


class Machine(Protocol):
    """What this runner needs of a label protocol state machine."""

    @property
    def notify_characteristics(self) -> Sequence[str]: ...

    @property
    def data_characteristic(self) -> str:
        """Where the bulk writes go; the link's limit for it is given to ``start``."""
        ...

    @property
    def finished(self) -> bool: ...

    @property
    def failure(self) -> tuple[str, str] | None:
        """(class, human text) when the transfer failed; class as in ``classify``."""
        ...

    def start(self, max_write: int | None) -> Sequence[Action]: ...

    def receive_notification(self, char_uuid: str, data: bytes) -> Sequence[Action]: ...

    def timeout(self) -> Sequence[Action]: ...


# Protocol failure classes -> scheduler outcomes.
_FAILURE_OUTCOME = {
    "busy": Outcome.DEFER,
    "low-battery": Outcome.DEFER,
    "protocol": Outcome.RETRY,
    "timeout": Outcome.RETRY,
    "link": Outcome.RETRY,
    "rejected": Outcome.FAILED,
}


def classify_bleak_error(exc: BaseException) -> AttemptResult:
    """Map a BlueZ/bleak error during connect or transfer to what the scheduler should do."""
    what = meaning(exc)
    if isinstance(exc, BleakDBusError):
        if what is Meaning.BUSY:
            return AttemptResult(Outcome.REQUEUE, "adapter busy connecting (InProgress)")
        if what is Meaning.ADAPTER_DOWN:
            return AttemptResult(Outcome.REQUEUE, f"adapter not ready ({exc.dbus_error})")
        if what is Meaning.NO_DEVICE:
            return AttemptResult(Outcome.NOT_SEEN, "label not known to BlueZ (not seen recently)")
        return AttemptResult(Outcome.RETRY, describe(exc))
    if isinstance(exc, BleakDeviceNotFoundError) or (
        isinstance(exc, BleakError) and str(exc).startswith("device '") and "not found" in str(exc)
    ):  # bleak's words when BlueZ holds no object for the path
        return AttemptResult(Outcome.NOT_SEEN, "label not seen recently")
    if isinstance(exc, TimeoutError):
        return AttemptResult(Outcome.RETRY, "timed out")
    return AttemptResult(Outcome.RETRY, f"{type(exc).__name__}: {exc}")


class AttemptTimings:
    """Where label attempts spend their time, summed per phase (shown in /metrics).

    ``gate``: waiting for the adapter's connect gate; ``connect``: bleak's connect
    (its D-Bus connection, BlueZ's Connect, the services); ``notify``: enabling
    notifications; ``transfer``: the protocol's exchanges up to the label's
    confirmation; ``disconnect``: until BlueZ reports the link closed.
    """

    PHASES = ("gate", "connect", "notify", "transfer", "disconnect")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.PHASES, 0.0)
        self.attempts = 0

    def stopwatch(self) -> _Stopwatch:
        self.attempts += 1
        return _Stopwatch(self.seconds)


class TransferCounts:
    """Completed label transfers and their image writes, per container (shown in /metrics)."""

    def __init__(self) -> None:
        self.transfers = dict.fromkeys(Container, 0)
        self.parts = dict.fromkeys(Container, 0)

    def count(self, container: Container, parts: int) -> None:
        self.transfers[container] += 1
        self.parts[container] += parts


class _Stopwatch:
    def __init__(self, sums: dict[str, float]) -> None:
        self._sums = sums
        self._phase: str | None = None
        self._since = time.monotonic()

    def enter(self, phase: str | None) -> None:
        """Charge the time since the last call to the phase then entered."""
        now = time.monotonic()
        if self._phase is not None:
            self._sums[self._phase] += now - self._since
        self._phase, self._since = phase, now


def _write_limit(char: BleakGATTCharacteristic) -> int | None:
    """The most bytes one write without response carries on this link (ATT MTU - 3), from
    the characteristic's ``MTU`` property; None where BlueZ does not report it (< 5.62)."""
    obj = char.obj
    props = obj[1] if isinstance(obj, tuple) and len(obj) == 2 else None
    if isinstance(props, dict) and "MTU" not in props:
        return None
    return char.max_write_without_response_size


def known_device(address: str, adapter: str) -> BLEDevice:
    """The label as the BlueZ device object ``adapter`` holds for it from scanning.

    Given only an address, bleak first scans until the device advertises again
    (up to a whole advertising interval, seconds for a label) while this adapter's
    connect gate is held. The scanners keep BlueZ's device objects fresh, so the
    object path is known; a label BlueZ forgot fails the connect with
    ``UnknownObject``/``DoesNotExist`` and waits until it is seen again.
    """
    path = f"/org/bluez/{adapter}/dev_{address.replace(':', '_')}"
    props = {"Address": address, "Alias": address, "Adapter": f"/org/bluez/{adapter}"}
    return BLEDevice(address, None, {"path": path, "props": props})


async def run_machine(
    machine: Machine,
    label_id: str,
    adapter: str,
    gate: ConnectGate,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    timings: AttemptTimings | None = None,
) -> AttemptResult:
    """Connect to the label, drive ``machine`` to its end, disconnect."""
    watch = (timings or AttemptTimings()).stopwatch()
    watch.enter("gate")
    address = device_id_to_address(label_id)
    notifications: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=64)
    client = BleakClient(
        known_device(address, adapter), bluez={"adapter": adapter}, timeout=connect_timeout_s
    )
    connected = False
    try:
        async with gate.connecting():
            watch.enter("connect")
            await client.connect()
        connected = True
        watch.enter("notify")
        for uuid in machine.notify_characteristics:

            def on_notify(char: object, data: bytearray, uuid: str = uuid) -> None:
                with contextlib.suppress(asyncio.QueueFull):  # a flooding label is dropped
                    notifications.put_nowait((uuid, bytes(data)))

            await client.start_notify(uuid, on_notify)
        watch.enter("transfer")
        deadline = DEFAULT_STEP_TIMEOUT_S
        data_char = client.services.get_characteristic(machine.data_characteristic)
        if data_char is None:
            return AttemptResult(
                Outcome.RETRY, f"the label has no characteristic {machine.data_characteristic}"
            )
        actions = list(machine.start(_write_limit(data_char)))
        while True:
            for action in actions:
                if isinstance(action, Write):
                    await client.write_gatt_char(
                        action.char_uuid, action.data, response=action.with_response
                    )
                elif isinstance(action, Pause):
                    await asyncio.sleep(action.seconds)
                else:
                    deadline = action.seconds
            if machine.finished:
                break
            try:
                uuid, data = await asyncio.wait_for(notifications.get(), timeout=deadline)
                actions = list(machine.receive_notification(uuid, data))
            except TimeoutError:
                actions = list(machine.timeout())
            if machine.finished and not actions:
                break
        failure = machine.failure
        if failure is None:
            return AttemptResult(Outcome.DONE)
        kind, text = failure
        return AttemptResult(_FAILURE_OUTCOME.get(kind, Outcome.RETRY), text)
    except (BleakError, TimeoutError, OSError, EOFError) as exc:
        result = classify_bleak_error(exc)
        if connected and result.outcome is Outcome.NOT_SEEN:
            # Connected, then an object of the link is missing: the link went down (or
            # bleak's view of it was stale), not a label BlueZ does not know. Retried,
            # and counted against the attempts, rather than waiting to be seen.
            result = AttemptResult(Outcome.RETRY, f"the link went down: {describe(exc)}")
        return result
    finally:
        watch.enter("disconnect")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=10)
        watch.enter(None)
