"""The shape every label write protocol has: a pure state machine.

A machine is built with what to send; ``start(max_write)`` returns the first
actions, given the most bytes one write without response carries on this link
(ATT MTU - 3, or None when the link does not say); each notification from the label goes to
``receive_notification`` and each expired deadline to ``timeout``; both return
the next actions, which the runner performs in order. It ends ``finished``
with ``failure`` None (done) or ``(class, text)``. Classes tell the scheduler
what to do: ``protocol``, ``timeout`` and ``link`` (retry with backoff),
``busy`` and ``low-battery`` (come back later), ``rejected`` (give up). A
second protocol (OpenEPaperLink's, the Bluetooth SIG ESL control point) is one
more class with these members.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Write:
    char_uuid: str
    data: bytes
    with_response: bool


@dataclass(frozen=True, slots=True)
class SetTimeout:
    """The deadline for the next notification, from now."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait this long before the next action (a label that needs time to get ready)."""

    seconds: float


Action = Write | SetTimeout | Pause
