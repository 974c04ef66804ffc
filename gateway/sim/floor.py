"""One sales floor served to several gateway boxes at once.

A hypermarket has several boxes with overlapping radio range, each a separate
``store-gateway run`` with its own BlueZ on its own system bus. The floor gives
each box a private dbus-daemon with a BlueZ double and the control interface,
and keeps one set of devices for all of them: a reading that changes or a label
that is written is the same device whatever box hears it.

One scheduler sends every device's adverts, so that one advert (one packet id,
one reading) reaches every box that hears it at the same moment, each with the
RSSI of its own distance (``gateway.sim.floorplan``). A box lists, per device,
whether it can hear it at all, once and again when the device moves: a box pays
nothing per advert for the devices out of its range.

Faults for drills: a device moves, a box's radio goes off (rfkill) and on, a box
is killed (its BlueZ and its bus vanish as with a dead machine) and revived.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog

from gateway.sim.bluez.connections import Links
from gateway.sim.bluez.dbus_daemon import PrivateBus
from gateway.sim.bluez.double import BlueZDouble
from gateway.sim.bluez.state import CONNECT_TIMEOUT_S, DEVICE_TIMEOUT_S, JITTER
from gateway.sim.control import ControlServer
from gateway.sim.floorplan import Placement, distance
from gateway.sim.model import GatewaySpec, Scenario, SimDevice, SimError

log = structlog.get_logger("gateway.sim")

BATCH = 500  # adverts sent before the loop lets D-Bus calls in
TICK_S = 0.005  # adverts due this soon go out together (10 % jitter is theirs anyway)
STALL_S = 1.0  # a box whose bus takes nothing for this long loses its adverts meanwhile


@dataclass(eq=False)
class Box:
    """One gateway box: its bus (kept across a kill, for a revival at the same address),
    and while it lives its double and its control server."""

    spec: GatewaySpec
    index: int
    bus: PrivateBus = field(default_factory=PrivateBus)
    bus_address: str = ""
    double: BlueZDouble | None = None
    control: ControlServer | None = None
    radio: bool = True
    backlog_since: float | None = None
    deaf: bool = False  # its bus has taken nothing for STALL_S: its adverts are lost
    lost: int = 0  # adverts lost that way

    @property
    def id(self) -> str:
        return self.spec.id


class Floor:
    def __init__(
        self,
        scenario: Scenario,
        *,
        device_timeout_s: float = DEVICE_TIMEOUT_S,
        rate: float = 1.0,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        if scenario.floor is None or not scenario.gateways:
            raise ValueError(f"scenario {scenario.name} has no floor plan with gateways")
        self.scenario = scenario
        self.plan = scenario.floor
        self.radio = scenario.floor.radio
        self.device_timeout_s = device_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.rate = rate
        self.devices = scenario.devices
        self.index = {d.address: i for i, d in enumerate(self.devices)}
        self.placements = [
            scenario.placements.get(d.address, Placement(0.0, 0.0)) for d in self.devices
        ]
        self.boxes = {g.id: Box(g, i) for i, g in enumerate(scenario.gateways)}
        self._boxes = list(self.boxes.values())
        self.links = Links()
        # Per device: the mean RSSI at every box, and the boxes in reach (loudest first).
        self._means: list[list[float]] = []
        self._hearers: list[list[tuple[Box, float]]] = []
        for i in range(len(self.devices)):
            self._means.append([])
            self._hearers.append([])
            self._place(i)
        self._rng = random.Random(scenario.seed)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---- geometry ------------------------------------------------------------------------

    def _place(self, i: int) -> None:
        p = self.placements[i]
        means = [
            self.radio.mean_rssi(distance(p.x, p.y, b.spec.x, b.spec.y), p.attenuation_db)
            for b in self._boxes
        ]
        self._means[i] = means
        hearers = [
            (b, m) for b, m in zip(self._boxes, means, strict=True) if self.radio.in_reach(m)
        ]
        hearers.sort(key=lambda h: -h[1])
        self._hearers[i] = hearers

    def _reaches(self, box: Box, device: SimDevice) -> bool:
        """Whether ``box`` can connect to ``device``: its mean RSSI there is heard."""
        i = self.index.get(device.address)
        return i is not None and self._means[i][box.index] >= self.radio.sensitivity_dbm

    def in_reach(self, box: str) -> list[str]:
        """The addresses the box may hear (everything else costs it nothing)."""
        b = self._box(box)
        return [
            self.devices[i].address
            for i, h in enumerate(self._hearers)
            if any(x is b for x, _ in h)
        ]

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        try:
            for box in self._boxes:
                await box.bus.start()
                box.bus_address = box.bus.stable_address
                await self._start_box(box)
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._advertise(), name="sim-floor-advertise")
        self._task.add_done_callback(_report_failure)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for box in self._boxes:
            await self._stop_box(box)
            await box.bus.stop()

    async def _start_box(self, box: Box) -> None:
        scenario = Scenario(
            name=f"{self.scenario.name}/{box.id}",
            adapters=list(box.spec.adapters),
            devices=self.devices,
            seed=self.scenario.seed,
        )
        double = BlueZDouble(
            scenario,
            box.bus_address,
            device_timeout_s=self.device_timeout_s,
            rate=self.rate,
            box=box.id,
            links=self.links,
            drive_adverts=False,
            reaches=partial(self._reaches, box),
            connect_timeout_s=self.connect_timeout_s,
        )
        await double.start()
        box.double = double
        control = ControlServer(double, floor=self, box=box.id)
        await control.start()
        box.control = control
        if not box.radio:
            double.set_blocked(True)
        self._wake.set()

    async def _stop_box(self, box: Box) -> None:
        control, box.control = box.control, None
        double, box.double = box.double, None
        if control is not None:
            await control.stop()
        if double is not None:
            double.drop_all()
            await double.stop()

    # ---- faults --------------------------------------------------------------------------

    def _box(self, box: str) -> Box:
        b = self.boxes.get(box)
        if b is None:
            raise SimError(
                "org.storegw.Error.UnknownBox",
                f"no box {box}; the boxes are {', '.join(self.boxes)}",
            )
        return b

    def check_box(self, box: str, *, alive: bool) -> None:
        b = self._box(box)
        if (b.double is not None) != alive:
            state = "was killed (ReviveBox brings it back)" if alive else "is alive"
            raise SimError("org.storegw.Error.InvalidArgs", f"box {box} {state}")

    def move(self, address: str, x: float, y: float) -> None:
        i = self.index.get(address.upper())
        if i is None:
            raise SimError("org.storegw.Error.UnknownDevice", f"no device {address}")
        if not self.plan.contains(x, y):
            raise SimError(
                "org.storegw.Error.InvalidArgs",
                f"({x:g}, {y:g}) is off the floor "
                f"({self.plan.width_m:g} m x {self.plan.height_m:g} m)",
            )
        self.placements[i] = Placement(x, y, self.placements[i].attenuation_db)
        self._place(i)
        device = self.devices[i]
        # A box the device walked out of loses its connection (the link's supervision
        # timeout), as a real central does.
        for box in self._boxes:
            double = box.double
            if double is None or self._reaches(box, device):
                continue
            for a in double.adapters.values():
                obj = a.devices.get(device.address)
                if obj is not None:
                    double.connections.drop(a, obj)
        self._wake.set()

    def set_radio(self, box: str, on: bool) -> None:
        b = self._box(box)
        b.radio = on
        if b.double is not None:
            b.double.set_blocked(not on)
        self._wake.set()

    async def kill_box(self, box: str) -> None:
        self.check_box(box, alive=True)
        b = self._box(box)
        await self._stop_box(b)
        await b.bus.kill()
        log.info("box killed", box=box)

    async def revive_box(self, box: str) -> None:
        self.check_box(box, alive=False)
        b = self._box(box)
        await b.bus.restart()
        await self._start_box(b)
        log.info("box revived", box=box, bus=b.bus_address)

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        for box in self._boxes:
            if box.double is not None:
                box.double.rate = rate
        self._wake.set()

    # ---- views ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        in_reach = [0] * len(self._boxes)
        heard = [0] * len(self._boxes)
        for hearers in self._hearers:
            for b, mean in hearers:
                in_reach[b.index] += 1
                heard[b.index] += mean >= self.radio.sensitivity_dbm
        return {
            "width_m": self.plan.width_m,
            "height_m": self.plan.height_m,
            "rate": self.rate,
            "devices": len(self.devices),
            "links_held": self.links.held(),
            "boxes": {
                b.id: {
                    "x": b.spec.x,
                    "y": b.spec.y,
                    "bus_address": b.bus_address,
                    "alive": b.double is not None,
                    "radio": b.radio,
                    "devices_in_reach": in_reach[b.index],
                    "devices_heard": heard[b.index],  # their mean RSSI is above sensitivity
                    "adverts_lost_stalled": b.lost,
                    "adverts_sent": sum(a.adverts_sent for a in b.double.adapters.values())
                    if b.double is not None
                    else 0,
                }
                for b in self._boxes
            },
        }

    def hearing(self, address: str) -> dict[str, Any]:
        i = self.index.get(address.upper())
        if i is None:
            raise SimError("org.storegw.Error.UnknownDevice", f"no device {address}")
        p = self.placements[i]
        in_reach = {b.id for b, _ in self._hearers[i]}
        return {
            "address": self.devices[i].address,
            "x": p.x,
            "y": p.y,
            "attenuation_db": p.attenuation_db,
            "holder": self.links.holder(self.devices[i].address),
            "boxes": {
                b.id: {
                    "mean_rssi": round(self._means[i][b.index], 1),
                    "in_reach": b.id in in_reach,
                    "heard": self._means[i][b.index] >= self.radio.sensitivity_dbm,
                }
                for b in self._boxes
            },
        }

    # ---- advertising ---------------------------------------------------------------------

    async def _advertise(self) -> None:
        rng = self._rng
        devices = self.devices
        now = time.monotonic()
        heap = [(now + rng.random() * d.advert_interval_s, i) for i, d in enumerate(devices)]
        heapq.heapify(heap)
        while heap:
            due, i = heap[0]
            now = time.monotonic()
            if due > now + TICK_S:
                if due - now < 0.05:
                    await asyncio.sleep(due - now)  # soon: not worth a wake-up task
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(due - now, 1.0))
                continue
            now += TICK_S  # what falls due within the tick goes out now, in one batch
            if self._backlogged(now):
                # A bus that has not taken what it was given yet: wait, as the double does
                # on its own (the rate falls rather than the connection).
                await asyncio.sleep(0.001)
                continue
            sent = 0
            while heap and heap[0][0] <= now and sent < BATCH:
                due, i = heapq.heappop(heap)
                device = devices[i]
                self._emit(i, device, now)
                interval = device.advert_interval_s / max(self.rate, 1e-6)
                nxt = due + interval * (1 + JITTER * (2 * rng.random() - 1))
                heapq.heappush(heap, (max(nxt, now), i))
                sent += 1
            await asyncio.sleep(0)
        await asyncio.Event().wait()  # a floor without devices

    def _backlogged(self, now: float) -> bool:
        """Whether to wait for a box's bus. One that has taken nothing for ``STALL_S``
        (its daemon stopped, its gateway stuck) is passed over instead, as a controller
        whose host does not read it loses its reports, so the other boxes go on."""
        wait = False
        for b in self._boxes:
            if b.double is None or not b.double.backlogged():
                b.backlog_since, b.deaf = None, False
                continue
            if b.backlog_since is None:
                b.backlog_since = now
            if now - b.backlog_since < STALL_S:
                wait = True
            elif not b.deaf:
                b.deaf = True
                log.warning("box bus stalled, its adverts are lost meanwhile", box=b.id)
        return wait

    def _emit(self, i: int, device: SimDevice, now: float) -> None:
        hearers = self._hearers[i]
        if not hearers or not device.in_range(now):
            return
        frame = None
        sample = self.radio.sample
        rng = self._rng
        for box, mean in hearers:
            double = box.double
            if double is None:
                continue
            if box.deaf:
                box.lost += 1
                continue
            for a in double.adapters.values():
                if not a.scanning or a.silent:
                    continue
                rssi = sample(mean, rng)
                if rssi is None:
                    continue  # lost below the sensitivity this time
                if frame is None:
                    frame = device.advert(now)
                double.hear(a, device, frame, rssi, now)


def _report_failure(task: asyncio.Task[None]) -> None:
    """A floor whose scheduler died would go silent for every box: say so."""
    if not task.cancelled() and task.exception() is not None:
        log.error("floor advertising stopped", exc_info=task.exception())
