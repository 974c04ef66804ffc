-- Sensor readings kept for the page's charts: per device, reading and 5-minute
-- bucket the sum, count, lowest and highest value (gateway/registry/history.py).
CREATE TABLE reading_history (
    device_id TEXT NOT NULL,
    name      TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    total     REAL NOT NULL,
    n         INTEGER NOT NULL,
    lo        REAL NOT NULL,
    hi        REAL NOT NULL,
    PRIMARY KEY (device_id, name, bucket)
) WITHOUT ROWID;
CREATE INDEX reading_history_bucket ON reading_history (bucket);
