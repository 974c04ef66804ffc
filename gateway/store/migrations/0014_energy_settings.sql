-- Energy settings from the cloud (energy-settings commands), merged: one row.
CREATE TABLE energy_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     INTEGER NOT NULL,
    settings    TEXT NOT NULL,
    command_id  TEXT NOT NULL,
    applied_at  REAL NOT NULL
);
