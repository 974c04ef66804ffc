"""Scenario files (TOML): the adapters and device groups of a virtual store.

Each group has a ``count`` and an ``address_prefix`` of three bytes; device i
gets the address ``<prefix>:00:HH:LL`` with i = 1..count. Per-device variation
(RSSI noise, value noise, door openings, failures) comes from a random
generator seeded by the scenario's ``seed`` and the device's address, so a
scenario plays out the same way every time.

A scenario is either one box (``[[adapters]]``, and each group says which
adapter hears it how loud with ``heard_by``) or a floor plan (``[floor]`` and
``[[gateways]]``, boxes standing at x, y with their own adapters, and each group
placed over an ``area`` of the floor; every box hears a device by its distance,
see ``gateway.sim.floorplan``).
"""

from __future__ import annotations

import hashlib
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drivers.labels.panels import ID_MASK, PANELS
from gateway.config.durations import Duration
from gateway.config.load import format_errors
from gateway.sim.devices.beacons import BeaconDevice
from gateway.sim.devices.labels import LabelBehaviour, LabelDevice
from gateway.sim.devices.opendisplay import OpenDisplayBehaviour, OpenDisplayLabel, Scheme
from gateway.sim.devices.sensors import TEMPERATURE_NOISE_C, Climate, SensorDevice
from gateway.sim.floorplan import FloorSpec, PathLoss, Placement, grid, uniform
from gateway.sim.model import AdapterSpec, GatewaySpec, Scenario, SimDevice

GATEWAY_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
PREFIX = Annotated[str, Field(pattern=r"^[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2}$")]
ADDRESS = Annotated[str, Field(pattern=r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")]


class ScenarioError(ValueError):
    """The scenario file cannot be used; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdapterConfig(_Model):
    name: str = Field(pattern=r"^hci[0-9]+$")
    address: ADDRESS
    connection_slots: int = Field(5, ge=1, le=16)


class GroupConfig(_Model):
    count: int = Field(ge=1, le=20000)
    address_prefix: PREFIX
    interval: Duration = Field(1.0, gt=0)
    heard_by: dict[str, int] | None = Field(
        None, description="one box: adapter name -> base RSSI (dBm)"
    )
    rssi_noise: float = Field(2.0, ge=0)
    area: tuple[float, float, float, float] | None = Field(
        None, description="on a floor: x0, y0, x1, y1 (metres) the group is spread over"
    )
    layout: Literal["grid", "uniform"] = Field(
        "grid", description="on a floor: an even grid (shelf lines), or seeded uniform"
    )
    aisles: int | None = Field(
        None, ge=1, le=1000, description="on a floor, with grid: this many shelf lines"
    )
    attenuation_db: float = Field(
        0.0, ge=0, le=60, description="on a floor: what the housing takes (a fridge's walls)"
    )
    away: list[tuple[Duration, Duration]] = Field(
        default_factory=list, description="out-of-range windows after start: [from, to]"
    )
    away_share: float = Field(0.0, ge=0, le=1, description="share of the group that is away")


class BeaconGroup(GroupConfig):
    kind: Literal["ibeacon", "altbeacon", "eddystone-uid", "eddystone-url"]
    tx_power: int = Field(-59, ge=-100, le=20)
    uuid: str = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
    major: int = Field(1, ge=0, le=65535)
    namespace: str = Field("8b0ca750e7a74e14bd99", pattern=r"^[0-9a-f]{20}$")
    url: str = "https://example.com/"


class SensorGroup(GroupConfig):
    format: Literal["ruuvi", "bthome", "bthome-encrypted"]
    temperature_c: float = 20.0
    temperature_noise: float = Field(TEMPERATURE_NOISE_C, ge=0)
    wave_amplitude: float = Field(0.3, ge=0)
    humidity_pct: float = Field(50.0, ge=0, le=100)
    door_opens_per_hour: float = Field(0.0, ge=0)
    door_rise_c: float = 3.0
    battery_mv: int = Field(3000, ge=2000, le=3600)
    drain_mv_per_day: float = Field(2.0, ge=0)
    name: str | None = None


class LabelGroup(GroupConfig):
    hardware: int = Field(
        0x4033,
        ge=0,
        le=0xFFFF,
        description="the 16-bit type the label advertises (bytes 4 and 0): the panel's "
        "hardware id in the low 14 bits, bit 14 as its firmware sets it",
    )
    firmware: int = Field(
        0x8101, ge=0, le=0xFFFF, description="software version << 8 | hardware version"
    )
    battery_mv: int = Field(2900, ge=2000, le=3600)
    mtu: int = Field(247, ge=23, le=517, description="ATT MTU its connections reach")
    part_rtt: Duration = Field(0.17, ge=0, description="one command or image part, answered")
    refresh: Duration = Field(12.0, ge=0, description="the panel's refresh after a transfer")
    connect_latency: Duration = Field(0.5, ge=0)
    notify_settle: Duration = Field(
        0.3, ge=0, description="commands written sooner after enabling notifications are lost"
    )
    finish: Literal["past-end", "done"] = "past-end"
    takes_quicklz: bool = True
    failure_probability: float = Field(0.0, ge=0, le=1)
    connect_failure_probability: float = Field(0.0, ge=0, le=1)
    flaky_share: float = Field(0.0, ge=0, le=1, description="share with failure_probability")

    @property
    def model(self) -> str:
        """The model name the gateway gives these labels."""
        panel = PANELS.get(self.hardware & ID_MASK)
        return panel.model if panel else f"gicisky-unknown-{self.hardware & ID_MASK:04x}"


class OpenDisplayGroup(GroupConfig):
    """OpenDisplay e-paper labels (``gateway.sim.devices.opendisplay``)."""

    width: int = Field(296, ge=8, le=2000)
    height: int = Field(128, ge=8, le=2000)
    colours: Literal["bw", "bwr", "bwy", "bwry"] = "bwr"
    rotation: Literal[0, 90, 180, 270] = 0
    leds: int = Field(1, ge=0, le=4)
    compressed: bool = Field(True, description="its firmware takes zlib-compressed images")
    key: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{32}$", description="AES-128 key (hex): the label is encrypted"
    )
    battery_mv: int = Field(2950, ge=2000, le=5110)
    chunk_rtt: Duration = Field(0.03, ge=0, description="one command or chunk, answered")
    refresh: Duration = Field(3.0, ge=0, description="the panel's full refresh")
    connect_latency: Duration = Field(0.3, ge=0)
    refresh_timeout_probability: float = Field(0.0, ge=0, le=1)

    @property
    def model(self) -> str:
        return "opendisplay"


class FloorConfig(_Model):
    width_m: float = Field(gt=0, le=2000)
    height_m: float = Field(gt=0, le=2000)
    rssi_at_1m: float = Field(-59.0, ge=-100, le=0, description="mean RSSI 1 m away (dBm)")
    path_loss_exponent: float = Field(
        2.5, ge=1.6, le=5, description="2 in free space; 2.2-3 on a sales floor"
    )
    noise_db: float = Field(3.0, ge=0, le=20, description="standard deviation per advert")
    sensitivity_dbm: float = Field(
        -100.0, ge=-120, le=-40, description="adverts below this are not heard"
    )


class GatewayConfig(_Model):
    id: str = Field(pattern=GATEWAY_ID)
    x: float
    y: float
    adapters: list[AdapterConfig] = Field(min_length=1)


class ScenarioFile(_Model):
    name: str
    seed: int = 0
    adapters: list[AdapterConfig] = Field(default_factory=list)
    floor: FloorConfig | None = None
    gateways: list[GatewayConfig] = Field(default_factory=list)
    beacons: list[BeaconGroup] = Field(default_factory=list)
    sensors: list[SensorGroup] = Field(default_factory=list)
    labels: list[LabelGroup] = Field(default_factory=list)
    opendisplay: list[OpenDisplayGroup] = Field(default_factory=list)
    label_speedup: float = Field(
        1.0,
        ge=1,
        le=1000,
        description="labels run this many times faster than real ones (tests keep their time)",
    )

    @model_validator(mode="after")
    def _check(self) -> ScenarioFile:
        names = {a.name for a in self.adapters}
        for group in (*self.beacons, *self.sensors, *self.labels, *self.opendisplay):
            unknown = set(group.heard_by or {}) - names
            if unknown and self.adapters:  # on a floor, layout_problems says it better
                raise ValueError(f"heard_by names unknown adapters: {', '.join(sorted(unknown))}")
        prefixes = [g.address_prefix for g in (*self.beacons, *self.sensors, *self.labels)]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("every device group needs its own address_prefix")
        return self


def _groups(spec: ScenarioFile) -> list[tuple[str, GroupConfig]]:
    return [
        (f"{kind}.{i}", group)
        for kind, groups in (
            ("beacons", spec.beacons),
            ("sensors", spec.sensors),
            ("labels", spec.labels),
        )
        for i, group in enumerate(groups)
    ]


FLOOR_ONLY = ("area", "aisles", "attenuation_db", "layout")


def layout_problems(spec: ScenarioFile) -> list[str]:
    """What does not fit together between the boxes, the floor and the groups.

    One line per problem, named by its key as ``format_errors`` names them, with
    what to do about it; pydantic has checked each value on its own already.
    """
    problems: list[str] = []
    floor = spec.floor
    if floor is None:
        if spec.gateways:
            problems.append(
                "gateways: boxes stand on a floor plan; add a [floor] table with width_m and "
                "height_m (metres), or describe one box with [[adapters]] instead"
            )
        elif not spec.adapters:
            problems.append(
                "adapters: missing; this setting is required (or describe a [floor] with "
                "[[gateways]])"
            )
        for key, group in _groups(spec):
            for name in FLOOR_ONLY:
                if name in group.model_fields_set:
                    problems.append(
                        f"{key}.{name}: only on a floor plan; remove it, or add a [floor] "
                        "with [[gateways]] and place the group with area = [x0, y0, x1, y1]"
                    )
            if group.heard_by is None:
                problems.append(
                    f"{key}.heard_by: missing; this setting is required (adapter name -> "
                    "base RSSI in dBm, e.g. heard_by = { hci0 = -70 })"
                )
        return problems
    size = f"{floor.width_m:g} m x {floor.height_m:g} m"
    if not spec.gateways:
        problems.append(
            "gateways: missing; a floor plan needs its boxes: add [[gateways]] entries with "
            "id, x, y and their [[gateways.adapters]]"
        )
    if spec.adapters:
        problems.append(
            "adapters: on a floor plan every adapter belongs to a box; move each [[adapters]] "
            "under its [[gateways]] entry as [[gateways.adapters]]"
        )
    ids: dict[str, int] = {}
    addresses: dict[str, str] = {}
    for g, box in enumerate(spec.gateways):
        if box.id in ids:
            problems.append(
                f"gateways.{g}.id: {box.id!r} is not valid: gateways.{ids[box.id]} has the "
                "same id; give every box its own id"
            )
        ids.setdefault(box.id, g)
        if not (0 <= box.x <= floor.width_m and 0 <= box.y <= floor.height_m):
            problems.append(
                f"gateways.{g}: x = {box.x:g}, y = {box.y:g} is not valid: the box stands "
                f"outside the floor ({size}); keep 0 <= x <= width_m and 0 <= y <= height_m"
            )
        names: set[str] = set()
        for n, adapter in enumerate(box.adapters):
            key = f"gateways.{g}.adapters.{n}"
            if adapter.name in names:
                problems.append(
                    f"{key}.name: {adapter.name!r} is not valid: this box has another "
                    f"{adapter.name}; give each adapter of a box its own name"
                )
            names.add(adapter.name)
            if adapter.address in addresses:
                problems.append(
                    f"{key}.address: {adapter.address!r} is not valid: "
                    f"{addresses[adapter.address]} has the same address; give every adapter "
                    "its own address"
                )
            addresses.setdefault(adapter.address, key)
    for key, group in _groups(spec):
        if group.heard_by is not None:
            problems.append(
                f"{key}.heard_by: on a floor plan every box hears a device by its distance; "
                "remove heard_by and place the group with area = [x0, y0, x1, y1]"
            )
        if "rssi_noise" in group.model_fields_set:
            problems.append(
                f"{key}.rssi_noise: on a floor plan the radio noise is the floor's; remove it "
                "and set noise_db in [floor]"
            )
        if group.aisles is not None and group.layout != "grid":
            problems.append(
                f'{key}.aisles: only with layout = "grid"; remove aisles or use the grid'
            )
        area = group.area
        if area is None:
            problems.append(
                f"{key}.area: missing; on a floor plan every group is placed with "
                "area = [x0, y0, x1, y1] (metres)"
            )
            continue
        x0, y0, x1, y1 = area
        shown = "[" + ", ".join(f"{v:g}" for v in area) + "]"
        if x0 > x1 or y0 > y1:
            problems.append(
                f"{key}.area: {shown} is not valid: write [x0, y0, x1, y1] with the lower "
                "corner first (x0 <= x1, y0 <= y1)"
            )
        elif x0 < 0 or y0 < 0 or x1 > floor.width_m or y1 > floor.height_m:
            problems.append(
                f"{key}.area: {shown} is not valid: it leaves the floor ({size}); keep "
                "0 <= x <= width_m and 0 <= y <= height_m"
            )
    return problems


def env_name(box: str) -> str:
    """The variable a box's bus address is printed as: ``DBUS_SYSTEM_BUS_ADDRESS_<ID>``."""
    return "DBUS_SYSTEM_BUS_ADDRESS_" + box.upper().replace("-", "_")


@dataclass(frozen=True)
class ExpectedDevice:
    """What the gateway should make of a scenario device."""

    address: str
    kind: str
    model: str
    group: str


def device_address(prefix: str, index: int) -> str:
    return f"{prefix}:00:{index >> 8 & 0xFF:02X}:{index & 0xFF:02X}"


def bthome_key(seed: int, address: str) -> bytes:
    """The bind key of an encrypted BTHome sensor (deterministic per scenario)."""
    return hashlib.sha256(f"storegw-sim:{seed}:{address.upper()}".encode()).digest()[:16]


def _seed(seed: int, address: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{address}".encode()).digest()[:8], "big")


def read_scenario(path: Path) -> ScenarioFile:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ScenarioError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot be read ({exc})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{path}: TOML syntax error: {exc}"]) from None
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([f"{path}: {p}" for p in format_errors(exc)]) from None
    problems = layout_problems(spec)
    if problems:
        raise ScenarioError([f"{path}: {p}" for p in problems])
    return spec


def load_scenario(path: Path) -> Scenario:
    spec = read_scenario(path)
    epoch = time.monotonic()
    devices: list[SimDevice] = []
    for i, bg in enumerate(spec.beacons):
        for n in range(1, bg.count + 1):
            addr = device_address(bg.address_prefix, n)
            devices.append(
                BeaconDevice(
                    kind=bg.kind,
                    tx_power=bg.tx_power,
                    beacon_uuid=bg.uuid,
                    major=bg.major,
                    minor=n,
                    namespace=bg.namespace,
                    instance=f"{i:04x}{n:08x}",
                    url=bg.url,
                    **_radio(spec, bg, addr, n),
                )
            )
    for sg in spec.sensors:
        climate = Climate(
            temperature_c=sg.temperature_c,
            temperature_noise=sg.temperature_noise,
            wave_amplitude=sg.wave_amplitude,
            humidity_pct=sg.humidity_pct,
            door_opens_per_hour=sg.door_opens_per_hour,
            door_rise_c=sg.door_rise_c,
        )
        for n in range(1, sg.count + 1):
            addr = device_address(sg.address_prefix, n)
            devices.append(
                SensorDevice(
                    fmt=sg.format,
                    climate=climate,
                    battery_mv=sg.battery_mv,
                    drain_mv_per_day=sg.drain_mv_per_day,
                    bind_key=bthome_key(spec.seed, addr)
                    if sg.format == "bthome-encrypted"
                    else None,
                    **_radio(spec, sg, addr, n, sg.name),
                )
            )
    fast = spec.label_speedup
    for lg in spec.labels:
        flaky_every = round(1 / lg.flaky_share) if lg.flaky_share else 0
        for n in range(1, lg.count + 1):
            addr = device_address(lg.address_prefix, n)
            flaky = bool(flaky_every) and n % flaky_every == 0
            behaviour = LabelBehaviour(
                part_rtt_s=lg.part_rtt / fast,
                refresh_s=lg.refresh / fast,
                connect_latency_s=lg.connect_latency / fast,
                notify_settle_s=lg.notify_settle / fast,
                att_mtu=lg.mtu,
                finish=lg.finish,
                takes_quicklz=lg.takes_quicklz,
                failure_probability=lg.failure_probability if flaky or not flaky_every else 0,
                connect_failure_probability=lg.connect_failure_probability,
            )
            devices.append(
                LabelDevice(
                    hardware=lg.hardware,
                    firmware=lg.firmware,
                    battery_mv=lg.battery_mv,
                    behaviour=behaviour,
                    **_radio(spec, lg, addr, n),
                )
            )
    schemes = {"bw": Scheme.MONO, "bwr": Scheme.BWR, "bwy": Scheme.BWY, "bwry": Scheme.BWRY}
    for og in spec.opendisplay:
        for n in range(1, og.count + 1):
            addr = device_address(og.address_prefix, n)
            modes = (0x02 if og.compressed else 0) | 0x08
            od = OpenDisplayBehaviour(
                width=og.width,
                height=og.height,
                scheme=schemes[og.colours],
                rotation=og.rotation,
                leds=og.leds,
                transmission_modes=modes,
                chunk_rtt_s=og.chunk_rtt / fast,
                refresh_s=og.refresh / fast,
                fast_refresh_s=og.refresh / 5 / fast,
                connect_latency_s=og.connect_latency / fast,
                refresh_timeout_probability=og.refresh_timeout_probability,
                key=bytes.fromhex(og.key) if og.key else None,
            )
            devices.append(
                OpenDisplayLabel(
                    behaviour=od, battery_mv=og.battery_mv, **_radio(spec, og, addr, n)
                )
            )
    for device in devices:
        if isinstance(device, BeaconDevice | SensorDevice | LabelDevice | OpenDisplayLabel):
            device.epoch = epoch
    adapters = [AdapterSpec(a.name, a.address, a.connection_slots) for a in spec.adapters]
    scenario = Scenario(name=spec.name, adapters=adapters, devices=devices, seed=spec.seed)
    if spec.floor is not None:
        f = spec.floor
        radio = PathLoss(f.rssi_at_1m, f.path_loss_exponent, f.noise_db, f.sensitivity_dbm)
        scenario.floor = FloorSpec(f.width_m, f.height_m, radio)
        scenario.gateways = [
            GatewaySpec(
                g.id,
                g.x,
                g.y,
                tuple(AdapterSpec(a.name, a.address, a.connection_slots) for a in g.adapters),
            )
            for g in spec.gateways
        ]
        scenario.placements = placements(spec)
    return scenario


def placements(spec: ScenarioFile) -> dict[str, Placement]:
    """Where every device of a floor scenario stands (empty for one box)."""
    out: dict[str, Placement] = {}
    for _, group in _groups(spec):
        if group.area is None:
            continue
        addresses = [device_address(group.address_prefix, n) for n in range(1, group.count + 1)]
        if group.layout == "grid":
            points = grid(group.count, group.area, group.aisles)
        else:
            points = [uniform(group.area, spec.seed, a) for a in addresses]
        for address, (x, y) in zip(addresses, points, strict=True):
            out[address] = Placement(x, y, group.attenuation_db)
    return out


class RadioArgs(TypedDict):
    address: str
    name: str | None
    interval_s: float
    heard_by: dict[str, int]
    rssi_noise: float
    away: list[tuple[float, float]]
    seed: int


def _radio(
    spec: ScenarioFile, group: GroupConfig, address: str, n: int, name: str | None = None
) -> RadioArgs:
    away_every = round(1 / group.away_share) if group.away_share else 0
    away = group.away if not away_every or n % away_every == 0 else []
    if group.away_share and away_every and n % away_every == 0 and not group.away:
        away = [(0.0, float("inf"))]  # away for the whole run
    return RadioArgs(
        address=address,
        name=f"{name} {n}" if name else None,
        interval_s=group.interval,
        heard_by=dict(group.heard_by or {}),
        rssi_noise=group.rssi_noise,
        away=list(away),
        seed=_seed(spec.seed, address),
    )


def expected_devices(path: Path) -> list[ExpectedDevice]:
    """Every device of a scenario file with the kind and model the gateway should find."""
    spec = read_scenario(path)
    out: list[ExpectedDevice] = []
    beacon_models = {
        "ibeacon": "ibeacon",
        "altbeacon": "altbeacon",
        "eddystone-uid": "eddystone",
        "eddystone-url": "eddystone",
    }
    for bg in spec.beacons:
        out += [
            ExpectedDevice(
                device_address(bg.address_prefix, n), "beacon", beacon_models[bg.kind], bg.kind
            )
            for n in range(1, bg.count + 1)
        ]
    for sg in spec.sensors:
        model = "ruuvi-rawv2" if sg.format == "ruuvi" else "bthome-v2"
        out += [
            ExpectedDevice(device_address(sg.address_prefix, n), "sensor", model, sg.format)
            for n in range(1, sg.count + 1)
        ]
    for lg in spec.labels:
        out += [
            ExpectedDevice(device_address(lg.address_prefix, n), "label", lg.model, "label")
            for n in range(1, lg.count + 1)
        ]
    for og in spec.opendisplay:
        out += [
            ExpectedDevice(device_address(og.address_prefix, n), "label", og.model, "opendisplay")
            for n in range(1, og.count + 1)
        ]
    return out
