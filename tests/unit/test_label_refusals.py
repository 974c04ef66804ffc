"""What a label did not read is skipped on its next writes, until its firmware changes."""

from __future__ import annotations

from drivers.labels.containers import Container
from gateway.labels.refusals import Refusals

QLZ, LINES, RAW = Container.QUICKLZ, Container.LINES, Container.RAW


def test_a_refused_container_is_skipped_for_that_label_and_firmware_only() -> None:
    r = Refusals()
    assert r.offer("a", 0x0101, (QLZ, RAW)) == (QLZ, RAW)
    assert r.refused("a", 0x0101, (QLZ,)) is True  # news: to be saved
    assert r.refused("a", 0x0101, (QLZ,)) is False  # known already
    assert r.offer("a", 0x0101, (QLZ, RAW)) == (RAW,)
    assert r.offer("b", 0x0101, (QLZ, RAW)) == (QLZ, RAW)  # another label: asked afresh
    assert r.offer("a", 0x0102, (QLZ, RAW)) == (QLZ, RAW)  # new firmware: asked afresh
    assert r.refused("a", 0x0102, (LINES,)) is True
    assert r.of("a") == (LINES,)  # the old firmware's refusals are forgotten
    assert r.refused("a", 0x0102, ()) is False


def test_never_nothing_to_offer_and_loaded_rows_count() -> None:
    r = Refusals()
    r.load([("a", 0x8101, "lines"), ("a", 0x8101, "quicklz"), ("b", 1, "a-future-one")])
    assert r.of("a") == (LINES, QLZ)
    assert r.offer("a", 0x8101, (LINES, RAW)) == (RAW,)
    assert r.offer("a", 0x8101, (LINES,)) == (LINES,)  # refused everything: offered again
    assert r.of("b") == ()
