-- Alerts that fired, so a restart neither re-announces nor forgets them.
CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    rule            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    phase           TEXT NOT NULL,           -- firing | resolved
    severity        TEXT NOT NULL,
    metric          TEXT NOT NULL,
    threshold       REAL NOT NULL,
    value           REAL,
    started_at      REAL NOT NULL,
    resolved_at     REAL,
    message         TEXT NOT NULL,
    acknowledged_by TEXT,
    silenced_until  REAL,
    silenced_by     TEXT
);
CREATE INDEX alerts_phase ON alerts (phase, started_at);
