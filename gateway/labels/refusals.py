"""What each label did not read, so that its next write starts with what it takes.

A Gicisky label is offered its containers best first (:func:`drivers.labels.
containers.accepted`), raw planes last. One that refuses a compressed
container at the size command, or takes every part of it and never confirms,
is remembered here for its firmware: later writes skip that container and
cost no wasted transfer, also after a restart (the table ``label_refusals``).
A label with new firmware is asked again from the best container.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from drivers.labels.containers import Container

TABLE = "label_refusals"


class Refusals:
    def __init__(self) -> None:
        self._by_label: dict[str, tuple[int, frozenset[Container]]] = {}

    def load(self, rows: Sequence[tuple[str, int, str]]) -> None:
        for label_id, firmware, container in rows:
            try:
                kind = Container(container)
            except ValueError:
                continue  # a container this version does not know: ask again
            known = self._by_label.get(label_id)
            if known is not None and known[0] != firmware:
                continue
            self._by_label[label_id] = (firmware, (known[1] if known else frozenset()) | {kind})

    def offer(
        self, label_id: str, firmware: int, accepted: Sequence[Container]
    ) -> tuple[Container, ...]:
        """``accepted`` without what this label (at this firmware) did not read; never
        empty (when it refused everything, everything is offered again)."""
        known = self._by_label.get(label_id)
        if known is None or known[0] != firmware:
            return tuple(accepted)
        left = tuple(c for c in accepted if c not in known[1])
        return left or tuple(accepted)

    def refused(self, label_id: str, firmware: int, containers: Sequence[Container]) -> bool:
        """Note what the label did not read; True if that is news (to be saved)."""
        if not containers:
            return False
        known = self._by_label.get(label_id)
        before = known[1] if known is not None and known[0] == firmware else frozenset()
        after = before | set(containers)
        self._by_label[label_id] = (firmware, after)
        return after != before or known is None or known[0] != firmware

    def of(self, label_id: str) -> tuple[Container, ...]:
        known = self._by_label.get(label_id)
        return () if known is None else tuple(sorted(known[1]))


def load(d: sqlite_utils.Database) -> list[tuple[str, int, str]]:
    rows = d.execute(f"SELECT label_id, firmware, container FROM {TABLE}").fetchall()
    return [(str(a), int(b), str(c)) for a, b, c in rows]


def save(
    d: sqlite_utils.Database,
    label_id: str,
    firmware: int,
    containers: Sequence[Container],
    now: float,
) -> None:
    """The label's refusals at ``firmware`` (those of another firmware are forgotten)."""
    d.execute(f"DELETE FROM {TABLE} WHERE label_id = ? AND firmware != ?", [label_id, firmware])
    d.conn.executemany(
        f"INSERT OR REPLACE INTO {TABLE} (label_id, firmware, container, at) VALUES (?, ?, ?, ?)",
        [(label_id, firmware, c.value, now) for c in containers],
    )
