"""Advertisement decoders against published vectors, and fuzzed with Hypothesis."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.adverts.bthome import BTHOME_UUID, BadKey, MissingKey, decode_bthome
from drivers.adverts.ruuvi import decode_ruuvi
from drivers.decode import decode, payload_fingerprint
from drivers.types import Advertisement, BeaconFormat, DecodeError, DeviceKind

EDDYSTONE = "0000feaa-0000-1000-8000-00805f9b34fb"


def adv(**kw: object) -> Advertisement:
    return Advertisement(address=str(kw.pop("address", "C4:D9:12:AB:0F:31")), **kw)  # type: ignore[arg-type]


# ---- RuuviTag RAWv2: the four vectors of Ruuvi's data format 5 specification ------------

RUUVI_VALID = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"
RUUVI_MAX = "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F"
RUUVI_MIN = "058001000000008001800180010000000000CBB8334C884F"
RUUVI_INVALID = "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF"


def test_ruuvi_valid_vector() -> None:
    readings, mv, seq = decode_ruuvi(bytes.fromhex(RUUVI_VALID))
    assert readings == {
        "temperature_c": 24.3,
        "humidity_pct": 53.49,
        "pressure_hpa": 1000.44,
        "acceleration_x_g": 0.004,
        "acceleration_y_g": -0.004,
        "acceleration_z_g": 1.036,
        "voltage_v": 2.977,
        "tx_power_dbm": 4.0,
        "movement_count": 66.0,
    }
    assert (mv, seq) == (2977, 205)


def test_ruuvi_max_and_min_vectors() -> None:
    high, mv, seq = decode_ruuvi(bytes.fromhex(RUUVI_MAX))
    assert high["temperature_c"] == 163.835 and high["humidity_pct"] == 163.835
    assert high["pressure_hpa"] == 1155.34 and high["acceleration_z_g"] == 32.767
    assert (mv, high["tx_power_dbm"], high["movement_count"], seq) == (3646, 20.0, 254.0, 65534)
    low, mv, seq = decode_ruuvi(bytes.fromhex(RUUVI_MIN))
    assert low["temperature_c"] == -163.835 and low["humidity_pct"] == 0
    assert low["pressure_hpa"] == 500.0 and low["acceleration_x_g"] == -32.767
    assert (mv, low["tx_power_dbm"], seq) == (1600, -40.0, 0)


def test_ruuvi_invalid_vector_reports_nothing_made_up() -> None:
    readings, mv, seq = decode_ruuvi(bytes.fromhex(RUUVI_INVALID))
    assert readings == {} and mv is None and seq is None


def test_ruuvi_through_decode() -> None:
    obs = decode(adv(manufacturer_data={0x0499: bytes.fromhex(RUUVI_VALID)}))
    assert obs is not None and obs.kind is DeviceKind.SENSOR and obs.model == "ruuvi-rawv2"
    assert obs.battery_mv == 2977 and obs.battery_pct == 95.4 and obs.packet_id == 205


# ---- BTHome v2: the examples of bthome.io (format and encryption pages) --------------------

BIND_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
ENCRYPTED = bytes.fromhex("41a47266c95f730011223378237214")  # MAC 54:48:E6:8F:80:A5


def test_bthome_plain() -> None:
    data = decode_bthome(bytes.fromhex("4002c40903bf13"), "AA:BB:CC:DD:EE:FF")
    assert data.readings == {"temperature_c": 25.0, "humidity_pct": 50.55}
    assert not data.encrypted


def test_bthome_encrypted_with_published_key() -> None:
    keys = {"5448e68f80a5": BIND_KEY}
    data = decode_bthome(ENCRYPTED, "54:48:E6:8F:80:A5", keys)
    assert data.readings == {"temperature_c": 25.06, "humidity_pct": 50.55}
    assert data.encrypted and data.counter == 0x33221100


def test_bthome_missing_and_wrong_key() -> None:
    with pytest.raises(MissingKey, match=r"bthome_keys\.5448e68f80a5"):
        decode_bthome(ENCRYPTED, "54:48:E6:8F:80:A5", {})
    with pytest.raises(BadKey):
        decode_bthome(ENCRYPTED, "54:48:E6:8F:80:A5", {"5448e68f80a5": bytes(16)})


def test_bthome_battery_packet_and_binary() -> None:
    # packet id 9, battery 97 %, temperature 3.9 C, door open
    raw = bytes.fromhex("40000901610286011a01")
    obs = decode(adv(service_data={BTHOME_UUID: raw}))
    assert obs is not None and obs.model == "bthome-v2"
    assert obs.battery_pct == 97 and obs.packet_id == 9
    assert obs.readings == {"temperature_c": 3.9, "door_open": 1.0}


def test_bthome_unknown_object_is_an_error() -> None:
    with pytest.raises(DecodeError, match="0xfe"):
        decode_bthome(bytes.fromhex("40fe01"), "AA:BB:CC:DD:EE:FF")


# ---- Beacons: examples built from the specifications' field layouts ------------------------


def test_ibeacon() -> None:
    data = bytes.fromhex("0215e2c56db5dffb48d2b060d0f5a71096e000010002c5")
    obs = decode(adv(manufacturer_data={0x004C: data}))
    assert obs is not None and obs.model == "ibeacon"
    assert obs.beacon is not None and obs.beacon.format is BeaconFormat.IBEACON
    assert obs.beacon.uuid == "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
    assert (obs.beacon.major, obs.beacon.minor, obs.beacon.tx_power) == (1, 2, -59)
    # A store's beacons share their UUID: one string for all of them, not one each.
    other = decode(adv(address="C4:D9:12:AB:0F:32", manufacturer_data={0x004C: data}))
    assert other is not None and other.beacon is not None
    assert other.beacon.uuid is obs.beacon.uuid


def test_other_apple_adverts_are_not_beacons() -> None:
    assert decode(adv(manufacturer_data={0x004C: bytes.fromhex("1005031c")})) is None


def test_altbeacon() -> None:
    data = bytes.fromhex("beac" + "00" * 15 + "01" + "0003" + "0004" + "c5" + "00")
    obs = decode(adv(manufacturer_data={0x0118: data}))
    assert obs is not None and obs.model == "altbeacon" and obs.beacon is not None
    assert (obs.beacon.major, obs.beacon.minor, obs.beacon.tx_power) == (3, 4, -59)


def test_eddystone_uid_url_tlm() -> None:
    uid = decode(
        adv(service_data={EDDYSTONE: bytes.fromhex("00e7" + "8b" * 10 + "00" * 5 + "2a" + "0000")})
    )
    assert uid is not None and uid.beacon is not None
    assert uid.beacon.namespace == "8b" * 10 and uid.beacon.instance == "00" * 5 + "2a"
    assert uid.beacon.tx_power == -25
    url = decode(adv(service_data={EDDYSTONE: bytes.fromhex("10ee03") + b"goo.gl/S6zT6P"}))
    assert url is not None and url.beacon is not None
    assert url.beacon.url == "https://goo.gl/S6zT6P"
    url2 = decode(adv(service_data={EDDYSTONE: bytes.fromhex("10ee00") + b"example" + b"\x07"}))
    assert url2 is not None and url2.beacon is not None
    assert url2.beacon.url == "http://www.example.com"
    # TLM: 3.0 V, 23.5 C, 1000 adverts, 360.0 s up.
    tlm = decode(adv(service_data={EDDYSTONE: bytes.fromhex("20000bb81780000003e800000e10")}))
    assert tlm is not None and tlm.battery_mv == 3000
    assert tlm.readings == {"temperature_c": 23.5, "adv_count": 1000.0, "uptime_s": 360.0}


# ---- Gicisky labels: tests/unit/test_label_panels.py -------------------------------------------


def test_phones_are_not_decoded() -> None:
    assert decode(adv(manufacturer_data={0x0006: b"\x01\x09\x20\x02"})) is None
    assert decode(adv()) is None


def test_fingerprint_ignores_rssi() -> None:
    a = adv(rssi=-50, manufacturer_data={0x0499: bytes.fromhex(RUUVI_VALID)})
    b = adv(rssi=-90, manufacturer_data={0x0499: bytes.fromhex(RUUVI_VALID)})
    c = adv(rssi=-50, manufacturer_data={0x0499: bytes.fromhex(RUUVI_MIN)})
    assert payload_fingerprint(a) == payload_fingerprint(b) != payload_fingerprint(c)


# ---- Any bytes: a value or the decoder's own error ------------------------------------------

company = st.sampled_from([0x004C, 0x0499, 0x5053, 0x0118, 0x0006])
service = st.sampled_from([BTHOME_UUID, EDDYSTONE, "0000180f-0000-1000-8000-00805f9b34fb"])


@settings(max_examples=600, deadline=None)
@given(
    st.dictionaries(company, st.binary(max_size=40), max_size=3),
    st.dictionaries(service, st.binary(max_size=40), max_size=2),
    st.booleans(),
)
def test_any_bytes_decode_or_decode_error(
    manufacturer: dict[int, bytes], services: dict[str, bytes], with_key: bool
) -> None:
    keys = {"5448e68f80a5": BIND_KEY} if with_key else None
    a = Advertisement("54:48:E6:8F:80:A5", manufacturer_data=manufacturer, service_data=services)
    with contextlib.suppress(DecodeError):
        decode(a, bthome_keys=keys)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=30))
def test_bthome_prefixed_bytes(payload: bytes) -> None:
    for first in (b"\x40", b"\x41", b"\x44"):
        with contextlib.suppress(DecodeError):
            decode_bthome(first + payload, "54:48:E6:8F:80:A5", {"5448e68f80a5": BIND_KEY})
