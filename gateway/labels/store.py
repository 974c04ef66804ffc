"""Label pipeline rows in SQLite. Functions take a ``sqlite_utils.Database`` and run
inside the caller's transaction (``await db.run(...)``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlite_utils

from gateway.labels.model import (
    Binding,
    ContentRef,
    LabelResult,
    LabelTwin,
    ResultStatus,
    TwinStatus,
)

# ---- bindings --------------------------------------------------------------------------


def load_bindings(d: sqlite_utils.Database) -> list[Binding]:
    rows = d.execute("SELECT label_id, sku, template FROM label_bindings").fetchall()
    return [Binding(r[0], r[1], r[2]) for r in rows]


def save_bindings(d: sqlite_utils.Database, bindings: Sequence[Binding], now: float) -> None:
    d.conn.executemany(
        "INSERT OR REPLACE INTO label_bindings (label_id, sku, template, bound_at) "
        "VALUES (?, ?, ?, ?)",
        [(b.label_id, b.sku, b.template, now) for b in bindings],
    )


def delete_bindings(d: sqlite_utils.Database, label_ids: Iterable[str]) -> None:
    d.conn.executemany("DELETE FROM label_bindings WHERE label_id = ?", [(i,) for i in label_ids])


# ---- twins -------------------------------------------------------------------------------

_TWIN_COLUMNS = (
    "label_id, desired_sku, desired_version, desired_hash, desired_command_id, displayed_sku, "
    "displayed_version, displayed_hash, displayed_at, status, last_error"
)


def _ref(sku: str | None, version: int | None, content_hash: str | None) -> ContentRef | None:
    if sku is None or version is None or content_hash is None:
        return None
    return ContentRef(sku, version, content_hash)


def load_twins(d: sqlite_utils.Database) -> list[LabelTwin]:
    out = []
    for r in d.execute(f"SELECT {_TWIN_COLUMNS} FROM label_twins").fetchall():
        out.append(
            LabelTwin(
                label_id=r[0],
                desired=_ref(r[1], r[2], r[3]),
                desired_command_id=r[4],
                displayed=_ref(r[5], r[6], r[7]),
                displayed_at=r[8],
                status=TwinStatus(r[9]),
                last_error=r[10],
            )
        )
    return out


def save_twins(d: sqlite_utils.Database, twins: Iterable[LabelTwin], now: float) -> None:
    rows = []
    for t in twins:
        ds, dv, dh = (
            (t.desired.sku, t.desired.version, t.desired.content_hash)
            if t.desired
            else (None, None, None)
        )
        xs, xv, xh = (
            (t.displayed.sku, t.displayed.version, t.displayed.content_hash)
            if t.displayed
            else (None, None, None)
        )
        rows.append(
            (
                t.label_id,
                ds,
                dv,
                dh,
                t.desired_command_id,
                xs,
                xv,
                xh,
                t.displayed_at,
                t.status.value,
                t.last_error,
                now,
            )
        )
    d.conn.executemany(
        f"INSERT OR REPLACE INTO label_twins ({_TWIN_COLUMNS}, updated_at) "
        f"VALUES ({', '.join('?' * 12)})",
        rows,
    )


# ---- rendered content ---------------------------------------------------------------------


def save_content(
    d: sqlite_utils.Database, content_hash: str, model: str, packed: bytes, png: bytes, now: float
) -> None:
    d.execute(
        "INSERT OR IGNORE INTO label_content (content_hash, model, packed, preview_png, "
        "created_at) VALUES (?, ?, ?, ?, ?)",
        [content_hash, model, packed, png, now],
    )


def load_content(d: sqlite_utils.Database, content_hash: str) -> bytes | None:
    """The packed planes of stored content (None if pruned since)."""
    row = d.execute(
        "SELECT packed FROM label_content WHERE content_hash = ?", [content_hash]
    ).fetchone()
    return None if row is None else bytes(row[0])


def load_preview(d: sqlite_utils.Database, content_hash: str) -> bytes | None:
    row = d.execute(
        "SELECT preview_png FROM label_content WHERE content_hash = ?", [content_hash]
    ).fetchone()
    return None if row is None else bytes(row[0])


def prune_content(d: sqlite_utils.Database) -> None:
    """Drop rendered content no twin refers to any more."""
    d.execute(
        "DELETE FROM label_content WHERE content_hash NOT IN "
        "(SELECT desired_hash FROM label_twins WHERE desired_hash IS NOT NULL "
        " UNION SELECT displayed_hash FROM label_twins WHERE displayed_hash IS NOT NULL)"
    )


# ---- results -------------------------------------------------------------------------------


def add_targets(
    d: sqlite_utils.Database,
    command_id: str,
    command_type: str,
    targets: Sequence[tuple[str | None, str | None, int | None]],
) -> list[int]:
    """Register targets (label, sku, version) of a command with no result yet; return seqs.
    The command's type is stored with its first targets (its acks carry it)."""
    remember_command(d, command_id, command_type)
    row = d.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM label_results WHERE command_id = ?", [command_id]
    ).fetchone()
    start = int(row[0]) + 1
    d.conn.executemany(
        "INSERT INTO label_results (command_id, seq, label_id, sku, version) "
        "VALUES (?, ?, ?, ?, ?)",
        [(command_id, start + i, *t) for i, t in enumerate(targets)],
    )
    return list(range(start, start + len(targets)))


def set_result(d: sqlite_utils.Database, result: LabelResult, *, held: bool = False) -> bool:
    """Record the outcome of a command's open target for this label (or SKU for unlabelled).
    ``held``: not reported until the other gateways have been told (see ``told``). False if
    the target is not open here (handed over, or forgotten with its command): nothing
    recorded, and nothing to tell."""
    key: str | None
    if result.label_id is not None:
        where, key = "label_id = ?", result.label_id
    else:
        where, key = "label_id IS NULL AND sku = ?", result.sku
    cur = d.execute(
        f"UPDATE label_results SET status = ?, at = ?, error = ?, version = COALESCE(?, version), "
        f"told = ? WHERE command_id = ? AND {where} AND status IS NULL AND handed = 0",
        [
            result.status.value,
            result.at,
            result.error,
            result.version,
            0 if held and result.label_id is not None else 1,
            result.command_id,
            key,
        ],
    )
    return int(cur.rowcount) > 0


def remember_command(d: sqlite_utils.Database, command_id: str, command_type: str) -> None:
    d.execute(
        "INSERT OR IGNORE INTO label_commands (command_id, type) VALUES (?, ?)",
        [command_id, command_type],
    )


def command_type(d: sqlite_utils.Database, command_id: str) -> str | None:
    row = d.execute("SELECT type FROM label_commands WHERE command_id = ?", [command_id]).fetchone()
    return None if row is None else str(row[0])


def open_commands(d: sqlite_utils.Database) -> list[str]:
    """Commands with targets to answer or results to report, and commands whose final
    ack has not gone out (every target handed to other gateways: a final ack all the same)."""
    rows = d.execute(
        "SELECT DISTINCT command_id FROM label_results WHERE acked = 0 AND handed = 0 "
        "UNION SELECT command_id FROM label_commands WHERE finished = 0"
    ).fetchall()
    return [r[0] for r in rows]


def command_finished(d: sqlite_utils.Database, command_id: str) -> bool:
    """Whether a final ack of the command has gone out (more may follow: results of
    targets taken back later)."""
    row = d.execute(
        "SELECT finished FROM label_commands WHERE command_id = ?", [command_id]
    ).fetchone()
    return row is not None and bool(row[0])


def finish_command(d: sqlite_utils.Database, command_id: str) -> None:
    d.execute("UPDATE label_commands SET finished = 1 WHERE command_id = ?", [command_id])


def command_counts(d: sqlite_utils.Database, command_id: str) -> dict[str, int]:
    rows = d.execute(
        "SELECT COALESCE(status, 'in-progress'), COUNT(*) FROM label_results "
        "WHERE command_id = ? AND handed = 0 GROUP BY 1",
        [command_id],
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def unacked_results(
    d: sqlite_utils.Database, command_id: str, limit: int
) -> list[tuple[int, LabelResult]]:
    rows = d.execute(
        "SELECT seq, label_id, sku, version, status, at, error FROM label_results "
        "WHERE command_id = ? AND status IS NOT NULL AND told = 1 AND acked = 0 "
        "ORDER BY seq LIMIT ?",
        [command_id, limit],
    ).fetchall()
    return [
        (
            int(r[0]),
            LabelResult(command_id, r[1], r[2], r[3], ResultStatus(r[4]), float(r[5]), r[6]),
        )
        for r in rows
    ]


def mark_acked(d: sqlite_utils.Database, command_id: str, seqs: Sequence[int]) -> None:
    d.conn.executemany(
        "UPDATE label_results SET acked = 1 WHERE command_id = ? AND seq = ?",
        [(command_id, s) for s in seqs],
    )


def open_targets(d: sqlite_utils.Database, command_id: str) -> int:
    """Targets still to answer: no result yet, or a result held until it is told."""
    row = d.execute(
        "SELECT COUNT(*) FROM label_results WHERE command_id = ? AND handed = 0 "
        "AND (status IS NULL OR told = 0)",
        [command_id],
    ).fetchone()
    return int(row[0])


def forget_command(d: sqlite_utils.Database, command_id: str) -> int:
    """The command's final ack went out: the results it reported are forgotten. Its handed
    targets stay a while (their label may come back before the other gateway answered
    them); the command's type with them. Returns the targets still open: taken back while
    the final ack went out (another final ack reports them)."""
    d.execute(
        "DELETE FROM label_results WHERE command_id = ? AND handed = 0 AND acked = 1",
        [command_id],
    )
    d.execute(
        "DELETE FROM label_commands WHERE command_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM label_results WHERE command_id = ?)",
        [command_id, command_id],
    )
    return open_targets(d, command_id)


# ---- targets of labels another gateway owns --------------------------------------------


def hand_over(
    d: sqlite_utils.Database, label_id: str | None, now: float, command_id: str | None = None
) -> int:
    """The label's open targets (of one command, or all) are another gateway's to answer.
    ``label_id`` None: the command's label-less targets (SKU results)."""
    where = "label_id = ?" if label_id is not None else "label_id IS NULL"
    args: list[object] = [now] + ([label_id] if label_id is not None else [])
    if command_id is not None:
        where += " AND command_id = ?"
        args.append(command_id)
    cur = d.execute(
        f"UPDATE label_results SET handed = 1, handed_at = ? "
        f"WHERE {where} AND status IS NULL AND handed = 0",
        args,
    )
    return int(cur.rowcount)


def take_back(d: sqlite_utils.Database, label_id: str, answered: Sequence[str]) -> list[str]:
    """The label is ours again: its handed targets of commands the previous owner did not
    answer are open again. Returns those commands (oldest first)."""
    marks = ",".join("?" * len(answered))
    skip = f"AND command_id NOT IN ({marks})" if answered else ""
    rows = d.execute(
        f"SELECT command_id FROM label_results WHERE label_id = ? AND handed = 1 "
        f"AND status IS NULL {skip} GROUP BY command_id ORDER BY MIN(rowid)",
        [label_id, *answered],
    ).fetchall()
    commands = [str(r[0]) for r in rows]
    d.conn.executemany(
        "UPDATE label_results SET handed = 0, handed_at = NULL, acked = 0 "
        "WHERE label_id = ? AND command_id = ? AND handed = 1 AND status IS NULL",
        [(label_id, c) for c in commands],
    )
    return commands


def held_results(d: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(label, command) of results recorded here and held until the other gateways are
    told of them."""
    rows = d.execute(
        "SELECT label_id, command_id FROM label_results "
        "WHERE told = 0 AND status IS NOT NULL AND handed = 0 AND label_id IS NOT NULL"
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def release_results(
    d: sqlite_utils.Database,
    told: Sequence[tuple[str, str]],
    dropped: Sequence[tuple[str, str]],
    now: float,
) -> None:
    """Held results: ``told`` ones may be reported now; ``dropped`` ones are not this
    gateway's to report (the label's new owner never heard of them and answers itself):
    handed over, as if never recorded."""
    d.conn.executemany(
        "UPDATE label_results SET told = 1 WHERE label_id = ? AND command_id = ? AND told = 0",
        told,
    )
    d.conn.executemany(
        "UPDATE label_results SET status = NULL, at = NULL, error = NULL, told = 1, "
        "handed = 1, handed_at = ? "
        "WHERE label_id = ? AND command_id = ? AND told = 0 AND handed = 0",
        [(now, label_id, command_id) for label_id, command_id in dropped],
    )


def open_label_targets(d: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(label, command) of the targets this gateway still has to answer."""
    rows = d.execute(
        "SELECT label_id, command_id FROM label_results "
        "WHERE status IS NULL AND handed = 0 AND label_id IS NOT NULL"
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def handed_labels(d: sqlite_utils.Database) -> list[str]:
    """Labels with targets handed to another gateway and not taken back."""
    return sorted({label_id for label_id, _ in handed_targets(d)})


def handed_targets(d: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(label, command) of the targets handed to another gateway and not taken back."""
    rows = d.execute(
        "SELECT DISTINCT label_id, command_id FROM label_results "
        "WHERE handed = 1 AND status IS NULL AND label_id IS NOT NULL"
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def forget_handed(d: sqlite_utils.Database, targets: Sequence[tuple[str, str]]) -> None:
    """Handed targets another gateway's claim says it answered: never taken back."""
    d.conn.executemany(
        "DELETE FROM label_results WHERE label_id = ? AND command_id = ? "
        "AND handed = 1 AND status IS NULL",
        targets,
    )


def prune_handed(d: sqlite_utils.Database, before: float) -> None:
    """Handed targets older than ``before``: the other gateway has long answered them."""
    d.execute("DELETE FROM label_results WHERE handed = 1 AND handed_at < ?", [before])
    d.execute(
        "DELETE FROM label_commands WHERE command_id NOT IN "
        "(SELECT DISTINCT command_id FROM label_results)"
    )
