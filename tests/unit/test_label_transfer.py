"""The Gicisky transfer machine, driven by the label as real labels drive it."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.labels.base import Action, Pause, SetTimeout, Write
from drivers.labels.containers import Container
from drivers.labels.gicisky import (
    COMMAND,
    IMAGE,
    STEP_TIMEOUT_S,
    GiciskyTransfer,
    Payload,
)

RAW = Container.RAW
QLZ = Container.QUICKLZ


def writes(actions: Sequence[Action]) -> list[tuple[str, bytes]]:
    return [(a.char_uuid, a.data) for a in actions if isinstance(a, Write)]


def ask(part: int, status: int = 0) -> bytes:
    return bytes((0x05, status)) + struct.pack("<I", part)


def started(content: bytes, *, block: int = 244, container: Container = RAW) -> GiciskyTransfer:
    """A machine past 01 (answered with ``block``), 02 and 03."""
    m = GiciskyTransfer([Payload(container, content)], settle_s=0)
    m.start(max_write=244)
    m.receive_notification(COMMAND, b"\x01" + struct.pack("<H", block))
    m.receive_notification(COMMAND, b"\x02\x00")
    return m


def test_full_transfer_byte_exact_ending_with_the_part_past_the_end() -> None:
    content = bytes(range(256)) * 3  # 768 bytes: four parts of at most 240
    m = GiciskyTransfer([Payload(RAW, content)], settle_s=1.0)
    first = m.start(max_write=244)
    assert first[0] == Pause(1.0)  # notifications settle before the first command
    assert writes(first) == [(COMMAND, b"\x01")]
    assert writes(m.receive_notification(COMMAND, b"\x01\xf4\x00")) == [
        (COMMAND, b"\x02" + struct.pack("<I", 768) + b"\x00\x00\x00")
    ]
    assert writes(m.receive_notification(COMMAND, b"\x02\x00")) == [(COMMAND, b"\x03")]
    sent = b""
    for part in range(4):
        [(char, data)] = writes(m.receive_notification(COMMAND, ask(part)))
        assert char == IMAGE and data[:4] == struct.pack("<I", part) and len(data) <= 244
        sent += data[4:]
    assert sent == content and not m.finished
    assert m.receive_notification(COMMAND, ask(4)) == []
    assert m.finished and m.failure is None and m.progress == (4, 4)


def test_a_label_that_says_done_with_05_08() -> None:
    m = started(b"x" * 300)
    m.receive_notification(COMMAND, ask(0))
    m.receive_notification(COMMAND, ask(1))
    m.receive_notification(COMMAND, b"\x05\x08")
    assert m.finished and m.failure is None


def test_twenty_byte_writes_when_the_label_asks_for_them() -> None:
    content = bytes(range(40))
    m = GiciskyTransfer([Payload(RAW, content)], settle_s=0)
    m.start(max_write=20)  # ATT MTU 23: no MTU exchange on this link
    m.receive_notification(COMMAND, b"\x01\x14\x00")
    m.receive_notification(COMMAND, b"\x02\x00")
    parts = [writes(m.receive_notification(COMMAND, ask(n)))[0][1] for n in range(3)]
    assert [len(p) for p in parts] == [20, 20, 12] and m.part_bytes == 16
    assert b"".join(p[4:] for p in parts) == content


def test_a_label_asking_for_more_than_the_link_carries_is_refused_before_writing() -> None:
    m = GiciskyTransfer([Payload(RAW, b"x" * 100)], settle_s=0)
    m.start(max_write=20)
    assert m.receive_notification(COMMAND, b"\x01\xf4\x00") == []
    assert m.failure is not None and m.failure[0] == "link"
    assert "244-byte writes" in m.failure[1] and "ATT MTU 23" in m.failure[1]


def test_size_command_forms_and_a_refused_container_falls_back_in_the_same_connection() -> None:
    m = GiciskyTransfer([Payload(QLZ, b"q" * 50), Payload(RAW, b"r" * 80)], settle_s=0)
    m.start(max_write=244)
    [(_, size)] = writes(m.receive_notification(COMMAND, b"\x01\xf4\x00"))
    assert size == b"\x02" + struct.pack("<I", 50) + b"\x01"  # the vendor app's form
    [(_, size)] = writes(m.receive_notification(COMMAND, b"\x02\x01"))  # refused
    assert size == b"\x02" + struct.pack("<I", 80) + b"\x00\x00\x00"
    assert m.container is RAW
    assert writes(m.receive_notification(COMMAND, b"\x02\x00")) == [(COMMAND, b"\x03")]
    [(_, part)] = writes(m.receive_notification(COMMAND, ask(0)))
    assert part == bytes(4) + b"r" * 80
    m.receive_notification(COMMAND, b"\x02\x01")  # stray: not expected during parts
    assert m.failure is not None
    assert m.refused == (QLZ,)  # for the next write to start with raw planes


def test_a_compressed_image_taken_and_never_confirmed_was_not_read() -> None:
    m = started(b"q" * 300, container=QLZ)
    m.receive_notification(COMMAND, ask(0))
    m.receive_notification(COMMAND, ask(1))  # the last part written
    assert m.refused == ()
    m.timeout()  # ...and no confirmation
    assert m.failure is not None and m.failure[0] == "timeout" and m.refused == (QLZ,)
    # Not when the label stopped before the end, nor for raw planes.
    early = started(b"q" * 300, container=QLZ)
    early.receive_notification(COMMAND, ask(0))
    early.timeout()
    assert early.refused == ()
    raw = started(b"r" * 300)
    raw.receive_notification(COMMAND, ask(0))
    raw.receive_notification(COMMAND, ask(1))
    raw.timeout()
    assert raw.refused == ()


def test_refused_by_every_container_is_rejected() -> None:
    m = GiciskyTransfer([Payload(RAW, b"x" * 10)], settle_s=0)
    m.start(max_write=244)
    m.receive_notification(COMMAND, b"\x01\xf4\x00")
    m.receive_notification(COMMAND, b"\x02\x01")
    assert m.failure is not None and m.failure[0] == "rejected" and "raw" in m.failure[1]


def test_previous_block_failed_resends_it_and_a_third_request_is_a_stall() -> None:
    m = started(b"a" * 240 + b"b" * 240)
    first = writes(m.receive_notification(COMMAND, ask(0)))
    again = writes(m.receive_notification(COMMAND, ask(0, status=1)))  # 05 01: resend
    assert again == first and not m.finished
    assert m.receive_notification(COMMAND, ask(0, status=1)) == []
    assert m.failure == ("protocol", "stalled: the label asked for part 0 3 times")


def test_the_same_part_twice_then_progress_is_no_stall() -> None:
    m = started(b"a" * 600)
    for part in (0, 0, 1, 1, 2):
        assert writes(m.receive_notification(COMMAND, ask(part)))
    assert m.receive_notification(COMMAND, ask(3)) == [] and m.failure is None


@pytest.mark.parametrize(
    ("replies", "kind", "words"),
    [
        ([b"\x99"], "protocol", "99"),
        ([b"\x01\x04\x00"], "protocol", "4-byte writes"),
        ([b"\x01\xf4\x00", b"\x05\x00"], "protocol", "to 02"),
        ([b"\x01\xf4\x00", b"\x02\x00", b"\x05\x08"], "protocol", "after 0 of 3 parts"),
        ([b"\x01\xf4\x00", b"\x02\x00", ask(7)], "protocol", "part 7 of 3"),
        ([b"\x01\xf4\x00", b"\x02\x00", ask(3)], "protocol", "part 3 of 3"),
        ([b"\x01\xf4\x00", b"\x04\x00"], "protocol", "cancelled"),
    ],
)
def test_unexpected_replies_fail_with_reasons(replies: list[bytes], kind: str, words: str) -> None:
    m = GiciskyTransfer([Payload(RAW, b"x" * 500)], settle_s=0)
    m.start(max_write=244)
    for reply in replies:
        m.receive_notification(COMMAND, reply)
    assert m.failure is not None and m.failure[0] == kind and words in m.failure[1], m.failure


@pytest.mark.parametrize(("answered", "step"), [(0, "after 01"), (1, "after 02"), (2, "part")])
def test_every_step_has_a_deadline(answered: int, step: str) -> None:
    m = GiciskyTransfer([Payload(RAW, b"x" * 500)], settle_s=0)
    actions = list(m.start(max_write=244))
    for reply in [b"\x01\xf4\x00", b"\x02\x00"][:answered]:
        actions = list(m.receive_notification(COMMAND, reply))
    assert any(isinstance(a, SetTimeout) and a.seconds == STEP_TIMEOUT_S for a in actions)
    m.timeout()
    assert m.failure is not None and m.failure[0] == "timeout" and step in m.failure[1]


def test_the_last_part_waits_longer_for_a_label_that_answers_after_its_refresh() -> None:
    m = started(b"x" * 300)
    m.receive_notification(COMMAND, ask(0))
    last = m.receive_notification(COMMAND, ask(1))
    assert [a.seconds for a in last if isinstance(a, SetTimeout)] == [30.0]


def test_notifications_of_other_characteristics_are_ignored() -> None:
    m = started(b"x" * 10)
    assert m.receive_notification(IMAGE, b"\x05\x08") == [] and not m.finished


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=12), max_size=10),
    st.binary(min_size=1, max_size=600),
    st.sampled_from([20, 101, 244]),
)
def test_any_notifications_keep_the_machine_sane(
    replies: list[bytes], content: bytes, max_write: int
) -> None:
    m = GiciskyTransfer([Payload(QLZ, content), Payload(RAW, content)], settle_s=0)
    m.start(max_write=max_write)
    for r in replies:
        for action in m.receive_notification(COMMAND, r):
            if isinstance(action, Write):
                assert len(action.data) <= max_write
    assert m.failure is None or m.failure[0] in ("protocol", "timeout", "rejected", "link")
    assert not (m.finished and m.failure is None) or m.progress[0] == m.progress[1]


def test_nothing_to_send_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing"):
        GiciskyTransfer([])
    with pytest.raises(ValueError, match="nothing"):
        GiciskyTransfer([Payload(RAW, b"")])


def test_a_link_that_does_not_report_its_mtu_trusts_the_label() -> None:
    # BlueZ before 5.62 has no MTU property: the label's answer decides the write size.
    m = GiciskyTransfer([Payload(RAW, b"x" * 300)], settle_s=0)
    m.start(max_write=None)
    m.receive_notification(COMMAND, b"\x01\xf4\x00")
    m.receive_notification(COMMAND, b"\x02\x00")
    [(_, part)] = writes(m.receive_notification(COMMAND, ask(0)))
    assert len(part) == 244 and m.failure is None
