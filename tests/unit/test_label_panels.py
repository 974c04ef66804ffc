"""Gicisky panels: every public hardware id decodes to its panel; containers by firmware."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drivers.decode import decode
from drivers.labels.containers import Container, accepted
from drivers.labels.panels import (
    PANELS,
    Colours,
    Tier,
    UnsupportedPanel,
    check_unverified,
    panel,
    writable_panel,
)
from drivers.types import Advertisement, DeviceKind

# The public table (github.com/eigger/hass-gicisky, gicisky_ble/devices.py): id, inch, size.
PUBLIC_TABLE = """
02AE 1.5 200x200 | 0008 2.1 212x104 | 000B 2.1 212x104 | 00A0 2.1 250x132 | 00C0 2.1 196x96
0108 2.1 250x128 | 010B 2.1 250x128 | 010E 2.1 250x128 | 0028 2.9 296x128 | 002B 2.9 296x128
002E 2.9 296x128 | 0030 2.9 296x128 | 0033 2.9 296x128 | 0180 2.9 168x384 | 0182 2.9 168x384
01E0 2.9 384x168 | 01E2 2.9 384x168 | 02CE 2.9 296x152 | 0148 3.7 280x480 | 0040 4.2 400x300
0042 4.2 400x300 | 0048 4.2 400x300 | 004B 4.2 400x300 | 004E 4.2 400x300 | 0228 3.7 240x416
022B 3.7 240x416 | 022E 3.7 240x416 | 11A2 4.2 210x480 | 1202 4.2 480x210 | 0068 5.8 640x384
006A 5.8 640x384 | 007A 5.8 640x384 | 00E0 5.8 640x360 | 028E 5.8 528x768 | 124C 5.8 400x600
11CC 7.3 1024x576 | 0128 7.5 800x480 | 012B 7.5 800x480 | 012E 7.5 800x480 | 0136 7.5 800x480
013B 7.5 800x480 | 013E 7.5 800x480 | 1138 7.5 800x480 | 113C 7.5 800x480 | 0A6B 9.7 792x272
0A6E 9.7 792x272 | 0A8B 9.7 272x792 | 0A8E 9.7 272x792 | 0088 10.2 960x640 | 008B 10.2 960x640
008E 10.2 960x640 | 009B 10.2 960x640 | 0A4B 10.2 960x680 | 017B 11.6 1360x480
126C 13.3 1600x1200
"""
ROWS = [row.split() for row in PUBLIC_TABLE.replace("\n", "|").split("|") if row.strip()]


def advert(data: str) -> Advertisement:
    return Advertisement("FF:FF:92:94:65:98", -60, manufacturer_data={0x5053: bytes.fromhex(data)})


def test_the_table_holds_every_public_id() -> None:
    assert len(ROWS) == 55 and set(PANELS) == {int(r[0], 16) for r in ROWS}


@pytest.mark.parametrize(("hid", "inch", "size"), ROWS)
def test_every_public_id_decodes_to_its_panel(hid: str, inch: str, size: str) -> None:
    ident = int(hid, 16)
    # As a label advertises it: low byte first, high byte (6 bits of the id) last.
    obs = decode(advert(f"{ident & 0xFF:02x}1e8101{ident >> 8:02x}"))
    assert obs is not None and obs.kind is DeviceKind.LABEL and obs.label is not None
    width, height = (int(v) for v in size.split("x"))
    assert (obs.label.width, obs.label.height, obs.label.panel_type) == (width, height, ident)
    assert obs.model == panel(ident).model and f"-{inch}-" in obs.model


@pytest.mark.parametrize(
    ("data", "ident", "size", "colours", "containers"),
    [
        # What the references send to each (hass-gicisky's device table and writer, the
        # vendor app's captures of the 4.2"), raw planes after anything compressed.
        ("0b1d810141", 0x010B, (250, 128), Colours.BWR, (Container.RAW,)),
        ("2b1e010101", 0x012B, (800, 480), Colours.BWR, (Container.QUICKLZ, Container.RAW)),
        ("2b1e810101", 0x012B, (800, 480), Colours.BWR, (Container.LINES, Container.RAW)),
        ("2b1d010100", 0x002B, (296, 128), Colours.BWR, (Container.QUICKLZ, Container.RAW)),
        ("331d810140", 0x0033, (296, 128), Colours.BWR, (Container.RAW,)),
        ("281d810140", 0x0028, (296, 128), Colours.BW, (Container.RAW,)),
        ("0b1d810140", 0x000B, (212, 104), Colours.BWR, (Container.RAW,)),
        ("2b1e810102", 0x022B, (240, 416), Colours.BWR, (Container.LINES, Container.RAW)),
        ("4b1e810140", 0x004B, (400, 300), Colours.BWR, (Container.QUICKLZ, Container.RAW)),
        ("8b1f010100", 0x008B, (960, 640), Colours.BWR, (Container.QUICKLZ, Container.RAW)),
        ("a01e810140", 0x00A0, (250, 132), Colours.BW, (Container.RAW,)),
        ("2e1d810140", 0x002E, (296, 128), Colours.BWRY, (Container.RAW,)),
        # Four-colour and TFT at 0x8101 without type bit 14: raw planes all the same.
        ("2e1d810100", 0x002E, (296, 128), Colours.BWRY, (Container.RAW,)),
        ("4e1e810100", 0x004E, (400, 300), Colours.BWRY, (Container.RAW,)),
        ("a01e810100", 0x00A0, (250, 132), Colours.BW, (Container.RAW,)),
    ],
)
def test_real_adverts(
    data: str,
    ident: int,
    size: tuple[int, int],
    colours: Colours,
    containers: tuple[Container, ...],
) -> None:
    obs = decode(advert(data))
    assert obs is not None and obs.label is not None
    label = obs.label
    assert (label.panel_type, (label.width, label.height)) == (ident, size)
    assert PANELS[ident].colours is colours and label.colors == PANELS[ident].colors
    assert accepted(PANELS[ident], label.firmware or 0, label.flags) == containers


def test_the_battery_follows_the_panels_range() -> None:
    obs = decode(advert("0b1d810141"))  # 2.9 V on a 2.2-2.9 V label
    assert obs is not None and obs.battery_mv == 2900 and obs.battery_pct == 100
    obs = decode(advert("8b1c010100"))  # 2.8 V on a 2.2-3.2 V label
    assert obs is not None and obs.battery_pct == 60


def test_an_unknown_id_is_a_label_that_is_never_written() -> None:
    obs = decode(advert("f01d810140"))
    assert obs is not None and obs.kind is DeviceKind.LABEL and obs.model == "gicisky-unknown-00f0"
    assert obs.label is not None and obs.label.width == 0 and obs.label.flags == 0x4000
    with pytest.raises(UnsupportedPanel, match=r"^unsupported panel 0x00f0: not a known"):
        writable_panel(0x00F0)


def test_identified_panels_are_refused_with_the_reason() -> None:
    with pytest.raises(UnsupportedPanel, match=r"^unsupported panel 0x0180 \(2\.9\" TFT 168x384"):
        writable_panel(0x0180)
    tiers = {t: [p for p in PANELS.values() if p.tier is t] for t in Tier}
    assert all(p.layout is None for p in tiers[Tier.IDENTIFIED])
    assert all(p.layout is not None for p in tiers[Tier.HARDWARE] + tiers[Tier.UNVERIFIED])
    hardware = {p.hardware_id for p in tiers[Tier.HARDWARE]}
    assert {0x010B, 0x0033, 0x004B, 0x012B, 0x022B, 0x008B, 0x00A0, 0x002E} <= hardware


UNVERIFIED = [0x0008, 0x002B, 0x0030, 0x0048, 0x0088, 0x008E, 0x0108, 0x010E, 0x0128, 0x012E]
UNVERIFIED += [0x0228, 0x022E]


def test_unverified_layouts_are_refused_unless_the_store_opts_in() -> None:
    assert sorted(p.hardware_id for p in PANELS.values() if p.tier is Tier.UNVERIFIED) == sorted(
        UNVERIFIED
    )
    for hid in UNVERIFIED:
        words = rf"^unverified panel 0x{hid:04x} .*add 0x{hid:04x} to labels\.unverified_layouts$"
        with pytest.raises(UnsupportedPanel, match=words):
            writable_panel(hid)
        assert writable_panel(hid, unverified={hid}).hardware_id == hid
        assert PANELS[hid].model.endswith("-unverified")
    with pytest.raises(UnsupportedPanel):
        writable_panel(0x0008, unverified={0x0030})  # opted in per id, not per family
    assert writable_panel(0x000B).model == "gicisky-2.1-bwr-000b"
    obs = decode(advert("081d810140"))
    assert obs is not None and obs.model == "gicisky-2.1-bw-0008-unverified"
    check_unverified(UNVERIFIED)
    for bad, words in (
        (0x000B, "has a verified layout"),
        (0x0180, "has no layout to write it with"),
        (0x00F0, "not a known Gicisky hardware id"),
    ):
        with pytest.raises(ValueError, match=words):
            check_unverified([bad])


def test_unverified_members_share_their_siblings_geometry() -> None:
    for p in PANELS.values():
        if p.tier is Tier.UNVERIFIED:
            siblings = [
                q
                for q in PANELS.values()
                if q.tier is Tier.HARDWARE
                and q.inch == p.inch
                and q.layout is not None
                and (q.width, q.height) == (p.width, p.height)
            ]
            assert siblings, p.model
            assert p.layout in {q.layout for q in siblings}, p.model


def test_the_readme_table_of_supported_hardware_is_true() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = re.findall(
        r"^\| `0x([0-9A-F]{4})` \| ([\d.]+)\" \| (\d+)×(\d+) \| \w+ \| [\w-]+ \| ([^|]+) \|",
        readme,
        re.M,
    )
    support = {
        Tier.HARDWARE: "written",
        Tier.UNVERIFIED: "unverified",
        Tier.IDENTIFIED: "identified",
    }
    table = {int(h, 16): (inch, int(w), int(hh), s.strip()) for h, inch, w, hh, s in rows}
    assert table == {
        p.hardware_id: (p.inch, p.width, p.height, support[p.tier]) for p in PANELS.values()
    }
