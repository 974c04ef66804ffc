"""A label whose attempts from this gateway keep failing is left to another gateway that
hears it: the hand-over counts failed attempts in a row; a write clears them; they age."""

from __future__ import annotations

from typing import Any

from gateway.labels.handover import CANNOT_WRITE_AFTER, CANNOT_WRITE_FOR_S, LabelHandover
from gateway.labels.jobs import AttemptResult, Outcome

LABEL = "ff0503000001"


def _handover(now: list[float]) -> LabelHandover:
    unused: Any = None  # attempts touch none of the collaborators
    return LabelHandover(
        unused, unused, unused, unused, unused, unused, unused, clock=lambda: now[0]
    )


def test_failed_attempts_in_a_row_make_a_label_one_this_gateway_cannot_write() -> None:
    now = [100.0]
    h = _handover(now)
    for _ in range(CANNOT_WRITE_AFTER - 1):
        h.attempted(LABEL, AttemptResult(Outcome.RETRY, "timed out"))
    assert not h.cannot_write(LABEL)
    h.attempted(LABEL, AttemptResult(Outcome.RETRY, "device disconnected"))
    assert h.cannot_write(LABEL)
    assert not h.cannot_write("ff0503000002")
    # Waiting to be seen, deferred or requeued says nothing about this gateway's link.
    for outcome in (Outcome.NOT_SEEN, Outcome.DEFER, Outcome.REQUEUE):
        h.attempted(LABEL, AttemptResult(outcome))
    assert h.cannot_write(LABEL)
    h.attempted(LABEL, AttemptResult(Outcome.DONE))
    assert not h.cannot_write(LABEL)


def test_it_is_tried_from_here_again_once_the_failures_are_old() -> None:
    now = [100.0]
    h = _handover(now)
    for _ in range(CANNOT_WRITE_AFTER):
        h.attempted(LABEL, AttemptResult(Outcome.RETRY, "timed out"))
    now[0] += CANNOT_WRITE_FOR_S - 1
    assert h.cannot_write(LABEL)
    now[0] += 2
    assert not h.cannot_write(LABEL)
    h.attempted(LABEL, AttemptResult(Outcome.RETRY, "timed out"))  # counting starts afresh
    assert not h.cannot_write(LABEL)
