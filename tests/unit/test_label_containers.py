"""The image containers and the QuickLZ chunks: round trips, the forms real labels take, damage."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.labels import quicklz
from drivers.labels.containers import Container, ContainerError, decode, encode, size_command
from drivers.labels.panels import PANELS

PANEL_21 = PANELS[0x010B]  # 250 x 128 BWR: 8,000 bytes of planes


def test_a_white_chunk_is_the_vendor_apps_bytes() -> None:
    # From the captures: 4 literals, one match of 56 (hash 0), 4 literals.
    assert quicklz.compress_chunk(b"\xff" * 64) == bytes.fromhex(
        "75124010000080ffffffff000038ffffffff"
    )


def test_incompressible_chunks_stay_compressed_and_stored_chunks_are_read() -> None:
    # As the vendor app does (a 25 px checkerboard chunk of the captures): a chunk longer
    # than its 64 bytes is kept compressed; the stock bail-out can only fire at the first
    # control word past half the chunk, which literals alone never reach.
    noise = bytes((i * 73 + 41) % 256 for i in range(64))
    packet = quicklz.compress_chunk(noise)
    assert packet[:3] == bytes((0x75, 79, 64))  # 3 control words + 64 literals
    assert quicklz.read_chunks(packet, 0, 64) == (noise, 79)
    stored = bytes((0x74, 67, 64)) + noise
    assert quicklz.read_chunks(stored, 0, 64) == (noise, 67)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=700), st.sampled_from([b"", b"\x00", b"\xff", b"\x0f\xf0"]))
def test_any_bytes_round_trip(data: bytes, run: bytes) -> None:
    data = data + run * 40  # some runs too, to exercise matches
    chunks = quicklz.compress(data)
    assert quicklz.read_chunks(chunks, 0, len(data)) == (data, len(chunks))


@pytest.mark.parametrize("container", list(Container))
def test_containers_round_trip_with_their_headers(container: Container) -> None:
    planes = bytes(range(256)) * 31 + bytes(64)  # 8,000 bytes
    data = encode(container, PANEL_21, planes)
    assert decode(container, PANEL_21, data) == planes
    if container is Container.QUICKLZ:
        assert data[:4] == struct.pack("<I", 4000)  # the second half's length
    if container is Container.LINES:
        assert data[:4] == struct.pack("<I", len(data))  # the total length
        assert data[4:11] == bytes((0x75, 16 + 7, 16)) + bytes(4)  # lines of 128 / 8 bytes
        assert len(data) == 11504  # as the public 2.1" upload (48 parts of 240)
    if container is Container.RAW:
        assert data == planes


def test_size_commands() -> None:
    assert size_command(Container.QUICKLZ, 0x2A4B) == bytes.fromhex("024b2a000001")
    assert size_command(Container.RAW, 9472) == bytes.fromhex("0200250000000000")
    assert size_command(Container.LINES, 9472) == bytes.fromhex("0200250000000000")


@pytest.mark.parametrize(
    ("container", "damage", "words"),
    [
        (Container.RAW, lambda d: d[:-1], "raw planes"),
        (Container.QUICKLZ, lambda d: d[:2], "header"),
        (Container.QUICKLZ, lambda d: struct.pack("<I", 10) + d[4:], "second half"),
        (Container.QUICKLZ, lambda d: d[:-1], "past the end"),
        (Container.QUICKLZ, lambda d: d + b"\x00", "after the planes"),
        (Container.QUICKLZ, lambda d: d[:4] + b"\x99" + d[5:], "bad packet header"),
        (Container.LINES, lambda d: struct.pack("<I", 5) + d[4:], "header says 5"),
    ],
)
def test_damage_is_refused_with_the_containers_own_error(
    container: Container, damage: object, words: str
) -> None:
    data = encode(container, PANEL_21, bytes(8000))
    with pytest.raises(ContainerError, match=words):
        decode(container, PANEL_21, damage(data))  # type: ignore[operator]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(list(Container)))
def test_any_bytes_are_planes_or_the_containers_error(data: bytes, container: Container) -> None:
    small = PANELS[0x0008]  # 212 x 104 black/white: 2,756 bytes
    try:
        planes = decode(container, small, data)
    except ContainerError:
        return
    assert len(planes) == small.packed_size


def test_a_match_into_an_empty_bucket_is_refused() -> None:
    body = struct.pack("<I", 0x80000001) + bytes((0x11, 0x00))  # first item: a match, hash 1
    with pytest.raises(quicklz.QuickLZError, match="empty"):
        quicklz.decompress_body(body, 3)
