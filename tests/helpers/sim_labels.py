"""A simulated Gicisky label driven directly, without D-Bus: for protocol-level tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from drivers.labels.gicisky import COMMAND
from gateway.sim.devices.labels import GiciskySession, LabelBehaviour, LabelDevice


def sim_label(hardware: int = 0x4033, firmware: int = 0x8101, **behaviour: object) -> LabelDevice:
    timing = {"part_rtt_s": 0.0, "refresh_s": 0.0, "connect_latency_s": 0.0}
    return LabelDevice(
        hardware=hardware,
        firmware=firmware,
        battery_mv=2900,
        behaviour=LabelBehaviour(**{**timing, "notify_settle_s": 0.0, **behaviour}),  # type: ignore[arg-type]
        address="FF:FF:92:94:65:98",
        name=None,
        interval_s=1.0,
        heard_by={"hci0": -60},
        rssi_noise=0,
        away=[],
        seed=1,
    )


class Link:
    """One connection to the label, from the gateway's side."""

    def __init__(self, device: LabelDevice) -> None:
        self.session = GiciskySession(device, 0.0)
        self.replies: list[bytes] = []
        self.session.set_notifier(lambda uuid, data: self.replies.append(data))
        self.session.start_notify(COMMAND)

    async def answer(self, write: Callable[[], None]) -> bytes | None:
        before = len(self.replies)
        write()
        for _ in range(50):
            if len(self.replies) > before:
                return self.replies[-1]
            await asyncio.sleep(0.002)
        return None

    async def command(self, data: bytes) -> bytes | None:
        return await self.answer(lambda: self.session.command(data))

    async def part(self, data: bytes) -> bytes | None:
        return await self.answer(lambda: self.session.part(data))
