"""Alert rows in SQLite: what fired and resolved, acknowledgements and silences."""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from gateway.alerts.model import Alert, AlertPhase
from gateway.store import Database

_COLUMNS = (
    "id, rule, subject, phase, severity, metric, threshold, value, started_at, resolved_at, "
    "message, acknowledged_by, silenced_until, silenced_by"
)
KEEP_RESOLVED = 1000


def _row(a: Alert) -> tuple[object, ...]:
    return (
        a.id,
        a.rule,
        a.subject,
        a.phase.value,
        a.severity,
        a.metric,
        a.threshold,
        a.value,
        a.started_at,
        a.resolved_at,
        a.message,
        a.acknowledged_by,
        a.silenced_until,
        a.silenced_by,
    )


def save_alerts(d: sqlite_utils.Database, alerts: Sequence[Alert]) -> None:
    """Upsert alerts that have an id (fired at least once); run inside a transaction."""
    rows = [_row(a) for a in alerts if a.id is not None]
    d.conn.executemany(
        f"INSERT OR REPLACE INTO alerts ({_COLUMNS}) VALUES ({', '.join('?' * 14)})", rows
    )
    d.conn.execute(
        "DELETE FROM alerts WHERE phase = 'resolved' AND id NOT IN "
        "(SELECT id FROM alerts WHERE phase = 'resolved' ORDER BY resolved_at DESC LIMIT ?)",
        [KEEP_RESOLVED],
    )


def forget_alerts(d: sqlite_utils.Database, alert_ids: Sequence[str]) -> None:
    """Alerts another gateway continues (their device changed owner): not ours to keep."""
    d.conn.executemany("DELETE FROM alerts WHERE id = ?", [(i,) for i in alert_ids])


async def load_alerts(db: Database, phase: AlertPhase, limit: int = 1000) -> list[Alert]:
    def fetch(d: sqlite_utils.Database) -> list[Alert]:
        rows = d.execute(
            f"SELECT {_COLUMNS} FROM alerts WHERE phase = ? ORDER BY started_at DESC LIMIT ?",
            [phase.value, limit],
        ).fetchall()
        return [_alert(r) for r in rows]

    return await db.read(fetch)


def _alert(r: tuple[object, ...]) -> Alert:
    (
        alert_id,
        rule,
        subject,
        phase,
        severity,
        metric,
        threshold,
        value,
        started_at,
        resolved_at,
        message,
        acknowledged_by,
        silenced_until,
        silenced_by,
    ) = r
    return Alert(
        id=str(alert_id),
        rule=str(rule),
        subject=str(subject),
        phase=AlertPhase(str(phase)),
        severity=str(severity),
        metric=str(metric),
        threshold=float(threshold),  # type: ignore[arg-type]
        value=None if value is None else float(value),  # type: ignore[arg-type]
        since_mono=0.0,
        started_at=float(started_at),  # type: ignore[arg-type]
        resolved_at=None if resolved_at is None else float(resolved_at),  # type: ignore[arg-type]
        message=str(message),
        acknowledged_by=None if acknowledged_by is None else str(acknowledged_by),
        silenced_until=None if silenced_until is None else float(silenced_until),  # type: ignore[arg-type]
        silenced_by=None if silenced_by is None else str(silenced_by),
    )
