"""The audit trail: what people did on the gateway (contract 1.2, ``audit.action``).

Every action of a person (signing in or failing to, a second factor set up or reset,
an override, a label flashed or written again, an alert acknowledged, a price released
or discarded, a user added, changed or removed) is kept on the box (``keep_s``,
at most ``max_rows`` rows) and sent to the cloud as an event, both in one transaction.
Failed sign-ins are kept one by one and told to the cloud once per burst, with the
count. Passwords, codes and secrets never appear: the callers pass what was done to
what, never what was typed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlite_utils

from gateway.access import store
from gateway.contract.events import Event, EventsIn
from gateway.store import Database

Via = Literal["page", "api", "cli"]
KEEP_DAYS = 90
MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One action of a person, as the contract's ``audit`` object."""

    actor: str | None
    role: str | None
    action: str
    target: str | None = None
    via: Via = "page"
    from_: str | None = None
    second_factor: bool = False
    ok: bool = True
    detail: str | None = None

    def body(self, at: float) -> dict[str, Any]:
        out = asdict(self)
        out["from"] = out.pop("from_")
        out["at"] = at
        return out

    def words(self) -> str:
        who = self.actor or "someone"
        what = self.action + (f" {self.target}" if self.target else "")
        tail = f" ({self.detail})" if self.detail else ""
        return f"{who}: {what}{'' if self.ok else ' refused'}{tail}"


class AuditLog:
    def __init__(
        self,
        db: Database,
        events_in: EventsIn | None = None,
        keep_s: float = KEEP_DAYS * 86400,
        max_rows: int = MAX_ROWS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._events = events_in
        self._keep_s = keep_s
        self._max_rows = max_rows
        self._clock = clock
        self.recorded = 0

    async def record(self, entry: Entry, *, tell: bool = True) -> None:
        """Keep ``entry``; tell the cloud too unless ``tell`` is false (a failed sign-in
        inside a burst: the burst is told once, with its count)."""
        now = self._clock()
        row = entry.body(now)
        sink = self._events
        event = _event(row)

        def write(d: sqlite_utils.Database) -> None:
            store.add_audit(d, [row])
            if tell and sink is not None:
                sink.write_in(d, [event])

        await self._db.run(write)
        self.recorded += 1
        if tell and sink is not None:
            sink.written()

    async def tell_untold(self) -> int:
        """Entries written on a stopped gateway (``store-gateway users``) told now."""
        sink = self._events
        if sink is None:
            return 0

        def write(d: sqlite_utils.Database) -> int:
            rows = store.untold_audit(d)
            sink.write_in(d, [_event(e) for _, e in rows])
            store.mark_told(d, [i for i, _ in rows])
            return len(rows)

        n = await self._db.run(write)
        if n:
            sink.written()
        return n

    async def read(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        return await self._db.read(
            lambda d: store.read_audit(
                d, actor=actor, action=action, since=since, until=until, limit=limit
            )
        )

    async def prune_now(self) -> None:
        """Older than ``keep_s``, and above ``max_rows``, go."""
        before = self._clock() - self._keep_s
        await self._db.run(lambda d: store.prune_audit(d, before, self._max_rows))


def record_offline(d: sqlite_utils.Database, entry: Entry, now: float) -> None:
    """On a stopped gateway's database: kept, and told when the daemon starts."""
    store.add_audit(d, [entry.body(now)], told=False)


def _event(row: dict[str, Any]) -> Event:
    entry = Entry(
        row["actor"],
        row["role"],
        row["action"],
        row["target"],
        row["via"],
        row["from"],
        row["second_factor"],
        row["ok"],
        row["detail"],
    )
    return Event(
        "audit.action",
        "info" if entry.ok else "warning",
        entry.words(),
        row["at"],
        audit={k: v for k, v in row.items() if k != "at"},
    )
