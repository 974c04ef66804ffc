"""The floor plan without a bus: path loss, placement, validation, who hears what, who
holds a label."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
from pathlib import Path

import pytest

from gateway.sim.bluez.connections import Links
from gateway.sim.devices.labels import LabelDevice
from gateway.sim.floor import Floor
from gateway.sim.floorplan import PathLoss, grid, uniform
from gateway.sim.scenario import (
    ScenarioError,
    env_name,
    expected_devices,
    load_scenario,
    read_scenario,
)
from tests.helpers.sim_labels import Link, sim_label

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"

FLOOR = """
name = "f"
seed = 3

[floor]
width_m = 40
height_m = 20
path_loss_exponent = 2.5

[[gateways]]
id = "box-a"
x = 5
y = 10
[[gateways.adapters]]
name = "hci0"
address = "00:00:00:00:00:01"

[[gateways]]
id = "box-b"
x = 35
y = 10
[[gateways.adapters]]
name = "hci0"
address = "00:00:00:00:00:02"
"""

LABELS = """
[[labels]]
count = 10
address_prefix = "FF:00:01"
area = [2, 2, 8, 18]
aisles = 2

[[sensors]]
count = 5
format = "ruuvi"
address_prefix = "C4:00:01"
area = [18, 8, 22, 12]
layout = "uniform"
attenuation_db = 6
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


# ---- path loss ------------------------------------------------------------------------


def test_log_distance_path_loss() -> None:
    radio = PathLoss(rssi_at_1m=-59, exponent=2.5, noise_db=0, sensitivity_dbm=-100)
    assert radio.mean_rssi(1) == -59
    assert radio.mean_rssi(10) == pytest.approx(-84)
    assert radio.mean_rssi(100) == pytest.approx(-109)
    assert radio.mean_rssi(0.1) == -59  # the 1 m reference holds closer in
    assert radio.mean_rssi(10, attenuation_db=6) == pytest.approx(-90)
    assert radio.mean_rssi(radio.range_m()) == pytest.approx(-100)
    assert radio.sample(-84.4, random.Random(1)) == -84  # no noise: the mean, rounded
    assert radio.sample(-100.6, random.Random(1)) is None  # below the sensitivity: lost
    assert radio.sample(3.0, random.Random(1)) == 0


def test_noise_around_the_mean_and_the_reach() -> None:
    radio = PathLoss(noise_db=3.0, sensitivity_dbm=-100)
    rng = random.Random(7)
    samples = [radio.sample(-80, rng) for _ in range(4000)]
    values = [s for s in samples if s is not None]
    assert len(values) == 4000
    assert statistics.mean(values) == pytest.approx(-80, abs=0.2)
    assert statistics.stdev(values) == pytest.approx(3.0, abs=0.2)
    edge = [radio.sample(-100, rng) for _ in range(4000)]
    assert 0.4 < sum(s is not None for s in edge) / 4000 < 0.65  # half heard at the edge
    assert radio.in_reach(-108.9) and not radio.in_reach(-109.1)  # 3 sigma below


# ---- placement ------------------------------------------------------------------------


def test_grid_lines_up_shelves_inside_the_area() -> None:
    points = grid(12, (10, 0, 20, 30), aisles=3)
    assert len(points) == 12
    assert sorted({x for x, _ in points}) == pytest.approx([10 + 10 / 6, 15, 20 - 10 / 6])
    assert all(10 <= x <= 20 and 0 <= y <= 30 for x, y in points)
    assert [y for x, y in points if x == 15] == pytest.approx([3.75, 11.25, 18.75, 26.25])
    line = grid(5, (7, 0, 7, 50))  # a shelf of zero depth: one line
    assert {x for x, _ in line} == {7} and len({y for _, y in line}) == 5
    square = grid(100, (0, 0, 10, 10))
    assert len({x for x, _ in square}) == 10 and len(set(square)) == 100


def test_uniform_is_seeded_by_scenario_and_address() -> None:
    area = (0.0, 0.0, 125.0, 80.0)
    p = uniform(area, 7, "C0:00:01:00:00:01")
    assert p == uniform(area, 7, "c0:00:01:00:00:01")
    assert p != uniform(area, 8, "C0:00:01:00:00:01")
    assert p != uniform(area, 7, "C0:00:01:00:00:02")
    spread = [uniform(area, 7, f"C0:00:01:00:{n >> 8:02X}:{n & 255:02X}") for n in range(500)]
    assert all(0 <= x <= 125 and 0 <= y <= 80 for x, y in spread)
    assert statistics.mean(x for x, _ in spread) == pytest.approx(62.5, abs=5)


def test_a_floor_scenario_places_the_same_way_every_time(tmp_path: Path) -> None:
    path = write(tmp_path, FLOOR + LABELS)
    one, two = load_scenario(path), load_scenario(path)
    assert one.placements == two.placements and len(one.placements) == 15
    assert one.adapters == [] and [g.id for g in one.gateways] == ["box-a", "box-b"]
    label = one.placements["FF:00:01:00:00:01"]
    assert (label.x, label.y, label.attenuation_db) == (3.5, 3.6, 0.0)
    fridge = one.placements["C4:00:01:00:00:01"]
    assert 18 <= fridge.x <= 22 and fridge.attenuation_db == 6
    reseeded = load_scenario(write(tmp_path, FLOOR.replace("seed = 3", "seed = 4") + LABELS))
    assert reseeded.placements["FF:00:01:00:00:01"] == label  # a grid does not move
    assert reseeded.placements["C4:00:01:00:00:01"] != fridge  # seeded uniform does
    assert len(expected_devices(path)) == 15


@pytest.mark.parametrize("name", ["small-store", "supermarket", "faulty-store"])
def test_scenarios_without_a_floor_are_one_box_as_before(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    assert scenario.floor is None and scenario.gateways == [] and scenario.placements == {}
    assert scenario.adapters and all(d.rssi("hci0", 0.0) is not None for d in scenario.devices)


# ---- validation -----------------------------------------------------------------------


BOX_C = (
    '\n[[gateways]]\nid = "{id}"\nx = {x}\ny = 5\n'
    '[[gateways.adapters]]\nname = "hci0"\naddress = "{addr}"\n'
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            FLOOR + LABELS.replace("aisles = 2", "aisles = 2\nheard_by = { hci0 = -70 }"),
            "labels.0.heard_by: on a floor plan every box hears a device by its distance; "
            "remove heard_by",
        ),
        (
            FLOOR + LABELS.replace("area = [2, 2, 8, 18]\n", ""),
            "labels.0.area: missing; on a floor plan every group is placed with area",
        ),
        (
            FLOOR + LABELS.replace("[2, 2, 8, 18]", "[2, 2, 48, 18]"),
            "labels.0.area: [2, 2, 48, 18] is not valid: it leaves the floor (40 m x 20 m)",
        ),
        (
            FLOOR + LABELS.replace("[2, 2, 8, 18]", "[8, 2, 2, 18]"),
            "labels.0.area: [8, 2, 2, 18] is not valid: write [x0, y0, x1, y1] with the lower "
            "corner first",
        ),
        (
            FLOOR + LABELS + BOX_C.format(id="box-a", x=20, addr="00:00:00:00:00:03"),
            "gateways.2.id: 'box-a' is not valid: gateways.0 has the same id; give every box "
            "its own id",
        ),
        (
            FLOOR + LABELS + BOX_C.format(id="box-c", x=20, addr="00:00:00:00:00:02"),
            "gateways.2.adapters.0.address: '00:00:00:00:00:02' is not valid: "
            "gateways.1.adapters.0 has the same address",
        ),
        (
            FLOOR + LABELS + BOX_C.format(id="box-c", x=41, addr="00:00:00:00:00:03"),
            "gateways.2: x = 41, y = 5 is not valid: the box stands outside the floor",
        ),
        (
            FLOOR.replace("[floor]\nwidth_m = 40\nheight_m = 20\npath_loss_exponent = 2.5\n", "")
            + LABELS,
            "gateways: boxes stand on a floor plan; add a [floor] table with width_m and height_m",
        ),
        (
            FLOOR + LABELS.replace("aisles = 2", "aisles = 2\nrssi_noise = 4"),
            "labels.0.rssi_noise: on a floor plan the radio noise is the floor's",
        ),
        (
            FLOOR + LABELS.replace('layout = "uniform"', 'layout = "uniform"\naisles = 3'),
            'sensors.0.aisles: only with layout = "grid"',
        ),
        (
            FLOOR + '[[adapters]]\nname = "hci0"\naddress = "00:00:00:00:00:09"\n' + LABELS,
            "adapters: on a floor plan every adapter belongs to a box",
        ),
        (
            FLOOR.replace('id = "box-b"', 'id = "Box_B"') + LABELS,
            "gateways.1.id: 'Box_B' is not valid: String should match pattern",
        ),
        (
            'name = "x"\n[[adapters]]\nname = "hci0"\naddress = "00:00:00:00:00:01"\n'
            + LABELS.replace("aisles = 2", "heard_by = { hci0 = -70 }"),
            "sensors.0.area: only on a floor plan; remove it, or add a [floor]",
        ),
        (
            'name = "x"\n[[adapters]]\nname = "hci0"\naddress = "00:00:00:00:00:01"\n'
            '[[beacons]]\ncount = 1\nkind = "ibeacon"\naddress_prefix = "C0:00:01"\n',
            "beacons.0.heard_by: missing; this setting is required",
        ),
        ('name = "x"\n', "adapters: missing; this setting is required"),
    ],
)
def test_invalid_combinations_name_the_field_and_the_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        read_scenario(path)
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert all(p.startswith(f"{path}: ") for p in info.value.problems)


def test_bus_variable_names() -> None:
    assert env_name("box-a") == "DBUS_SYSTEM_BUS_ADDRESS_BOX_A"
    assert env_name("hyper-west-2") == "DBUS_SYSTEM_BUS_ADDRESS_HYPER_WEST_2"


# ---- who hears what -------------------------------------------------------------------


def test_each_box_reaches_what_its_distance_allows_and_a_move_changes_it(
    tmp_path: Path,
) -> None:
    floor = Floor(load_scenario(write(tmp_path, FLOOR + LABELS)))
    label = "FF:00:01:00:00:01"  # at (3.5, 3.6): beside box-a, 32 m from box-b
    near = floor.hearing(label)["boxes"]
    assert near["box-a"]["mean_rssi"] == pytest.approx(
        -59 - 25 * math.log10(math.hypot(1.5, 6.4)), abs=0.05
    )
    assert near["box-a"]["mean_rssi"] > near["box-b"]["mean_rssi"]
    assert label in floor.in_reach("box-a")
    fridges = [f"C4:00:01:00:00:0{n}" for n in range(1, 6)]
    assert set(fridges) <= set(floor.in_reach("box-a")) & set(floor.in_reach("box-b"))
    floor.move(label, 36, 12)
    moved = floor.hearing(label)
    assert (moved["x"], moved["y"]) == (36, 12)
    assert moved["boxes"]["box-b"]["mean_rssi"] > moved["boxes"]["box-a"]["mean_rssi"]
    with pytest.raises(Exception, match="off the floor"):
        floor.move(label, -1, 12)
    status = floor.status()
    assert status["boxes"]["box-a"]["devices_in_reach"] == len(floor.in_reach("box-a"))


def test_a_far_device_is_out_of_reach_and_costs_nothing(tmp_path: Path) -> None:
    far = FLOOR.replace("path_loss_exponent = 2.5", "path_loss_exponent = 3.5")
    floor = Floor(load_scenario(write(tmp_path, far + LABELS)))
    shelf = [f"FF:00:01:00:00:{n:02X}" for n in range(1, 11)]
    assert not set(shelf) & set(floor.in_reach("box-b"))  # ~30 m at exponent 3.5
    assert set(shelf) <= set(floor.in_reach("box-a"))


# ---- one link per label ---------------------------------------------------------------


async def test_a_label_link_is_held_by_one_box_and_passed_on() -> None:
    links = Links()
    abort = asyncio.Event()
    assert await links.claim("L", "box-a/hci0", 1.0, abort)
    assert not await links.claim("L", "box-b/hci0", 0.05, abort)  # times out
    waiting = asyncio.create_task(links.claim("L", "box-b/hci0", 5.0, abort))
    await asyncio.sleep(0.05)
    links.release("L", "box-b/hci0")  # not the holder: nothing happens
    assert links.holder("L") == "box-a/hci0" and not waiting.done()
    links.release("L", "box-a/hci0")
    assert await waiting and links.holder("L") == "box-b/hci0"
    aborted = asyncio.create_task(links.claim("L", "box-a/hci1", 5.0, abort))
    await asyncio.sleep(0.05)
    abort.set()
    assert not await aborted and links.held() == 1


async def test_label_stats_count_writes_and_refreshes_per_box() -> None:
    device: LabelDevice = sim_label()
    planes = bytes(9472)
    for via in ("box-a/hci0", "box-b/hci1", "box-b/hci0"):
        link = Link(device)
        link.session._via = via
        device.connected(via)
        await link.command(b"\x01")
        await link.command(b"\x02" + len(planes).to_bytes(4, "little") + bytes(3))
        await link.command(b"\x03")
        for part in range(40):
            await link.part(part.to_bytes(4, "little") + planes[part * 240 : (part + 1) * 240])
    await asyncio.sleep(0.01)  # the panel refreshes
    stats = device.label_stats()
    assert stats["transfers"] == 3
    assert stats["writes"] == {"box-a/hci0": 1, "box-b/hci1": 1, "box-b/hci0": 1}
    assert stats["boxes"] == {
        "box-a": {"connects": 1, "writes": 1, "refreshes": 1},
        "box-b": {"connects": 2, "writes": 2, "refreshes": 2},
    }
    assert "boxes" not in sim_label().label_stats()  # one box: per adapter, as before


def test_the_hypermarket_is_covered_by_three_overlapping_boxes() -> None:
    path = SCENARIOS / "hypermarket.toml"
    spec = read_scenario(path)
    assert spec.floor is not None and spec.floor.width_m * spec.floor.height_m == 10_000
    assert len(spec.gateways) == 3
    assert (sum(g.count for g in spec.labels), sum(g.count for g in spec.sensors)) == (6000, 300)
    assert sum(g.count for g in spec.beacons) == 100
    floor = Floor(load_scenario(path))
    sensitivity = floor.radio.sensitivity_dbm
    for device in floor.devices:
        boxes = floor.hearing(device.address)["boxes"]
        assert any(b["heard"] for b in boxes.values()), device.address  # no blind spot
    for prefix, pair in (("C4:05:02", "hyper-west"), ("C4:05:03", "hyper-east")):
        freezers = [d.address for d in floor.devices if d.address.startswith(prefix)]
        for address in freezers:  # on a boundary: two boxes hear it about as loud
            boxes = floor.hearing(address)["boxes"]
            a, b = boxes[pair]["mean_rssi"], boxes["hyper-centre"]["mean_rssi"]
            assert min(a, b) >= sensitivity + 3 and abs(a - b) < 3, address
    heard_by_two = sum(
        sum(b["heard"] for b in floor.hearing(d.address)["boxes"].values()) >= 2
        for d in floor.devices
    )
    assert heard_by_two > 0.9 * len(floor.devices)  # the ranges overlap
