-- Every device the registry knows, so a restart keeps first_seen, tags and last state.
CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    address     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    model       TEXT NOT NULL,
    name        TEXT,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    interval_s  REAL,
    rssi        REAL,
    battery_pct REAL,
    battery_mv  INTEGER,
    readings    TEXT NOT NULL DEFAULT '{}',
    readings_at REAL,
    beacon      TEXT,
    label       TEXT
);
