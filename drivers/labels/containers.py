"""How a Gicisky label takes its planes over the air: raw, per-line or QuickLZ chunks.

Three containers are known from real labels (sources in README, "Shelf labels"):

``RAW``
    The planes as they are (black/white then red, or the 2-bit plane). Size
    command ``02 <u32 length> 00 00 00``. Driven this way by the maintained
    integrations on the labels that advertise type bit ``0x4000`` and on
    four-colour panels.
``LINES``
    A u32 total length (these 4 bytes included; real labels also take it
    without them, as fpoli/gicisky-tag's uploader sends it), then the planes in pieces of
    ``height / 8`` bytes, each a QuickLZ packet of literals only
    (``75 <n + 7> <n> 00 00 00 00 <n bytes>``). Size command as ``RAW``. The
    3.7" and the 7.5" with software 0x81 take this.
``QUICKLZ``
    What the vendor app sends: a u32 length of the second half (one plane on a
    black/white/red panel), then each half in 64-byte QuickLZ chunks
    (:mod:`drivers.labels.quicklz`). Size command ``02 <u32 length> 01``. The
    7.5" and 10.2" with software 0x01 take it (the 10.2"'s size command is
    from a capture of the vendor app); the vendor app sends it to the 4.2"
    (99 public captures) and, by the published upload times, to the 2.1".

Which ones a label takes, and in which order (:func:`accepted`), follows what
the references show per panel and firmware (the maintained integration
eigger/hass-gicisky's device table and writer, OpenEPaperLink's and atc1441's
uploaders, the vendor app's captures):

- four-colour and TFT panels: raw planes, whatever the firmware (every
  integration sends them so);
- software version with bit 7 clear (7.5" and 10.2" at ``01 01``): QuickLZ, as
  the vendor app and hass-gicisky send it;
- software 0x8x without the ``0x4000`` type bit (3.7", 7.5" at ``81 01``): the
  per-line container, as hass-gicisky, OpenEPaperLink and atc1441 send it;
- software 0x8x with the bit: raw planes (hass-gicisky's 2.1", 2.9" and 4.2"),
  except the 4.2" ``0x004B``, to which the vendor app sends QuickLZ (its 99
  public captures).

Raw planes follow every compressed container: a label that does not read the
compressed image (it refuses the size command, or it takes the parts and never
confirms) is sent raw planes. What a label refused is remembered for it
(:mod:`gateway.labels.refusals`), so the next write starts with what it takes.
"""

from __future__ import annotations

import struct
from enum import StrEnum

from drivers.labels import quicklz
from drivers.labels.panels import FLAG_RAW_PLANES, Panel


class Container(StrEnum):
    RAW = "raw"
    LINES = "lines"
    QUICKLZ = "quicklz"


class ContainerError(ValueError):
    """Bytes that are not a valid container for the panel."""


QUICKLZ_BY_CAPTURES = frozenset({0x004B})
"""Ids with type bit 14 that the vendor app's captures show taking QuickLZ."""


def accepted(panel: Panel, firmware: int, advert_flags: int) -> tuple[Container, ...]:
    """The containers a label takes, the one to try first first (raw planes last).

    ``firmware`` is advert bytes 2 (software) and 3 (hardware) as one number;
    ``advert_flags`` the advertised type's bits above the 14-bit id.
    """
    software = firmware >> 8
    if panel.two_bit or panel.tft:
        return (Container.RAW,)
    if not software & 0x80:
        return (Container.QUICKLZ, Container.RAW)
    if not advert_flags & FLAG_RAW_PLANES:
        return (Container.LINES, Container.RAW)
    if panel.hardware_id in QUICKLZ_BY_CAPTURES:
        return (Container.QUICKLZ, Container.RAW)
    return (Container.RAW,)


def size_command(container: Container, length: int) -> bytes:
    """The ``02`` command announcing ``length`` bytes in ``container``."""
    if container is Container.QUICKLZ:
        return b"\x02" + struct.pack("<I", length) + b"\x01"
    return b"\x02" + struct.pack("<I", length) + b"\x00\x00\x00"


def _line_bytes(panel: Panel) -> int:
    return max(1, panel.height // 8)


def encode(container: Container, panel: Panel, planes: bytes) -> bytes:
    """The bytes to transfer for ``planes`` (as packed for ``panel``)."""
    if len(planes) != panel.packed_size:
        raise ValueError(f"{len(planes)} bytes of planes; the panel takes {panel.packed_size}")
    if container is Container.RAW:
        return planes
    if container is Container.QUICKLZ:
        half = len(planes) // 2
        first, second = planes[:half], planes[half:]
        return struct.pack("<I", len(second)) + quicklz.compress(first) + quicklz.compress(second)
    line = _line_bytes(panel)
    out = bytearray(4)
    for i in range(0, len(planes), line):
        piece = planes[i : i + line]
        out += bytes((quicklz.COMPRESSED, len(piece) + 7, len(piece))) + bytes(4) + piece
    struct.pack_into("<I", out, 0, len(out))
    return bytes(out)


def decode(container: Container, panel: Panel, data: bytes) -> bytes:
    """The planes back from a transfer (what a label's firmware does); ContainerError if bad."""
    want = panel.packed_size
    if container is Container.RAW:
        if len(data) != want:
            raise ContainerError(f"{len(data)} bytes of raw planes; the panel takes {want}")
        return data
    if len(data) < 4:
        raise ContainerError("shorter than the container's header")
    header = struct.unpack_from("<I", data)[0]
    try:
        if container is Container.QUICKLZ:
            if header != want - want // 2:
                raise ContainerError(
                    f"header says {header} bytes in the second half, not {want - want // 2}"
                )
            first, pos = quicklz.read_chunks(data, 4, want // 2)
            second, pos = quicklz.read_chunks(data, pos, want - want // 2)
            planes = first + second
        else:
            # The total length, header included (hass-gicisky, OpenEPaperLink), or without
            # it (fpoli/gicisky-tag's uploader): real labels take both.
            if header not in (len(data), len(data) - 4):
                raise ContainerError(f"header says {header} bytes, {len(data)} arrived")
            planes, pos = quicklz.read_chunks(data, 4, want)
    except quicklz.QuickLZError as exc:
        raise ContainerError(str(exc)) from exc
    if pos != len(data):
        raise ContainerError(f"{len(data) - pos} bytes after the planes")
    return planes
