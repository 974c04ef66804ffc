"""The rows of technicians' access in SQLite: users, their recovery codes, the audit.
Functions take a ``sqlite_utils.Database`` and run inside the caller's transaction (the
daemon's writer thread, or ``store-gateway users`` on a stopped gateway's database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils


@dataclass(slots=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    disabled: bool = False
    totp_secret: str | None = None
    totp_last_step: int | None = None
    created_at: float = 0.0
    changed_at: float = 0.0
    password_at: float = 0.0


_COLUMNS = (
    "name, role, password_hash, disabled, totp_secret, totp_last_step, created_at, "
    "changed_at, password_at"
)


def load_users(d: sqlite_utils.Database) -> list[UserRow]:
    rows = d.execute(f"SELECT {_COLUMNS} FROM web_users ORDER BY name").fetchall()
    return [
        UserRow(r[0], r[1], r[2], bool(r[3]), r[4], r[5], float(r[6]), float(r[7]), float(r[8]))
        for r in rows
    ]


def save_user(d: sqlite_utils.Database, u: UserRow) -> None:
    d.execute(
        f"INSERT OR REPLACE INTO web_users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            u.name,
            u.role,
            u.password_hash,
            int(u.disabled),
            u.totp_secret,
            u.totp_last_step,
            u.created_at,
            u.changed_at,
            u.password_at,
        ],
    )


def delete_user(d: sqlite_utils.Database, name: str) -> None:
    d.execute("DELETE FROM web_users WHERE name = ?", [name])
    d.execute("DELETE FROM web_recovery_codes WHERE name = ?", [name])


def set_recovery_codes(d: sqlite_utils.Database, name: str, hashes: Sequence[str]) -> None:
    d.execute("DELETE FROM web_recovery_codes WHERE name = ?", [name])
    d.conn.executemany(
        "INSERT INTO web_recovery_codes (name, code_hash) VALUES (?, ?)",
        [(name, h) for h in hashes],
    )


def use_recovery_code(d: sqlite_utils.Database, name: str, code_hash: str, now: float) -> bool:
    """Mark a code used; False: no such code, or used already."""
    cur = d.execute(
        "UPDATE web_recovery_codes SET used_at = ? "
        "WHERE name = ? AND code_hash = ? AND used_at IS NULL",
        [now, name, code_hash],
    )
    return int(cur.rowcount) == 1


def recovery_codes_left(d: sqlite_utils.Database, name: str) -> int:
    row = d.execute(
        "SELECT COUNT(*) FROM web_recovery_codes WHERE name = ? AND used_at IS NULL", [name]
    ).fetchone()
    return int(row[0])


# ---- the audit -------------------------------------------------------------------------


_AUDIT = "at, actor, role, action, target, via, from_address, second_factor, ok, detail"


def add_audit(
    d: sqlite_utils.Database, entries: Sequence[dict[str, Any]], *, told: bool = True
) -> None:
    d.conn.executemany(
        f"INSERT INTO audit ({_AUDIT}, told) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e["at"],
                e["actor"],
                e["role"],
                e["action"],
                e["target"],
                e["via"],
                e["from"],
                int(e["second_factor"]),
                int(e["ok"]),
                e["detail"],
                int(told),
            )
            for e in entries
        ],
    )


def read_audit(
    d: sqlite_utils.Database,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    where: list[str] = ["1 = 1"]
    args: list[object] = []
    if actor:
        where.append("actor = ?")
        args.append(actor)
    if action:
        where.append("action LIKE ?")
        args.append(f"{action}%")
    if since is not None:
        where.append("at >= ?")
        args.append(since)
    if until is not None:
        where.append("at <= ?")
        args.append(until)
    rows = d.execute(
        f"SELECT {_AUDIT} FROM audit WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    return [_entry(r) for r in rows]


_KEYS = [k.strip() for k in _AUDIT.split(",")]


def _entry(row: Sequence[Any]) -> dict[str, Any]:
    e = dict(zip(_KEYS, row, strict=True))
    e["from"] = e.pop("from_address")
    e["second_factor"], e["ok"] = bool(e["second_factor"]), bool(e["ok"])
    return e


def untold_audit(d: sqlite_utils.Database) -> list[tuple[int, dict[str, Any]]]:
    """Entries written on a stopped gateway (``store-gateway users``), not yet told."""
    rows = d.execute(f"SELECT id, {_AUDIT} FROM audit WHERE told = 0 ORDER BY id").fetchall()
    return [(int(r[0]), _entry(r[1:])) for r in rows]


def mark_told(d: sqlite_utils.Database, ids: Sequence[int]) -> None:
    d.conn.executemany("UPDATE audit SET told = 1 WHERE id = ?", [(i,) for i in ids])


def prune_audit(d: sqlite_utils.Database, before: float, max_rows: int) -> None:
    d.execute("DELETE FROM audit WHERE at < ?", [before])
    d.execute(
        "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)",
        [max_rows],
    )
