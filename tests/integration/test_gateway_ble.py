"""The gateway's BLE side against the virtual store: registry, offline/online, recoveries."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from drivers.labels.panels import PANELS_BY_MODEL
from drivers.types import address_to_device_id
from gateway.ble.ingest import IngestOptions
from gateway.ble.manager import BleManager
from gateway.ble.scanner import ScannerOptions, ScannerState
from gateway.daemon.app import Gateway, GatewaySettings
from gateway.registry import RegistryOptions
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import RunningStore
from gateway.sim.scenario import bthome_key, expected_devices
from tests.integration.conftest import SMALL_STORE

FRIDGE = "C4:01:01:00:00:01"


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


@pytest.fixture
async def gateway(store: RunningStore, tmp_path: Path) -> AsyncIterator[Gateway]:
    keys = {
        address_to_device_id(e.address): bthome_key(42, e.address)
        for e in expected_devices(SMALL_STORE)
        if e.group == "bthome-encrypted"
    }
    settings = GatewaySettings(
        store_id="demo-store",
        gateway_id="gw-1",
        data_dir=tmp_path,
        adapters=("hci0",),
        scanner=ScannerOptions(mode="auto", silence_timeout_s=3.0, backoff_min_s=0.2),
        ingest=IngestOptions(bthome_keys=keys),
        registry=RegistryOptions(offline_factor=3, offline_floor_s=2.0, offline_ceiling_s=30),
    )
    gw = Gateway(settings)
    await gw.start()
    yield gw
    await gw.stop()


def scanning(ble: BleManager, adapter: str) -> bool:
    scanner = ble.scanners().get(adapter)
    return scanner is not None and scanner.state is ScannerState.SCANNING


def online(gw: Gateway, address: str) -> bool:
    d = gw.registry.get(address_to_device_id(address))
    return d is not None and d.online


async def test_every_device_in_the_registry_within_10_s(gateway: Gateway) -> None:
    expected = expected_devices(SMALL_STORE)
    await wait_for(lambda: len(gateway.registry) >= len(expected), 10, "all devices")
    for e in expected:
        d = gateway.registry.get(address_to_device_id(e.address))
        assert d is not None, e
        assert (d.kind.value, d.model) == (e.kind, e.model), e
        if e.kind == "sensor":
            assert "temperature_c" in d.readings, e
        if e.kind == "beacon":
            assert d.beacon is not None, e
        if e.kind == "label":
            panel = PANELS_BY_MODEL.get(e.model)  # None: an id outside the panel table
            assert d.label is not None and d.label.width == (panel.width if panel else 0), e
    fridge = gateway.registry.get(address_to_device_id(FRIDGE))
    assert fridge is not None and 1.0 < fridge.readings["temperature_c"] < 9.0
    assert gateway.ble.statuses()[0].mode == "passive"


async def test_device_goes_offline_and_comes_back(
    gateway: Gateway, control: VirtualStoreClient
) -> None:
    await wait_for(lambda: online(gateway, FRIDGE), 10, "fridge online")
    await asyncio.sleep(3)  # learn the interval
    await control.set_in_range(FRIDGE, False)
    took = await wait_for(lambda: not online(gateway, FRIDGE), 15, "fridge offline")
    assert took >= 2.0  # not before its margin (floor 2 s)
    await control.set_in_range(FRIDGE, True)
    await wait_for(lambda: online(gateway, FRIDGE), 10, "fridge back online")


async def test_links_left_up_by_a_dead_run_are_down_in_bleaks_view_too(
    store: RunningStore,
) -> None:
    """A run that died left links up (BlueZ keeps them); the next run disconnects them at
    start. bleak's view of BlueZ, which says whether a connect calls Connect at all and
    which GATT objects there are, must be read after that: a view read while they go down
    can keep one connected for good (bleak applies signals that arrive with its
    GetManagedObjects reply before it, then the reply over them), and every attempt on
    that label then skips Connect and fails on GATT objects BlueZ removed ("not known to
    BlueZ" until its budget runs out).

    BlueZ answers a Disconnect once the link is down; here that is just after another
    client's GetManagedObjects is answered, if one comes within 0.5 s."""
    from bleak.backends.bluezdbus.manager import get_global_bluez_manager
    from dbus_fast import Message as DBusMessage
    from dbus_fast import MessageType
    from dbus_fast.aio import MessageBus

    double, server = store.double, store.double.server
    assert server is not None
    hci0 = double.adapters["hci0"]
    labels = [e.address for e in expected_devices(SMALL_STORE) if e.kind == "label"][:3]
    paths = [f"/org/bluez/hci0/dev_{a.replace(':', '_')}" for a in labels]

    async def call(bus: MessageBus, path: str, iface: str, member: str) -> None:
        msg = DBusMessage(destination="org.bluez", path=path, interface=iface, member=member)
        reply = await bus.call(msg)
        assert reply is not None and reply.message_type != MessageType.ERROR, reply

    dead = await MessageBus(bus_address=store.bus_address).connect()
    await call(dead, "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    await wait_for(lambda: all(a in hci0.devices for a in labels), 10, "the labels heard")
    for path in paths:
        await call(dead, path, "org.bluez.Device1", "Connect")
    dead.disconnect()  # SIGKILLed: its links stay up

    def links_up() -> int:
        return sum(o.session is not None for o in hci0.devices.values())

    reads: list[tuple[str, int]] = []  # GetManagedObjects: (caller, links up)
    disconnecting: set[str] = set()  # who takes them down
    pending: list[tuple[str, asyncio.Event]] = []  # Disconnects waiting to complete

    def observe(msg: DBusMessage) -> None:  # ahead of the double's own handler
        if msg.member == "GetManagedObjects":  # answered right after this
            reads.append((msg.sender or "", links_up()))
            for sender, done in pending:
                if sender != msg.sender:
                    done.set()

    server.bus._user_message_handlers.insert(0, observe)
    disconnect = server._methods[("org.bluez.Device1", "Disconnect")]

    async def slow_disconnect(msg: DBusMessage) -> None:
        disconnecting.add(msg.sender or "")
        entry = (msg.sender or "", asyncio.Event())
        pending.append(entry)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry[1].wait(), 0.5)
        pending.remove(entry)
        await disconnect(msg)

    server.method("org.bluez.Device1", "Disconnect", slow_disconnect)
    ble = BleManager(["hci0"], lambda _advert: None, ScannerOptions(mode="auto"))
    task = asyncio.create_task(ble.run())
    try:
        await wait_for(lambda: scanning(ble, "hci0"), 10, "scanning")
        await wait_for(lambda: links_up() == 0, 5, "the links down")
        manager = await get_global_bluez_manager()
        await asyncio.sleep(0.2)
        # Nobody but the one taking them down read BlueZ's objects while they were up...
        assert {sender for sender, up in reads if up} <= disconnecting, reads
        # ... so bleak's view has them down, without GATT objects, as BlueZ has them.
        assert [p for p in paths if manager.is_connected(p)] == []
        assert [o for o in manager._properties if o.startswith(tuple(f"{p}/" for p in paths))] == []
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_recovers_from_bluez_restart(gateway: Gateway, control: VirtualStoreClient) -> None:
    await wait_for(lambda: len(gateway.registry) > 40, 10, "devices")
    await control.restart_bluez()
    before = gateway.ingest.counters.received
    await wait_for(lambda: gateway.ingest.counters.received > before + 100, 30, "adverts again")
    assert gateway.ble.bluez_restarts == 1


async def test_silent_scanner_is_restarted_by_the_watchdog(
    gateway: Gateway, control: VirtualStoreClient
) -> None:
    await wait_for(lambda: gateway.ingest.counters.received > 100, 10, "adverts")
    scanner = gateway.ble.scanners()["hci0"]
    await control.set_silent("hci0", True)
    await wait_for(lambda: scanner.restarts >= 1, 15, "watchdog restart")
    before = gateway.ingest.counters.received
    await wait_for(lambda: gateway.ingest.counters.received > before + 50, 10, "adverts again")


async def test_adapter_power_cycle(gateway: Gateway, control: VirtualStoreClient) -> None:
    await wait_for(lambda: gateway.ingest.counters.received > 100, 10, "adverts")
    await control.set_powered("hci0", False)
    await wait_for(lambda: gateway.ble.statuses()[0].state != "up", 5, "adapter down")
    await asyncio.sleep(1)
    await control.set_powered("hci0", True)
    before = gateway.ingest.counters.received
    await wait_for(lambda: gateway.ingest.counters.received > before + 50, 10, "adverts again")
    assert gateway.ble.statuses()[0].state == "up"


async def test_discovery_in_progress_is_retried(
    gateway: Gateway, control: VirtualStoreClient
) -> None:
    await wait_for(lambda: gateway.ingest.counters.received > 50, 10, "adverts")
    await control.fail_next_discovery("hci0", 2)
    await control.set_silent("hci0", True)  # forces a restart, which meets InProgress twice
    scanner = gateway.ble.scanners()["hci0"]
    await wait_for(lambda: scanner.restarts >= 1, 15, "restart")
    before = gateway.ingest.counters.received
    await wait_for(lambda: gateway.ingest.counters.received > before + 50, 15, "adverts again")


async def test_damaged_database_is_moved_aside_and_reported(
    store: RunningStore, tmp_path: Path
) -> None:
    from gateway.alerts import Rule, Selector

    (tmp_path / "gateway.db").write_bytes(b"garbage, not sqlite" * 50)
    rule = Rule(
        name="database-replaced",
        metric="database_replaced",
        op="above",
        threshold=0.5,
        severity="critical",
        selector=Selector(gateway=True),
    )
    gw = Gateway(
        GatewaySettings(
            store_id="s1",
            gateway_id="gw-1",
            data_dir=tmp_path,
            adapters=("hci0",),
            alert_rules=(rule,),
        )
    )
    await gw.start()
    try:
        assert gw.view.status()["database_replaced"] is not None
        assert any(".corrupt-" in p.name for p in tmp_path.iterdir())
        await wait_for(lambda: bool(gw.alerts.engine.firing()), 5, "database alert")
        assert gw.alerts.engine.firing()[0].rule == "database-replaced"
    finally:
        await gw.stop()


async def test_an_adapter_busy_for_ever_is_a_failure_after_a_few_tries(
    store: RunningStore, control: VirtualStoreClient, tmp_path: Path
) -> None:
    """Active scanning meets InProgress on every start: retried at once a few times, then
    a failure with backoff (no endless tight loop), and scanning once it clears."""
    gw = Gateway(
        GatewaySettings(
            store_id="demo-store",
            gateway_id="gw-1",
            data_dir=tmp_path,
            adapters=("hci0",),
            scanner=ScannerOptions(mode="active", silence_timeout_s=3.0, backoff_min_s=0.2),
        )
    )
    await gw.start()
    try:
        await wait_for(lambda: gw.ingest.counters.received > 50, 10, "adverts")
        scanner = gw.ble.scanners()["hci0"]
        await control.fail_next_discovery("hci0", 20)
        await control.set_silent("hci0", True)  # forces a restart into 20 InProgress answers
        await wait_for(lambda: scanner.state.value == "backoff", 15, "backoff after InProgress")
        assert "InProgress" in (scanner.last_error or "")
        before = gw.ingest.counters.received
        await wait_for(lambda: gw.ingest.counters.received > before + 50, 30, "adverts again")
    finally:
        await gw.stop()


async def test_bleak_keeps_one_copy_of_each_property_name_and_no_last_adverts(
    gateway: Gateway,
) -> None:
    """gateway/ble/bleak_state.py reaches into bleak: this fails if a release moves what
    it reaches for (the memory it saves is in docs/benchmarks.md, "Footprint")."""
    from bleak.backends.bluezdbus.manager import get_global_bluez_manager

    expected = expected_devices(SMALL_STORE)
    await wait_for(lambda: len(gateway.registry) >= len(expected), 10, "all devices")
    manager = await get_global_bluez_manager()
    devices = [
        props["org.bluez.Device1"]
        for path, props in manager._properties.items()
        if "org.bluez.Device1" in props and path.startswith("/org/bluez/hci0/dev_")
    ]
    assert len(devices) >= len(expected)
    names = [next(k for k in d if k == "Address") for d in devices]
    assert all(n is names[0] for n in names)  # one string, not one per device
    kept = {name for d in devices for name in d if name is not sys.intern(name)}
    assert kept == set()  # names that came with a change too: the mirror holds them once
    adapters = [d["Adapter"] for d in devices]
    assert all(a is adapters[0] for a in adapters)
    scanner = gateway.ble._scanners["hci0"]._scanner
    assert scanner is not None
    seen = scanner._backend.seen_devices
    await wait_for(lambda: len(seen) > 0, 5, "an advert in bleak's record")
    gateway.ble._scanners["hci0"]._flush()
    assert seen == {}  # emptied with every batch handed on
