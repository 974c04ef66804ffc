from pathlib import Path

from drivers.types import Advertisement, BeaconFormat, BeaconInfo, DeviceKind, Observation
from gateway.registry import ChangeKind, Registry, RegistryOptions
from gateway.registry.persistence import flush_dirty, load_devices
from gateway.store import Database

ADDR = "C4:D9:12:AB:0F:31"


def sensor(temp: float, battery: float = 80.0) -> Observation:
    return Observation(
        kind=DeviceKind.SENSOR,
        model="ruuvi-rawv2",
        readings={"temperature_c": temp},
        battery_pct=battery,
        battery_mv=2950,
    )


def adv(rssi: int = -70) -> Advertisement:
    return Advertisement(address=ADDR, rssi=rssi, name="Ruuvi 0F31")


def test_first_advert_is_new_then_quiet_within_deadband() -> None:
    reg = Registry(RegistryOptions(deadbands={"temperature_c": 0.2}))
    first = reg.observe(adv(), sensor(3.9), 0.0, 1000.0)
    assert first is not None and ChangeKind.NEW in first.kinds
    assert first.device.device_id == "c4d912ab0f31"
    assert reg.observe(adv(), sensor(4.0), 1.0, 1001.0) is None  # inside the dead-band
    change = reg.observe(adv(), sensor(4.2), 2.0, 1002.0)  # 0.3 from the last reported 3.9
    assert change is not None and change.readings == ("temperature_c",)
    assert reg.get("c4d912ab0f31").readings["temperature_c"] == 4.2  # type: ignore[union-attr]


def test_offline_after_learned_interval_margin_and_back() -> None:
    reg = Registry(RegistryOptions(offline_factor=3, offline_floor_s=2, offline_ceiling_s=60))
    for i in range(10):
        reg.observe(adv(), sensor(3.9), float(i), 1000.0 + i)  # every second
    device = reg.get("c4d912ab0f31")
    assert device is not None and device.interval_s is not None
    assert abs(device.interval_s - 1.0) < 0.01
    assert reg.offline_after(device) == 3.0
    assert reg.sweep(11.5) == []  # 2.5 s silent: still online
    changes = reg.sweep(12.5)
    assert [c.kinds for c in changes] == [frozenset({ChangeKind.OFFLINE})]
    assert reg.online_count() == 0
    # An identical payload from an offline device must be decoded to report it online.
    assert reg.heard(ADDR, -70, 30.0, 1030.0) is False
    back = reg.observe(adv(), sensor(3.9), 30.0, 1030.0)
    assert back is not None and ChangeKind.ONLINE in back.kinds
    # The offline gap did not distort the learned interval.
    assert abs(device.interval_s - 1.0) < 0.01


def test_floor_and_ceiling_clamp_the_margin() -> None:
    reg = Registry(RegistryOptions(offline_factor=5, offline_floor_s=30, offline_ceiling_s=100))
    reg.observe(adv(), sensor(1), 0.0, 0.0)
    reg.observe(adv(), sensor(1), 0.1, 0.1)
    device = reg.get("c4d912ab0f31")
    assert device is not None
    assert reg.offline_after(device) == 30  # 5 x 0.1 s is below the floor
    device.interval_s = 600
    assert reg.offline_after(device) == 100


def test_rssi_smoothing_and_battery_change() -> None:
    reg = Registry(RegistryOptions())
    reg.observe(adv(-60), sensor(1, 80), 0.0, 0.0)
    assert reg.heard(ADDR, -80, 1.0, 1.0) is True
    device = reg.get("c4d912ab0f31")
    assert device is not None and device.rssi == -65.0
    assert reg.observe(adv(-60), sensor(1, 79.5), 2.0, 2.0) is None
    change = reg.observe(adv(-60), sensor(1, 78), 3.0, 3.0)
    assert change is not None and ChangeKind.BATTERY in change.kinds


def test_the_adapter_that_hears_a_device_best() -> None:
    reg = Registry(RegistryOptions())
    on = {"hci0": Advertisement(address=ADDR, rssi=-70, adapter="hci0")}
    on["hci1"] = Advertisement(address=ADDR, rssi=-60, adapter="hci1")
    reg.observe(on["hci0"], sensor(1), 0.0, 0.0)
    reg.heard(ADDR, -72, 1.0, 1.0, "hci0")
    device = reg.get("c4d912ab0f31")
    assert device is not None
    assert device.heard_by is None  # one adapter: no table
    assert device.best_adapter(["hci0", "hci1"], 0.5) == "hci0"
    assert device.best_adapter(["hci1"], 0.5) is None
    assert device.best_adapter(["hci0"], 1.5) is None  # not heard since
    reg.observe(on["hci1"], sensor(1), 2.0, 2.0)
    assert device.heard_by is not None
    assert device.heard_by["hci0"] == (device.heard_by["hci0"][0], 1.0)  # when it last heard
    assert -72 < device.heard_by["hci0"][0] < -70  # smoothed, as rssi was
    assert device.heard_by["hci1"] == (-60.0, 2.0)
    assert device.best_adapter(["hci0", "hci1"], 0.5) == "hci1"
    assert device.best_adapter(["hci0", "hci1"], 1.5) == "hci1"
    for t in range(3, 40):
        reg.heard(ADDR, -50, float(t), float(t), "hci0")  # hci0 now hears it much better
    assert device.best_adapter(["hci0", "hci1"], 2.5) == "hci0"  # hci1 not heard since 2.0
    assert device.best_adapter(["hci0", "hci1"], 0.0) == "hci0"  # louder, smoothed


def test_tlm_frame_keeps_beacon_identity() -> None:
    reg = Registry(RegistryOptions())
    uid = BeaconInfo(format=BeaconFormat.EDDYSTONE_UID, namespace="ab" * 10, instance="cd" * 6)
    tlm = BeaconInfo(format=BeaconFormat.EDDYSTONE_TLM)
    reg.observe(adv(), Observation(kind=DeviceKind.BEACON, model="eddystone", beacon=uid), 0, 0)
    reg.observe(adv(), Observation(kind=DeviceKind.BEACON, model="eddystone", beacon=tlm), 1, 1)
    assert reg.get("c4d912ab0f31").beacon == uid  # type: ignore[union-attr]


def test_listeners_and_tags() -> None:
    reg = Registry(RegistryOptions(tags={"c4d912ab0f31": ("fridge",)}))
    seen = []
    reg.subscribe(seen.append)
    reg.observe(adv(), sensor(3.9), 0.0, 0.0)
    assert seen[0].device.tags == ("fridge",)
    reg.reconfigure(RegistryOptions(tags={"c4d912ab0f31": ("fridge", "dairy")}))
    assert reg.get("c4d912ab0f31").tags == ("fridge", "dairy")  # type: ignore[union-attr]


async def test_persisted_across_restart(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    reg = Registry(RegistryOptions())
    uid = BeaconInfo(format=BeaconFormat.EDDYSTONE_UID, namespace="ab" * 10, instance="cd" * 6)
    reg.observe(adv(), sensor(3.9), 0.0, 1000.0)
    reg.observe(
        Advertisement(address="C0:00:00:00:00:01"),
        Observation(DeviceKind.BEACON, "eddystone", beacon=uid),
        0,
        1000,
    )
    assert await flush_dirty(db, reg) == 2
    assert await flush_dirty(db, reg) == 0
    await db.close()

    db2 = Database(tmp_path / "gw.db")
    await db2.open()
    reg2 = Registry(RegistryOptions())
    reg2.load(await load_devices(db2), now_mono=500.0)
    await db2.close()
    device = reg2.get("c4d912ab0f31")
    assert device is not None
    assert device.first_seen == 1000.0 and device.readings == {"temperature_c": 3.9}
    assert device.online is False
    assert reg2.get("c00000000001").beacon == uid  # type: ignore[union-attr]
    change = reg2.observe(adv(), sensor(3.9), 501.0, 1501.0)
    assert change is not None and change.kinds == frozenset({ChangeKind.ONLINE})


async def test_last_seen_is_saved_at_a_bounded_rate(tmp_path: Path) -> None:
    """A beacon whose readings never change is saved again once its persisted last seen
    is a minute old, not at every advert."""
    from gateway.registry.registry import LAST_SEEN_SAVE_S

    db = Database(tmp_path / "gw.db")
    await db.open()
    registry = Registry(RegistryOptions())
    adv = Advertisement(address="C0:01:01:00:00:01", rssi=-60)
    obs = Observation(kind=DeviceKind.BEACON, model="ibeacon")
    registry.observe(adv, obs, 0.0, 1000.0)
    assert await flush_dirty(db, registry) == 1
    registry.observe(adv, obs, 10.0, 1010.0)
    registry.sweep(10.0)
    assert await flush_dirty(db, registry) == 0  # 10 s: not yet
    registry.observe(adv, obs, 61.0, 1000.0 + LAST_SEEN_SAVE_S + 1)
    registry.sweep(61.0)
    assert await flush_dirty(db, registry) == 1
    [saved] = await load_devices(db)
    assert saved.last_seen == 1000.0 + LAST_SEEN_SAVE_S + 1
    await db.close()
