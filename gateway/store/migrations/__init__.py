"""Numbered schema migrations, applied at start-up in one transaction.

Each migration is a file ``NNNN_name.sql`` beside this module. ``PRAGMA
user_version`` holds the number of the last one applied. Migrations are never
edited once released: a change to the schema is a new file.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files(__package__).iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    for expected, mig in enumerate(found, start=1):
        if mig.version != expected:
            raise RuntimeError(
                f"migration numbers must be 1..n without gaps; {mig.name} is out of place"
            )
    return found


def apply_migrations(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Bring the schema to ``target`` (default: the newest); return the resulting version."""
    migrations = load_migrations()
    newest = migrations[-1].version if migrations else 0
    target = newest if target is None else target
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > newest:
        raise RuntimeError(
            f"database schema version {current} is newer than this gateway knows ({newest}); "
            "install a newer store-gateway or restore a matching database"
        )
    pending = [m for m in migrations if current < m.version <= target]
    if not pending:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        for mig in pending:
            for statement in _statements(mig.sql):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={pending[-1].version}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return pending[-1].version


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf)
            buf = ""
    leftover = "\n".join(ln for ln in buf.splitlines() if not ln.strip().startswith("--"))
    if leftover.strip():
        raise RuntimeError(
            f"incomplete SQL statement at the end of a migration: {buf.strip()[:60]}"
        )
    return out
