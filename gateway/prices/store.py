"""The price guard's rows in SQLite: price versions, the rules set by the cloud and
decisions told before their item was held. Functions take a ``sqlite_utils.Database``
and run inside the caller's transaction (``await db.run(...)``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlite_utils

from gateway.prices.model import PriceItem
from gateway.prices.rules import Broken


@dataclass(frozen=True, slots=True)
class VersionRow:
    item: PriceItem
    state: str  # applied | held | discarded | superseded
    command_id: str | None
    accepted_at: float
    effective_at: float | None
    broken: tuple[Broken, ...]
    decided_at: float | None = None
    decided_by: str | None = None
    note: str | None = None
    origin: str | None = None


Origin = Literal["page", "peer", "cloud", "gateway"]


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision on a held price version (``release`` or ``discard``): who took it,
    and where (``page``: on this gateway's page; ``peer``: on another gateway's;
    ``cloud``: a price-review command)."""

    sku: str
    version: int
    decision: Literal["release", "discard"]
    by: str
    note: str | None
    at: float
    origin: Origin = "cloud"


_VERSION_COLUMNS = (
    "item, state, command_id, accepted_at, effective_at, rules, decided_at, decided_by, note, "
    "origin"
)


def load_versions(d: sqlite_utils.Database) -> list[VersionRow]:
    rows = d.execute(f"SELECT {_VERSION_COLUMNS} FROM price_versions ORDER BY sku, version")
    return [
        VersionRow(
            PriceItem(**json.loads(r[0])),
            r[1],
            r[2],
            float(r[3]),
            None if r[4] is None else float(r[4]),
            tuple(Broken(**b) for b in json.loads(r[5] or "[]")),
            r[6],
            r[7],
            r[8],
            r[9],
        )
        for r in rows.fetchall()
    ]


def save_version(d: sqlite_utils.Database, row: VersionRow) -> None:
    d.execute(
        f"INSERT OR REPLACE INTO price_versions (sku, version, {_VERSION_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            row.item.sku,
            row.item.version,
            json.dumps(dataclasses.asdict(row.item)),
            row.state,
            row.command_id,
            row.accepted_at,
            row.effective_at,
            json.dumps([dataclasses.asdict(b) for b in row.broken]) if row.broken else None,
            row.decided_at,
            row.decided_by,
            row.note,
            row.origin,
        ],
    )


def decide(
    d: sqlite_utils.Database,
    sku: str,
    version: int,
    state: str,
    *,
    at: float,
    by: str,
    note: str | None,
    origin: str,
    effective_at: float | None = None,
) -> None:
    """A held version's end: applied (released), discarded or superseded."""
    d.execute(
        "UPDATE price_versions SET state = ?, decided_at = ?, decided_by = ?, note = ?, "
        "origin = ?, effective_at = COALESCE(?, effective_at) WHERE sku = ? AND version = ?",
        [state, at, by, note, origin, effective_at, sku, version],
    )


def decided_on_page(d: sqlite_utils.Database, since: float, limit: int) -> list[Decision]:
    """The newest decisions taken on this gateway's page (told to the other gateways)."""
    rows = d.execute(
        "SELECT sku, version, state, decided_by, note, decided_at FROM price_versions "
        "WHERE origin = 'page' AND decided_at >= ? ORDER BY decided_at DESC LIMIT ?",
        [since, limit],
    ).fetchall()
    return [
        Decision(
            r[0],
            int(r[1]),
            "release" if r[2] == "applied" else "discard",
            r[3],
            r[4],
            float(r[5]),
            "page",
        )
        for r in rows
    ]


def prune_versions(d: sqlite_utils.Database, before: float, max_rows: int) -> int:
    """Forget what no rule will ask again: applied versions no longer shown at any moment
    since ``before`` (a newer version took effect before it), and versions held once and
    decided before it. The newest version of every SKU stays (it says which versions are
    stale), and so does every held one. Then, above ``max_rows``, the oldest such rows
    go first. Returns how many rows went."""
    gone = d.execute(
        "DELETE FROM price_versions AS p WHERE p.state != 'held' "
        "AND EXISTS (SELECT 1 FROM price_versions q WHERE q.sku = p.sku "
        "            AND q.version > p.version) "
        "AND ((p.state = 'applied' AND EXISTS (SELECT 1 FROM price_versions q "
        "      WHERE q.sku = p.sku AND q.state = 'applied' AND q.version > p.version "
        "      AND q.effective_at <= ?)) "
        "  OR (p.state != 'applied' AND p.decided_at < ?))",
        [before, before],
    ).rowcount
    count = int(d.execute("SELECT COUNT(*) FROM price_versions").fetchone()[0])
    if count > max_rows:
        gone += d.execute(
            "DELETE FROM price_versions WHERE rowid IN ("
            " SELECT p.rowid FROM price_versions p WHERE p.state != 'held' "
            " AND EXISTS (SELECT 1 FROM price_versions q WHERE q.sku = p.sku "
            "             AND q.version > p.version) "
            " ORDER BY COALESCE(p.effective_at, p.decided_at, p.accepted_at) LIMIT ?)",
            [count - max_rows],
        ).rowcount
    return int(gone)


# ---- the rules a price-rules command set ------------------------------------------------


def load_rules(
    d: sqlite_utils.Database,
) -> tuple[int, dict[str, Any], str | None, str] | None:
    """(version, rules, currency, command id) of the rules a command set; None: none did."""
    row = d.execute(
        "SELECT version, rules, currency, command_id FROM price_rules WHERE id = 1"
    ).fetchone()
    return None if row is None else (int(row[0]), json.loads(row[1]), row[2], row[3])


def save_rules(
    d: sqlite_utils.Database,
    version: int,
    rules: Mapping[str, Any],
    currency: str | None,
    command_id: str,
    now: float,
) -> None:
    d.execute(
        "INSERT OR REPLACE INTO price_rules (id, version, rules, currency, command_id, set_at) "
        "VALUES (1, ?, ?, ?, ?, ?)",
        [version, json.dumps(rules), currency, command_id, now],
    )


# ---- decisions told before their item was held --------------------------------------------


def load_decisions(d: sqlite_utils.Database) -> list[Decision]:
    rows = d.execute(
        "SELECT sku, version, decision, by_whom, note, at, origin FROM price_decisions"
    )
    return [Decision(r[0], int(r[1]), r[2], r[3], r[4], float(r[5]), r[6]) for r in rows.fetchall()]


def save_decisions(d: sqlite_utils.Database, told: Sequence[Decision]) -> None:
    d.conn.executemany(
        "INSERT OR REPLACE INTO price_decisions "
        "(sku, version, decision, by_whom, note, at, origin) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(t.sku, t.version, t.decision, t.by, t.note, t.at, t.origin) for t in told],
    )


def delete_decision(d: sqlite_utils.Database, sku: str, version: int) -> None:
    d.execute("DELETE FROM price_decisions WHERE sku = ? AND version = ?", [sku, version])


def prune_decisions(d: sqlite_utils.Database, before: float) -> None:
    d.execute("DELETE FROM price_decisions WHERE at < ?", [before])
