"""The ``gateway_meta`` table, read and written here only: the bridge's counters that
outlive a restart (the MQTT session number and the reliable streams' last ``seq``).

Every function runs inside a database job, on the writer thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlite_utils


def session(d: sqlite_utils.Database) -> int:
    """The last MQTT session number used (0 before the first connect)."""
    row = d.execute("SELECT value FROM gateway_meta WHERE key = 'session'").fetchone()
    return int(row[0]) if row else 0


def set_session(d: sqlite_utils.Database, number: int) -> None:
    d.execute(
        "INSERT OR REPLACE INTO gateway_meta (key, value) VALUES ('session', ?)", [str(number)]
    )


def seqs(d: sqlite_utils.Database, streams: Iterable[str]) -> dict[str, int]:
    """The last ``seq`` given on each of ``streams`` (0 if none yet)."""
    out = dict.fromkeys(streams, 0)
    rows = d.execute("SELECT key, value FROM gateway_meta WHERE key LIKE 'seq.%'").fetchall()
    for key, value in rows:
        out[key[4:]] = int(value)
    return out


def set_seqs(d: sqlite_utils.Database, values: Mapping[str, int]) -> None:
    d.conn.executemany(
        "INSERT OR REPLACE INTO gateway_meta (key, value) VALUES (?, ?)",
        [(f"seq.{s}", str(v)) for s, v in values.items()],
    )
