"""The shape every label write protocol has: a pure state machine.

A machine is built with the content bytes; ``start()`` returns the first
actions; each notification from the label goes to ``receive_notification``
and each expired deadline to ``timeout``; both return the next actions. It
ends ``finished`` with ``failure`` None (done) or ``(class, text)``. Classes
tell the scheduler what to do: ``protocol`` and ``timeout`` (retry with
backoff), ``busy`` and ``low-battery`` (come back later), ``rejected`` (give
up). A second protocol (OpenEPaperLink's, the Bluetooth SIG ESL control point)
is one more class with these five members.
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
    seconds: float


Action = Write | SetTimeout
