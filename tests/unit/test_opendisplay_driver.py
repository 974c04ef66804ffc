"""The OpenDisplay driver, pure: configuration, image planes, the direct write, the LED."""

from __future__ import annotations

import random

import pytest
from opendisplay.models.led_flash import LedFlashConfig
from opendisplay.protocol.config_parser import parse_config_response

from drivers.decode import decode
from drivers.labels.base import SetTimeout, Write
from drivers.labels.opendisplay import (
    CHARACTERISTIC,
    CHUNK,
    ConfigError,
    Display,
    OpenDisplayTransfer,
    ReadConfig,
    Scheme,
    compress,
    led_command,
    pack,
    parse_config,
)
from drivers.types import Advertisement, DecodeError, DeviceKind
from gateway.sim.devices import opendisplay as sim

C = CHARACTERISTIC


@pytest.mark.parametrize("scheme", list(sim.Scheme))
def test_the_configuration_reads_as_the_client_reads_it(scheme: sim.Scheme) -> None:
    b = sim.OpenDisplayBehaviour(width=250, height=122, scheme=scheme, rotation=90, leds=2)
    container = sim.config_container(b)
    display = parse_config(container)
    assert display == Display(250, 122, Scheme(int(scheme)), 90, b.transmission_modes, 2)
    theirs = parse_config_response(container).displays[0]  # the maintained client's reading
    assert (theirs.pixel_width, theirs.pixel_height) == (display.width, display.height)
    assert theirs.color_scheme == int(display.scheme) and theirs.rotation == 1


def test_configurations_it_cannot_use_are_named() -> None:
    good = sim.config_container(sim.OpenDisplayBehaviour())
    for bad, words in (
        (good[:3], "5 at least"),
        (good[:60] + good[-2:], "cut short"),
        (sim.config_container(sim.OpenDisplayBehaviour(width=0)), "says 0x128 pixels"),
    ):
        with pytest.raises(ConfigError, match=words):
            parse_config(bad)
    seven = bytearray(good)
    seven[3 + 2 + 22 + 2 + 22 + 2 + 30 + 2 + 21] = 7  # the display packet's colour scheme
    with pytest.raises(ConfigError, match="colour scheme 7"):
        parse_config(bytes(seven))


@pytest.mark.parametrize("scheme", list(sim.Scheme))
def test_planes_decode_on_the_label_to_the_picture(scheme: sim.Scheme) -> None:
    b = sim.OpenDisplayBehaviour(width=13, height=5, scheme=scheme)
    rng = random.Random(int(scheme))
    values = (0, 1, 2, 3) if scheme is sim.Scheme.BWRY else (0, 1, 2)
    if scheme is sim.Scheme.MONO:
        values = (0, 1)
    indices = bytes(rng.choice(values) for _ in range(13 * 5))
    display = parse_config(sim.config_container(b))
    image = pack(indices, display)
    assert len(image) == display.image_bytes == sim.plane_bytes(b)
    assert sim.decode_image(b, image) == indices


def test_compressed_with_the_firmwares_window() -> None:
    data = compress(bytes(4736))
    assert (data[0] >> 4) + 8 == 9  # zlib header: a 512-byte window


def start(machine: OpenDisplayTransfer) -> list[bytes]:
    return [a.data for a in machine.start(244) if isinstance(a, Write)]


def test_a_compressed_write_refused_is_sent_raw_and_ended_by_the_label() -> None:
    image = bytes(range(256)) * 2
    m = OpenDisplayTransfer(image, compressed=compress(image), etag=7)
    [first] = start(m)
    assert first[:6] == b"\x00\x70" + len(image).to_bytes(4, "little")
    [raw] = [a.data for a in m.receive_notification(C, b"\xff\x70") if isinstance(a, Write)]
    assert raw == b"\x00\x70" and not m.sent_compressed
    sent = []
    answer = b"\x00\x70"
    while True:
        writes = [a for a in m.receive_notification(C, answer) if isinstance(a, Write)]
        if not writes:
            break
        sent.append(writes[0].data)
        answer = b"\x00\x71" if len(b"".join(s[2:] for s in sent)) < len(image) else b"\x00\x72"
    assert b"".join(s[2:] for s in sent) == image and all(len(s) <= 2 + CHUNK for s in sent)
    assert not m.finished  # the label ended it: now the refresh
    assert m.receive_notification(C, b"\x00\x73") == [] and m.finished and m.failure is None


def test_only_a_finished_refresh_is_displayed() -> None:
    m = OpenDisplayTransfer(b"x" * 10, compressed=compress(b"x" * 10), etag=0x01020304)
    start(m)
    [end] = [a.data for a in m.receive_notification(C, b"\x00\x70") if isinstance(a, Write)]
    assert end == b"\x00\x72\x00\x01\x02\x03\x04"  # full refresh, the etag
    waits = m.receive_notification(C, b"\x00\x72")
    assert waits == [SetTimeout(90.0)] and not m.finished
    m.receive_notification(C, b"\x00\x74")
    assert m.failure == ("timeout", "the panel's refresh timed out (00 74)")


@pytest.mark.parametrize(
    ("answers", "kind", "words"),
    [
        ([b"\x00\x70\xfe"], "rejected", "needs its key"),
        ([b"\x00\x70\xff"], "rejected", "could not read"),
        ([b"\x00\x99"], "protocol", "to 00 70"),
        ([b"\x00\x70", b"\xff\x72"], "protocol", "refused the image"),
    ],
)
def test_answers_it_cannot_go_on_from(answers: list[bytes], kind: str, words: str) -> None:
    m = OpenDisplayTransfer(b"y" * 10, compressed=compress(b"y" * 10), etag=1)
    start(m)
    for answer in answers:
        m.receive_notification(C, answer)
    assert m.failure is not None and m.failure[0] == kind and words in m.failure[1], m.failure


def test_every_step_has_a_deadline_and_a_short_link_is_refused() -> None:
    m = OpenDisplayTransfer(b"z" * 10, compressed=None, etag=1)
    start(m)
    m.timeout()
    assert m.failure == ("timeout", "no answer from the label (after 00 70)")
    short = OpenDisplayTransfer(b"z" * 10, compressed=None, etag=1)
    short.start(20)
    assert short.failure is not None and short.failure[0] == "link"


def test_reading_the_configuration_in_chunks() -> None:
    container = sim.config_container(sim.OpenDisplayBehaviour(width=400, height=300))
    r = ReadConfig()
    assert [a.data for a in r.start(244) if isinstance(a, Write)] == [b"\x00\x40"]
    first = b"\x00\x40\x00\x00" + len(container).to_bytes(2, "little") + container[:94]
    r.receive_notification(C, first)
    assert not r.finished
    r.receive_notification(C, b"\x00\x40\x01\x00" + container[94:])
    assert r.finished and r.failure is None and r.display is not None
    assert (r.display.width, r.display.height) == (400, 300)
    empty = ReadConfig()
    empty.start(None)
    empty.receive_notification(C, b"\xff\x40\x00\x00")
    assert empty.failure == ("rejected", "the label has no configuration stored")


def test_the_led_command_is_the_clients() -> None:
    theirs = LedFlashConfig.single(color=0xE0, flash_count=3, brightness=8).to_bytes()
    assert led_command(0, 0xE0, 3) == b"\x00\x73\x00" + theirs
    with pytest.raises(ValueError):
        led_command(0, 0xE0, 0)


def test_its_advert_decodes_to_a_label_of_the_family() -> None:
    label = sim.OpenDisplayLabel(
        behaviour=sim.OpenDisplayBehaviour(),
        battery_mv=2950,
        address="F0:0D:00:00:00:01",
        name=None,
        interval_s=1.0,
        heard_by={"hci0": -60},
        rssi_noise=0,
        away=[],
        seed=1,
    )
    frame = label.advert(0.0)
    obs = decode(Advertisement("F0:0D:00:00:00:01", -60, manufacturer_data=frame.manufacturer_data))
    assert obs is not None and obs.kind is DeviceKind.LABEL and obs.model == "opendisplay"
    assert obs.battery_mv == 2950 and obs.readings == {"temperature_c": 22.0}
    assert obs.label is not None and obs.label.family == "opendisplay"
    old_firmware = {0x2446: bytes(7) + (3100).to_bytes(2, "little") + bytes([25, 7])}
    legacy = decode(Advertisement("F0:0D:00:00:00:02", -60, manufacturer_data=old_firmware))
    assert legacy is not None and legacy.battery_mv == 3100
    assert legacy.readings["temperature_c"] == 25.0
    with pytest.raises(DecodeError, match="OpenDisplay advert of 3 bytes"):
        decode(Advertisement("F0:0D:00:00:00:03", -60, manufacturer_data={0x2446: b"abc"}))
